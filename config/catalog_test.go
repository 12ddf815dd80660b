package config

import (
	"slices"
	"testing"
)

const catalogYAML = `providers:
  - {name: openai, schema: openai, base_url: "https://api.openai.com/v1", api_key: {env: OPENAI_API_KEY}}
  - {name: azure, schema: openai, base_url: "https://example.openai.azure.com/openai/v1"}
  - {name: anthropic, schema: anthropic, base_url: "https://api.anthropic.com", api_key: {env: ANTHROPIC_API_KEY}, optional: true}
  - {name: local, schema: openai, base_url: "http://127.0.0.1:9100/v1"}
models:
  - name: gpt
    providers:
      - {provider: local, model: gpt-local, priority: 2}
      - {provider: openai, model: gpt-4o, weight: 3}
      - {provider: azure, model: gpt-4o-azure}
  - name: claude
    providers:
      - {provider: anthropic}
  - name: three-way
    owned_by: acme
    providers:
      - {provider: openai, weight: 5}
      - {provider: azure, weight: 3}
      - {provider: local, weight: 2}
  - name: single
    providers:
      - {provider: local, priority: 4}
`

func loadCatalog(t *testing.T) *Loaded {
	t.Helper()
	return mustParse(t, catalogYAML, mapEnv(map[string]string{"OPENAI_API_KEY": "sk-test"}))
}

func TestCatalogLookups(t *testing.T) {
	l := loadCatalog(t)
	cat := l.Catalog

	if got, want := cat.ModelNames(), []string{"gpt", "three-way", "single"}; !slices.Equal(got, want) {
		t.Errorf("ModelNames() = %q, want %q (config order, claude left out)", got, want)
	}
	var provs []string
	for _, p := range cat.Providers(l.Config) {
		provs = append(provs, p.Name)
	}
	if want := []string{"openai", "azure", "local"}; !slices.Equal(provs, want) {
		t.Errorf("Providers() = %q, want %q", provs, want)
	}

	tests := []struct {
		name       string
		model      string
		found      bool
		ownedBy    string
		candidates []string // provider/model, in order
	}{
		{name: "sorted by priority", model: "gpt", found: true, ownedBy: "local",
			candidates: []string{"openai/gpt-4o", "azure/gpt-4o-azure", "local/gpt-local"}},
		{name: "explicit owner", model: "three-way", found: true, ownedBy: "acme",
			candidates: []string{"openai/three-way", "azure/three-way", "local/three-way"}},
		{name: "single", model: "single", found: true, ownedBy: "local", candidates: []string{"local/single"}},
		{name: "disabled provider only", model: "claude", found: false},
		{name: "unknown", model: "gpt-5", found: false},
		{name: "case sensitive", model: "GPT", found: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, ok := cat.Model(tc.model)
			if ok != tc.found {
				t.Fatalf("Model(%q) found = %v, want %v", tc.model, ok, tc.found)
			}
			if !ok {
				return
			}
			if r.Name != tc.model || r.OwnedBy != tc.ownedBy {
				t.Errorf("route name %q owned_by %q, want %q %q", r.Name, r.OwnedBy, tc.model, tc.ownedBy)
			}
			var got []string
			for _, c := range r.Candidates {
				got = append(got, c.Provider.Name+"/"+c.Model)
			}
			if !slices.Equal(got, tc.candidates) {
				t.Errorf("candidates = %q, want %q", got, tc.candidates)
			}
		})
	}

	if p, ok := cat.Provider("openai"); !ok || p.APIKey() != "sk-test" {
		t.Errorf("Provider(openai) = %v, %v; want enabled with its key", p, ok)
	}
	if _, ok := cat.Provider("anthropic"); ok {
		t.Errorf("Provider(anthropic) found, want it disabled")
	}
	if _, ok := cat.Provider("nope"); ok {
		t.Errorf("Provider(nope) found")
	}

	r, _ := cat.Model("gpt")
	if c, ok := r.Candidate("azure"); !ok || c.Model != "gpt-4o-azure" || c.Weight != 1 {
		t.Errorf("Candidate(azure) = %+v, %v", c, ok)
	}
	if _, ok := r.Candidate("anthropic"); ok {
		t.Errorf("Candidate(anthropic) found on gpt")
	}
}

func TestStore(t *testing.T) {
	var s Store
	if s.Current() != nil {
		t.Fatalf("Current() before Set = %v, want nil", s.Current())
	}
	a, b := loadCatalog(t), loadCatalog(t)
	s.Set(a)
	if s.Current() != a {
		t.Errorf("Current() is not the config Set")
	}
	s.Set(b)
	if s.Current() != b {
		t.Errorf("Current() is not the latest config Set")
	}
}
