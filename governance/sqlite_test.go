package governance

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/switchboard-gw/switchboard/config"
)

func openTestStore(t *testing.T, path string) *SQLite {
	t.Helper()
	s, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var day1 = time.Date(2026, 12, 3, 10, 30, 0, 0, time.UTC)

func sampleTenant() Tenant {
	return Tenant{Name: "team-a", Created: day1, Source: CreatedInStore, Rules: Rules{
		Models: []string{"gpt-4o-mini", "claude-haiku-4-5"},
		Policy: config.Policy{ZDR: true, Providers: []string{"openai", "anthropic"}, Regions: []string{"eu"},
			MaxPrice: config.Price{Prompt: 3, Completion: 15}},
		RPM: 60, TPM: 100_000, Concurrent: 4,
		Budgets: Budgets{Daily: Budget{USD: USD(5)}, Monthly: Budget{USD: USD(100), Soft: true}, Lifetime: Budget{USD: USD(1000)}},
	}}
}

func sampleKey(t *testing.T) (string, Key) {
	t.Helper()
	secret, k, err := NewSecret(day1)
	if err != nil {
		t.Fatal(err)
	}
	k.Tenant, k.Label = "team-a", "ci"
	k.ExpiresAt = day1.Add(90 * 24 * time.Hour)
	k.Rules = Rules{RPM: 10, Budgets: Budgets{Daily: Budget{USD: USD(1)}}}
	return secret, k
}

// TestSQLiteSurvivesReopen: everything written is there after the store
// is closed and opened again, as after a restart.
func TestSQLiteSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "data", "governance.db")
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	tenant := sampleTenant()
	_, key := sampleKey(t)
	gen := Generation{ID: "gen-1", Created: day1, KeyID: key.ID, Tenant: "team-a", Model: "gpt-4o-mini", Provider: "openai",
		Streamed: true, FinishReason: "stop", Tokens: Tokens{Prompt: 12, Completion: 30, Cached: 4}, Cost: USD(0.0123),
		Latency: 1500 * time.Millisecond, Attempts: []Attempt{{Provider: "anthropic", Status: 503, Error: "overloaded"}, {Provider: "openai", Status: 200, Cost: USD(0.0123)}}}
	for _, err := range []error{
		s.CreateTenant(ctx, tenant),
		s.CreateKey(ctx, key),
		s.WriteGenerations(ctx, []Generation{gen}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	wantVersion, _ := s.Version(ctx)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openTestStore(t, path)
	gotT, err := s.Tenant(ctx, "team-a")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(tenant, gotT); d != "" {
		t.Errorf("tenant after reopen (-want +got):\n%s", d)
	}
	gotK, err := s.Key(ctx, key.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(key, gotK); d != "" {
		t.Errorf("key after reopen (-want +got):\n%s", d)
	}
	gotG, err := s.Generation(ctx, "gen-1")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(gen, gotG, cmpopts.EquateApproxTime(0)); d != "" {
		t.Errorf("generation after reopen (-want +got):\n%s", d)
	}
	rows, err := s.Spend(ctx, []Period{"2026-12-03", "2026-12", "lifetime"})
	if err != nil {
		t.Fatal(err)
	}
	want := []SpendRow{
		{KeyScope(key.ID), "2026-12", USD(0.0123)}, {KeyScope(key.ID), "2026-12-03", USD(0.0123)}, {KeyScope(key.ID), "lifetime", USD(0.0123)},
		{"tenant:team-a", "2026-12", USD(0.0123)}, {"tenant:team-a", "2026-12-03", USD(0.0123)}, {"tenant:team-a", "lifetime", USD(0.0123)},
	}
	if d := cmp.Diff(want, rows); d != "" {
		t.Errorf("spend after reopen (-want +got):\n%s", d)
	}
	if v, _ := s.Version(ctx); v != wantVersion {
		t.Errorf("version after reopen = %d, want %d", v, wantVersion)
	}
}

// TestSQLiteVersionSeenAcrossHandles: a write through one handle (the
// CLI) moves the counter another handle (the gateway) reads.
func TestSQLiteVersionSeenAcrossHandles(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "g.db")
	gw, cli := openTestStore(t, path), openTestStore(t, path)
	v0, err := gw.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.CreateTenant(ctx, sampleTenant()); err != nil {
		t.Fatal(err)
	}
	_, k := sampleKey(t)
	if err := cli.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := cli.UpdateKey(ctx, k.ID, func(k *Key) error { k.RevokedAt = day1; return nil }); err != nil {
		t.Fatal(err)
	}
	if v, _ := gw.Version(ctx); v != v0+3 {
		t.Errorf("version = %d after three writes from another handle, want %d", v, v0+3)
	}
	// A spend write changes no tenant or key: no snapshot reload.
	if err := cli.WriteGenerations(ctx, []Generation{{ID: "g", Created: day1, KeyID: k.ID, Cost: 5}}); err != nil {
		t.Fatal(err)
	}
	if v, _ := gw.Version(ctx); v != v0+3 {
		t.Errorf("version = %d after a usage write, want %d", v, v0+3)
	}
	got, err := gw.Key(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status(day1) != "revoked" {
		t.Errorf("key status %q, want revoked", got.Status(day1))
	}
}

func TestSQLiteErrors(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, filepath.Join(t.TempDir(), "g.db"))
	if err := s.CreateTenant(ctx, sampleTenant()); err != nil {
		t.Fatal(err)
	}
	_, k := sampleKey(t)
	if err := s.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	sameHash := k
	sameHash.ID = "k_other"
	for _, tc := range []struct {
		name string
		err  error
		is   error
		text string
	}{
		{"duplicate tenant", s.CreateTenant(ctx, sampleTenant()), ErrExists, `governance: create tenant "team-a": already exists`},
		{"duplicate key id", s.CreateKey(ctx, k), ErrExists, "governance: create key " + k.ID + ": already exists"},
		{"duplicate key hash", s.CreateKey(ctx, sameHash), ErrExists, "governance: create key k_other: already exists"},
		{"missing tenant", func() error { _, err := s.Tenant(ctx, "nope"); return err }(), ErrNotFound, `governance: tenant "nope": not found`},
		{"missing key", func() error { _, err := s.Key(ctx, "k_nope"); return err }(), ErrNotFound, "governance: key k_nope: not found"},
		{"update missing key", s.UpdateKey(ctx, "k_nope", func(*Key) error { return nil }), ErrNotFound, "governance: update key k_nope: not found"},
		{"missing generation", func() error { _, err := s.Generation(ctx, "x"); return err }(), ErrNotFound, `governance: generation "x": not found`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, tc.is) {
				t.Fatalf("error %v, want errors.Is %v", tc.err, tc.is)
			}
			if tc.err.Error() != tc.text {
				t.Errorf("error %q, want %q", tc.err, tc.text)
			}
		})
	}
}

