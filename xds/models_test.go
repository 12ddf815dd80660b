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

// TestAnthropicModelEndpoints: requests with anthropic-version get the
// Anthropic SDK's shapes (a page with has_more, first_id and last_id; a
// "type":"model" object; its not_found_error), within the direct
// response limit.
func TestAnthropicModelEndpoints(t *testing.T) {
	spec := bigcatalog.Spec{Models: 200, PerModel: 3, Providers: 5, BaseURL: "http://127.0.0.1:9100/v1"}
	rc := getRouteConfig(t, build(t, parse(t, spec.YAML(), nil)))
	byName := map[string]*routev3.Route{}
	for _, r := range tableRoutes(t, rc.GetVirtualHosts()[0]) {
		byName[r.GetName()] = r
	}
	var page struct {
		Data []struct {
			Type, ID, DisplayName, CreatedAt string
		}
		HasMore         bool   `json:"has_more"`
		FirstID, LastID string `json:"-"`
	}
	list := byName["models_anthropic"]
	body := list.GetDirectResponse().GetBody().GetInlineString()
	if err := json.Unmarshal([]byte(strings.ReplaceAll(body, "display_name", "displayname")), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Data) != 200 || page.HasMore || page.Data[0].Type != "model" || page.Data[0].ID != spec.ModelName(0) || page.Data[0].DisplayName != spec.ModelName(0) {
		t.Errorf("page %.300s", body)
	}
	if !strings.HasSuffix(body, `"has_more":false,"first_id":"`+spec.ModelName(0)+`","last_id":"`+spec.ModelName(199)+`"}`) {
		t.Errorf("page ends %s", body[len(body)-120:])
	}
	if limit := rc.GetMaxDirectResponseBodySizeBytes().GetValue(); uint32(len(body)) > limit {
		t.Errorf("anthropic list %d bytes over the limit %d", len(body), limit)
	}
	for _, name := range []string{"models_anthropic", "model_" + spec.ModelName(7) + "_anthropic", "model_" + spec.ModelName(7) + "_escaped_anthropic", "model_not_found_anthropic"} {
		r := byName[name]
		if r == nil {
			t.Fatalf("no route %s", name)
		}
		checkRouterHopDisabled(t, r)
		if h := r.GetMatch().GetHeaders(); len(h) != 1 || h[0].GetName() != "anthropic-version" || !h[0].GetPresentMatch() {
			t.Errorf("%s matches %v", name, h)
		}
	}
	one := byName["model_"+spec.ModelName(7)+"_anthropic"].GetDirectResponse().GetBody().GetInlineString()
	if want := `{"type":"model","id":"` + spec.ModelName(7) + `","display_name":"` + spec.ModelName(7) + `","created_at":"1970-01-01T00:00:00Z"}`; one != want {
		t.Errorf("model %s, want %s", one, want)
	}
	if nf := byName["model_not_found_anthropic"]; nf.GetDirectResponse().GetStatus() != 404 || !strings.Contains(nf.GetDirectResponse().GetBody().GetInlineString(), `"type":"not_found_error"`) {
		t.Errorf("unknown model %v", nf)
	}
}
