package xds

import (
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/switchboard-gw/switchboard/config"
)

// testYAML has an https provider with a key, a plain http one, and an
// optional provider left out for lack of a key.
const testYAML = `listener: {address: 127.0.0.1, port: 9090}
extproc: {address: "127.0.0.1:18101"}
limits: {max_request_bytes: 1048576}
timeouts: {connect: 3s, request: 2m, idle: 45s, client_headers: 4s, client_request: 25s}
routing: {per_try_timeout: 15s}
health: {consecutive_5xx: 4, base_ejection: 20s, max_ejection: 3m}
providers:
  - {name: openai, schema: openai, base_url: "https://api.openai.com/v1", api_key: {env: OPENAI_API_KEY}}
  - {name: local, schema: openai, base_url: "http://127.0.0.1:9100/v1"}
  - {name: anthropic, schema: anthropic, base_url: "https://api.anthropic.com", api_key: {env: ANTHROPIC_API_KEY}, optional: true}
models:
  - {name: gpt-4o, providers: [{provider: openai}, {provider: local, priority: 1}]}
  - {name: local-small, owned_by: acme, providers: [{provider: local, model: small}]}
  - {name: claude, providers: [{provider: anthropic}]}
`

var testEnv = map[string]string{"OPENAI_API_KEY": "sk-test"}

func parse(t *testing.T, yaml string, env map[string]string) *config.Loaded {
	t.Helper()
	l, err := config.Parse("cfg.yaml", []byte(yaml), func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	if err != nil {
		t.Fatalf("config.Parse: %v", err)
	}
	return l
}

func build(t *testing.T, l *config.Loaded) *cache.Snapshot {
	t.Helper()
	snap, err := Build(l)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return snap
}

func getCluster(t *testing.T, snap *cache.Snapshot, name string) *clusterv3.Cluster {
	t.Helper()
	r, ok := snap.GetResources(resource.ClusterType)[name]
	if !ok {
		t.Fatalf("no cluster %q", name)
	}
	return r.(*clusterv3.Cluster)
}

func getListener(t *testing.T, snap *cache.Snapshot) *listenerv3.Listener {
	t.Helper()
	r, ok := snap.GetResources(resource.ListenerType)[ListenerName]
	if !ok {
		t.Fatalf("no listener %q", ListenerName)
	}
	return r.(*listenerv3.Listener)
}

func getRouteConfig(t *testing.T, snap *cache.Snapshot) *routev3.RouteConfiguration {
	t.Helper()
	r, ok := snap.GetResources(resource.RouteType)[RouteName]
	if !ok {
		t.Fatalf("no route configuration %q", RouteName)
	}
	return r.(*routev3.RouteConfiguration)
}

// unpack decodes a typed config into a new T.
func unpack[T proto.Message](t *testing.T, a *anypb.Any, m T) T {
	t.Helper()
	if a == nil {
		t.Fatalf("typed config for %T is nil", m)
	}
	if err := a.UnmarshalTo(m); err != nil {
		t.Fatalf("unpack %s into %T: %v", a.GetTypeUrl(), m, err)
	}
	return m
}

func tableRoutes(t *testing.T, vh *routev3.VirtualHost) []*routev3.Route {
	t.Helper()
	rs, err := TableRoutes(vh)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func parseTB(tb testing.TB, yaml string) *config.Loaded {
	tb.Helper()
	l, err := config.Parse("cfg.yaml", []byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		tb.Fatalf("config.Parse: %v", err)
	}
	return l
}
