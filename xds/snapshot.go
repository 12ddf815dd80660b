package xds

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	prioritygroupv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/router/cluster_specifiers/priority_group/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/routing"
)

// Build turns a validated config into a consistent snapshot. Its version
// is a hash of the resources, so an unchanged config pushes nothing.
func Build(cfg *config.Loaded) (*cache.Snapshot, error) {
	snap, _, err := BuildVersioned(cfg)
	return snap, err
}

// BuildVersioned is Build, and also returns the config version stamped on
// the routes: Envoy sends it to the router hop with each request (gRPC
// metadata ConfigVersionMetadata), so ext_proc serves each request with
// the config of the routes Envoy runs. It hashes the clusters and routes,
// not the listener, so processes with different listener ports agree.
func BuildVersioned(cfg *config.Loaded) (*cache.Snapshot, string, error) {
	models, err := modelList(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("xds: build models list: %w", err)
	}
	var clusters, routes []types.Resource
	var modelRoutes []modelRouteSet
	host, port := cfg.ExtProc.HostPort()
	extProc := makeExtProcCluster(host, port, cfg.ExtProc.Replicas...)
	withControlTLS(extProc, cfg)
	clusters = append(clusters, extProc, makeUnroutedCluster())
	for _, p := range cfg.Catalog.Providers(cfg.Config) {
		pc := providerCluster{
			Name: p.Name, Host: p.Host(), Port: p.Port(), TLS: p.TLS(), ConnectTimeout: cfg.Timeouts.Connect.D(), Health: cfg.Health,
			PerTryTimeout: cfg.Routing.PerTryTimeout.D(),
		}
		clusters = append(clusters, makeProviderCluster(pc), makeDirectCluster(pc))
	}
	t := routeTimeouts{Request: cfg.Timeouts.Request.D(), Idle: cfg.Timeouts.Idle.D(), PerTry: cfg.Routing.PerTryTimeout.D(), MaxAttempts: cfg.Routing.MaxAttempts}
	for _, name := range cfg.Catalog.ModelNames() {
		route, _ := cfg.Catalog.Model(name)
		var groups [][]weightedCluster
		for _, g := range routing.DefaultGroups(route) {
			var wg []weightedCluster
			for _, c := range g {
				wg = append(wg, weightedCluster{Cluster: ClusterName(c.Provider.Name), Weight: c.Weight})
			}
			groups = append(groups, wg)
		}
		set := modelRouteSet{Model: name}
		for n := 1; n <= cfg.Routing.MaxAttempts; n++ {
			set.Routes = append(set.Routes, makeModelRoute(name, n, groups, t))
		}
		modelRoutes = append(modelRoutes, set)
	}
	if w := cfg.Plugins.Web; w != nil {
		clusters = append(clusters, makeLoopCluster(w))
		modelRoutes = append(modelRoutes, modelRouteSet{Model: LoopModel, Routes: makeLoopRoutes(t)})
	}
	unstamped := makeRouteConfig(models, modelRoutes, uint64(cfg.Limits.MaxRequestBytes), "")
	stamp, err := hashResources(map[resource.Type][]types.Resource{resource.ClusterType: clusters, resource.RouteType: {unstamped}})
	if err != nil {
		return nil, "", err
	}
	routes = append(routes, makeRouteConfig(models, modelRoutes, uint64(cfg.Limits.MaxRequestBytes), stamp))
	listeners := []types.Resource{makeListener(cfg.Config)}

	res := map[resource.Type][]types.Resource{
		resource.ClusterType:  clusters,
		resource.RouteType:    routes,
		resource.ListenerType: listeners,
	}
	version, err := hashResources(res)
	if err != nil {
		return nil, "", err
	}
	snap, err := cache.NewSnapshot(version, res)
	if err != nil {
		return nil, "", fmt.Errorf("xds: new snapshot: %w", err)
	}
	if err := snap.Consistent(); err != nil {
		return nil, "", fmt.Errorf("xds: inconsistent snapshot: %w", err)
	}
	if err := checkClusterRefs(res); err != nil {
		return nil, "", fmt.Errorf("xds: inconsistent snapshot: %w", err)
	}
	for _, items := range res {
		for _, r := range items {
			if v, ok := r.(interface{ ValidateAll() error }); ok {
				if err := v.ValidateAll(); err != nil {
					return nil, "", fmt.Errorf("xds: invalid resource: %w", err)
				}
			}
		}
	}
	return snap, stamp, nil
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
			table, err := TableRoutes(vh)
			if err != nil {
				return fmt.Errorf("route %s: %w", rc.GetName(), err)
			}
			for _, rt := range table {
				names := []string{rt.GetRoute().GetCluster()}
				if ext := rt.GetRoute().GetInlineClusterSpecifierPlugin().GetExtension(); ext != nil {
					var pg prioritygroupv3.PriorityGroupClusterSpecifier
					if err := ext.GetTypedConfig().UnmarshalTo(&pg); err != nil {
						return fmt.Errorf("route %s/%s: %w", rc.GetName(), rt.GetName(), err)
					}
					for _, g := range pg.GetPriorityGroups() {
						for _, c := range g.GetClusters() {
							names = append(names, c.GetClusterName())
						}
					}
				}
				for _, c := range names {
					if c != "" && !clusters[c] {
						return fmt.Errorf("route %s/%s names unknown cluster %q", rc.GetName(), rt.GetName(), c)
					}
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
	l, err := modelList(cfg)
	return l.List, err
}

// models is what the model endpoints answer: the whole list and each
// model object alone (GET /v1/models/{id}), in catalog order.
type models struct {
	List    string
	IDs     []string
	Entries []string
}

// modelList renders the model endpoints once per config.
func modelList(cfg *config.Loaded) (models, error) {
	// pricing is OpenRouter's shape: USD per token, as decimal strings.
	type pricing struct {
		Prompt     string `json:"prompt"`
		Completion string `json:"completion"`
		Request    string `json:"request,omitempty"`
		CacheRead  string `json:"input_cache_read,omitempty"`
		// ImageOutput is USD per image made (OpenRouter's "image" prices input images).
		ImageOutput string `json:"image_output,omitempty"`
	}
	type model struct {
		ID            string   `json:"id"`
		Object        string   `json:"object"`
		Created       int64    `json:"created"`
		OwnedBy       string   `json:"owned_by"`
		ContextLength int      `json:"context_length,omitempty"`
		Capabilities  []string `json:"capabilities,omitempty"`
		Providers     []string `json:"providers"`
		Pricing       *pricing `json:"pricing,omitempty"`
	}
	var out models
	var list strings.Builder
	list.WriteString(`{"object":"list","data":[`)
	for i, name := range cfg.Catalog.ModelNames() {
		r, _ := cfg.Catalog.Model(name)
		m := model{ID: name, Object: "model", OwnedBy: r.OwnedBy, ContextLength: r.ContextLength, Providers: []string{}}
		caps := map[string]bool{}
		for _, c := range r.Candidates {
			m.Providers = append(m.Providers, c.Provider.Name)
			for _, k := range c.Spec.Capabilities {
				caps[k] = true
			}
			// The first-priority candidate's price is the list price.
			if pr := c.Spec.Pricing; m.Pricing == nil && pr != (config.Price{}) {
				m.Pricing = &pricing{Prompt: perTokenPrice(pr.Prompt), Completion: perTokenPrice(pr.Completion)}
				if pr.Request > 0 {
					m.Pricing.Request = strconv.FormatFloat(pr.Request, 'f', -1, 64)
				}
				if pr.CachedPrompt > 0 {
					m.Pricing.CacheRead = perTokenPrice(pr.CachedPrompt)
				}
				if pr.Image > 0 {
					m.Pricing.ImageOutput = strconv.FormatFloat(pr.Image, 'f', -1, 64)
				}
			}
		}
		for _, k := range config.KnownCapabilities {
			if caps[k] {
				m.Capabilities = append(m.Capabilities, k)
			}
		}
		b, err := json.Marshal(m)
		if err != nil {
			return models{}, err
		}
		if i > 0 {
			list.WriteByte(',')
		}
		list.Write(b)
		out.IDs = append(out.IDs, name)
		out.Entries = append(out.Entries, string(b))
	}
	list.WriteString("]}")
	out.List = list.String()
	return out, nil
}

// perTokenPrice writes a price per million tokens as a price per token.
// The decimal point moves in the text: dividing by 1e6 in floating point
// would show 0.4 as 0.00000040000000000000003.
func perTokenPrice(perMillion float64) string {
	s := strconv.FormatFloat(perMillion, 'f', -1, 64)
	if perMillion == 0 {
		return "0"
	}
	intPart, frac, _ := strings.Cut(s, ".")
	intPart = strings.Repeat("0", max(0, 7-len(intPart))) + intPart // room for 6 places
	n := len(intPart) - 6
	out := strings.TrimLeft(intPart[:n], "0")
	if out == "" {
		out = "0"
	}
	if f := strings.TrimRight(intPart[n:]+frac, "0"); f != "" {
		out += "." + f
	}
	return out
}
