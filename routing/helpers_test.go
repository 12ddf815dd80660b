package routing

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/config"
)

// catalogYAML is the gateway the routing tests plan against.
//
//   - chat: alpha and beta share priority 0 (weights 3:1), gamma is
//     priority 1. alpha keeps no data and is in the US; beta is in the EU,
//     may train on prompts and can only do tools; gamma is the priciest and
//     has a small context window.
//   - mini: delta, then alpha.
//   - "acme/odd|x;y,z+%": a public model whose name needs escaping in a plan.
const catalogYAML = `providers:
  - {name: alpha, schema: openai, base_url: "https://alpha.example.test/v1"}
  - {name: beta, schema: openai, base_url: "https://beta.example.test/v1"}
  - {name: gamma, schema: openai, base_url: "https://gamma.example.test/v1"}
  - {name: delta, schema: openai, base_url: "https://delta.example.test/v1"}
models:
  - name: chat
    providers:
      - {provider: alpha, model: a-chat, weight: 3, region: us, zdr: true, pricing: {prompt: 1, completion: 2}}
      - {provider: beta, model: b-chat, region: eu, trains_on_prompts: true, capabilities: [tools], pricing: {prompt: 0.5, completion: 1}}
      - {provider: gamma, model: g-chat, priority: 1, region: us, zdr: true, context_length: 1000, pricing: {prompt: 3, completion: 15}}
  - name: mini
    providers:
      - {provider: delta, model: d-mini, pricing: {prompt: 0.1, completion: 0.2}}
      - {provider: alpha, model: a-mini, priority: 1, pricing: {prompt: 0.05, completion: 0.05}}
  - name: "acme/odd|x;y,z+%"
    providers:
      - {provider: delta, model: d-odd}
`

func loadCatalog(t *testing.T, yaml string) *config.Catalog {
	t.Helper()
	l, err := config.Parse("cfg.yaml", []byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("config.Parse: %v", err)
	}
	return l.Catalog
}

// show renders groups as "[alpha@chat beta@chat] [gamma@chat]".
func show(gs []Group) string {
	parts := make([]string, len(gs))
	for i, g := range gs {
		names := make([]string, len(g))
		for j, c := range g {
			names[j] = c.Provider.Name + "@" + c.Route.Name
		}
		parts[i] = "[" + strings.Join(names, " ") + "]"
	}
	return strings.Join(parts, " ")
}

// levels shows a plan by priority level: consecutive single-candidate
// groups of one model and priority (the weighted draw of an unranked plan)
// are shown as one bracket in name order, so tests need not depend on the
// draw.
func levels(gs []Group) string {
	var parts []string
	for i := 0; i < len(gs); {
		if len(gs[i]) != 1 {
			parts = append(parts, show(gs[i:i+1]))
			i++
			continue
		}
		j := i + 1
		for j < len(gs) && len(gs[j]) == 1 && gs[j][0].Route == gs[i][0].Route && gs[j][0].Priority == gs[i][0].Priority {
			j++
		}
		var names []string
		for _, g := range gs[i:j] {
			names = append(names, g[0].Provider.Name+"@"+g[0].Route.Name)
		}
		sort.Strings(names)
		parts = append(parts, "["+strings.Join(names, " ")+"]")
		i = j
	}
	return strings.Join(parts, " ")
}

// unranked reports prefs that leave the order to priorities and weights.
func unranked(p Prefs) bool {
	return p.Sort == "" && len(p.Order) == 0 && p.Session == "" && p.MinThroughput == 0 && p.MaxLatency == 0
}

// clock is a fake time source the test moves by hand.
type clock struct{ t time.Time }

func newClock() *clock                   { return &clock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)} }
func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// ok is a successful attempt: ttft to the first token, then tokens over gen.
func ok(ttft, gen time.Duration, tokens int64) Outcome {
	return Outcome{Status: 200, TTFT: ttft, Generation: gen, CompletionTokens: tokens}
}
