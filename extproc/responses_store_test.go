package extproc

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/tidwall/gjson"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchboard-gw/switchboard/governance"
	"github.com/switchboard-gw/switchboard/translators"
	"github.com/switchboard-gw/switchboard/xds"
)

// storeYAML adds to testYAML a provider on OpenAI's own host, where the
// Responses API passes through natively.
const storeYAML = testYAML + `  - name: native
    providers:
      - {provider: openai-native, model: gpt-5}
`

func storeConfig(t *testing.T) string {
	t.Helper()
	return strings.Replace(storeYAML, "models:\n", `  - name: openai-native
    schema: openai
    base_url: https://api.openai.com/v1
    api_key: {env: OPENAI_KEY}
models:
`, 1)
}

// firstTurn is a stored answer of key keyID: "What is 2+2?" answered "4".
func firstTurn(id, keyID, provider string, native bool) governance.StoredResponse {
	now := time.Now()
	return governance.StoredResponse{
		ID: id, KeyID: keyID, Provider: provider, Native: native, Created: now, Expires: now.Add(time.Hour),
		Input: []byte(`[{"type":"message","role":"user","content":"What is 2+2?"}]`),
		Response: []byte(`{"id":"` + id + `","object":"response","status":"completed","output":[` +
			`{"id":"msg_1","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"4","annotations":[]}]}]}`),
	}
}

// responsesAttempt is the upstream hop's view of a Responses attempt the
// router hop stamped for the store.
func responsesAttempt(provider, model, keyID string) *extprocv3.ProcessingRequest {
	req := requestHeaders(false, ":method", "POST", ":path", "/v1/responses", "content-type", "application/json", "x-envoy-attempt-count", "1")
	return withMetadata(req, provider, &structpb.Struct{Fields: map[string]*structpb.Value{
		"model":    structpb.NewStringValue(model),
		"plan":     structpb.NewStringValue(provider + "|" + model),
		"endpoint": structpb.NewStringValue("/v1/responses"),
		keyIDField: structpb.NewStringValue(keyID),
	}})
}

func newStoreHarness(t *testing.T) (*harness, *governance.MemoryResponses) {
	t.Helper()
	h := newHarness(t, mustLoad(t, storeConfig(t)))
	rs := governance.NewMemoryResponses()
	h.srv.SetResponseStore(rs)
	return h, rs
}

