// Package bigcatalog writes OpenRouter-sized catalogs for tests and
// measurements: many public models, each richly described and served by
// several providers, so every per-model cost (routes, the model list, its
// entries) shows.
package bigcatalog

import (
	"fmt"
	"strings"
)

// Spec sizes a catalog.
type Spec struct {
	Models       int    // public models
	PerModel     int    // providers per model
	Providers    int    // distinct providers, shared round-robin
	BaseURL      string // every provider's base_url (an OpenAI-compatible host)
	MaxAttempts  int    // routing.max_attempts; 0 leaves the default
	ModelPrefix  string // public names are <prefix><i>; default "vendor/model-"
	ProviderName string // provider names are <name><i>; default "provider-"
}

// ModelName is the public name of model i.
func (s Spec) ModelName(i int) string {
	p := s.ModelPrefix
	if p == "" {
		p = "vendor/model-"
	}
	return fmt.Sprintf("%s%04d", p, i)
}

func (s Spec) providerName(i int) string {
	p := s.ProviderName
	if p == "" {
		p = "provider-"
	}
	return fmt.Sprintf("%s%02d", p, i)
}

// YAML is the providers, models and routing part of a config.
func (s Spec) YAML() string {
	var b strings.Builder
	b.WriteString("providers:\n")
	for i := 0; i < s.Providers; i++ {
		fmt.Fprintf(&b, "  - {name: %s, schema: openai, base_url: %q}\n", s.providerName(i), s.BaseURL)
	}
	b.WriteString("models:\n")
	for i := 0; i < s.Models; i++ {
		fmt.Fprintf(&b, "  - name: %s\n    owned_by: vendor-%d\n    context_length: %d\n    capabilities: [tools, vision, json_schema]\n    providers:\n",
			s.ModelName(i), i%40, 32000+i*64)
		for j := 0; j < s.PerModel; j++ {
			fmt.Fprintf(&b, "      - {provider: %s, model: upstream-%04d-%d, priority: %d, weight: %d, pricing: {prompt: %d.25, completion: %d.5, cached_prompt: 0.125}}\n",
				s.providerName((i+j)%s.Providers), i, j, j, 1+j%3, 1+i%7, 2+i%11)
		}
	}
	if s.MaxAttempts > 0 {
		fmt.Fprintf(&b, "routing: {max_attempts: %d}\n", s.MaxAttempts)
	}
	return b.String()
}