// TestWriteGenerationsReplay: a batch written again (a retry after an
// error whose commit did land) adds no spend twice.
func TestWriteGenerationsReplay(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, filepath.Join(t.TempDir(), "g.db"))
	batch := []Generation{
		{ID: "a", Created: day1, KeyID: "k1", Tenant: "t", Cost: 100},
		{ID: "b", Created: day1.Add(24 * time.Hour), KeyID: "k1", Tenant: "t", Cost: 50},
	}
	for range 2 {
		if err := s.WriteGenerations(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := s.Spend(ctx, []Period{"2026-12-03", "2026-12-04", "2026-12", "lifetime"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]NanoUSD{}
	for _, r := range rows {
		got[string(r.Scope)+" "+string(r.Period)] = r.Spent
	}
	want := map[string]NanoUSD{
		"key:k1 2026-12-03": 100, "key:k1 2026-12-04": 50, "key:k1 2026-12": 150, "key:k1 lifetime": 150,
		"tenant:t 2026-12-03": 100, "tenant:t 2026-12-04": 50, "tenant:t 2026-12": 150, "tenant:t lifetime": 150,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("spend (-want +got):\n%s", d)
	}
}

func TestRotateKeyInStore(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, filepath.Join(t.TempDir(), "g.db"))
	_, old := sampleKey(t)
	if err := s.CreateKey(ctx, old); err != nil {
		t.Fatal(err)
	}
	_, next := sampleKey(t)
	until := time.Now().Add(time.Hour).Truncate(time.Millisecond).UTC()
	if err := s.RotateKey(ctx, old.ID, next, until); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Key(ctx, old.ID)
	if got.RotatedTo != next.ID || !got.OverlapUntil.Equal(until) {
		t.Errorf("old key rotated to %q until %v, want %q until %v", got.RotatedTo, got.OverlapUntil, next.ID, until)
	}
	if _, err := s.Key(ctx, next.ID); err != nil {
		t.Errorf("new key: %v", err)
	}
	_, third := sampleKey(t)
	err := s.RotateKey(ctx, old.ID, third, until)
	if err == nil || !strings.Contains(err.Error(), "key is rotated") {
		t.Errorf("second rotation error = %v, want key is rotated", err)
	}
	if _, err := s.Key(ctx, third.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("a refused rotation left its new key behind: %v", err)
	}
}

// TestSQLiteRefusesNewerSchema: an older switchboard must not write to a
// store a newer one migrated.
func TestSQLiteRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "g.db")
	s := openTestStore(t, path)
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, applied_ms) VALUES (99, 0)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = OpenSQLite(ctx, path)
	if err == nil || !strings.Contains(err.Error(), "schema version 99 is newer than this switchboard knows (1)") {
		t.Errorf("open error = %v, want the schema refused", err)
	}
}
