package xds

import (
	"strings"
	"testing"

	xdsmatcherv3 "github.com/cncf/xds/go/xds/type/matcher/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

// pick evaluates a virtual host's match tree as Envoy does: exact maps on
// a header, on_no_match when the value is absent or unknown, then the
// first route of the action whose own match holds ("" when none).
func pick(t *testing.T, vh *routev3.VirtualHost, path string, headers map[string]string) string {
	t.Helper()
	m := vh.GetMatcher()
	for {
		tree := m.GetMatcherTree()
		in := &matcherv3.HttpRequestHeaderMatchInput{}
		if err := tree.GetInput().GetTypedConfig().UnmarshalTo(in); err != nil {
			t.Fatal(err)
		}
		v, ok := headers[in.GetHeaderName()]
		if in.GetHeaderName() == ":path" {
			v, ok = path, true
		}
		om := m.GetOnNoMatch()
		if e, found := tree.GetExactMatchMap().GetMap()[v]; ok && found {
			om = e
		}
		if next := om.GetMatcher(); next != nil {
			m = next
			continue
		}
		return firstMatch(t, om, path, headers)
	}
}

func firstMatch(t *testing.T, om *xdsmatcherv3.Matcher_OnMatch, path string, headers map[string]string) string {
	var routes []*routev3.Route
	a := om.GetAction().GetTypedConfig()
	if l := (&routev3.RouteList{}); a.MessageIs(l) {
		if err := a.UnmarshalTo(l); err != nil {
			t.Fatal(err)
		}
		routes = l.GetRoutes()
	} else {
		r := &routev3.Route{}
		if err := a.UnmarshalTo(r); err != nil {
			t.Fatal(err)
		}
		routes = []*routev3.Route{r}
	}
	bare, _, _ := strings.Cut(path, "?")
next:
	for _, r := range routes {
		mt := r.GetMatch()
		if p := mt.GetPath(); p != "" && p != bare || !strings.HasPrefix(bare, mt.GetPrefix()) {
			continue
		}
		for _, h := range mt.GetHeaders() {
			v, ok := headers[h.GetName()]
			if h.GetPresentMatch() && !ok || !h.GetPresentMatch() && v != h.GetStringMatch().GetExact() {
				continue next
			}
		}
		return r.GetName()
	}
	return ""
}

// TestRouteTable: the tree picks what the ordered route list did, by map
// lookups.
func TestRouteTable(t *testing.T) {
	vh := getRouteConfig(t, build(t, parse(t, testYAML, testEnv))).GetVirtualHosts()[0]
	if len(vh.GetRoutes()) != 0 {
		t.Fatalf("virtual host has %d listed routes besides its match tree", len(vh.GetRoutes()))
	}
	for _, tc := range []struct {
		name, path string
		headers    map[string]string
		want       string
	}{
		{"model list", "/v1/models", nil, "models"},
		{"model list with a query", "/v1/models?limit=5", nil, "models"},
		{"one model", "/v1/models/gpt-4o", nil, "model_gpt-4o"},
		{"unknown model", "/v1/models/gpt-5", nil, "model_not_found"},
		{"chat before the router hop", "/v1/chat/completions", nil, "unrouted_v1_chat_completions"},
		{"messages before the router hop", "/v1/messages", nil, "unrouted_v1_messages"},
		{"embeddings with a query", "/v1/embeddings?x=1", nil, "unrouted_v1_embeddings"},
		{"chat after the router hop", "/v1/chat/completions", map[string]string{ModelHeader: "gpt-4o", AttemptsHeader: "2"}, "chat_model_gpt-4o_2"},
		{"messages after the router hop", "/v1/messages", map[string]string{ModelHeader: "local-small", AttemptsHeader: "1"}, "chat_model_local-small_1"},
		{"model header without attempts", "/v1/chat/completions", map[string]string{ModelHeader: "gpt-4o"}, "unrouted_model_header"},
		{"unknown model header", "/v1/chat/completions", map[string]string{ModelHeader: "nope", AttemptsHeader: "1"}, "unrouted_v1_chat_completions"},
		{"unknown path", "/v2/anything", nil, "not_found"},
		{"count_tokens before the router hop", "/v1/messages/count_tokens", nil, "unrouted_v1_messages_count_tokens"},
		{"count_tokens with a query", "/v1/messages/count_tokens?beta=true", nil, "unrouted_v1_messages_count_tokens"},
		{"images before the router hop", "/v1/images/generations", nil, "unrouted_v1_images_generations"},
		{"image edits before the router hop", "/v1/images/edits", nil, "unrouted_v1_images_edits"},
		{"count_tokens after the router hop", "/v1/messages/count_tokens", map[string]string{ModelHeader: "local-small", AttemptsHeader: "1"}, "chat_model_local-small_1"},
		{"other paths under messages", "/v1/messages/batches", nil, "messages_not_found"},
		{"completions before the router hop", "/v1/completions", nil, "unrouted_v1_completions"},
		{"anthropic model list", "/v1/models", map[string]string{"anthropic-version": "2023-06-01"}, "models_anthropic"},
		{"anthropic model list with a query", "/v1/models?limit=20", map[string]string{"anthropic-version": "2023-06-01"}, "models_anthropic"},
		{"anthropic model", "/v1/models/gpt-4o", map[string]string{"anthropic-version": "2023-06-01", "x-api-key": "k"}, "model_gpt-4o_anthropic"},
		{"anthropic unknown model", "/v1/models/gpt-5", map[string]string{"anthropic-version": "2023-06-01"}, "model_not_found_anthropic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := pick(t, vh, tc.path, tc.headers); got != tc.want {
				t.Errorf("%s %v picks %q, want %q", tc.path, tc.headers, got, tc.want)
			}
		})
	}
}
