package extproc

import (
	"slices"
	"strconv"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/tidwall/gjson"
	"google.golang.org/protobuf/proto"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/routing"
	"github.com/switchboard-gw/switchboard/xds"
)

// directHarness serves testYAML as the config version Envoy's routes
// carry, so the router hop may use direct clusters.
func directHarness(t *testing.T) *harness {
	cfg := mustLoad(t, testYAML)
	cfg.Version = "v-direct"
	return newHarness(t, cfg)
}

// planDirect sends a request's headers and body to a router hop whose
// routes carry version, and returns the stream and the body's answer.
func planDirect(t *testing.T, h *harness, version string, body []byte, extra ...string) (*envoyStream, *extprocv3.ProcessingResponse) {
	t.Helper()
	router := h.openVersioned(t, version)
	continued(t, router.send(postHeaders(extra...)))
	return router, router.send(requestBody(body))
}

// directCluster is the cluster a planned request's override names when
// it has one group of one cluster.
func directCluster(resp *extprocv3.ProcessingResponse) string {
	groups := resp.GetDynamicMetadata().GetFields()[xds.PlanNamespace].GetStructValue().GetFields()["priority_groups"].GetListValue().GetValues()
	if len(groups) != 1 {
		return ""
	}
	cs := groups[0].GetStructValue().GetFields()["clusters"].GetListValue().GetValues()
	if len(cs) != 1 {
		return ""
	}
	return cs[0].GetStructValue().GetFields()["cluster_name"].GetStringValue()
}

func TestRouterSendsDirect(t *testing.T) {
	h := directHarness(t)
	body := chatBody("claude-sonnet", false)
	router, planned := planDirect(t, h, "v-direct", body,
		"authorization", "Bearer client-gateway-key",
		"x-request-id", "req-1", "x-forwarded-for", "10.0.0.1", "x-forwarded-proto", "https", "x-session-id", "s1", "accept-encoding", "gzip")
	c := continued(t, planned)
	if got := directCluster(planned); got != xds.DirectClusterName("anthropic") {
		t.Fatalf("plan override names %q, want the direct cluster %q", got, xds.DirectClusterName("anthropic"))
	}
	if !c.GetClearRouteCache() {
		t.Error("route cache not cleared: Envoy would not route on the model")
	}
	// The request as the provider gets it: Anthropic's path, host, key
	// and body, nothing of the client's credentials or Envoy's headers.
	m := readMutation(c.GetHeaderMutation())
	out := bodyOut(nil, c)
	want := map[string]string{
		":path": "/v1/messages", ":authority": "anthropic.example.test", "x-api-key": anthropicKey,
		"anthropic-version": "2023-06-01", "content-length": strconv.Itoa(len(out)),
		xds.ModelHeader: "claude-sonnet", xds.AttemptsHeader: "1",
	}
	for k, v := range want {
		if m.set[k] != v {
			t.Errorf("header %s = %q, want %q (set: %v)", k, m.set[k], v, m.set)
		}
	}
	for _, k := range []string{"authorization", "x-session-id", "accept-encoding"} {
		if !m.removes(k) {
			t.Errorf("%s reaches the provider (removed: %q)", k, m.remove)
		}
	}
	// Routing needs these (Envoy matches no route without
	// x-forwarded-proto); the direct cluster removes them.
	for _, k := range []string{xds.ModelHeader, xds.AttemptsHeader, "x-forwarded-proto", "x-request-id", "x-forwarded-for"} {
		if m.removes(k) {
			t.Errorf("%s removed before routing", k)
		}
	}
	n := 0
	for _, o := range c.GetHeaderMutation().GetSetHeaders() {
		if o.GetHeader().GetKey() == "content-length" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("content-length set %d times", n)
	}
	if gjson.GetBytes(out, "model").Str != "claude-sonnet-4-5-20250929" || !gjson.GetBytes(out, "max_tokens").Exists() || gjson.GetBytes(out, "messages.0.content").Str == "" {
		t.Errorf("provider body = %s, want the Anthropic request", out)
	}
	fields := planned.GetDynamicMetadata().GetFields()
	if _, ok := fields[xds.BodyNamespace]; ok {
		t.Error("body forwarded as metadata: no upstream hop reads it")
	}
	// This hop settles its own attempt: nothing for Envoy to keep and
	// forward back with every later message.
	if a, ok := fields[xds.AttemptNamespace]; ok {
		t.Errorf("attempt metadata %v sent to Envoy; no other hop reads it", a)
	}

	// Envoy's router answers from the direct cluster: this hop holds the
	// headers for the body and answers both, translated.
	answer := `{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"Hi"}],"stop_reason":"end_turn","usage":{"input_tokens":5,"output_tokens":2}}`
	rh := responseHeaders(false, ":status", "200", "content-type", "application/json", upstreamServiceTime, "3", "set-cookie", "s=1")
	router.sendAll(rh, responseBody([]byte(answer), true)) // held for the body
	answered := router.recv(rh)
	if md := answered.GetDynamicMetadata().GetFields()[xds.AttemptNamespace]; md != nil {
		t.Errorf("settled attempt %v sent to Envoy; this hop settles it", md)
	}
	hr := continued(t, answered)
	if hr.GetStatus() != extprocv3.CommonResponse_CONTINUE_AND_REPLACE {
		t.Errorf("answer status %v, want the body with the headers (CONTINUE_AND_REPLACE): no answer per chunk", hr.GetStatus())
	}
	rm := readMutation(hr.GetHeaderMutation())
	if rm.set[xds.ProviderHeader] != "anthropic" || rm.set[AttemptHeader] != "1" || rm.set["content-type"] != "application/json" || !rm.removes("set-cookie") {
		t.Errorf("answer headers = %v (removed %q), want the provider, attempt and type, and no set-cookie", rm.set, rm.remove)
	}
	got := bodyOut(nil, hr)
	if gjson.GetBytes(got, "object").Str != "chat.completion" || gjson.GetBytes(got, "choices.0.message.content").Str != "Hi" || gjson.GetBytes(got, "usage.total_tokens").Int() != 7 {
		t.Errorf("answer = %s, want the chat completion", got)
	}
	if err := h.waitEnded(t); err != nil {
		t.Fatalf("router hop: Process returned %v", err)
	}
	var ok int64
	for _, r := range h.srv.Stats().Snapshot() {
		if r.Provider == "anthropic" {
			ok += r.OK
		}
	}
	if ok != 1 {
		t.Errorf("anthropic successes = %d, want the answer recorded: %v", ok, h.srv.Stats().Snapshot())
	}
}

