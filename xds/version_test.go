package xds

import (
	"strings"
	"testing"
)

// TestConfigVersion: the version stamped on the routes follows the
// clusters and routes, not the listener, and is stable across builds.
func TestConfigVersion(t *testing.T) {
	version := func(yaml string) string {
		t.Helper()
		_, v, err := BuildVersioned(parse(t, yaml, testEnv))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	base := version(testYAML)
	for _, tc := range []struct {
		name, yaml string
		same       bool
	}{
		{"rebuilt", testYAML, true},
		{"another listener port", strings.Replace(testYAML, "port: 9090", "port: 9091", 1), true},
		{"a model added", testYAML + "  - {name: extra, providers: [{provider: local}]}\n", false},
		{"a timeout changed", strings.Replace(testYAML, "request: 2m", "request: 3m", 1), false},
	} {
		if got := version(tc.yaml); (got == base) != tc.same {
			t.Errorf("%s: version %s, base %s, want same=%v", tc.name, got, base, tc.same)
		}
	}
}
