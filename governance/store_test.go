package governance

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/middleware"
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
		Plugins: middleware.Policy{Deny: []string{"web"}, Force: []middleware.Forced{
			{ID: "response-healing"}, {ID: "file-parser", Options: []byte(`{"id":"file-parser","pdf":{"engine":"pdf-text"}}`)}}},
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
	k.Rules = Rules{RPM: 10, Budgets: Budgets{Daily: Budget{USD: USD(1)}}, Plugins: middleware.Policy{Allow: []string{"response-healing", "middle-out"}}}
	return secret, k
}

// TestStoreSurvivesReopen: everything written is there after the store
// is closed and opened again, as after a restart.
func TestStoreSurvivesReopen(t *testing.T) {
	forEachStore(t, testStoreSurvivesReopen)
}

func testStoreSurvivesReopen(t *testing.T, open func(*testing.T) Store) {
	ctx := context.Background()
	s := open(t)
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

	s = open(t)
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

// TestStoreVersionSeenAcrossHandles: a write through one handle (the
// CLI) moves the counter another handle (the gateway) reads.
func TestStoreVersionSeenAcrossHandles(t *testing.T) {
	forEachStore(t, testStoreVersionSeenAcrossHandles)
}

func testStoreVersionSeenAcrossHandles(t *testing.T, open func(*testing.T) Store) {
	ctx := context.Background()
	gw, cli := open(t), open(t)
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

func TestStoreErrors(t *testing.T) {
	forEachStore(t, testStoreErrors)
}

func testStoreErrors(t *testing.T, open func(*testing.T) Store) {
	ctx := context.Background()
	s := open(t)
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
	forEachStore(t, testWriteGenerationsReplay)
}

func testWriteGenerationsReplay(t *testing.T, open func(*testing.T) Store) {
	ctx := context.Background()
	s := open(t)
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
	forEachStore(t, testRotateKeyInStore)
}

func testRotateKeyInStore(t *testing.T, open func(*testing.T) Store) {
	ctx := context.Background()
	s := open(t)
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

// TestStoreConcurrentUpdates: read-modify-writes from many handles at
// once lose none of each other's changes (SQLite: immediate transactions;
// PostgreSQL: FOR UPDATE), and each bumps the change counter once.
func TestStoreConcurrentUpdates(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(*testing.T) Store) {
		ctx := context.Background()
		s := open(t)
		if err := s.CreateTenant(ctx, Tenant{Name: "t", Created: day1}); err != nil {
			t.Fatal(err)
		}
		_, k := sampleKey(t)
		k.Tenant, k.Rules = "t", Rules{}
		if err := s.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		v0, _ := s.Version(ctx)
		handles := []Store{s, open(t), open(t)}
		const n = 30
		var wg sync.WaitGroup
		errs := make(chan error, 2*n)
		for i := range n {
			wg.Go(func() {
				h := handles[i%len(handles)]
				errs <- h.UpdateTenant(ctx, "t", func(t *Tenant) error { t.Rules.RPM++; return nil })
				errs <- h.UpdateKey(ctx, k.ID, func(k *Key) error { k.Rules.TPM += 2; return nil })
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		gotT, _ := s.Tenant(ctx, "t")
		gotK, _ := s.Key(ctx, k.ID)
		if gotT.Rules.RPM != n || gotK.Rules.TPM != 2*n {
			t.Errorf("after %d concurrent updates: tenant rpm %d, key tpm %d; want %d and %d", n, gotT.Rules.RPM, gotK.Rules.TPM, n, 2*n)
		}
		if v, _ := s.Version(ctx); v != v0+2*n {
			t.Errorf("version %d, want %d", v, v0+2*n)
		}
	})
}

// TestPostgresRefusesNewerSchema: an older switchboard must not write to
// a database a newer one migrated.
func TestPostgresRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	dsn := freshDatabase(t)
	s, err := OpenPostgres(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO schema_migrations (version, applied_ms) VALUES (99, 0)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = OpenPostgres(ctx, dsn)
	if err == nil || !strings.Contains(err.Error(), "schema version 99 is newer than this switchboard knows (1)") {
		t.Errorf("open error = %v, want the schema refused", err)
	}
}

// TestPostgresErrorsHideThePassword: a refused connection's error names
// the server, never the DSN's password.
func TestPostgresErrorsHideThePassword(t *testing.T) {
	dsn := shared.postgres(t).DSN()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := u.User.Password()
	u.User = url.UserPassword(u.User.Username(), pw+"-wrong")
	for _, bad := range []string{u.String(), "postgres://u:" + pw + "@[::1"} {
		_, err := OpenPostgres(context.Background(), bad)
		if err == nil {
			t.Fatalf("open with %s succeeded", "a wrong DSN")
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("error quotes the password: %v", err)
		}
	}
}

// TestPurgeCaptures: retention removes the captured prompt and answer
// from old records and leaves the records, and newer captures, alone.
func TestPurgeCaptures(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(*testing.T) Store) {
		ctx := context.Background()
		s := open(t)
		capt := &Capture{Prompt: "secret prompt", Answer: "secret answer"}
		if err := s.WriteGenerations(ctx, []Generation{
			{ID: "old", Created: day1, KeyID: "k1", Tenant: "t", Cost: 1, Capture: capt},
			{ID: "new", Created: day1.Add(48 * time.Hour), KeyID: "k1", Tenant: "t", Cost: 1, Capture: capt},
			{ID: "none", Created: day1, KeyID: "k1", Tenant: "t", Cost: 1},
		}); err != nil {
			t.Fatal(err)
		}
		n, err := s.PurgeCaptures(ctx, day1.Add(24*time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("purged %d, %v; want 1", n, err)
		}
		old, err := s.Generation(ctx, "old")
		if err != nil || old.Capture != nil || old.Cost != 1 {
			t.Errorf("old record %+v, %v: want it kept without its capture", old, err)
		}
		if nw, err := s.Generation(ctx, "new"); err != nil || nw.Capture == nil || nw.Capture.Prompt != "secret prompt" {
			t.Errorf("new record %+v, %v: want its capture", nw, err)
		}
	})
}

// TestRulesStoredBeforePlugins: rules written before plugin policies
// existed (no "plugins" in the JSON) read as the zero policy, and a
// policy survives the round trip.
func TestRulesStoredBeforePlugins(t *testing.T) {
	r, err := decodeRules(`{"models":["gpt-4o-mini"],"rpm":5,"budgets":{"daily":{"nano_usd":1000000000}}}`)
	if err != nil {
		t.Fatal(err)
	}
	want := Rules{Models: []string{"gpt-4o-mini"}, RPM: 5, Budgets: Budgets{Daily: Budget{USD: USD(1)}}}
	if d := cmp.Diff(want, r); d != "" {
		t.Errorf("old rules (-want +got):\n%s", d)
	}
	if s, _ := encodeRules(want); strings.Contains(s, "plugins") {
		t.Errorf("no policy stored as %s, want no plugins field", s)
	}
	tenant := sampleTenant()
	s, err := encodeRules(tenant.Rules)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s, `"plugins":{"deny":["web"],"force":[{"id":"response-healing"},{"id":"file-parser","options":{"id":"file-parser","pdf":{"engine":"pdf-text"}}}]}`) {
		t.Errorf("stored rules %s", s)
	}
}
