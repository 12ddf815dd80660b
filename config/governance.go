package config

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Governance is who may call the gateway and what they may spend: tenants
// (teams) and their gateway keys, with limits and budgets, and the store
// that holds them with their spend and usage records. Tenants and keys may
// live in the store (created with `switchboard tenants|keys create`) and
// be declared here too, for review like the rest of the config; a name
// declared here wins over the store's.
type Governance struct {
	// Store is where tenants, keys, spend and usage records are kept.
	Store GovernanceStore `yaml:"store"`
	// Limits is where the rate-limit and budget counters live.
	Limits GovernanceLimits `yaml:"limits"`
	// Tenants declared in the config.
	Tenants []TenantSpec `yaml:"tenants"`
	// Keys declared in the config, by hash: the secret never appears in
	// the file.
	Keys []KeySpec `yaml:"keys"`
	// ManagementKeys may drive the key API (/api/v1/keys) and read every
	// usage record; they spend nothing and call no model. By hash, as
	// keys are.
	ManagementKeys []ManagementKeySpec `yaml:"management_keys"`
	// Capture keeps the prompt and the answer of the named tenants'
	// requests in their usage records, for observability. Off by default.
	Capture *CaptureSpec `yaml:"capture"`
}

// CaptureSpec is prompt and answer capture.
type CaptureSpec struct {
	// Tenants whose requests are captured.
	Tenants []string `yaml:"tenants"`
	// Retention: captured text is removed from records older than this.
	// Default 168h (7 days).
	Retention Duration `yaml:"retention"`
	// MaxBytes caps what is kept of each prompt and each answer.
	// Default 65536.
	MaxBytes int `yaml:"max_bytes"`
}

// Captures reports whether a tenant's requests are captured.
func (g *Governance) Captures(tenant string) bool {
	return g.Capture != nil && slices.Contains(g.Capture.Tenants, tenant)
}

// ManagementKeySpec is a management key declared by its hash.
type ManagementKeySpec struct {
	ID   string `yaml:"id"`
	Hash string `yaml:"hash"`
}

// GovernanceStore selects the store.
type GovernanceStore struct {
	// Kind is "embedded" (a SQLite file, no server to run) or "postgres"
	// (shared by many replicas). Default embedded.
	Kind string `yaml:"kind"`
	// Path is the SQLite file (embedded), relative to the config file's
	// directory. Default data/governance.db. With postgres the usage
	// spool file is kept in its directory.
	Path string `yaml:"path"`
	// DSN is where the PostgreSQL connection string is read from
	// (postgres; required there): {env: NAME} or {file: PATH}. It holds
	// the password, so it is never in the file itself.
	DSN *Secret `yaml:"dsn"`

	resolved string
	dsn      string
}

// Store kinds.
const (
	StoreEmbedded = "embedded"
	StorePostgres = "postgres"
)

// ConnString is the PostgreSQL connection string read at load; never log
// it.
func (s GovernanceStore) ConnString() string { return s.dsn }

// GovernanceLimits selects where the limit and budget counters live.
type GovernanceLimits struct {
	// Kind is "memory" (in process: exact for one replica) or "redis"
	// (shared by every replica). Default memory.
	Kind string `yaml:"kind"`
	// Address is the Redis host:port (redis; required there).
	Address string `yaml:"address"`
	// Username is the Redis ACL user. Default: none (the default user).
	Username string `yaml:"username"`
	// Password is where the Redis password is read from: {env: NAME} or
	// {file: PATH}. Default: none.
	Password *Secret `yaml:"password"`
	// DB is the Redis database number. Default 0.
	DB int `yaml:"db"`
	// OnStoreFailure is what happens to a request when Redis does not
	// answer: "open" admits it unmetered (the gateway keeps serving; limits
	// and budgets are not enforced until Redis is back, spend is still
	// recorded), "closed" refuses it with 503 (nothing passes uncounted; a
	// Redis outage stops governed traffic). Default open.
	OnStoreFailure string `yaml:"on_store_failure"`
	// Lease is how long a reservation holds its concurrency slot and
	// budget without a settle (a replica that died frees them after it).
	// Default 15m.
	Lease Duration `yaml:"lease"`
	// Timeout bounds each Redis call. Default 250ms.
	Timeout Duration `yaml:"timeout"`

	password string
}

// Limit kinds and failure modes.
const (
	LimitsMemory  = "memory"
	LimitsRedis   = "redis"
	FailOpen      = "open"
	FailClosed    = "closed"
	defaultLease  = 15 * time.Minute
	defaultRedisT = 250 * time.Millisecond
)

