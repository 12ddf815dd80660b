// Package governance is who may spend what: gateway keys and tenants, their
// rate limits and USD budgets, and the usage records that say who spent it.
// It is pure Go and knows nothing of Envoy; extproc calls Authenticate,
// Reserve and Settle on the request path and hands finished generations to
// a Recorder.
package governance

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/middleware"
)

// NanoUSD is money in billionths of a US dollar. Integers keep budgets exact
// under any number of additions (float sums drift), and a nano-dollar still
// resolves one token of the cheapest models (0.02 USD per million tokens is
// 20 nano-dollars). int64 holds 9.2 billion USD.
type NanoUSD int64

// USD converts dollars, rounding to the nearest nano-dollar.
func USD(d float64) NanoUSD { return NanoUSD(math.Round(d * 1e9)) }

// Dollars is the amount in USD.
func (n NanoUSD) Dollars() float64 { return float64(n) / 1e9 }

// String prints dollars with the precision people read budgets in.
func (n NanoUSD) String() string { return "$" + strconv.FormatFloat(n.Dollars(), 'f', -1, 64) }

// Budget caps USD spend in one period. Zero USD is no budget.
type Budget struct {
	USD NanoUSD
	// Soft budgets only flag the requests that cross them; hard ones
	// refuse the reservation that would.
	Soft bool
}

// Set reports whether the budget caps anything.
func (b Budget) Set() bool { return b.USD > 0 }

// Budgets are a scope's caps per UTC day, per UTC month and for its whole
// life.
type Budgets struct {
	Daily    Budget
	Monthly  Budget
	Lifetime Budget
}

// Of returns the budget for a period kind.
func (b Budgets) Of(p PeriodKind) Budget {
	switch p {
	case Day:
		return b.Daily
	case Month:
		return b.Monthly
	default:
		return b.Lifetime
	}
}

// Rules are what a tenant or a key may do. A key's rules narrow its
// tenant's, never widen them; zero values are "no limit of this kind".
type Rules struct {
	// Models is the allow-list of public model names; empty is all.
	Models []string
	// Policy is the routing policy of docs/routing.md as defaults and
	// limits a request cannot loosen. Policy.Providers is the allow-list
	// of providers.
	Policy config.Policy
	// RPM is requests per minute, TPM tokens per minute (prompt and
	// completion), Concurrent the requests in flight at once.
	RPM        int64
	TPM        int64
	Concurrent int64
	Budgets    Budgets
	// Plugins is what requests may do with the plugin chain: allowed,
	// denied and forced plugins. A key's narrows its tenant's
	// (middleware.Policy.Narrow).
	Plugins middleware.Policy
}

// Source says where a tenant or key is declared.
type Source string

const (
	// CreatedInStore is created by the CLI or the management API.
	CreatedInStore Source = "store"
	// DeclaredInConfig is declared in the YAML config (GitOps); changed only by
	// editing the file.
	DeclaredInConfig Source = "config"
)

// Tenant is a team: the owner of keys, and a scope of limits and budgets.
type Tenant struct {
	Name     string
	Rules    Rules
	Disabled bool
	Created  time.Time
	Source   Source
}

// Key is a gateway API key. The secret itself is never stored: Hash is its
// SHA-256 and Prefix its first characters, kept to tell keys apart in
// listings.
type Key struct {
	// ID is a short non-secret name ("k_" and 12 base62 characters, or
	// the id declared in the config).
	ID     string
	Hash   [32]byte
	Prefix string
	Label  string
	Tenant string
	Rules  Rules
	// Created, and ExpiresAt (zero: never).
	Created   time.Time
	ExpiresAt time.Time
	Disabled  bool
	// RevokedAt is when the key was revoked (zero: it is not).
	RevokedAt time.Time
	// RotatedTo is the key that replaced this one; this one keeps
	// working until OverlapUntil so clients can move over.
	RotatedTo    string
	OverlapUntil time.Time
	Source       Source
}

// Status is the key's state at now: "active", "rotated" (still in its
// overlap), "disabled", "revoked" or "expired".
func (k *Key) Status(now time.Time) string {
	switch {
	case !k.RevokedAt.IsZero():
		return "revoked"
	case k.Disabled:
		return "disabled"
	case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
		return "expired"
	case k.RotatedTo != "" && !now.Before(k.OverlapUntil):
		return "expired"
	case k.RotatedTo != "":
		return "rotated"
	}
	return "active"
}

