package extproc

import (
	"bytes"
	"strconv"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/tidwall/gjson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchboard-gw/switchboard/xds"
)

// lastAttempt runs a request through the router hop's request phases and
// the upstream hop of its first attempt, as Envoy would, and returns the
// router stream (waiting for the response) and the upstream hop's answer.
func lastAttempt(t *testing.T, h *harness, provider string, body []byte) (*envoyStream, *extprocv3.ProcessingResponse) {
	t.Helper()
	return nthAttempt(t, h, provider, 1, body)
}

// nthAttempt is lastAttempt for attempt n.
func nthAttempt(t *testing.T, h *harness, provider string, n int, body []byte) (*envoyStream, *extprocv3.ProcessingResponse) {
	t.Helper()
	router := h.open(t, xds.HopRouter)
	continued(t, router.send(postHeaders()))
	planned := router.send(requestBody(body))
	continued(t, planned)
	md := &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{}}
	for k, v := range planned.GetDynamicMetadata().GetFields() {
		if k == xds.RequestNamespace || k == xds.BodyNamespace {
			md.FilterMetadata[k] = v.GetStructValue()
		}
	}
	md.FilterMetadata[xds.MetadataNamespace] = &structpb.Struct{Fields: map[string]*structpb.Value{"provider": structpb.NewStringValue(provider)}}
	hs := postHeaders("x-envoy-attempt-count", strconv.Itoa(n))
	hs.MetadataContext = md
	up := h.open(t, xds.HopUpstream)
	return router, up.send(hs)
}

// attemptMetadata is the metadata Envoy shows the router hop with the
// response: what the upstream hop left.
func attemptOf(resp *extprocv3.ProcessingResponse) *corev3.Metadata {
	return &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
		xds.AttemptNamespace: resp.GetDynamicMetadata().GetFields()[xds.AttemptNamespace].GetStructValue(),
	}}
}

func TestRouterAnswersLastAttempt(t *testing.T) {
	h := newHarness(t, mustLoad(t, testYAML))
	router, left := lastAttempt(t, h, "anthropic", chatBody("claude-sonnet", false))
	c := continued(t, left)
	if c.GetStatus() != extprocv3.CommonResponse_CONTINUE_AND_REPLACE {
		t.Fatalf("upstream hop answered the headers with %v, want the translated request", c.GetStatus())
	}
	a := left.GetDynamicMetadata().GetFields()[xds.AttemptNamespace].GetStructValue().GetFields()
	if a["mode"].GetStringValue() != modeRouterName {
		t.Fatalf("attempt metadata = %v, want the response left to the router hop", a)
	}
	// The upstream hop's part ends with the request: it closes its stream.
	if err := h.waitEnded(t); err != nil {
		t.Fatalf("upstream hop: Process returned %v", err)
	}

	// The provider answers 200; the router hop holds the headers for the
	// body, then answers both, translated.
	answer := `{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"Hi"}],"stop_reason":"end_turn","usage":{"input_tokens":5,"output_tokens":2}}`
	rh := responseHeaders(false, ":status", "200", "content-type", "application/json", upstreamServiceTime, "3",
		"set-cookie", "provider-session=1", "request-id", "req_1")
	rh.MetadataContext = attemptOf(left)
	// Held: the first answer comes after the body, with its decisions.
	router.sendAll(rh, responseBody([]byte(answer), true))
	hr := continued(t, router.recv(rh))
	if hr.GetStatus() != extprocv3.CommonResponse_CONTINUE_AND_REPLACE {
		t.Errorf("answer status %v, want the body with the headers (CONTINUE_AND_REPLACE)", hr.GetStatus())
	}
	m := readMutation(hr.GetHeaderMutation())
	if m.set[xds.ProviderHeader] != "anthropic" || m.set[AttemptHeader] != "1" {
		t.Errorf("answer headers = %v, want the provider and attempt", m.set)
	}
	for _, k := range []string{"set-cookie", upstreamServiceTime} {
		if !m.removes(k) {
			t.Errorf("answer headers keep %s (removed: %q)", k, m.remove)
		}
	}
	out := bodyOut(nil, hr)
	if gjson.GetBytes(out, "object").Str != "chat.completion" || gjson.GetBytes(out, "choices.0.message.content").Str != "Hi" ||
		gjson.GetBytes(out, "usage.total_tokens").Int() != 7 {
		t.Errorf("answer = %s, want the chat completion", out)
	}
	router.close()
	if err := h.waitEnded(t); err != nil {
		t.Fatalf("router hop: Process returned %v", err)
	}
}

// The last attempt of a plan with fallbacks: the router hop names the
// attempts that failed before it, as the upstream hop does.
func TestRouterAnswersFallback(t *testing.T) {
	h := newHarness(t, mustLoad(t, testYAML))
	body := []byte(`{"model":"tiered","models":["claude-sonnet"],"messages":[{"role":"user","content":"hi"}]}`)
	router, left := nthAttempt(t, h, "anthropic", 3, body)
	if a := left.GetDynamicMetadata().GetFields()[xds.AttemptNamespace].GetStructValue().GetFields(); a["mode"].GetStringValue() != modeRouterName {
		t.Fatalf("attempt 3 of 3: metadata %v, want the response left to the router hop", a)
	}
	if err := h.waitEnded(t); err != nil {
		t.Fatal(err)
	}
	rh := responseHeaders(false, ":status", "200", "content-type", "application/json", upstreamServiceTime, "3")
	rh.MetadataContext = attemptOf(left)
	answer := `{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"Hi"}],"stop_reason":"end_turn","usage":{"input_tokens":5,"output_tokens":2}}`
	router.sendAll(rh, responseBody([]byte(answer), true)) // held for the body
	m := readMutation(continued(t, router.recv(rh)).GetHeaderMutation())
	if m.set[FallbacksHeader] != "openai/tiered,anthropic/tiered" || m.set[AttemptHeader] != "3" || m.set[xds.ModelHeader] != "claude-sonnet" {
		t.Errorf("answer headers = %v, want attempt 3 of claude-sonnet after openai/tiered,anthropic/tiered", m.set)
	}
	router.close()
	if err := h.waitEnded(t); err != nil {
		t.Fatal(err)
	}
}

