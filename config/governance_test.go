package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const govBase = `providers:
  - {name: local, schema: openai, base_url: "http://127.0.0.1:9100/v1"}
  - {name: other, schema: openai, base_url: "http://127.0.0.1:9101/v1"}
models:
  - {name: demo, providers: [{provider: local}]}
  - {name: big, providers: [{provider: other}]}
`

const hashA = "sha256:5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"

func TestGovernanceParsed(t *testing.T) {
	l := mustParse(t, govBase+`governance:
  store: {path: /var/lib/switchboard/g.db}
  tenants:
    - name: team-a
      models: [demo]
      policy: {zdr: true, providers: [local]}
      rpm: 60
      tpm: 100000
      max_concurrent: 4
      budgets: {daily: 5, monthly: {usd: 100, soft: true}}
  keys:
    - id: ci
      tenant: team-a
      label: CI runner
      hash: `+hashA+`
      prefix: sk-sb-AbCdEfGh
      rpm: 10
      expires_at: 2027-01-01T00:00:00Z
`, noEnv)
	g := l.Governance
	want := Governance{
		Store:  GovernanceStore{Kind: "embedded", Path: "/var/lib/switchboard/g.db", resolved: "/var/lib/switchboard/g.db"},
		Limits: GovernanceLimits{Kind: "memory", OnStoreFailure: "open", Lease: Duration(15 * time.Minute), Timeout: Duration(250 * time.Millisecond)},
		Tenants: []TenantSpec{{Name: "team-a", GovernanceRules: GovernanceRules{
			Models: []string{"demo"}, Policy: Policy{ZDR: true, Providers: []string{"local"}},
			RPM: 60, TPM: 100000, MaxConcurrent: 4,
			Budgets: Budgets{Daily: &Budget{USD: 5}, Monthly: &Budget{USD: 100, Soft: true}},
		}}},
		Keys: []KeySpec{{ID: "ci", Tenant: "team-a", Label: "CI runner", Hash: hashA, Prefix: "sk-sb-AbCdEfGh",
			GovernanceRules: GovernanceRules{RPM: 10}, ExpiresAt: ptr(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))}},
	}
	if d := cmp.Diff(want, g, cmp.AllowUnexported(GovernanceStore{}, GovernanceLimits{}, Budget{})); d != "" {
		t.Errorf("governance (-want +got):\n%s", d)
	}
}

func ptr[T any](v T) *T { return &v }