// Principal is who a request spends for: the key and its tenant, with the
// rules of both combined.
type Principal struct {
	KeyID     string
	KeyLabel  string
	KeyPrefix string
	Tenant    string
	// Models is the allow-list of public models (nil: all).
	Models []string
	// Policy is the tenant's policy narrowed by the key's. Narrow the
	// central policy with it (MergePolicy) before planning.
	Policy config.Policy
	// Plugins is the tenant's plugin policy narrowed by the key's, for
	// middleware.Request; its refusals name the tenant or the key.
	Plugins middleware.Policy
	// Scopes are the counters the request draws on, key first, then
	// tenant; pass them to Limiter.Reserve as they are.
	Scopes []ScopeLimits
	// Rotated is set when the key was rotated and works only until its
	// overlap ends (OverlapUntil); a response may warn the caller.
	Rotated      bool
	OverlapUntil time.Time
}

// AllowsModel reports whether the principal may call a public model.
func (p *Principal) AllowsModel(name string) bool {
	return p.Models == nil || slices.Contains(p.Models, name)
}

// ForbiddenError is a request the tenant's or key's rules refuse: a 403
// naming the rule.
type ForbiddenError struct {
	Rule string // e.g. "tenant team-a models"
	Msg  string
}

func (e *ForbiddenError) Error() string { return "governance: " + e.Rule + ": " + e.Msg }

// principal combines a key's rules with its tenant's. Allow-lists
// intersect; an empty intersection would read as "all" in config.Policy,
// so it is refused here instead.
func principal(k *Key, t *Tenant) (Principal, error) {
	p := Principal{KeyID: k.ID, KeyLabel: k.Label, KeyPrefix: k.Prefix, Tenant: t.Name}
	models, ok := intersect(t.Rules.Models, k.Rules.Models)
	if !ok {
		return Principal{}, &ForbiddenError{Rule: "key " + k.ID + " models", Msg: fmt.Sprintf("none of %v is allowed by tenant %s (%v)", k.Rules.Models, t.Name, t.Rules.Models)}
	}
	p.Models = models
	pol, err := MergePolicy(t.Rules.Policy, k.Rules.Policy)
	if err != nil {
		return Principal{}, &ForbiddenError{Rule: "key " + k.ID + " policy", Msg: err.Error() + " (tenant " + t.Name + ")"}
	}
	p.Policy = pol
	if tp, kp := t.Rules.Plugins, k.Rules.Plugins; !tp.Empty() || !kp.Empty() {
		// Refusals name the tenant or the key.
		tp.Owner, kp.Owner = "tenant "+strconv.Quote(t.Name), "key "+strconv.Quote(k.ID)
		p.Plugins = tp.Narrow(kp)
	}
	// Both scopes always: spend is counted per key and tenant even with
	// no budget yet, so a budget set later starts from the truth.
	p.Scopes = []ScopeLimits{{Scope: KeyScope(k.ID), Rules: k.Rules}, {Scope: TenantScope(t.Name), Rules: t.Rules}}
	if k.RotatedTo != "" {
		p.Rotated, p.OverlapUntil = true, k.OverlapUntil
	}
	return p, nil
}

// MergePolicy narrows policy a by b: both must hold. Flags are or-ed,
// allow-lists intersect, price caps take the lower. It fails when two
// allow-lists have nothing in common, since an empty list means "all".
func MergePolicy(a, b config.Policy) (config.Policy, error) {
	out := config.Policy{ZDR: a.ZDR || b.ZDR, DenyDataCollection: a.DenyDataCollection || b.DenyDataCollection}
	var ok bool
	if out.Providers, ok = intersect(a.Providers, b.Providers); !ok {
		return config.Policy{}, fmt.Errorf("providers %v and %v have none in common", a.Providers, b.Providers)
	}
	if out.Regions, ok = intersect(a.Regions, b.Regions); !ok {
		return config.Policy{}, fmt.Errorf("regions %v and %v have none in common", a.Regions, b.Regions)
	}
	out.MaxPrice = config.Price{
		Prompt:       minCap(a.MaxPrice.Prompt, b.MaxPrice.Prompt),
		Completion:   minCap(a.MaxPrice.Completion, b.MaxPrice.Completion),
		CachedPrompt: minCap(a.MaxPrice.CachedPrompt, b.MaxPrice.CachedPrompt),
		Request:      minCap(a.MaxPrice.Request, b.MaxPrice.Request),
	}
	return out, nil
}

// intersect treats an empty list as "all"; ok is false when two non-empty
// lists share nothing.
func intersect(a, b []string) ([]string, bool) {
	switch {
	case len(a) == 0 && len(b) == 0:
		return nil, true
	case len(a) == 0:
		return slices.Clone(b), true
	case len(b) == 0:
		return slices.Clone(a), true
	}
	var out []string
	for _, s := range a {
		if slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out, len(out) > 0
}

// minCap is the tighter of two caps where zero is no cap.
func minCap(a, b float64) float64 {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return min(a, b)
}
