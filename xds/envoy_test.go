package xds

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// TestResourcesValidateInEnvoy asks a real Envoy (ENVOY_BIN, set by the
// Makefile, or envoy on PATH) to validate the built resources, served
// statically: the RDS reference is replaced by the route configuration.
func TestResourcesValidateInEnvoy(t *testing.T) {
	bin := os.Getenv("ENVOY_BIN")
	if bin == "" {
		bin, _ = exec.LookPath("envoy")
	}
	if bin == "" {
		if p, err := filepath.Abs("../.tools/envoy-1.40.0/envoy"); err == nil {
			if _, err := os.Stat(p); err == nil {
				bin = p
			}
		}
	}
	if bin == "" {
		t.Skip("no Envoy binary: set ENVOY_BIN or put envoy on PATH")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("ENVOY_BIN: %v", err)
	}
	tests := []struct {
		name string
		yaml string
		env  map[string]string
	}{
		{name: "test config", yaml: testYAML, env: testEnv},
		{name: "example all keys", yaml: readExample(t), env: map[string]string{"OPENAI_API_KEY": "k", "ANTHROPIC_API_KEY": "k"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			snap := build(t, parse(t, tc.yaml, tc.env))
			res := resources(snap)
			bs := &bootstrapv3.Bootstrap{StaticResources: &bootstrapv3.Bootstrap_StaticResources{}}
			for _, r := range res[resource.ClusterType] {
				bs.StaticResources.Clusters = append(bs.StaticResources.Clusters, r.(*clusterv3.Cluster))
			}
			l := proto.Clone(getListener(t, snap)).(*listenerv3.Listener)
			f := l.GetFilterChains()[0].GetFilters()[0]
			hcm := unpack(t, f.GetTypedConfig(), &hcmv3.HttpConnectionManager{})
			hcm.RouteSpecifier = &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: getRouteConfig(t, snap)}
			f.ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(hcm)}
			bs.StaticResources.Listeners = []*listenerv3.Listener{l}

			b, err := protojson.Marshal(bs)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "bootstrap.json")
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(bin, "--mode", "validate", "-c", path, "--log-level", "error").CombinedOutput()
			if err != nil {
				t.Errorf("envoy --mode validate: %v\n%s", err, out)
			}
		})
	}
}