// RedisPassword is the password read at load; never log it.
func (l GovernanceLimits) RedisPassword() string { return l.password }

// ResolvedPath is Path made absolute against the config file's directory.
func (s GovernanceStore) ResolvedPath() string { return s.resolved }

// GovernanceRules are what a tenant or key may do; a key's narrow its
// tenant's. Zero values are no limit.
type GovernanceRules struct {
	// Models is the allow-list of public model names. Default: all.
	Models []string `yaml:"models"`
	// Policy narrows routing.policy for these requests (policy.providers
	// is the allow-list of providers); a request can narrow it further,
	// never loosen it.
	Policy Policy `yaml:"policy"`
	// RPM is requests per minute. Default: no limit.
	RPM int64 `yaml:"rpm"`
	// TPM is tokens per minute, prompt and completion. Default: no limit.
	TPM int64 `yaml:"tpm"`
	// MaxConcurrent is requests in flight at once. Default: no limit.
	MaxConcurrent int64 `yaml:"max_concurrent"`
	// Budgets cap USD spend per UTC day, UTC month and lifetime.
	Budgets Budgets `yaml:"budgets"`
	// Plugins limits the plugins these requests may enable and forces
	// some on (PluginPolicy). Default: any plugin offered, none forced.
	Plugins PluginPolicy `yaml:"plugins"`
}

// Budgets are USD caps by period; each is `10` or `{usd: 10, soft: true}`.
type Budgets struct {
	Daily    *Budget `yaml:"daily"`
	Monthly  *Budget `yaml:"monthly"`
	Lifetime *Budget `yaml:"lifetime"`
}

// Budget is a USD cap. Hard (the default) refuses a request whose
// reservation would cross it, with 402; soft only flags it.
type Budget struct {
	USD  float64 `yaml:"usd"`
	Soft bool    `yaml:"soft"`

	undecoded bool // its decoding error is reported already
}

// UnmarshalYAML takes a bare number as a hard budget.
func (b *Budget) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		v, err := strconv.ParseFloat(n.Value, 64)
		if err != nil {
			b.undecoded = true
			return &yaml.TypeError{Errors: []string{"line " + strconv.Itoa(n.Line) + ": budget " + strconv.Quote(n.Value) + " must be a USD amount or {usd: N, soft: true}"}}
		}
		*b = Budget{USD: v}
		return nil
	}
	type plain Budget // no UnmarshalYAML: decode the mapping as usual
	return n.Decode((*plain)(b))
}

// TenantSpec is a tenant declared in the config.
type TenantSpec struct {
	// Name identifies the tenant in keys, records and metrics.
	Name            string `yaml:"name"`
	GovernanceRules `yaml:",inline"`
	// Disabled refuses every key of the tenant. Default false.
	Disabled bool `yaml:"disabled"`
}

// KeySpec is a gateway key declared in the config by its hash.
type KeySpec struct {
	// ID names the key in listings and records.
	ID string `yaml:"id"`
	// Tenant is a tenant declared in this file.
	Tenant string `yaml:"tenant"`
	// Label is free text.
	Label string `yaml:"label"`
	// Hash is "sha256:" and the hex SHA-256 of the key, as `switchboard
	// keys create` prints it.
	Hash string `yaml:"hash"`
	// Prefix is the key's first characters (sk-sb- and up to 8 more),
	// shown in listings. Optional.
	Prefix          string `yaml:"prefix"`
	GovernanceRules `yaml:",inline"`
	// ExpiresAt, as RFC 3339. Default: never.
	ExpiresAt *time.Time `yaml:"expires_at"`
	// Disabled refuses the key. Default false.
	Disabled bool `yaml:"disabled"`
}

var keyIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// maxRate bounds rpm, tpm and max_concurrent: the limiter's integer
// arithmetic (and a Redis script's doubles) stay exact below it.
const maxRate = 1_000_000_000

func (g *Governance) applyDefaults() {
	if g.Store.Kind == "" {
		g.Store.Kind = StoreEmbedded
	}
	if g.Store.Path == "" {
		g.Store.Path = filepath.Join("data", "governance.db")
	}
	if g.Limits.Kind == "" {
		g.Limits.Kind = LimitsMemory
	}
	if c := g.Capture; c != nil {
		if c.Retention == 0 {
			c.Retention = Duration(7 * 24 * time.Hour)
		}
		if c.MaxBytes == 0 {
			c.MaxBytes = 64 << 10
		}
	}
	if g.Limits.OnStoreFailure == "" {
		g.Limits.OnStoreFailure = FailOpen
	}
	if g.Limits.Lease == 0 {
		g.Limits.Lease = Duration(defaultLease)
	}
	if g.Limits.Timeout == 0 {
		g.Limits.Timeout = Duration(defaultRedisT)
	}
}

