package governance

import (
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/middleware"
)

func TestNewSecret(t *testing.T) {
	seen := map[string]bool{}
	re := regexp.MustCompile(`^sk-sb-[0-9A-Za-z]{43}$`)
	for range 200 {
		secret, k, err := NewSecret(day1)
		if err != nil {
			t.Fatal(err)
		}
		if !re.MatchString(secret) || !wellFormed(secret) {
			t.Fatalf("secret %q is not sk-sb- and 43 base62 characters", secret)
		}
		if seen[secret] || seen[k.ID] {
			t.Fatalf("secret or id repeated after %d draws", len(seen))
		}
		seen[secret], seen[k.ID] = true, true
		if k.Hash != HashKey(secret) || k.Prefix != secret[:14] || !strings.HasPrefix(k.ID, "k_") {
			t.Fatalf("key %+v does not match its secret", k)
		}
		if h, err := ParseHash(FormatHash(k.Hash)); err != nil || h != k.Hash {
			t.Fatalf("hash does not round-trip: %v", err)
		}
	}
}

func newAuth(t *testing.T, s Store, now func() time.Time) *Authenticator {
	t.Helper()
	a, err := NewAuthenticator(context.Background(), s, zap.NewNop(), AuthOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, filepath.Join(t.TempDir(), "g.db"))
	clock := newClock()
	if err := s.CreateTenant(ctx, sampleTenant()); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTenant(ctx, Tenant{Name: "off", Disabled: true}); err != nil {
		t.Fatal(err)
	}
	mk := func(change func(*Key)) string {
		secret, k := sampleKey(t)
		change(&k)
		if err := s.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		return secret
	}
	active := mk(func(k *Key) {})
	revoked := mk(func(k *Key) { k.RevokedAt = day1.Add(-time.Hour) })
	expired := mk(func(k *Key) { k.ExpiresAt = day1 })
	disabled := mk(func(k *Key) { k.Disabled = true })
	inOverlap := mk(func(k *Key) { k.RotatedTo, k.OverlapUntil = "k_next", day1.Add(time.Minute) })
	pastOverlap := mk(func(k *Key) { k.RotatedTo, k.OverlapUntil = "k_next", day1 })
	offTenant := mk(func(k *Key) { k.Tenant = "off" })
	noTenant := mk(func(k *Key) { k.Tenant = "ghost" })
	conflict := mk(func(k *Key) { k.Rules.Policy.Providers = []string{"bedrock"} })
	unknown, _, _ := NewSecret(day1)
	a := newAuth(t, s, clock.Now)

	for _, tc := range []struct {
		name, key string
		is        error
		msg       string
	}{
		{"none", "", ErrNoKey, "governance: no API key"},
		{"malformed", "sk-live-abc", ErrUnknownKey, "governance: unknown API key"},
		{"unknown", unknown, ErrUnknownKey, "governance: unknown API key"},
		{"revoked", revoked, ErrKeyRevoked, "API key revoked (" + revoked[:14] + "…, id k_"},
		{"expired", expired, ErrKeyExpired, "at 2026-12-03T10:30:00Z"},
		{"disabled", disabled, ErrKeyDisabled, "governance: API key disabled"},
		{"rotation overlap over", pastOverlap, ErrKeyExpired, ": it was rotated and its overlap ended at 2026-12-03T10:30:00Z"},
		{"tenant disabled", offTenant, ErrTenantDisabled, "governance: tenant disabled"},
		{"tenant missing", noTenant, ErrUnknownTenant, "governance: the key's tenant does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := a.Authenticate(ctx, tc.key)
			var ae *AuthError
			if !errors.Is(err, tc.is) || !errors.As(err, &ae) {
				t.Fatalf("error %v, want an *AuthError that is %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("message %q, want it to contain %q", err, tc.msg)
			}
			if tc.key != "" && strings.Contains(err.Error(), tc.key) {
				t.Errorf("message %q quotes the secret", err)
			}
		})
	}

	p, err := a.Authenticate(ctx, active)
	if err != nil {
		t.Fatal(err)
	}
	tenant := sampleTenant()
	if p.Tenant != "team-a" || p.KeyLabel != "ci" || p.Rotated || !p.AllowsModel("gpt-4o-mini") || p.AllowsModel("gpt-4.1") {
		t.Errorf("principal %+v", p)
	}
	_, k := sampleKey(t)
	wantScopes := []ScopeLimits{{Scope: KeyScope(p.KeyID), Rules: k.Rules}, {Scope: "tenant:team-a", Rules: tenant.Rules}}
	if d := cmp.Diff(wantScopes, p.Scopes); d != "" {
		t.Errorf("scopes (-want +got):\n%s", d)
	}
	tp, kp := tenant.Rules.Plugins, k.Rules.Plugins
	tp.Owner, kp.Owner = `tenant "team-a"`, `key "`+p.KeyID+`"`
	wantPlugins := middleware.Policy{Allow: kp.Allow, Deny: tp.Deny, Force: tp.Force, Owner: kp.Owner, Within: []middleware.Policy{tp, kp}}
	if d := cmp.Diff(wantPlugins, p.Plugins); d != "" {
		t.Errorf("plugin policy (-want +got):\n%s", d)
	}
	if p, err := a.Authenticate(ctx, inOverlap); err != nil || !p.Rotated || !p.OverlapUntil.Equal(day1.Add(time.Minute)) {
		t.Errorf("key in its rotation overlap: %+v, %v; want it working, marked rotated", p, err)
	}
	var fe *ForbiddenError
	if _, err := a.Authenticate(ctx, conflict); !errors.As(err, &fe) || !strings.Contains(err.Error(), "providers [openai anthropic] and [bedrock] have none in common") {
		t.Errorf("key allowing only providers its tenant forbids: %v, want a ForbiddenError", err)
	}
	// Time moves: the overlap ends without any store change.
	clock.Add(time.Minute)
	if _, err := a.Authenticate(ctx, inOverlap); !errors.Is(err, ErrKeyExpired) {
		t.Errorf("after the overlap: %v, want expired", err)
	}
}

