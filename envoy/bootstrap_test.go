package envoy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestCheckedInBootstrap keeps envoy/bootstrap.yaml equal to what the
// binary prints, so the file in the repo never drifts from the template.
func TestCheckedInBootstrap(t *testing.T) {
	want, err := Bootstrap(DefaultOptions())
	if err != nil {
		t.Fatalf("Bootstrap(DefaultOptions()): %v", err)
	}
	got, err := os.ReadFile("bootstrap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("envoy/bootstrap.yaml differs from Bootstrap(DefaultOptions()); run\n"+
			"  go run ./cmd/switchboard bootstrap > envoy/bootstrap.yaml\n"+
			"got:\n%s\nwant:\n%s", got, want)
	}
}

// rendered is the part of a bootstrap the options fill in.
type rendered struct {
	Node struct {
		ID string `yaml:"id"`
	} `yaml:"node"`
	Admin struct {
		Address struct {
			SocketAddress socketAddress `yaml:"socket_address"`
		} `yaml:"address"`
	} `yaml:"admin"`
	StaticResources struct {
		Clusters []struct {
			Name           string `yaml:"name"`
			LoadAssignment struct {
				Endpoints []struct {
					LbEndpoints []struct {
						Endpoint struct {
							Address struct {
								SocketAddress socketAddress `yaml:"socket_address"`
							} `yaml:"address"`
						} `yaml:"endpoint"`
					} `yaml:"lb_endpoints"`
				} `yaml:"endpoints"`
			} `yaml:"load_assignment"`
		} `yaml:"clusters"`
	} `yaml:"static_resources"`
}

type socketAddress struct {
	Address   string `yaml:"address"`
	PortValue int    `yaml:"port_value"`
}

func TestBootstrap(t *testing.T) {
	tests := []struct {
		name  string
		opts  Options
		node  string
		admin socketAddress
		xds   socketAddress
	}{
		{name: "defaults", opts: DefaultOptions(), node: "switchboard-envoy",
			admin: socketAddress{"127.0.0.1", 9901}, xds: socketAddress{"127.0.0.1", 18000}},
		{name: "hostname", opts: Options{NodeID: "edge-1", XDSAddress: "switchboard.default.svc:18000", AdminAddress: "0.0.0.0:0"}, node: "edge-1",
			admin: socketAddress{"0.0.0.0", 0}, xds: socketAddress{"switchboard.default.svc", 18000}},
		{name: "ipv6", opts: Options{NodeID: "v6", XDSAddress: "[::1]:18000", AdminAddress: "[::1]:9901"}, node: "v6",
			admin: socketAddress{"::1", 9901}, xds: socketAddress{"::1", 18000}},
		{name: "node id like a boolean", opts: Options{NodeID: "no", XDSAddress: "127.0.0.1:18000", AdminAddress: "127.0.0.1:9901"}, node: "no",
			admin: socketAddress{"127.0.0.1", 9901}, xds: socketAddress{"127.0.0.1", 18000}},
		{name: "node id with yaml syntax", opts: Options{NodeID: `a: b # "c"`, XDSAddress: "127.0.0.1:18000", AdminAddress: "127.0.0.1:9901"}, node: `a: b # "c"`,
			admin: socketAddress{"127.0.0.1", 9901}, xds: socketAddress{"127.0.0.1", 18000}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Bootstrap(tc.opts)
			if err != nil {
				t.Fatalf("Bootstrap: %v", err)
			}
			var r rendered
			if err := yaml.Unmarshal(b, &r); err != nil {
				t.Fatalf("rendered bootstrap is not YAML: %v\n%s", err, b)
			}
			if r.Node.ID != tc.node {
				t.Errorf("node.id = %q, want %q", r.Node.ID, tc.node)
			}
			if got := r.Admin.Address.SocketAddress; got != tc.admin {
				t.Errorf("admin address = %+v, want %+v", got, tc.admin)
			}
			if len(r.StaticResources.Clusters) != 1 || r.StaticResources.Clusters[0].Name != "switchboard_xds" {
				t.Fatalf("static clusters = %+v, want only switchboard_xds", r.StaticResources.Clusters)
			}
			eps := r.StaticResources.Clusters[0].LoadAssignment.Endpoints
			if len(eps) != 1 || len(eps[0].LbEndpoints) != 1 {
				t.Fatalf("xds cluster endpoints = %+v, want one", eps)
			}
			if got := eps[0].LbEndpoints[0].Endpoint.Address.SocketAddress; got != tc.xds {
				t.Errorf("xds address = %+v, want %+v", got, tc.xds)
			}
		})
	}
}

