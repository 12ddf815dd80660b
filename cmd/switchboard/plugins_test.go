package main

import (
	"slices"
	"testing"

	"go.uber.org/zap"

	"github.com/switchboard-gw/switchboard/config"
)

// TestBuildPluginsOffered: the chain built is the one config validates
// plugin policies against (config.Plugins.Offered), with web and
// without.
func TestBuildPluginsOffered(t *testing.T) {
	const base = `providers:
  - {name: local, schema: openai, base_url: "http://127.0.0.1:9100/v1"}
models:
  - {name: demo, providers: [{provider: local}]}
`
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"without web", base, []string{"file-parser", "middle-out", "response-healing"}},
		{"with web", base + "plugins:\n  web: {base_url: \"http://127.0.0.1:8888\"}\n", []string{"file-parser", "middle-out", "response-healing", "web"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Parse("cfg.yaml", []byte(tc.yaml), func(string) (string, bool) { return "", false })
			if err != nil {
				t.Fatal(err)
			}
			chain, _, err := buildPlugins(cfg, func() *config.Loaded { return cfg }, zap.NewNop())
			if err != nil {
				t.Fatal(err)
			}
			ids := chain.IDs()
			slices.Sort(ids)
			if !slices.Equal(ids, tc.want) || !slices.Equal(cfg.Plugins.Offered(), tc.want) {
				t.Errorf("chain %v, offered %v, want both %v", ids, cfg.Plugins.Offered(), tc.want)
			}
		})
	}
}