// readSecret reads a secret for the governance block; errors name the
// field and the variable or file, never the value.
func readSecret(at string, s *Secret, env Env, add func(string, string, string, ...any)) string {
	switch {
	case (s.Env == "") == (s.File == ""):
		add(at, "", "must set exactly one of env or file")
	case s.Env != "":
		if v, ok := env(s.Env); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		add(at+".env", s.Env, "environment variable is not set")
	default:
		b, err := os.ReadFile(s.File)
		if err == nil && len(bytes.TrimSpace(b)) > 0 {
			return string(bytes.TrimSpace(b))
		}
		add(at+".file", s.File, "cannot read the file (missing or empty)")
	}
	return ""
}

func (g *Governance) checkBackends(env Env, add func(string, string, string, ...any)) {
	st := &g.Store
	switch st.Kind {
	case StoreEmbedded:
		if st.DSN != nil {
			add("governance.store.dsn", "", "only for kind postgres")
		}
	case StorePostgres:
		if st.DSN == nil {
			add("governance.store.dsn", "", "required for kind postgres: {env: NAME} or {file: PATH} holding the connection string")
		} else {
			st.dsn = readSecret("governance.store.dsn", st.DSN, env, add)
		}
	default:
		add("governance.store.kind", st.Kind, "unknown store kind (known: %s, %s)", StoreEmbedded, StorePostgres)
	}
	l := &g.Limits
	switch l.Kind {
	case LimitsMemory:
		if l.Address != "" || l.Password != nil {
			add("governance.limits.address", l.Address, "only for kind redis")
		}
	case LimitsRedis:
		if _, port, err := net.SplitHostPort(l.Address); err != nil || port == "" {
			add("governance.limits.address", l.Address, "must be host:port of the Redis server")
		}
		if l.Password != nil {
			l.password = readSecret("governance.limits.password", l.Password, env, add)
		}
	default:
		add("governance.limits.kind", l.Kind, "unknown limits kind (known: %s, %s)", LimitsMemory, LimitsRedis)
	}
	if l.OnStoreFailure != FailOpen && l.OnStoreFailure != FailClosed {
		add("governance.limits.on_store_failure", l.OnStoreFailure, "must be open or closed")
	}
	if l.DB < 0 || l.DB > 15 {
		add("governance.limits.db", strconv.Itoa(l.DB), "must be a Redis database number, 0 to 15")
	}
	if l.Lease < Duration(time.Minute) {
		add("governance.limits.lease", time.Duration(l.Lease).String(), "must be at least 1m (a reservation outliving it loses its slot)")
	}
	if l.Timeout < 0 {
		add("governance.limits.timeout", time.Duration(l.Timeout).String(), "must not be negative")
	}
}

