package xds

import (
	"encoding/json"
	"strings"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"github.com/switchboard-gw/switchboard/internal/bigcatalog"
)

// TestModelEndpoints: GET /v1/models/{id} answers each model object from
// Envoy, an unknown id gets the OpenAI 404, and the route configuration's
// direct response limit holds the largest body (Envoy's default is 4 KiB).
func TestModelEndpoints(t *testing.T) {
	spec := bigcatalog.Spec{Models: 200, PerModel: 3, Providers: 5, BaseURL: "http://127.0.0.1:9100/v1"}
	rc := getRouteConfig(t, build(t, parse(t, spec.YAML(), nil)))
	byPath := map[string]*routev3.Route{}
	for _, r := range tableRoutes(t, rc.GetVirtualHosts()[0]) {
		if p := r.GetMatch().GetPath(); p != "" {
			byPath[p] = r
		}
	}
	list := byPath[modelsPath].GetDirectResponse().GetBody().GetInlineString()
	if got, limit := len(list), rc.GetMaxDirectResponseBodySizeBytes().GetValue(); got <= 4096 || uint32(got) > limit {
		t.Fatalf("model list is %d bytes, limit %d: want a list over 4 KiB within the limit", got, limit)
	}
	for _, tc := range []struct{ path, id string }{
		{"/v1/models/" + spec.ModelName(0), spec.ModelName(0)},
		{"/v1/models/" + spec.ModelName(199), spec.ModelName(199)},
		{"/v1/models/vendor%2Fmodel-0007", spec.ModelName(7)},
	} {
		r := byPath[tc.path]
		if r == nil {
			t.Errorf("no route for %s", tc.path)
			continue
		}
		checkRouterHopDisabled(t, r)
		checkJSONHeader(t, r)
		var m struct {
			ID, Object, OwnedBy string
			Created             *int64
			Providers           []string
		}
		body := r.GetDirectResponse().GetBody().GetInlineString()
		if err := json.Unmarshal([]byte(strings.ReplaceAll(body, "owned_by", "ownedby")), &m); err != nil {
			t.Fatal(err)
		}
		if r.GetDirectResponse().GetStatus() != 200 || m.ID != tc.id || m.Object != "model" || m.Created == nil || m.OwnedBy == "" || len(m.Providers) != 3 {
			t.Errorf("%s: %d %s", tc.path, r.GetDirectResponse().GetStatus(), body)
		}
		if !strings.Contains(list, body) {
			t.Errorf("%s: the object differs from its list entry: %s", tc.path, body)
		}
	}
	var unknown *routev3.Route
	for _, r := range tableRoutes(t, rc.GetVirtualHosts()[0]) {
		if r.GetName() == "model_not_found" {
			unknown = r
		}
	}
	if unknown.GetMatch().GetPrefix() != "/v1/models/" || unknown.GetDirectResponse().GetStatus() != 404 ||
		!strings.Contains(unknown.GetDirectResponse().GetBody().GetInlineString(), `"code":"model_not_found"`) {
		t.Errorf("unknown model route = %v", unknown)
	}
}
