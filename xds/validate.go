package xds

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// StaticBootstrap renders a snapshot as an Envoy bootstrap with every
// resource static: the clusters, and the listener with its route
// configuration inlined in place of the RDS reference. Envoy's
// `--mode validate` checks it as it would check the pushed resources.
func StaticBootstrap(snap *cache.Snapshot) ([]byte, error) {
	bs := &bootstrapv3.Bootstrap{StaticResources: &bootstrapv3.Bootstrap_StaticResources{}}
	for _, name := range sortedNames(snap, resource.ClusterType) {
		bs.StaticResources.Clusters = append(bs.StaticResources.Clusters, snap.GetResources(resource.ClusterType)[name].(*clusterv3.Cluster))
	}
	routes := snap.GetResources(resource.RouteType)
	for _, name := range sortedNames(snap, resource.ListenerType) {
		l := proto.Clone(snap.GetResources(resource.ListenerType)[name].(*listenerv3.Listener)).(*listenerv3.Listener)
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				hcm := &hcmv3.HttpConnectionManager{}
				if f.GetTypedConfig().MessageIs(hcm) {
					if err := f.GetTypedConfig().UnmarshalTo(hcm); err != nil {
						return nil, fmt.Errorf("xds: listener %s: %w", name, err)
					}
					rc, ok := routes[hcm.GetRds().GetRouteConfigName()].(*routev3.RouteConfiguration)
					if !ok {
						return nil, fmt.Errorf("xds: listener %s names route configuration %q, which the snapshot lacks", name, hcm.GetRds().GetRouteConfigName())
					}
					hcm.RouteSpecifier = &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: rc}
					f.ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(hcm)}
				}
			}
		}
		bs.StaticResources.Listeners = append(bs.StaticResources.Listeners, l)
	}
	b, err := protojson.Marshal(bs)
	if err != nil {
		return nil, fmt.Errorf("xds: render static bootstrap: %w", err)
	}
	return b, nil
}

func sortedNames(snap *cache.Snapshot, t resource.Type) []string {
	var names []string
	for n := range snap.GetResources(t) {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// FindEnvoy returns the Envoy binary to validate with: flag, then the
// ENVOY_BIN environment variable, then envoy on PATH; "" when none.
func FindEnvoy(flagValue string) (string, error) {
	for _, p := range []string{flagValue, os.Getenv("ENVOY_BIN")} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("envoy binary: %w", err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("envoy"); err == nil {
		return p, nil
	}
	return "", nil
}

// ValidateInEnvoy runs `envoy --mode validate` on the snapshot's resources:
// what passes is what that Envoy accepts (bar what only a running Envoy
// finds, such as a port already in use). The error holds Envoy's reason.
func ValidateInEnvoy(ctx context.Context, bin string, snap *cache.Snapshot) error {
	b, err := StaticBootstrap(snap)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "switchboard-validate")
	if err != nil {
		return fmt.Errorf("xds: envoy validate: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "bootstrap.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("xds: envoy validate: %w", err)
	}
	cmd := exec.CommandContext(ctx, bin, "--mode", "validate", "-c", path, "--log-level", "error", "--disable-hot-restart")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return fmt.Errorf("xds: run %s: %w", bin, err)
		}
		return fmt.Errorf("envoy rejects the config: %s", envoyReason(out.String()))
	}
	return nil
}

// envoyReason keeps the lines of Envoy's output that say why.
func envoyReason(out string) string {
	var keep []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.Contains(line, "configuration does not conform") {
			keep = append(keep, line)
		}
	}
	if len(keep) == 0 {
		return "no reason given"
	}
	return strings.Join(keep, "; ")
}
