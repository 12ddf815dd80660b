package main

import (
	"fmt"
	"slices"
	"strings"
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

// TestCheckForced: a plugin block a tenant or key forces is checked at
// load as the plugin reads it on each request, and refused naming the
// field; serve, reloads and validate all check it.
func TestCheckForced(t *testing.T) {
	const base = `providers:
  - {name: local, schema: openai, base_url: "http://127.0.0.1:9100/v1"}
models:
  - {name: demo, providers: [{provider: local}]}
plugins:
  web: {base_url: "http://127.0.0.1:8888", max_results: 5}
governance:
  tenants:
    - name: team
      plugins:
        force: [%s]
  keys:
    - {id: k1, tenant: team, hash: "sha256:0000000000000000000000000000000000000000000000000000000000000000", plugins: {force: [%s]}}
`
	for _, tc := range []struct {
		name, tenant, key string
		want              []string // in the error, "" for none
	}{
		{"good blocks", `{id: web, max_results: 3}`, `{id: file-parser, pdf: {engine: pdf-text}}`, nil},
		{"bare ids", `web`, `file-parser`, nil},
		{"over the web cap", `{id: web, max_results: 50}`, `file-parser`, []string{"governance.tenants[0].plugins.force[0]", "'max_results' 50: must be an integer from 1 to 5"}},
		{"unknown engine", `web`, `{id: file-parser, pdf: {engine: ocr}}`, []string{"governance.keys[0].plugins.force[0]", "ocr"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			yaml := fmt.Sprintf(base, tc.tenant, tc.key)
			cfg, err := config.Parse("cfg.yaml", []byte(yaml), func(string) (string, bool) { return "", false })
			if err != nil {
				t.Fatal(err)
			}
			chain, _, err := buildPlugins(cfg, func() *config.Loaded { return cfg }, zap.NewNop())
			if err != nil {
				t.Fatal(err)
			}
			err = checkForced("cfg.yaml", cfg, chain)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "400") || !strings.HasPrefix(err.Error(), "cfg.yaml:") {
				t.Errorf("error %q: want the file and field, not the client's status", err)
			}
		})
	}
}
