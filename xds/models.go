package xds

import (
	"net/url"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// modelNotFound answers GET /v1/models/{id} for an id the catalog lacks.
const modelNotFound = `{"error":{"message":"model not found; GET /v1/models lists the models this gateway serves","type":"invalid_request_error","param":"model","code":"model_not_found"}}`

// modelEndpointRoutes answer GET /v1/models and GET /v1/models/{id} from
// Envoy itself (direct responses, no ext_proc): the catalog is known when
// the config is built, and the list keeps working while ext_proc is down.
func modelEndpointRoutes(ms models) []*routev3.Route {
	list := directRoute("models", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Path{Path: modelsPath}}, 200, ms.List)
	list.TypedPerFilterConfig = disableRouterHop()
	routes := []*routev3.Route{list}
	for i, id := range ms.IDs {
		paths := []string{modelsPath + "/" + id}
		// A client may escape the id (vendor%2Fmodel); Envoy matches the
		// raw path.
		if esc := url.PathEscape(id); esc != id {
			paths = append(paths, modelsPath+"/"+esc)
		}
		for j, path := range paths {
			r := directRoute(modelRouteName(id, j), &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Path{Path: path}}, 200, ms.Entries[i])
			r.TypedPerFilterConfig = disableRouterHop()
			routes = append(routes, r)
		}
	}
	unknown := directRoute("model_not_found", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: modelsPath + "/"}}, 404, modelNotFound)
	unknown.TypedPerFilterConfig = disableRouterHop()
	return append(routes, unknown)
}

func modelRouteName(id string, variant int) string {
	if variant == 0 {
		return "model_" + id
	}
	return "model_" + id + "_escaped"
}

// directBodyLimit is the route configuration's
// max_direct_response_body_size_bytes: Envoy's default, 4 KiB, holds the
// model list of about a dozen models and rejects the whole route
// configuration past it.
func directBodyLimit(ms models) uint32 {
	n := max(4096, len(ms.List), len(modelNotFound))
	for _, e := range ms.Entries {
		n = max(n, len(e))
	}
	return uint32(n)
}