func TestBootstrapErrors(t *testing.T) {
	ok := DefaultOptions()
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{name: "xds without port", opts: Options{NodeID: "n", XDSAddress: "127.0.0.1", AdminAddress: ok.AdminAddress},
			want: "envoy: xds address: address 127.0.0.1: missing port in address"},
		{name: "xds bad port", opts: Options{NodeID: "n", XDSAddress: "127.0.0.1:http", AdminAddress: ok.AdminAddress},
			want: `envoy: xds address: bad port in "127.0.0.1:http"`},
		{name: "xds port too large", opts: Options{NodeID: "n", XDSAddress: "127.0.0.1:65536", AdminAddress: ok.AdminAddress},
			want: `envoy: xds address: bad port in "127.0.0.1:65536"`},
		{name: "xds port zero", opts: Options{NodeID: "n", XDSAddress: "127.0.0.1:0", AdminAddress: ok.AdminAddress},
			want: `envoy: xds address: bad port in "127.0.0.1:0"`},
		{name: "xds without host", opts: Options{NodeID: "n", XDSAddress: ":18000", AdminAddress: ok.AdminAddress},
			want: `envoy: xds address: no host in ":18000"`},
		{name: "admin negative port", opts: Options{NodeID: "n", XDSAddress: ok.XDSAddress, AdminAddress: "127.0.0.1:-1"},
			want: `envoy: admin address: bad port in "127.0.0.1:-1"`},
		{name: "admin empty", opts: Options{NodeID: "n", XDSAddress: ok.XDSAddress},
			want: "envoy: admin address: missing port in address"},
		{name: "empty node id", opts: Options{XDSAddress: ok.XDSAddress, AdminAddress: ok.AdminAddress},
			want: "envoy: node id is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Bootstrap(tc.opts)
			if err == nil {
				t.Fatalf("Bootstrap succeeded, want an error:\n%s", b)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestBootstrapValidatesInEnvoy asks a real Envoy (ENVOY_BIN, set by the
// Makefile, or envoy on PATH) to validate rendered bootstraps.
func TestBootstrapValidatesInEnvoy(t *testing.T) {
	bin := os.Getenv("ENVOY_BIN")
	if bin == "" {
		bin, _ = exec.LookPath("envoy")
	}
	if bin == "" {
		t.Skip("no Envoy binary: set ENVOY_BIN or put envoy on PATH")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("ENVOY_BIN: %v", err)
	}
	tests := []struct {
		name string
		opts Options
	}{
		{name: "defaults", opts: DefaultOptions()},
		{name: "ipv6", opts: Options{NodeID: "v6", XDSAddress: "[::1]:18000", AdminAddress: "[::1]:0"}},
		// Unquoted, yaml-cpp reads these as a map and a YAML 1.1 boolean.
		{name: "node id with colon", opts: Options{NodeID: "a: b", XDSAddress: "127.0.0.1:18000", AdminAddress: "127.0.0.1:9901"}},
		{name: "node id like a boolean", opts: Options{NodeID: "on", XDSAddress: "127.0.0.1:18000", AdminAddress: "127.0.0.1:9901"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Bootstrap(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "bootstrap.yaml")
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(bin, "--mode", "validate", "-c", path, "--log-level", "error").CombinedOutput()
			if err != nil {
				t.Errorf("envoy --mode validate: %v\n%s\n--- bootstrap ---\n%s", err, out, b)
			}
		})
	}
}