// TestUpstreamExpandsPrevious: per attempt, previous_response_id becomes
// the stored conversation, unless the attempt goes natively to the
// provider that made it; another key's or an unknown id is 404.
func TestUpstreamExpandsPrevious(t *testing.T) {
	h, rs := newStoreHarness(t)
	ctx := context.Background()
	for _, r := range []governance.StoredResponse{
		firstTurn("resp_a", "", "anthropic", false),
		firstTurn("resp_n", "", "openai-native", true),
		firstTurn("resp_k", "k1", "anthropic", false),
	} {
		if err := rs.PutResponse(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	follow := func(prev string) []byte {
		return []byte(`{"model":"m","previous_response_id":"` + prev + `","input":"And 3+3?"}`)
	}
	for _, tc := range []struct {
		name, provider, model, prev string
		passed                      bool // previous_response_id sent as is
		status                      int  // an immediate error
	}{
		{name: "translated to anthropic", provider: "anthropic", model: "claude-sonnet", prev: "resp_a"},
		{name: "native on the provider that made it", provider: "openai-native", model: "native", prev: "resp_n", passed: true},
		{name: "native, previous translated", provider: "openai-native", model: "native", prev: "resp_a"},
		{name: "translated, previous native", provider: "anthropic", model: "claude-sonnet", prev: "resp_n"},
		{name: "another key's", provider: "anthropic", model: "claude-sonnet", prev: "resp_k", status: 404},
		{name: "unknown", provider: "openai-native", model: "native", prev: "resp_none", status: 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := h.open(t, xds.HopUpstream)
			continued(t, s.send(responsesAttempt(tc.provider, tc.model, "")))
			resp := s.send(requestBody(follow(tc.prev)))
			s.close()
			_ = h.waitEnded(t)
			if tc.status != 0 {
				e := checkImmediate(t, resp, tc.status, "previous_response_not_found")
				if !strings.Contains(string(resp.GetImmediateResponse().GetBody()), `"param":"previous_response_id"`) {
					t.Errorf("error names no param: %s (%+v)", resp.GetImmediateResponse().GetBody(), e)
				}
				return
			}
			sent := bodyOut(nil, continued(t, resp))
			if tc.passed {
				if gjson.GetBytes(sent, "previous_response_id").Str != tc.prev || gjson.GetBytes(sent, "input").Str != "And 3+3?" {
					t.Errorf("native body %s, want previous_response_id passed on", sent)
				}
				return
			}
			var texts []string
			switch tc.provider {
			case "anthropic":
				for _, m := range gjson.GetBytes(sent, "messages").Array() {
					texts = append(texts, m.Get("role").Str+":"+firstText(m.Get("content")))
				}
			default:
				if gjson.GetBytes(sent, "previous_response_id").Exists() {
					t.Errorf("expanded native body keeps previous_response_id: %s", sent)
				}
				for _, it := range gjson.GetBytes(sent, "input").Array() {
					texts = append(texts, it.Get("role").Str+":"+firstText(it.Get("content")))
				}
			}
			if got, want := strings.Join(texts, "|"), "user:What is 2+2?|assistant:4|user:And 3+3?"; got != want {
				t.Errorf("provider gets %s, want %s: %s", got, want, sent)
			}
		})
	}
}

// firstText is a message content's text: a string, or its first part's.
func firstText(c gjson.Result) string {
	if c.Type == gjson.String {
		return c.Str
	}
	return c.Get("0.text").Str
}

// TestUpstreamStoresAnswer: a whole translated answer and a stream's
// final object are stored under their resp_ id, with the conversation
// that led to them and the caller's key; store: false stores nothing.
func TestUpstreamStoresAnswer(t *testing.T) {
	h, rs := newStoreHarness(t)
	ctx := context.Background()
	if err := rs.PutResponse(ctx, firstTurn("resp_a", "k1", "anthropic", false)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, body, transcript string
		stored                 bool
	}{
		{name: "whole", transcript: "text", stored: true,
			body: `{"model":"claude-sonnet","previous_response_id":"resp_a","input":[{"role":"user","content":"And 3+3?"}]}`},
		{name: "stream", transcript: "text_stream", stored: true,
			body: `{"model":"claude-sonnet","previous_response_id":"resp_a","input":"And 3+3?","stream":true}`},
		{name: "store false", transcript: "text",
			body: `{"model":"claude-sonnet","store":false,"input":"And 3+3?"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := readTranscript(t, "anthropic", tc.transcript)
			// A distinct message id per case: the response id derives from it.
			body := []byte(strings.ReplaceAll(string(tr.body), `"msg_`, `"msg_`+strings.ReplaceAll(tc.name, " ", "")))
			hs := append([]string{}, tr.headers...)
			for i := 0; i+1 < len(hs); i += 2 {
				if hs[i] == "content-length" {
					hs[i+1] = strconv.Itoa(len(body))
				}
			}
			s := h.open(t, xds.HopUpstream)
			continued(t, s.send(responsesAttempt("anthropic", "claude-sonnet", "k1")))
			continued(t, s.send(requestBody([]byte(tc.body))))
			var out []byte
			if strings.HasSuffix(tc.transcript, "_stream") {
				s.streamHeaders(responseHeaders(false, hs...))
				chunks := split(body, 41)
				for i, c := range chunks {
					out = bodyOut(out, continued(t, s.send(responseBody(c, i == len(chunks)-1))))
				}
			} else {
				answers := s.respond(responseHeaders(false, hs...), responseBody(body, true))
				out = continued(t, answers[1]).GetBodyMutation().GetBody()
			}
			s.close()
			_ = h.waitEnded(t)
			id := gjson.GetBytes(out, "id").Str
			if strings.HasSuffix(tc.transcript, "_stream") {
				var c translators.ResponsesCapture
				c.Write(out)
				final, status, ok := c.Final()
				if !ok || status != "completed" {
					t.Fatalf("stream ended without response.completed: %s", out)
				}
				id = gjson.GetBytes(final, "id").Str
			}
			if !strings.HasPrefix(id, "resp_") {
				t.Fatalf("no response id in the answer: %s", out)
			}
			got, err := rs.Response(ctx, id, time.Now())
			if !tc.stored {
				if !errors.Is(err, governance.ErrNotFound) {
					t.Errorf("store: false stored %s (%v)", id, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.KeyID != "k1" || got.Provider != "anthropic" || got.Native || gjson.GetBytes(got.Response, "status").Str != "completed" ||
				gjson.GetBytes(got.Response, "output.0.content.0.text").Str == "" {
				t.Errorf("stored %+v: %s", got, got.Response)
			}
			var texts []string
			for _, it := range gjson.ParseBytes(got.Input).Array() {
				texts = append(texts, it.Get("role").Str+":"+firstText(it.Get("content")))
			}
			if g, want := strings.Join(texts, "|"), "user:What is 2+2?|assistant:4|user:And 3+3?"; g != want {
				t.Errorf("stored input %s, want %s", g, want)
			}
		})
	}
}

// TestRouterStoredResponses: GET and DELETE /v1/responses/{id}, answered
// by the router hop for the key that made the response (none here), and
// previous_response_id checked before planning.
func TestRouterStoredResponses(t *testing.T) {
	h, rs := newStoreHarness(t)
	ctx := context.Background()
	for _, r := range []governance.StoredResponse{firstTurn("resp_a", "", "anthropic", false), firstTurn("resp_k", "k1", "anthropic", false)} {
		if err := rs.PutResponse(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	call := func(method, path string) *extprocv3.ProcessingResponse {
		s := h.open(t, xds.HopRouter)
		resp := s.send(requestHeaders(true, ":method", method, ":path", path))
		s.close()
		_ = h.waitEnded(t)
		return resp
	}
	for _, tc := range []struct {
		name, method, path string
		status             int
		code               string
	}{
		{"get", "GET", "/v1/responses/resp_a?include=x", 200, ""},
		{"another key's", "GET", "/v1/responses/resp_k", 404, "response_not_found"},
		{"unknown", "GET", "/v1/responses/resp_none", 404, "response_not_found"},
		{"sub-resource", "GET", "/v1/responses/resp_a/cancel", 404, "unknown_url"},
		{"post", "POST", "/v1/responses/resp_a", 405, "method_not_allowed"},
		{"delete another key's", "DELETE", "/v1/responses/resp_k", 404, "response_not_found"},
		{"delete", "DELETE", "/v1/responses/resp_a", 200, ""},
		{"get after delete", "GET", "/v1/responses/resp_a", 404, "response_not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := call(tc.method, tc.path)
			if tc.status != 200 {
				checkImmediate(t, resp, tc.status, tc.code)
				return
			}
			ir := resp.GetImmediateResponse()
			if ir == nil || ir.GetStatus().GetCode() != 200 {
				t.Fatalf("answer %v", resp)
			}
			b := ir.GetBody()
			if tc.method == "DELETE" {
				if gjson.GetBytes(b, "id").Str != "resp_a" || !gjson.GetBytes(b, "deleted").Bool() {
					t.Errorf("delete answered %s", b)
				}
				return
			}
			if gjson.GetBytes(b, "id").Str != "resp_a" || gjson.GetBytes(b, "output.0.content.0.text").Str != "4" {
				t.Errorf("get answered %s", b)
			}
		})
	}

	t.Run("previous_response_id unknown", func(t *testing.T) {
		s := h.open(t, xds.HopRouter)
		continued(t, s.send(requestHeaders(false, ":method", "POST", ":path", "/v1/responses", "content-type", "application/json")))
		resp := s.send(requestBody([]byte(`{"model":"claude-sonnet","input":"hi","previous_response_id":"resp_k"}`)))
		s.close()
		_ = h.waitEnded(t)
		checkImmediate(t, resp, 404, "previous_response_not_found")
	})
	t.Run("previous_response_id known: planned and stamped", func(t *testing.T) {
		if err := rs.PutResponse(ctx, firstTurn("resp_b", "", "anthropic", false)); err != nil {
			t.Fatal(err)
		}
		s := h.open(t, xds.HopRouter)
		continued(t, s.send(requestHeaders(false, ":method", "POST", ":path", "/v1/responses", "content-type", "application/json")))
		resp := s.send(requestBody([]byte(`{"model":"claude-sonnet","input":"hi","previous_response_id":"resp_b"}`)))
		s.close()
		_ = h.waitEnded(t)
		continued(t, resp)
		req := resp.GetDynamicMetadata().GetFields()[xds.RequestNamespace].GetStructValue().GetFields()
		if v, ok := req[keyIDField]; !ok || v.GetStringValue() != "" {
			t.Errorf("request metadata %v lacks the key id for the upstream hop", req)
		}
	})
}

// TestPurgeResponses: the purge deletes what expired at the time given.
func TestPurgeResponses(t *testing.T) {
	rs := governance.NewMemoryResponses()
	ctx := context.Background()
	r := firstTurn("resp_old", "", "anthropic", false)
	if err := rs.PutResponse(ctx, r); err != nil {
		t.Fatal(err)
	}
	purgeResponses(ctx, rs, zap.NewNop(), func() time.Time { return r.Expires.Add(-time.Second) })
	if _, err := rs.Response(ctx, "resp_old", r.Created); err != nil {
		t.Fatalf("purged before it expired: %v", err)
	}
	purgeResponses(ctx, rs, zap.NewNop(), func() time.Time { return r.Expires })
	if n, _ := rs.PurgeResponses(ctx, r.Expires); n != 0 {
		t.Fatalf("left %d to purge", n)
	}
	if _, err := rs.Response(ctx, "resp_old", r.Created); !errors.Is(err, governance.ErrNotFound) {
		t.Fatalf("still there after its purge: %v", err)
	}
}

// TestUpstreamStoresNativeAnswer: OpenAI's own answer is stored too,
// marked native, so a follow-up on OpenAI passes its id on and one on
// another provider expands it.
func TestUpstreamStoresNativeAnswer(t *testing.T) {
	h, rs := newStoreHarness(t)
	answer := []byte(`{"id":"resp_openai1","object":"response","status":"completed","model":"gpt-5","output":[` +
		`{"id":"msg_o1","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"4","annotations":[]}]}],` +
		`"usage":{"input_tokens":5,"output_tokens":1,"total_tokens":6}}`)
	s := h.open(t, xds.HopUpstream)
	continued(t, s.send(responsesAttempt("openai-native", "native", "k1")))
	sent := bodyOut(nil, continued(t, s.send(requestBody([]byte(`{"model":"native","input":"What is 2+2?"}`)))))
	if gjson.GetBytes(sent, "model").Str != "gpt-5" {
		t.Fatalf("not passed through natively: %s", sent)
	}
	answers := s.respond(responseHeaders(false, ":status", "200", "content-type", "application/json", "content-length", strconv.Itoa(len(answer))),
		responseBody(answer, true))
	if out := continued(t, answers[1]).GetBodyMutation().GetBody(); gjson.GetBytes(out, "id").Str != "resp_openai1" {
		t.Fatalf("answer %s", out)
	}
	s.close()
	_ = h.waitEnded(t)
	got, err := rs.Response(context.Background(), "resp_openai1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !got.Native || got.Provider != "openai-native" || got.KeyID != "k1" ||
		string(got.Input) != `[{"type":"message","role":"user","content":"What is 2+2?"}]` {
		t.Errorf("stored %+v (input %s)", got, got.Input)
	}
}
