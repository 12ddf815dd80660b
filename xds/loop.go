package xds

import (
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/switchboard-gw/switchboard/config"
)

// The web search loop (plugins/web.Loop) serves Anthropic's web_search
// server tool in its tool form. The router hop sends such a request to
// the loop route (ModelHeader set to LoopModel); the loop cluster is the
// loop's loopback HTTP server, which sends each round of the model's
// turn back through this listener as an ordinary request. The cluster
// has no upstream hop: the loop is not a provider, and its answer is
// already in the client's shape.

const (
	// LoopModel is the ModelHeader value of the loop route. It holds
	// spaces, which no public model name does.
	LoopModel = "web search loop"
	// LoopCluster is the loop's cluster.
	LoopCluster = "switchboard_web_loop"
)

func makeLoopCluster(w *config.WebPlugin) *clusterv3.Cluster {
	host, port := w.LoopHostPort()
	return &clusterv3.Cluster{
		Name:                 LoopCluster,
		ClusterDiscoveryType: discoveryType(host),
		ConnectTimeout:       durationpb.New(time.Second),
		DnsLookupFamily:      clusterv3.Cluster_V4_PREFERRED,
		CircuitBreakers:      generousThresholds(),
		LoadAssignment:       loadAssignment(LoopCluster, host, port),
	}
}

// makeLoopRoutes route the router hop's loop requests, on the two APIs
// the loop serves. No retries: a round already failed over inside; the
// loop's own answer is final.
func makeLoopRoutes(t routeTimeouts) []*routev3.Route {
	route := func(name, path string) *routev3.Route {
		return &routev3.Route{
			Name: name,
			Match: &routev3.RouteMatch{
				PathSpecifier: &routev3.RouteMatch_Path{Path: path},
				Headers: []*routev3.HeaderMatcher{{Name: ModelHeader, HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{
					StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: LoopModel}}}}},
			},
			Action: &routev3.Route_Route{Route: &routev3.RouteAction{
				ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: LoopCluster},
				Timeout:          durationpb.New(t.Request),
				IdleTimeout:      durationpb.New(t.Idle),
			}},
		}
	}
	return []*routev3.Route{route("web_search_loop", MessagesPath), route("web_search_loop_responses", ResponsesPath)}
}