// checkGovernance validates the governance block; dir is the config
// file's directory, against which the store path is resolved.
func (c *Config) checkGovernance(dir string, env Env, add func(path, value, format string, args ...any)) {
	g := &c.Governance
	g.checkBackends(env, add)
	if filepath.IsAbs(g.Store.Path) {
		g.Store.resolved = filepath.Clean(g.Store.Path)
	} else if abs, err := filepath.Abs(filepath.Join(dir, g.Store.Path)); err == nil {
		g.Store.resolved = abs
	} else {
		add("governance.store.path", g.Store.Path, "cannot be resolved: %v", err)
	}
	models := map[string]bool{}
	for _, m := range c.Models {
		models[m.Name] = true
	}
	providers := map[string]bool{}
	for _, p := range c.Providers {
		providers[p.Name] = true
	}
	offered := c.Plugins.Offered()
	tenants := map[string]bool{}
	tenantPlugins := map[string]*PluginPolicy{}
	for i, t := range g.Tenants {
		at := fmt.Sprintf("governance.tenants[%d]", i)
		if !nameRE.MatchString(t.Name) {
			add(at+".name", t.Name, "must be lowercase letters, digits, '.', '_' or '-'")
		} else if tenants[t.Name] {
			add(at+".name", t.Name, "duplicate tenant name")
		}
		tenants[t.Name] = true
		tenantPlugins[t.Name] = &g.Tenants[i].Plugins
		checkRules(at, t.GovernanceRules, models, providers, add)
		checkPluginPolicy(at, &t.Plugins, nil, offered, add)
	}
	ids, hashes := map[string]bool{}, map[string]bool{}
	for i, k := range g.Keys {
		at := fmt.Sprintf("governance.keys[%d]", i)
		if !keyIDRE.MatchString(k.ID) {
			add(at+".id", k.ID, "must be 1 to 64 letters, digits, '.', '_' or '-'")
		} else if ids[k.ID] {
			add(at+".id", k.ID, "duplicate key id")
		}
		ids[k.ID] = true
		if !tenants[k.Tenant] {
			add(at+".tenant", k.Tenant, "unknown tenant (declare it under governance.tenants)")
		}
		if hexs, ok := strings.CutPrefix(k.Hash, "sha256:"); !ok || len(hexs) != 64 || !isHex(hexs) {
			// The value may be a pasted secret: never quote it.
			add(at+".hash", "", "must be sha256: and 64 hex digits, as `switchboard keys create` prints it (never the key itself)")
		} else if hashes[strings.ToLower(hexs)] {
			add(at+".hash", "", "the same key is declared twice")
		} else {
			hashes[strings.ToLower(hexs)] = true
		}
		if k.Prefix != "" && (!strings.HasPrefix(k.Prefix, "sk-sb-") || len(k.Prefix) > len("sk-sb-")+8) {
			add(at+".prefix", "", "must be sk-sb- and at most 8 more characters of the key")
		}
		checkRules(at, k.GovernanceRules, models, providers, add)
		checkPluginPolicy(at, &k.Plugins, tenantPlugins[k.Tenant], offered, add)
	}
	if c := g.Capture; c != nil {
		if len(c.Tenants) == 0 {
			add("governance.capture.tenants", "", "must name at least one tenant (capture is per tenant)")
		}
		if c.Retention < Duration(time.Minute) {
			add("governance.capture.retention", c.Retention.D().String(), "must be at least 1m")
		}
		if c.MaxBytes < 0 || c.MaxBytes > 16<<20 {
			add("governance.capture.max_bytes", strconv.Itoa(c.MaxBytes), "must be between 0 and 16777216")
		}
	}
	for i, k := range g.ManagementKeys {
		at := fmt.Sprintf("governance.management_keys[%d]", i)
		if !keyIDRE.MatchString(k.ID) {
			add(at+".id", k.ID, "must be 1 to 64 letters, digits, '.', '_' or '-'")
		}
		if hexs, ok := strings.CutPrefix(k.Hash, "sha256:"); !ok || len(hexs) != 64 || !isHex(hexs) {
			add(at+".hash", "", "must be sha256: and 64 hex digits of the key (never the key itself)")
		} else if hashes[strings.ToLower(hexs)] {
			add(at+".hash", "", "a management key must not also be a tenant's key")
		}
	}
}

func checkRules(at string, r GovernanceRules, models, providers map[string]bool, add func(string, string, string, ...any)) {
	for i, m := range r.Models {
		if !models[m] {
			add(fmt.Sprintf("%s.models[%d]", at, i), m, "unknown model")
		}
	}
	for i, p := range r.Policy.Providers {
		if !providers[p] {
			add(fmt.Sprintf("%s.policy.providers[%d]", at, i), p, "unknown provider (known: %s)", strings.Join(sortedNames(providers), ", "))
		}
	}
	checkPrice(at+".policy.max_price", r.Policy.MaxPrice, add)
	for _, f := range []struct {
		name string
		v    int64
	}{{"rpm", r.RPM}, {"tpm", r.TPM}, {"max_concurrent", r.MaxConcurrent}} {
		if f.v < 0 || f.v > maxRate {
			add(at+"."+f.name, strconv.FormatInt(f.v, 10), "must be between 0 (no limit) and %d", maxRate)
		}
	}
	for _, b := range []struct {
		name string
		b    *Budget
	}{{"daily", r.Budgets.Daily}, {"monthly", r.Budgets.Monthly}, {"lifetime", r.Budgets.Lifetime}} {
		if b.b != nil && !b.b.undecoded && (b.b.USD <= 0 || b.b.USD > 1e9) {
			add(at+".budgets."+b.name, strconv.FormatFloat(b.b.USD, 'g', -1, 64), "must be a USD amount above 0 and at most 1e9 (leave it out for no budget)")
		}
	}
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

func sortedNames(m map[string]bool) []string {
	s := make([]string, 0, len(m))
	for k := range m {
		s = append(s, k)
	}
	slices.Sort(s)
	return s
}
