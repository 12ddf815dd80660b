package config

import (
	"slices"
	"sort"
)

// Catalog is the routing view of a config, built once at load so requests
// do map lookups only.
type Catalog struct {
	models    map[string]*Route
	providers map[string]*Provider
	names     []string
}

// Route is a public model and the providers that can serve it.
type Route struct {
	Name          string
	OwnedBy       string
	ContextLength int
	// Type is chat or embeddings.
	Type string
	// Candidates sorted by priority, enabled providers only.
	Candidates []Candidate
}

// Candidate is one provider model able to serve a Route.
type Candidate struct {
	Provider *Provider
	Model    string
	Weight   int
	Priority int
	// Spec is the config entry: pricing, capabilities, data policy.
	Spec *ModelProvider
	// Route is the public model this candidate serves.
	Route *Route
}

// Can reports whether the candidate has a capability; an unset list
// means every capability.
func (c Candidate) Can(capability string) bool {
	return c.Spec.Capabilities == nil || slices.Contains(c.Spec.Capabilities, capability)
}

func newCatalog(c *Config) *Catalog {
	cat := &Catalog{models: map[string]*Route{}, providers: map[string]*Provider{}}
	for i := range c.Providers {
		if p := &c.Providers[i]; !p.disabled {
			cat.providers[p.Name] = p
		}
	}
	for mi := range c.Models {
		m := &c.Models[mi]
		r := &Route{Name: m.Name, OwnedBy: m.OwnedBy, ContextLength: m.ContextLength, Type: m.Type}
		for j := range m.Providers {
			mp := &m.Providers[j]
			if p, ok := cat.providers[mp.Provider]; ok {
				r.Candidates = append(r.Candidates, Candidate{Provider: p, Model: mp.Model, Weight: mp.Weight, Priority: mp.Priority, Spec: mp, Route: r})
			}
		}
		if len(r.Candidates) == 0 {
			continue
		}
		sort.SliceStable(r.Candidates, func(i, j int) bool { return r.Candidates[i].Priority < r.Candidates[j].Priority })
		cat.models[m.Name] = r
		cat.names = append(cat.names, m.Name)
	}
	return cat
}

// Model looks up a public model name.
func (c *Catalog) Model(name string) (*Route, bool) {
	r, ok := c.models[name]
	return r, ok
}

// Provider looks up an enabled provider.
func (c *Catalog) Provider(name string) (*Provider, bool) {
	p, ok := c.providers[name]
	return p, ok
}

// Providers returns the enabled providers in config order.
func (c *Catalog) Providers(cfg *Config) []*Provider {
	out := make([]*Provider, 0, len(c.providers))
	for i := range cfg.Providers {
		if p, ok := c.providers[cfg.Providers[i].Name]; ok {
			out = append(out, p)
		}
	}
	return out
}

// ModelNames lists public models in config order.
func (c *Catalog) ModelNames() []string { return c.names }

// Candidate returns the route's candidate on the named provider.
func (r *Route) Candidate(provider string) (Candidate, bool) {
	for _, c := range r.Candidates {
		if c.Provider.Name == provider {
			return c, true
		}
	}
	return Candidate{}, false
}
