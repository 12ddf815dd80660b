package config

import (
	"math"
	"math/rand/v2"
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

// pickShares picks n times with a seeded source and returns each
// provider's share.
func pickShares(r *Route, n int, seed uint64) map[string]float64 {
	rnd := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	counts := map[string]int{}
	for range n {
		counts[r.Pick(rnd).Provider.Name]++
	}
	shares := map[string]float64{}
	for k, v := range counts {
		shares[k] = float64(v) / float64(n)
	}
	return shares
}

func TestPick(t *testing.T) {
	l := loadCatalog(t)
	const n = 20000
	const tolerance = 0.02
	tests := []struct {
		name  string
		model string
		want  map[string]float64
	}{
		// local has the highest priority number and is never picked first;
		// openai (weight 3) and azure (weight 1) share priority 0.
		{name: "lowest priority level split by weight", model: "gpt", want: map[string]float64{"openai": 0.75, "azure": 0.25}},
		{name: "three-way weights", model: "three-way", want: map[string]float64{"openai": 0.5, "azure": 0.3, "local": 0.2}},
		{name: "single candidate", model: "single", want: map[string]float64{"local": 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, ok := l.Catalog.Model(tc.model)
			if !ok {
				t.Fatalf("no model %q", tc.model)
			}
			got := pickShares(r, n, 42)
			for k := range got {
				if _, ok := tc.want[k]; !ok {
					t.Errorf("picked %q (share %.3f), want never", k, got[k])
				}
			}
			for k, w := range tc.want {
				if math.Abs(got[k]-w) > tolerance {
					t.Errorf("share of %q = %.3f, want %.2f ± %.2f", k, got[k], w, tolerance)
				}
			}
		})
	}
}

func TestPickPriority(t *testing.T) {
	l := mustParse(t, `providers:
  - {name: a, schema: openai, base_url: "http://127.0.0.1:9001"}
  - {name: b, schema: openai, base_url: "http://127.0.0.1:9002"}
  - {name: c, schema: openai, base_url: "http://127.0.0.1:9003"}
models:
  - name: m
    providers:
      - {provider: a, priority: 2, weight: 1000}
      - {provider: b, priority: 1}
      - {provider: c, priority: 5, weight: 1000}
`, noEnv)
	r, _ := l.Catalog.Model("m")
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		if got := r.Pick(rnd).Provider.Name; got != "b" {
			t.Fatalf("Pick() = %q, want b (lowest priority) every time", got)
		}
	}
	if got := r.Pick(nil).Provider.Name; got != "b" {
		t.Errorf("Pick(nil) = %q, want b", got)
	}
}

func TestPickDeterministicWithSeed(t *testing.T) {
	l := loadCatalog(t)
	r, _ := l.Catalog.Model("three-way")
	seq := func() []string {
		rnd := rand.New(rand.NewPCG(7, 7))
		out := make([]string, 50)
		for i := range out {
			out[i] = r.Pick(rnd).Provider.Name
		}
		return out
	}
	if a, b := seq(), seq(); !slices.Equal(a, b) {
		t.Errorf("same seed, different picks:\n%q\n%q", a, b)
	}
	// The global source is used when none is given; it must not panic.
	for range 100 {
		_ = r.Pick(nil)
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
