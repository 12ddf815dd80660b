package xds

import (
	"fmt"
	"slices"

	xdscorev3 "github.com/cncf/xds/go/xds/core/v3"
	xdsmatcherv3 "github.com/cncf/xds/go/xds/type/matcher/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/proto"
)

// modelRouteSet is one public model's routes, one per attempt count.
type modelRouteSet struct {
	Model  string
	Routes []*routev3.Route
}

// routeTable is the virtual host's match tree. A list of routes is
// matched in order, and with a thousand models three thousand header
// matches ran on every request, twice (before and after the router hop):
// +0.5 ms per request measured. The tree looks a request up in maps
// instead:
//
//	x-switchboard-model (set by the router hop):
//	  <model> → that model's routes (one per attempt count, matched on
//	            x-switchboard-attempts), then a catch-all to the empty
//	            cluster
//	  none of them → :path:
//	    /v1/models, /v1/models/<id>, the API paths → their route
//	    none of them → the model list, unknown model, the API paths
//	                   (these match with a query string too) and the
//	                   catch-all 404, in that order
//
// The routes keep their own match conditions: Envoy checks them after the
// tree picks them.
func routeTable(endpoints []*routev3.Route, byModel []modelRouteSet, fallback []*routev3.Route) *xdsmatcherv3.Matcher {
	// A path's routes in order: an Anthropic-shaped variant, matched on
	// a header, goes before the OpenAI one.
	routesByPath := map[string][]*routev3.Route{}
	for _, r := range append(append([]*routev3.Route{}, endpoints...), fallback...) {
		if p := r.GetMatch().GetPath(); p != "" {
			routesByPath[p] = append(routesByPath[p], r)
		}
	}
	byPath := map[string]*xdsmatcherv3.Matcher_OnMatch{}
	for p, rs := range routesByPath {
		if len(rs) == 1 {
			byPath[p] = routeAction(rs[0])
		} else {
			byPath[p] = routeListAction(rs)
		}
	}
	// Without a path the map knows: the list, any unknown model id, and
	// the fallback routes in order.
	var rest []*routev3.Route
	for _, r := range endpoints {
		if p := r.GetMatch().GetPath(); p == "" || p == modelsPath {
			rest = append(rest, r)
		}
	}
	rest = append(rest, fallback...)
	paths := &xdsmatcherv3.Matcher{
		MatcherType: headerMap(":path", byPath),
		OnNoMatch:   routeListAction(rest),
	}
	if len(byModel) == 0 {
		return paths // a map needs an entry
	}
	models := map[string]*xdsmatcherv3.Matcher_OnMatch{}
	for _, m := range byModel {
		models[m.Model] = routeListAction(append(append([]*routev3.Route{}, m.Routes...), forgedModelRoute()))
	}
	return &xdsmatcherv3.Matcher{
		MatcherType: headerMap(ModelHeader, models),
		OnNoMatch:   &xdsmatcherv3.Matcher_OnMatch{OnMatch: &xdsmatcherv3.Matcher_OnMatch_Matcher{Matcher: paths}},
	}
}

// forgedModelRoute catches a request that names a model in the header
// without a valid attempt count: only a client sets that, and the router
// hop removes such headers and routes the request again.
func forgedModelRoute() *routev3.Route {
	return &routev3.Route{
		Name:  "unrouted_model_header",
		Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
		Action: &routev3.Route_Route{Route: &routev3.RouteAction{
			ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: UnroutedCluster},
		}},
	}
}

func headerMap(header string, m map[string]*xdsmatcherv3.Matcher_OnMatch) *xdsmatcherv3.Matcher_MatcherTree_ {
	return &xdsmatcherv3.Matcher_MatcherTree_{MatcherTree: &xdsmatcherv3.Matcher_MatcherTree{
		Input: &xdscorev3.TypedExtensionConfig{Name: "request-headers", TypedConfig: mustAny(&matcherv3.HttpRequestHeaderMatchInput{HeaderName: header})},
		TreeType: &xdsmatcherv3.Matcher_MatcherTree_ExactMatchMap{ExactMatchMap: &xdsmatcherv3.Matcher_MatcherTree_MatchMap{
			Map: m,
		}},
	}}
}

func routeAction(r *routev3.Route) *xdsmatcherv3.Matcher_OnMatch {
	return &xdsmatcherv3.Matcher_OnMatch{OnMatch: &xdsmatcherv3.Matcher_OnMatch_Action{Action: &xdscorev3.TypedExtensionConfig{
		Name: "route", TypedConfig: mustAny(r),
	}}}
}

func routeListAction(rs []*routev3.Route) *xdsmatcherv3.Matcher_OnMatch {
	return &xdsmatcherv3.Matcher_OnMatch{OnMatch: &xdsmatcherv3.Matcher_OnMatch_Action{Action: &xdscorev3.TypedExtensionConfig{
		Name: "routes", TypedConfig: mustAny(&routev3.RouteList{Routes: rs}),
	}}}
}

// TableRoutes lists every route a virtual host can pick, from its route
// list or its match tree, each once (what a tree reaches when nothing
// matches first): for checks and tests.
func TableRoutes(vh *routev3.VirtualHost) ([]*routev3.Route, error) {
	if vh.GetMatcher() == nil {
		return vh.GetRoutes(), nil
	}
	var out []*routev3.Route
	seen := map[string]bool{}
	add := func(r *routev3.Route) {
		// A route sits in both maps' paths (the API paths); names are
		// free-form (model ids), so the match tells routes apart too.
		m, _ := proto.MarshalOptions{Deterministic: true}.Marshal(r.GetMatch())
		if key := r.GetName() + "\x00" + string(m); !seen[key] {
			seen[key] = true
			out = append(out, r)
		}
	}
	var walk func(m *xdsmatcherv3.Matcher) error
	onMatch := func(om *xdsmatcherv3.Matcher_OnMatch) error {
		if om == nil {
			return nil
		}
		if m := om.GetMatcher(); m != nil {
			return walk(m)
		}
		a := om.GetAction().GetTypedConfig()
		switch {
		case a.MessageIs(&routev3.Route{}):
			r := &routev3.Route{}
			if err := a.UnmarshalTo(r); err != nil {
				return err
			}
			add(r)
		case a.MessageIs(&routev3.RouteList{}):
			l := &routev3.RouteList{}
			if err := a.UnmarshalTo(l); err != nil {
				return err
			}
			for _, r := range l.GetRoutes() {
				add(r)
			}
		default:
			return fmt.Errorf("match tree action %s is neither a Route nor a RouteList", a.GetTypeUrl())
		}
		return nil
	}
	walk = func(m *xdsmatcherv3.Matcher) error {
		if err := onMatch(m.GetOnNoMatch()); err != nil {
			return err
		}
		mm := m.GetMatcherTree().GetExactMatchMap().GetMap()
		keys := make([]string, 0, len(mm))
		for k := range mm {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if err := onMatch(mm[k]); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(vh.GetMatcher()); err != nil {
		return nil, fmt.Errorf("virtual host %s: %w", vh.GetName(), err)
	}
	return out, nil
}
