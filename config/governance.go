package config

import (
	"encoding/hex"
	"fmt"
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
	// Tenants declared in the config.
	Tenants []TenantSpec `yaml:"tenants"`
	// Keys declared in the config, by hash: the secret never appears in
	// the file.
	Keys []KeySpec `yaml:"keys"`
}

// GovernanceStore selects the store.
type GovernanceStore struct {
	// Kind is "embedded": a SQLite file, no server to run. Default
	// embedded.
	Kind string `yaml:"kind"`
	// Path is the SQLite file, relative to the config file's directory.
	// Default data/governance.db.
	Path string `yaml:"path"`

	resolved string
}

// Store kinds.
const StoreEmbedded = "embedded"

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
}

// checkGovernance validates the governance block; dir is the config
// file's directory, against which the store path is resolved.
func (c *Config) checkGovernance(dir string, add func(path, value, format string, args ...any)) {
	g := &c.Governance
	if g.Store.Kind != StoreEmbedded {
		add("governance.store.kind", g.Store.Kind, "unknown store kind (known: %s)", StoreEmbedded)
	}
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
	tenants := map[string]bool{}
	for i, t := range g.Tenants {
		at := fmt.Sprintf("governance.tenants[%d]", i)
		if !nameRE.MatchString(t.Name) {
			add(at+".name", t.Name, "must be lowercase letters, digits, '.', '_' or '-'")
		} else if tenants[t.Name] {
			add(at+".name", t.Name, "duplicate tenant name")
		}
		tenants[t.Name] = true
		checkRules(at, t.GovernanceRules, models, providers, add)
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