// TestAuthenticateFollowsStore: a key created, then revoked, through
// another handle (the CLI) takes effect within a second while Run polls.
func TestAuthenticateFollowsStore(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	path := filepath.Join(t.TempDir(), "g.db")
	gw, cli := openTestStore(t, path), openTestStore(t, path)
	a := newAuth(t, gw, nil)
	if a.Required() {
		t.Fatal("an empty store requires keys")
	}
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	within := func(what string, ok func() bool) {
		t.Helper()
		start := time.Now()
		for !ok() {
			if time.Since(start) > time.Second {
				t.Fatalf("%s: not in effect after 1s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Logf("%s: in effect after %v", what, time.Since(start).Round(time.Millisecond))
	}
	if err := cli.CreateTenant(ctx, Tenant{Name: "team-a"}); err != nil {
		t.Fatal(err)
	}
	secret, k, _ := NewSecret(time.Now())
	k.Tenant = "team-a"
	if err := cli.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	within("created key", func() bool { _, err := a.Authenticate(ctx, secret); return err == nil })
	if !a.Required() {
		t.Error("keys exist but are not required")
	}
	if err := cli.UpdateKey(ctx, k.ID, func(k *Key) error { k.RevokedAt = time.Now(); return nil }); err != nil {
		t.Fatal(err)
	}
	within("revoked key", func() bool { _, err := a.Authenticate(ctx, secret); return errors.Is(err, ErrKeyRevoked) })
}

// TestDeclaredKeys: keys and tenants from the config work next to the
// store's, and a tenant declared in both is the config's.
func TestDeclaredKeys(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, filepath.Join(t.TempDir(), "g.db"))
	if err := s.CreateTenant(ctx, Tenant{Name: "team-a", Rules: Rules{RPM: 5}}); err != nil {
		t.Fatal(err)
	}
	a := newAuth(t, s, nil)
	secret, k, _ := NewSecret(time.Now())
	tenants, keys, err := FromConfig(config.Governance{
		Tenants: []config.TenantSpec{{Name: "team-a", GovernanceRules: config.GovernanceRules{RPM: 50, Budgets: config.Budgets{Daily: &config.Budget{USD: 2.5, Soft: true}}}}},
		Keys:    []config.KeySpec{{ID: "ci", Tenant: "team-a", Hash: FormatHash(k.Hash), Prefix: k.Prefix}},
	})
	if err != nil {
		t.Fatal(err)
	}
	a.SetDeclared(tenants, keys)
	p, err := a.Authenticate(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	want := Rules{RPM: 50, Budgets: Budgets{Daily: Budget{USD: 2_500_000_000, Soft: true}}}
	if p.KeyID != "ci" || p.KeyPrefix != k.Prefix || !cmp.Equal(p.Scopes[1].Rules, want) {
		t.Errorf("principal %+v, want key ci under the config's team-a rules %+v", p, want)
	}
	a.SetDeclared(nil, nil) // the key was removed from the config
	if _, err := a.Authenticate(ctx, secret); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("after the config dropped the key: %v, want unknown", err)
	}
}

func TestMergePolicy(t *testing.T) {
	got, err := MergePolicy(
		config.Policy{ZDR: true, Providers: []string{"a", "b"}, MaxPrice: config.Price{Prompt: 5, Completion: 10}},
		config.Policy{DenyDataCollection: true, Providers: []string{"b", "c"}, Regions: []string{"eu"}, MaxPrice: config.Price{Prompt: 3}},
	)
	if err != nil {
		t.Fatal(err)
	}
	want := config.Policy{ZDR: true, DenyDataCollection: true, Providers: []string{"b"}, Regions: []string{"eu"}, MaxPrice: config.Price{Prompt: 3, Completion: 10}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("merged (-want +got):\n%s", d)
	}
	if _, err := MergePolicy(config.Policy{Regions: []string{"us"}}, config.Policy{Regions: []string{"eu"}}); err == nil {
		t.Error("disjoint regions merged into no restriction")
	}
}