// A stream on a one-provider plan goes direct too: its headers wait for
// the first byte, then come with it, and the chunks are translated.
func TestRouterSendsDirectStream(t *testing.T) {
	h := directHarness(t)
	router, planned := planDirect(t, h, "v-direct", chatBody("claude-sonnet", true))
	c := continued(t, planned)
	if got := directCluster(planned); got != xds.DirectClusterName("anthropic") {
		t.Fatalf("plan override names %q, want %q", got, xds.DirectClusterName("anthropic"))
	}
	if out := bodyOut(nil, c); !gjson.GetBytes(out, "stream").Bool() || gjson.GetBytes(out, "max_tokens").Int() == 0 {
		t.Fatalf("provider body = %s, want Anthropic's stream request", out)
	}
	tr := readTranscript(t, "anthropic", "text_stream")
	rh := responseHeaders(false, append(tr.headers, upstreamServiceTime, "2")...)
	// Held for the first byte. When it is slow to come, Envoy is asked
	// to wait for the rest of the per-try timeout and a little more
	// (this hop answers first, wake).
	defer func(d time.Duration) { bodyPatience = d }(bodyPatience)
	bodyPatience = 20 * time.Millisecond
	router.holdHeaders(rh)
	if w, perTry := router.recv(rh).GetOverrideMessageTimeout().AsDuration(), h.srv.configs.Current().Routing.PerTryTimeout.D(); w < perTry-time.Second || w > perTry+time.Second {
		t.Errorf("Envoy asked to wait %v, want about the per-try timeout %v", w, perTry)
	}
	var out []byte
	chunks := split(tr.body, 100, 37)
	for i, ch := range chunks {
		r := router.send(responseBody(ch, i == len(chunks)-1))
		if i == 0 {
			m := readMutation(continued(t, router.heldHeaders()).GetHeaderMutation())
			if m.set["content-type"] != "text/event-stream" || m.set[xds.ProviderHeader] != "anthropic" {
				t.Errorf("stream headers = %v, want SSE from anthropic", m.set)
			}
		}
		out = bodyOut(out, continued(t, r))
	}
	data := sseData(t, out)
	if len(data) < 2 || data[len(data)-1] != "[DONE]" || gjson.Get(data[0], "object").Str != "chat.completion.chunk" {
		t.Fatalf("stream = %s, want chat chunks and [DONE]", out)
	}
	if err := h.waitEnded(t); err != nil {
		t.Fatal(err)
	}
}

// A direct stream whose first byte does not come within the per-try
// timeout gets 504 from this hop, in the client's shape, and counts
// against the provider: Envoy's own per-try timer stopped at the headers.
func TestRouterDirectStreamFirstByteTimeout(t *testing.T) {
	cfg := mustLoad(t, testYAML)
	cfg.Version = "v-direct"
	cfg.Routing.PerTryTimeout = config.Duration(300 * time.Millisecond)
	h := newHarness(t, cfg)
	router, planned := planDirect(t, h, "v-direct", chatBody("claude-sonnet", true))
	continued(t, planned)
	tr := readTranscript(t, "anthropic", "text_stream")
	rh := responseHeaders(false, append(tr.headers, upstreamServiceTime, "2")...)
	start := time.Now()
	router.holdHeaders(rh)
	// No chunk: the hop answers the held headers on its own.
	r := router.recv(rh)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("answered after %v, want within the per-try timeout", took)
	}
	checkImmediate(t, r, 504, "upstream_timeout")
	router.close() // Envoy closes the stream after an immediate response
	if err := h.waitEnded(t); err != nil {
		t.Fatal(err)
	}
	var failed int64
	for _, s := range h.srv.Stats().Snapshot() {
		if s.Provider == "anthropic" {
			failed += s.Failed
		}
	}
	if failed != 1 {
		t.Errorf("anthropic failures = %d, want 1: %v", failed, h.srv.Stats().Snapshot())
	}
}