func TestRouterAnswersLastAttemptErrors(t *testing.T) {
	h := newHarness(t, mustLoad(t, testYAML))
	t.Run("provider error in the client's shape", func(t *testing.T) {
		router, left := lastAttempt(t, h, "anthropic", chatBody("claude-sonnet", false))
		continued(t, left)
		if err := h.waitEnded(t); err != nil {
			t.Fatal(err)
		}
		rh := responseHeaders(false, ":status", "429", "content-type", "application/json", upstreamServiceTime, "1", "retry-after", "7")
		rh.MetadataContext = attemptOf(left)
		body := `{"type":"error","error":{"type":"rate_limit_error","message":"slow down, key ` + anthropicKey + `"}}`
		router.sendAll(rh, responseBody([]byte(body), true)) // held for the body
		m := readMutation(continued(t, router.recv(rh)).GetHeaderMutation())
		if m.set[":status"] != "429" || m.set["retry-after"] != "7" {
			t.Errorf("error headers = %v, want 429 with the provider's Retry-After", m.set)
		}
		out := bodyOut(nil, continued(t, router.recv(rh)))
		if e := decodeError(t, out); e.Error.Type == "" || gjson.GetBytes(out, "error.message").Str == "" {
			t.Errorf("error body = %s, want an OpenAI error", out)
		}
		if bytes.Contains(out, []byte(anthropicKey)) {
			t.Errorf("error body quotes the provider key: %s", out)
		}
		router.close()
		if err := h.waitEnded(t); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Envoy's own reply passes", func(t *testing.T) {
		router, left := lastAttempt(t, h, "anthropic", chatBody("claude-sonnet", false))
		continued(t, left)
		if err := h.waitEnded(t); err != nil {
			t.Fatal(err)
		}
		// No x-envoy-upstream-service-time: Envoy's router made it.
		rh := responseHeaders(false, ":status", "503", "content-type", "application/json")
		rh.MetadataContext = attemptOf(left)
		if m := readMutation(continued(t, router.send(rh)).GetHeaderMutation()); m.set[xds.ProviderHeader] != "" {
			t.Errorf("Envoy's reply was answered as the provider's: %v", m.set)
		}
		if err := h.waitEnded(t); err != nil {
			t.Fatal(err)
		}
		// The failed attempt counts against the provider.
		var failed int64
		for _, r := range h.srv.Stats().Snapshot() {
			if r.Provider == "anthropic" {
				failed += r.Failed
			}
		}
		if failed == 0 {
			t.Errorf("no anthropic failure counted after a reply with no response: %v", h.srv.Stats().Snapshot())
		}
	})
}

func TestUpstreamKeepsResponses(t *testing.T) {
	h := newHarness(t, mustLoad(t, testYAML))
	tests := []struct {
		name string
		body []byte
	}{
		{name: "streams", body: chatBody("claude-sonnet", true)},
		// Before the last attempt Envoy needs the settled status to fall back.
		{name: "a fallback can follow", body: chatBody("tiered", false)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, left := lastAttempt(t, h, "openai", tc.body)
			a := left.GetDynamicMetadata().GetFields()[xds.AttemptNamespace].GetStructValue().GetFields()
			if a["mode"] != nil {
				t.Errorf("attempt metadata = %v, want the response kept by the upstream hop", a)
			}
		})
	}
}

// A held answer whose body is slow to come gets Envoy to wait longer
// (override_message_timeout), once: most bodies follow their headers at
// once and cost no such message.
func TestRouterSlowBodyWaits(t *testing.T) {
	defer func(d time.Duration) { bodyPatience = d }(bodyPatience)
	bodyPatience = 20 * time.Millisecond
	h := newHarness(t, mustLoad(t, testYAML))
	router, left := lastAttempt(t, h, "anthropic", chatBody("claude-sonnet", false))
	continued(t, left)
	if err := h.waitEnded(t); err != nil {
		t.Fatal(err)
	}
	rh := responseHeaders(false, ":status", "200", "content-type", "application/json", upstreamServiceTime, "3")
	rh.MetadataContext = attemptOf(left)
	router.sendAll(rh)
	if w := router.recv(rh).GetOverrideMessageTimeout().AsDuration(); w < routerMessageWait-time.Second || w > routerMessageWait {
		t.Fatalf("Envoy asked to wait %v, want about %v", w, routerMessageWait)
	}
	answer := `{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"Hi"}],"stop_reason":"end_turn","usage":{"input_tokens":5,"output_tokens":2}}`
	router.sendAll(responseBody([]byte(answer), true))
	hr := continued(t, router.recv(rh))
	if m := readMutation(hr.GetHeaderMutation()); m.set[xds.ProviderHeader] != "anthropic" {
		t.Errorf("answer headers = %v", m.set)
	}
	if out := bodyOut(nil, hr); gjson.GetBytes(out, "choices.0.message.content").Str != "Hi" {
		t.Errorf("answer = %s", out)
	}
	router.close()
	if err := h.waitEnded(t); err != nil {
		t.Fatal(err)
	}
}