// TestGovernanceStoreDefault: with no governance block the store is a
// file under data/ next to the config file.
func TestGovernanceStoreDefault(t *testing.T) {
	dir := t.TempDir()
	l, err := Parse(filepath.Join(dir, "switchboard.yaml"), []byte(govBase), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if s := l.Governance.Store; s.Kind != "embedded" || s.ResolvedPath() != filepath.Join(dir, "data", "governance.db") {
		t.Errorf("store %q at %q, want embedded at %s/data/governance.db", s.Kind, s.ResolvedPath(), dir)
	}
	l, err = Parse(filepath.Join(dir, "switchboard.yaml"), []byte(govBase+"governance: {store: {path: state/g.db}}\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Governance.Store.ResolvedPath(); got != filepath.Join(dir, "state", "g.db") {
		t.Errorf("relative store path resolved to %q, want it under the config's directory", got)
	}
}

func TestGovernanceErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		yaml string
		want string
	}{
		{"unknown store kind", `governance:
  store: {kind: mysql}
`, `cfg.yaml:8: governance.store.kind "mysql": unknown store kind (known: embedded, postgres)`},
		{"unknown field", `governance:
  tenants:
    - {name: a, rps: 5}
`, `cfg.yaml:9: unknown field "rps"`},
		{"bad tenant name", `governance:
  tenants:
    - name: Team A
`, `cfg.yaml:9: governance.tenants[0].name "Team A": must be lowercase letters, digits, '.', '_' or '-'`},
		{"duplicate tenant", `governance:
  tenants:
    - name: a
    - name: a
`, `cfg.yaml:10: governance.tenants[1].name "a": duplicate tenant name`},
		{"negative rpm", `governance:
  tenants:
    - name: a
      rpm: -1
`, `cfg.yaml:10: governance.tenants[0].rpm "-1": must be between 0 (no limit) and 1000000000`},
		{"zero budget", `governance:
  tenants:
    - name: a
      budgets: {daily: 0}
`, `cfg.yaml:10: governance.tenants[0].budgets.daily "0": must be a USD amount above 0 and at most 1e9 (leave it out for no budget)`},
		{"budget not a number", `governance:
  tenants:
    - name: a
      budgets: {monthly: lots}
`, `cfg.yaml:10: budget "lots" must be a USD amount or {usd: N, soft: true}`},
		{"unknown model", `governance:
  tenants:
    - name: a
      models: [demo, gpt-5]
`, `cfg.yaml:10: governance.tenants[0].models[1] "gpt-5": unknown model`},
		{"unknown provider in policy", `governance:
  tenants:
    - name: a
      policy: {providers: [nope]}
`, `cfg.yaml:10: governance.tenants[0].policy.providers[0] "nope": unknown provider (known: local, other)`},
		{"key of an undeclared tenant", `governance:
  keys:
    - {id: k1, tenant: ghost, hash: ` + hashA + `}
`, `cfg.yaml:9: governance.keys[0].tenant "ghost": unknown tenant (declare it under governance.tenants)`},
		{"key secret pasted as hash", `governance:
  tenants: [{name: a}]
  keys:
    - id: k1
      tenant: a
      hash: sk-sb-0123456789012345678901234567890123456789012
`, "cfg.yaml:12: governance.keys[0].hash: must be sha256: and 64 hex digits, as `switchboard keys create` prints it (never the key itself)"},
		{"hash prefix in capitals", `governance:
  tenants: [{name: a}]
  keys:
    - {id: k2, tenant: a, hash: ` + strings.ToUpper(hashA[:8]) + hashA[8:] + `}
`, `cfg.yaml:10: governance.keys[0].hash: must be sha256: and 64 hex digits, as ` + "`switchboard keys create`" + ` prints it (never the key itself)`},
		{"duplicate key id", `governance:
  tenants: [{name: a}]
  keys:
    - {id: k1, tenant: a, hash: ` + hashA + `}
    - {id: k1, tenant: a, hash: sha256:` + strings.Repeat("ab", 32) + `}
`, `cfg.yaml:11: governance.keys[1].id "k1": duplicate key id`},
		{"unknown plugin denied", `governance:
  tenants:
    - name: a
      plugins: {deny: [middle-out, x]}
`, `cfg.yaml:10: governance.tenants[0].plugins.deny[1] "x": unknown plugin (known: file-parser, middle-out, response-healing)`},
		{"web without plugins.web", `governance:
  tenants:
    - name: a
      plugins:
        allow: [web]
`, `cfg.yaml:11: governance.tenants[0].plugins.allow[0] "web": unknown plugin (known: file-parser, middle-out, response-healing; web is offered when plugins.web configures a search backend)`},
		{"forced and denied", `governance:
  tenants:
    - name: a
      plugins:
        deny: [response-healing]
        force:
          - middle-out
          - {id: response-healing}
`, `cfg.yaml:14: governance.tenants[0].plugins.force[1] "response-healing": the plugin is also denied`},
		{"forced twice", `governance:
  tenants:
    - name: a
      plugins: {force: [middle-out, {id: middle-out}]}
`, `cfg.yaml:10: governance.tenants[0].plugins.force[1] "middle-out": the plugin is forced twice`},
		{"forced without an id", `governance:
  tenants:
    - name: a
      plugins:
        force:
          - {engine: pdf-text}
`, `cfg.yaml:12: governance.tenants[0].plugins.force[0].id: a forced plugin needs an id`},
		{"forced plugin not a block", `governance:
  tenants:
    - name: a
      plugins:
        force:
          - [file-parser]
`, `cfg.yaml:12: a forced plugin must be a plugin id or {id: ID, ...}`},
		{"key forces what its tenant does not allow", `governance:
  tenants:
    - {name: a, plugins: {allow: [file-parser]}}
  keys:
    - id: k1
      tenant: a
      hash: ` + hashA + `
      plugins: {force: [response-healing]}
`, `cfg.yaml:14: governance.keys[0].plugins.force[0] "response-healing": the tenant does not allow this plugin; a key cannot widen its tenant`},
		{"key denies what its tenant forces", `governance:
  tenants:
    - {name: a, plugins: {force: [response-healing]}}
  keys:
    - id: k1
      tenant: a
      hash: ` + hashA + `
      plugins:
        deny: [response-healing]
`, `cfg.yaml:15: governance.keys[0].plugins.deny[0] "response-healing": the tenant forces this plugin; a key cannot turn it off`},
		{"long prefix", `governance:
  tenants: [{name: a}]
  keys:
    - {id: k1, tenant: a, hash: ` + hashA + `, prefix: sk-sb-0123456789}
`, `cfg.yaml:10: governance.keys[0].prefix: must be sk-sb- and at most 8 more characters of the key`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("cfg.yaml", []byte(govBase+tc.yaml), noEnv)
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			if err.Error() != tc.want {
				t.Errorf("error =\n%s\nwant\n%s", err, tc.want)
			}
		})
	}
}