// What needs the upstream hop keeps it: a plan with a fallback (each
// attempt is translated for its provider), and routes from a config this
// process did not build (their clusters may have no direct ones).
func TestRouterKeepsUpstreamHop(t *testing.T) {
	h := directHarness(t)
	tests := []struct {
		name, version string
		body          []byte
	}{
		{name: "fallback stream", version: "v-direct", body: []byte(`{"model":"tiered","stream":true,"messages":[{"role":"user","content":"hi"}]}`)},
		{name: "fallback", version: "v-direct", body: []byte(`{"model":"tiered","messages":[{"role":"user","content":"hi"}]}`)},
		{name: "unknown routes", version: "v-other", body: chatBody("claude-sonnet", false)},
		{name: "no version", version: "", body: chatBody("claude-sonnet", false)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			router, planned := planDirect(t, h, tc.version, tc.body)
			c := continued(t, planned)
			if got := directCluster(planned); slices.Contains([]string{xds.DirectClusterName("anthropic"), xds.DirectClusterName("openai")}, got) {
				t.Errorf("sent to %s", got)
			}
			if c.GetBodyMutation() != nil || readMutation(c.GetHeaderMutation()).set[":path"] != "" {
				t.Errorf("request translated by the router hop: %v", c)
			}
			if _, ok := planned.GetDynamicMetadata().GetFields()[xds.BodyNamespace]; !ok {
				t.Error("no body for the upstream hop")
			}
			router.close()
			if err := h.waitEnded(t); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Envoy's own reply on a direct request (connect failure, per-try
// timeout) passes and counts against the provider; so does a request
// that ends with no response.
func TestRouterDirectNoResponse(t *testing.T) {
	failures := func(h *harness) (n int64) {
		for _, r := range h.srv.Stats().Snapshot() {
			if r.Provider == "anthropic" {
				n += r.Failed
			}
		}
		return n
	}
	t.Run("Envoy's reply", func(t *testing.T) {
		h := directHarness(t)
		router, planned := planDirect(t, h, "v-direct", chatBody("claude-sonnet", false))
		continued(t, planned)
		rh := responseHeaders(false, ":status", "503", "content-type", "application/json")
		if m := readMutation(continued(t, router.send(rh)).GetHeaderMutation()); m.set[xds.ProviderHeader] != "" {
			t.Errorf("Envoy's reply was answered as the provider's: %v", m.set)
		}
		if err := h.waitEnded(t); err != nil {
			t.Fatal(err)
		}
		if failures(h) != 1 {
			t.Errorf("anthropic failures = %d, want 1: %v", failures(h), h.srv.Stats().Snapshot())
		}
	})
	t.Run("no response", func(t *testing.T) {
		h := directHarness(t)
		router, planned := planDirect(t, h, "v-direct", chatBody("claude-sonnet", false))
		continued(t, planned)
		router.close()
		if err := h.waitEnded(t); err != nil {
			t.Fatal(err)
		}
		if failures(h) != 1 {
			t.Errorf("anthropic failures = %d, want 1: %v", failures(h), h.srv.Stats().Snapshot())
		}
	})
}

// The direct override is built once per provider and shared: the same
// value for every request to it, and what groupsOverride builds.
func TestDirectOverrideShared(t *testing.T) {
	s := &Server{}
	plan := func(name string) routing.Plan {
		return routing.Plan{Groups: []routing.Group{{{Provider: &config.Provider{Name: name}, Weight: 1}}}}
	}
	a, b, other := s.directOverride(plan("anthropic")), s.directOverride(plan("anthropic")), s.directOverride(plan("openai"))
	if a != b {
		t.Error("two requests to one provider built two overrides")
	}
	if !proto.Equal(a, groupsOverride(plan("anthropic"), xds.DirectClusterName)) || proto.Equal(a, other) {
		t.Errorf("override %v, want the direct cluster's priority group (and another for openai: %v)", a, other)
	}
}

// header's one-allocation form marshals as the plain message does.
func TestHeaderOption(t *testing.T) {
	for _, v := range []string{"", "application/json", "Bearer sk-x"} {
		want := &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: "k", RawValue: []byte(v)}, AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD}
		got := header("k", v)
		gb, err1 := proto.Marshal(got)
		wb, err2 := proto.Marshal(want)
		if err1 != nil || err2 != nil || string(gb) != string(wb) {
			t.Errorf("header(k, %q) marshals to %x, want %x", v, gb, wb)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = header("content-type", "application/json") }); n > 1 {
		t.Errorf("header: %v allocations, want 1", n)
	}
}
