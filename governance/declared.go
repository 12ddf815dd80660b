package governance

import (
	"fmt"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/middleware"
)

// FromConfig turns the tenants and keys the config declares into the
// model, for Authenticator.SetDeclared. The config has validated them;
// errors here mean it did not.
func FromConfig(g config.Governance) ([]Tenant, []Key, error) {
	tenants := make([]Tenant, 0, len(g.Tenants))
	for _, t := range g.Tenants {
		tenants = append(tenants, Tenant{Name: t.Name, Rules: RulesFromConfig(t.GovernanceRules), Disabled: t.Disabled, Source: DeclaredInConfig})
	}
	keys := make([]Key, 0, len(g.Keys))
	for _, k := range g.Keys {
		h, err := ParseHash(k.Hash)
		if err != nil {
			return nil, nil, fmt.Errorf("governance: config key %s: hash %w", k.ID, err)
		}
		key := Key{ID: k.ID, Hash: h, Prefix: k.Prefix, Label: k.Label, Tenant: k.Tenant, Rules: RulesFromConfig(k.GovernanceRules), Disabled: k.Disabled, Source: DeclaredInConfig}
		if k.ExpiresAt != nil {
			key.ExpiresAt = k.ExpiresAt.UTC()
		}
		keys = append(keys, key)
	}
	return tenants, keys, nil
}

// RulesFromConfig converts the config's rules.
func RulesFromConfig(r config.GovernanceRules) Rules {
	b := func(c *config.Budget) Budget {
		if c == nil {
			return Budget{}
		}
		return Budget{USD: USD(c.USD), Soft: c.Soft}
	}
	return Rules{Models: r.Models, Policy: r.Policy, RPM: r.RPM, TPM: r.TPM, Concurrent: r.MaxConcurrent,
		Budgets: Budgets{Daily: b(r.Budgets.Daily), Monthly: b(r.Budgets.Monthly), Lifetime: b(r.Budgets.Lifetime)},
		Plugins: PluginsFromConfig(r.Plugins)}
}

// PluginsFromConfig converts a config plugins block.
func PluginsFromConfig(p config.PluginPolicy) middleware.Policy {
	out := middleware.Policy{Allow: p.Allow, Deny: p.Deny}
	for _, f := range p.Force {
		out.Force = append(out.Force, middleware.Forced{ID: f.ID, Options: f.Options})
	}
	return out
}
