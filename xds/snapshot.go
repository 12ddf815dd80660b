package xds

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"

	"github.com/switchboard-gw/switchboard/config"
)

// Build turns a validated config into a consistent snapshot. Its version
// is a hash of the resources, so an unchanged config pushes nothing.
func Build(cfg *config.Loaded) (*cache.Snapshot, error) {
	models, err := ModelsJSON(cfg)
	if err != nil {
		return nil, fmt.Errorf("xds: build models list: %w", err)
	}
	var clusters, routes []types.Resource
	var providerRoutes []*routev3.Route
	host, port := cfg.ExtProc.HostPort()
	clusters = append(clusters, makeExtProcCluster(host, port), makeUnroutedCluster())
	for _, p := range cfg.Catalog.Providers(cfg.Config) {
		clusters = append(clusters, makeProviderCluster(providerCluster{
			Name: p.Name, Host: p.Host(), Port: p.Port(), TLS: p.TLS(), ConnectTimeout: cfg.Timeouts.Connect.D(),
		}))
		providerRoutes = append(providerRoutes, makeProviderRoute(p.Name, p.Authority(), cfg.Timeouts.Request.D(), cfg.Timeouts.Idle.D()))
	}
	routes = append(routes, makeRouteConfig(models, providerRoutes, uint64(cfg.Limits.MaxRequestBytes)))
	listeners := []types.Resource{makeListener(cfg.Listener.Address, cfg.Listener.Port, cfg.Timeouts.Idle.D())}

	res := map[resource.Type][]types.Resource{
		resource.ClusterType:  clusters,
		resource.RouteType:    routes,
		resource.ListenerType: listeners,
	}
	version, err := hashResources(res)
	if err != nil {
		return nil, err
	}
	snap, err := cache.NewSnapshot(version, res)
	if err != nil {
		return nil, fmt.Errorf("xds: new snapshot: %w", err)
	}
	if err := snap.Consistent(); err != nil {
		return nil, fmt.Errorf("xds: inconsistent snapshot: %w", err)
	}
	if err := checkClusterRefs(res); err != nil {
		return nil, fmt.Errorf("xds: inconsistent snapshot: %w", err)
	}
	for _, items := range res {
		for _, r := range items {
			if v, ok := r.(interface{ ValidateAll() error }); ok {
				if err := v.ValidateAll(); err != nil {
					return nil, fmt.Errorf("xds: invalid resource: %w", err)
				}
			}
		}
	}
	return snap, nil
}

// checkClusterRefs finds what Consistent does not: a route naming a
// cluster the snapshot lacks. Envoy accepts such a route and answers 503.
func checkClusterRefs(res map[resource.Type][]types.Resource) error {
	clusters := map[string]bool{}
	for _, r := range res[resource.ClusterType] {
		clusters[r.(*clusterv3.Cluster).GetName()] = true
	}
	for _, r := range res[resource.RouteType] {
		rc := r.(*routev3.RouteConfiguration)
		for _, vh := range rc.GetVirtualHosts() {
			for _, rt := range vh.GetRoutes() {
				if c := rt.GetRoute().GetCluster(); c != "" && !clusters[c] {
					return fmt.Errorf("route %s/%s names unknown cluster %q", rc.GetName(), rt.GetName(), c)
				}
			}
		}
	}
	return nil
}

func hashResources(res map[resource.Type][]types.Resource) (string, error) {
	h := sha256.New()
	for _, t := range []resource.Type{resource.ClusterType, resource.RouteType, resource.ListenerType} {
		for _, r := range res[t] {
			b, err := proto.MarshalOptions{Deterministic: true}.Marshal(r)
			if err != nil {
				return "", fmt.Errorf("xds: hash resources: %w", err)
			}
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// ModelsJSON renders GET /v1/models once per config, in the OpenAI list
// shape.
func ModelsJSON(cfg *config.Loaded) (string, error) {
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	list := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{Object: "list", Data: []model{}}
	for _, name := range cfg.Catalog.ModelNames() {
		r, _ := cfg.Catalog.Model(name)
		list.Data = append(list.Data, model{ID: name, Object: "model", OwnedBy: r.OwnedBy})
	}
	b, err := json.Marshal(list)
	return string(b), err
}
