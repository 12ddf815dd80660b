package xds

import (
	"encoding/json"
	"net/url"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// modelNotFound answers GET /v1/models/{id} for an id the catalog lacks.
const modelNotFound = `{"error":{"message":"model not found; GET /v1/models lists the models this gateway serves","type":"invalid_request_error","param":"model","code":"model_not_found"}}`

// anthropicModelNotFound is Anthropic's 404 for an unknown model id.
const anthropicModelNotFound = `{"type":"error","error":{"type":"not_found_error","message":"model not found; GET /v1/models lists the models this gateway serves"}}`

// anthropicHeader marks a request from an Anthropic client: Anthropic's
// API requires it on every request, so its SDKs always send it. (Not
// x-api-key: clients of other OpenAI-compatible gateways send that too.)
const anthropicHeader = "anthropic-version"

// anthropicModels renders the model endpoints in the Anthropic SDK's
// shape: {"type":"model","id","display_name","created_at"} objects, and a
// list page with has_more, first_id and last_id.
func anthropicModels(ms models) (list string, entries []string) {
	type model struct {
		Type        string `json:"type"`
		ID          string `json:"id"`
		DisplayName string `json:"display_name"`
		CreatedAt   string `json:"created_at"`
	}
	var b strings.Builder
	b.WriteString(`{"data":[`)
	for i, id := range ms.IDs {
		// The catalog has no release dates: the epoch says "unknown".
		e, _ := json.Marshal(model{Type: "model", ID: id, DisplayName: id, CreatedAt: "1970-01-01T00:00:00Z"})
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(e)
		entries = append(entries, string(e))
	}
	first, last := "null", "null"
	if n := len(ms.IDs); n > 0 {
		f, _ := json.Marshal(ms.IDs[0])
		l, _ := json.Marshal(ms.IDs[n-1])
		first, last = string(f), string(l)
	}
	b.WriteString(`],"has_more":false,"first_id":` + first + `,"last_id":` + last + `}`)
	return b.String(), entries
}

// anthropicVariant is r answered in Anthropic's shape to requests that
// carry anthropicHeader; it goes before r.
func anthropicVariant(r *routev3.Route, body string) *routev3.Route {
	m := &routev3.RouteMatch{PathSpecifier: r.GetMatch().GetPathSpecifier(), Headers: []*routev3.HeaderMatcher{{
		Name: anthropicHeader, HeaderMatchSpecifier: &routev3.HeaderMatcher_PresentMatch{PresentMatch: true},
	}}}
	a := directRoute(r.GetName()+"_anthropic", m, r.GetDirectResponse().GetStatus(), body)
	a.TypedPerFilterConfig = disableRouterHop()
	return a
}

// modelEndpointRoutes answer GET /v1/models and GET /v1/models/{id} from
// Envoy itself (direct responses, no ext_proc): the catalog is known when
// the config is built, and the list keeps working while ext_proc is down.
// Each has an Anthropic-shaped variant first, for Anthropic clients.
func modelEndpointRoutes(ms models) []*routev3.Route {
	aList, aEntries := anthropicModels(ms)
	list := directRoute("models", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Path{Path: modelsPath}}, 200, ms.List)
	list.TypedPerFilterConfig = disableRouterHop()
	routes := []*routev3.Route{anthropicVariant(list, aList), list}
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
			routes = append(routes, anthropicVariant(r, aEntries[i]), r)
		}
	}
	unknown := directRoute("model_not_found", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: modelsPath + "/"}}, 404, modelNotFound)
	unknown.TypedPerFilterConfig = disableRouterHop()
	return append(routes, anthropicVariant(unknown, anthropicModelNotFound), unknown)
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
	aList, _ := anthropicModels(ms)
	n := max(4096, len(ms.List), len(aList), len(modelNotFound))
	for _, e := range ms.Entries {
		n = max(n, len(e))
	}
	return uint32(n)
}
