package middleware

import (
	"slices"
	"strconv"

	"github.com/switchboard-gw/switchboard/translators"
)

// Policy is what a tenant or a key may do with the chain. The zero Policy
// allows every plugin of the chain and forces none.
type Policy struct {
	// Allow lists the plugin ids a request may enable; empty allows all.
	Allow []string
	// Deny lists plugin ids a request may not enable; it wins over Allow.
	Deny []string
	// Force lists plugins that are always on, with their config block (a
	// JSON object like a request's plugin block; empty means {"id":ID}).
	// A request that enables a forced plugin itself keeps its own block.
	// A forced plugin is on even when Allow does not list it.
	Force []Forced
	// Owner names whose policy this is when it refuses a plugin, e.g.
	// `tenant "team-a"`. Default "this key".
	Owner string
	// Within are the policies Narrow combined, tenant first: a refusal
	// names the first of them that refuses. Nil for a policy of its own.
	Within []Policy
}

// Forced is one always-on plugin of a Policy.
type Forced struct {
	ID      string
	Options []byte
}

// Empty reports whether p changes nothing.
func (p Policy) Empty() bool { return len(p.Allow) == 0 && len(p.Deny) == 0 && len(p.Force) == 0 }

// Narrow combines a tenant's policy (p) with a key's (key), so that a key
// only narrows its tenant: a plugin a request enables must be allowed by
// both, and denied by either is denied; the tenant's forced plugins stay
// on (a key cannot turn them off, and its block wins for a plugin both
// force); a key's forced plugin the tenant does not allow is dropped.
func (p Policy) Narrow(key Policy) Policy {
	switch {
	case key.Empty():
		return p
	case p.Empty():
		return key
	}
	out := Policy{Deny: append(slices.Clone(p.Deny), key.Deny...), Owner: key.Owner, Within: []Policy{p, key}}
	switch {
	case len(p.Allow) == 0:
		out.Allow = slices.Clone(key.Allow)
	case len(key.Allow) == 0:
		out.Allow = slices.Clone(p.Allow)
	default:
		for _, id := range p.Allow {
			if slices.Contains(key.Allow, id) {
				out.Allow = append(out.Allow, id)
			}
		}
		if len(out.Allow) == 0 {
			// Nothing in common: allow nothing rather than everything.
			out.Deny = append(out.Deny, p.Allow...)
			out.Allow = slices.Clone(p.Allow)
		}
	}
	for _, f := range key.Force {
		if p.forced(f.ID) || p.allowed(f.ID) {
			out.Force = append(out.Force, f)
		}
	}
	for _, f := range p.Force {
		if !out.forced(f.ID) {
			out.Force = append(out.Force, f)
		}
	}
	return out
}

// Validate checks p against the plugins a chain has: every id it names
// must be one, and no plugin may be both forced and denied.
func (p Policy) Validate(known []string) error {
	check := func(field, id string) error {
		if !slices.Contains(known, id) {
			return &policyError{field + " " + strconv.Quote(id) + ": unknown plugin (known: " + joinIDs(known) + ")"}
		}
		return nil
	}
	for _, id := range p.Allow {
		if err := check("allow", id); err != nil {
			return err
		}
	}
	for _, id := range p.Deny {
		if err := check("deny", id); err != nil {
			return err
		}
	}
	for _, f := range p.Force {
		if err := check("force", f.ID); err != nil {
			return err
		}
		if slices.Contains(p.Deny, f.ID) {
			return &policyError{"force " + strconv.Quote(f.ID) + ": the plugin is also denied"}
		}
	}
	return nil
}

// ValidateKey checks a key's policy against its tenant's (p): a key
// narrows its tenant, so it may not force a plugin the tenant does not
// allow, nor deny one the tenant forces. Narrow would drop the one and
// ignore the other; this says so when the key is made.
func (p Policy) ValidateKey(key Policy) error {
	for _, f := range key.Force {
		if !p.forced(f.ID) && !p.allowed(f.ID) {
			return &policyError{"force " + strconv.Quote(f.ID) + ": the tenant does not allow the plugin (a key cannot widen its tenant)"}
		}
	}
	for _, id := range key.Deny {
		if p.forced(id) {
			return &policyError{"deny " + strconv.Quote(id) + ": the tenant forces the plugin (a key cannot turn it off)"}
		}
	}
	return nil
}

type policyError struct{ msg string }

func (e *policyError) Error() string { return "middleware: policy: " + e.msg }

// allowed reports whether a request may enable id itself.
func (p Policy) allowed(id string) bool {
	if slices.Contains(p.Deny, id) {
		return false
	}
	return len(p.Allow) == 0 || slices.Contains(p.Allow, id)
}

// Permits is nil when a request may use plugin id (enabled where param
// says), and otherwise the 403 that refuses it.
func (p Policy) Permits(id, param string) *translators.APIError {
	if p.forced(id) || p.allowed(id) {
		return nil
	}
	return &translators.APIError{Status: 403, Type: translators.TypeInvalidRequest, Code: "plugin_forbidden", Param: param,
		Message: "plugin " + strconv.Quote(id) + " (" + param + ") is not allowed for " + p.refusal(id)}
}

// apply checks a request's selection against p and adds the forced
// plugins after the requested ones.
func (p Policy) apply(sel Selection) (Selection, *translators.APIError) {
	for _, e := range sel.Plugins {
		if e := p.Permits(e.ID, e.Path); e != nil {
			return Selection{}, e
		}
	}
	if len(p.Force) == 0 {
		return sel, nil
	}
	out := Selection{Plugins: slices.Clone(sel.Plugins)}
	for _, f := range p.Force {
		if out.has(f.ID) {
			continue
		}
		opts := f.Options
		if len(opts) == 0 {
			opts = idOnly(f.ID)
		}
		out.Plugins = append(out.Plugins, Enabled{ID: f.ID, Options: opts, Path: "policy"})
	}
	return out, nil
}

// refusal names who refuses id and by which rule: `tenant "team-a"
// (plugins.deny)`.
func (p Policy) refusal(id string) string {
	by := p
	for _, w := range p.Within {
		if !w.forced(id) && !w.allowed(id) {
			by = w
			break
		}
	}
	owner, rule := by.Owner, "plugins.allow"
	if owner == "" {
		owner = "this key"
	}
	if slices.Contains(by.Deny, id) {
		rule = "plugins.deny"
	}
	return owner + " (" + rule + ")"
}

func (p Policy) forced(id string) bool {
	return slices.ContainsFunc(p.Force, func(f Forced) bool { return f.ID == id })
}