func TestGovernanceDuplicateHashCaseInsensitive(t *testing.T) {
	_, err := Parse("cfg.yaml", []byte(govBase+`governance:
  tenants: [{name: a}]
  keys:
    - {id: k1, tenant: a, hash: `+hashA+`}
    - {id: k2, tenant: a, hash: "sha256:`+strings.ToUpper(hashA[7:])+`"}
`), noEnv)
	if err == nil || err.Error() != `cfg.yaml:11: governance.keys[1].hash: the same key is declared twice` {
		t.Errorf("error = %v, want the second declaration refused", err)
	}
}

// TestGovernanceBackends: the distributed store and limits, their
// secrets read from the environment and never quoted.
func TestGovernanceBackends(t *testing.T) {
	env := func(name string) (string, bool) {
		v, ok := map[string]string{"PG_DSN": "postgres://sb:s3cret-pg@db:5432/sb", "REDIS_PW": "s3cret-redis"}[name]
		return v, ok
	}
	l, err := Parse("cfg.yaml", []byte(govBase+`governance:
  store: {kind: postgres, dsn: {env: PG_DSN}}
  limits: {kind: redis, address: "redis:6379", password: {env: REDIS_PW}, on_store_failure: closed, db: 2}
`), env)
	if err != nil {
		t.Fatal(err)
	}
	g := l.Governance
	if g.Store.ConnString() != "postgres://sb:s3cret-pg@db:5432/sb" || g.Limits.RedisPassword() != "s3cret-redis" ||
		g.Limits.OnStoreFailure != "closed" || g.Limits.DB != 2 || time.Duration(g.Limits.Lease) != 15*time.Minute {
		t.Errorf("backends %+v / %+v", g.Store, g.Limits)
	}
	for _, tc := range []struct {
		name string
		yaml string
		want string
	}{
		{"postgres without dsn", `governance:
  store: {kind: postgres}
`, `cfg.yaml:8: governance.store.dsn: required for kind postgres: {env: NAME} or {file: PATH} holding the connection string`},
		{"dsn variable unset", `governance:
  store: {kind: postgres, dsn: {env: NOPE}}
`, `cfg.yaml:8: governance.store.dsn.env "NOPE": environment variable is not set`},
		{"dsn pasted inline", `governance:
  store: {kind: postgres, dsn: "postgres://u:hunter2@h/db"}
`, "cfg.yaml:8: cannot unmarshal"},
		{"dsn with both", `governance:
  store: {kind: postgres, dsn: {env: PG_DSN, file: /x}}
`, `cfg.yaml:8: governance.store.dsn: must set exactly one of env or file`},
		{"unknown limits kind", `governance:
  limits: {kind: memcached}
`, `cfg.yaml:8: governance.limits.kind "memcached": unknown limits kind (known: memory, redis)`},
		{"redis without port", `governance:
  limits: {kind: redis, address: redis}
`, `cfg.yaml:8: governance.limits.address "redis": must be host:port of the Redis server`},
		{"redis password unset", `governance:
  limits: {kind: redis, address: "r:6379", password: {env: NOPE}}
`, `cfg.yaml:8: governance.limits.password.env "NOPE": environment variable is not set`},
		{"bad failure mode", `governance:
  limits: {kind: redis, address: "r:6379", on_store_failure: maybe}
`, `cfg.yaml:8: governance.limits.on_store_failure "maybe": must be open or closed`},
		{"short lease", `governance:
  limits: {kind: redis, address: "r:6379", lease: 5s}
`, `cfg.yaml:8: governance.limits.lease "5s": must be at least 1m (a reservation outliving it loses its slot)`},
		{"unknown limits field", `governance:
  limits: {kind: redis, adress: "r:6379"}
`, `cfg.yaml:8: unknown field "adress"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("cfg.yaml", []byte(govBase+tc.yaml), env)
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error =\n%s\nwant\n%s", err, tc.want)
			}
			for _, secret := range []string{"s3cret", "hunter2"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error quotes a secret: %s", err)
				}
			}
		})
	}
}

// TestGovernancePlugins: a plugins block on tenants and keys, forced
// plugins as blocks (converted to JSON) or bare ids; web may be named
// once plugins.web configures it.
func TestGovernancePlugins(t *testing.T) {
	l := mustParse(t, govBase+`plugins:
  web: {base_url: "http://127.0.0.1:8888"}
governance:
  tenants:
    - name: team-a
      plugins:
        allow: [web, response-healing]
        deny: [file-parser]
        force: [{id: response-healing}, {id: web, max_results: 3}]
  keys:
    - id: ci
      tenant: team-a
      hash: `+hashA+`
      plugins: {allow: [response-healing], force: [response-healing]}
`, noEnv)
	if got, want := l.Plugins.Offered(), []string{"file-parser", "middle-out", "response-healing", "web"}; !cmp.Equal(got, want) {
		t.Errorf("offered %v, want %v", got, want)
	}
	want := PluginPolicy{Allow: []string{"web", "response-healing"}, Deny: []string{"file-parser"},
		Force: []ForcedPlugin{{ID: "response-healing", Options: []byte(`{"id":"response-healing"}`)}, {ID: "web", Options: []byte(`{"id":"web","max_results":3}`)}}}
	if d := cmp.Diff(want, l.Governance.Tenants[0].Plugins); d != "" {
		t.Errorf("tenant plugins (-want +got):\n%s", d)
	}
	want = PluginPolicy{Allow: []string{"response-healing"}, Force: []ForcedPlugin{{ID: "response-healing"}}}
	if d := cmp.Diff(want, l.Governance.Keys[0].Plugins); d != "" {
		t.Errorf("key plugins (-want +got):\n%s", d)
	}
}

// TestWebLoopAddress: the web search loop forwards callers' credentials,
// so its address is loopback only; it defaults to 127.0.0.1:18002.
func TestWebLoopAddress(t *testing.T) {
	l := mustParse(t, govBase+"plugins:\n  web: {base_url: \"http://127.0.0.1:8888\"}\n", noEnv)
	if h, p := l.Plugins.Web.LoopHostPort(); h != "127.0.0.1" || p != 18002 {
		t.Errorf("default loop address %s:%d", h, p)
	}
	for _, addr := range []string{"0.0.0.0:18002", "10.0.0.1:18002", "127.0.0.1", "127.0.0.1:0"} {
		_, err := Parse("cfg.yaml", []byte(govBase+"plugins:\n  web: {base_url: \"http://127.0.0.1:8888\", loop_address: \""+addr+"\"}\n"), noEnv)
		if err == nil || !strings.Contains(err.Error(), "plugins.web.loop_address") {
			t.Errorf("%s: %v", addr, err)
		}
	}
}
