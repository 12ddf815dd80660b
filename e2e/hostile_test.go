package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

// TestHeaderAllowList: headers cross the gateway by allow-list, both
// ways, through a real Envoy. What a client sends for the gateway (its
// cookies, proxy credentials, billing selectors, forwarding chain) never
// reaches a provider, nor Envoy's own x-request-id and timeout hints; what
// a provider says about itself (its organization, cookies, rate limits,
// request ids) never reaches a client.
func TestHeaderAllowList(t *testing.T) {
	s := newChatSetup(t)
	for _, prov := range []struct{ name, dir, path string }{{"openai", "openai", "/v1/chat/completions"}, {"anthropic", "anthropic", "/v1/messages"}} {
		name := "text"
		if prov.dir == "openai" {
			name = "chat"
		}
		tr := fakeprovider.MustLoad(t, transcript(prov.dir, name))
		tr.Header.Set("set-cookie", "__cf_bm=provider-cookie; path=/")
		tr.Header.Set("openai-organization", "operator-org-id")
		tr.Header.Set("x-internal-trace", "provider-internal")
		fake := s.openai
		if prov.name == "anthropic" {
			fake = s.anthropic
		}
		fake.Handle("POST", prov.path, fakeprovider.Reply{Transcript: tr})
	}
	clientHeaders := []string{
		"cookie", "session=client-cookie",
		"openai-organization", "org-client-chosen",
		"openai-project", "proj-client-chosen",
		"x-goog-user-project", "someone-elses-project",
		"proxy-authorization", "Basic cHJveHk6c2VjcmV0",
		"x-forwarded-for", "203.0.113.7",
		"x-forwarded-host", "evil.example",
		"x-request-id", "client-chosen-id",
		"x-custom-tracking", "client",
		"user-agent", "client-sdk/1.0",
		"anthropic-beta", "context-1m-2025-08-07",
		"authorization", "Bearer " + clientKey,
	}
	forbiddenUp := []string{"cookie", "openai-organization", "openai-project", "x-goog-user-project", "proxy-authorization",
		"x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-request-id", "x-custom-tracking", "user-agent",
		"x-envoy-expected-rq-timeout-ms", "x-envoy-attempt-count", "x-session-id"}
	for _, tc := range []struct {
		name, model string
		fake        *fakeprovider.Server
		wantBeta    bool
	}{
		{"openai", "gpt-test", s.openai, false},
		{"anthropic", "claude-test", s.anthropic, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := s.gw.post(t, "/v1/chat/completions",
				[]byte(`{"model":"`+tc.model+`","messages":[{"role":"user","content":"hi"}]}`), clientHeaders...)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			got := lastRequest(t, tc.fake).Header
			for _, h := range forbiddenUp {
				if v := got.Get(h); v != "" {
					t.Errorf("provider received %s: %q", h, v)
				}
			}
			if strings.Contains(got.Get("authorization")+got.Get("x-api-key"), clientKey) {
				t.Error("provider received the client's gateway key")
			}
			if b := got.Get("anthropic-beta"); (b != "") != tc.wantBeta {
				t.Errorf("anthropic-beta upstream = %q, want forwarded: %v", b, tc.wantBeta)
			}
			for _, h := range []string{"set-cookie", "openai-organization", "openai-project", "x-ratelimit-limit-requests",
				"x-request-id", "request-id", "x-internal-trace", "cf-ray", "anthropic-organization-id", "openai-processing-ms"} {
				if v := resp.Header.Get(h); v != "" && h != "x-request-id" {
					t.Errorf("client received provider header %s: %q", h, v)
				}
			}
			if v := resp.Header.Get("x-request-id"); strings.HasPrefix(v, "req_") {
				t.Errorf("client received the provider's request id %q", v)
			}
			if resp.Header.Get("x-switchboard-provider") == "" || !strings.HasPrefix(resp.Header.Get("content-type"), "application/json") {
				t.Errorf("the gateway's own headers are missing: %v", resp.Header)
			}
		})
	}
}

// TestHostileBodies: bodies built to crash, confuse or stall ext_proc get
// a 400 naming the problem, in the client's error shape, and the gateway
// serves the next request as usual.
func TestHostileBodies(t *testing.T) {
	s := newChatSetup(t)
	s.openai.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat"))})
	msgs := `"messages":[{"role":"user","content":"hi"}]`
	tests := []struct {
		name, path, body string
		wantCode         string // OpenAI error.code; on /v1/messages the Anthropic error type is checked
		wantMsg          string
	}{
		{"ten million nested arrays", "/v1/chat/completions",
			`{"model":"gpt-test",` + msgs + `,"x":` + strings.Repeat("[", 10_000_000) + strings.Repeat("]", 10_000_000) + `}`,
			"json_too_deep", "deeper than 128"},
		{"duplicate model and max_tokens", "/v1/chat/completions",
			`{"model":"gpt-test","model":"claude-test","max_tokens":5,"max_tokens":100000,` + msgs + `}`,
			"duplicate_key", `"model"`},
		{"duplicate stream", "/v1/chat/completions",
			`{"model":"gpt-test","stream":false,"stream":true,` + msgs + `}`,
			"duplicate_key", `"stream"`},
		{"duplicate key on /v1/messages", "/v1/messages",
			`{"model":"claude-test","max_tokens":5,"model":"gpt-test",` + msgs + `}`,
			"invalid_request_error", `"model"`},
		{"100,000 fallback models", "/v1/chat/completions",
			`{"model":"gpt-test","models":[` + strings.TrimSuffix(strings.Repeat(`"gpt-test",`, 100_000), ",") + `],` + msgs + `}`,
			"too_many_models", "the limit is 32"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(s.openai.Requests()) + len(s.anthropic.Requests())
			resp, body := s.gw.post(t, tc.path, []byte(tc.body))
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %.300s", resp.StatusCode, body)
			}
			e := gjson.ParseBytes(body)
			if tc.path == "/v1/messages" {
				if e.Get("type").Str != "error" || e.Get("error.type").Str != tc.wantCode {
					t.Errorf("not an Anthropic invalid_request_error: %s", body)
				}
			} else if e.Get("error.code").Str != tc.wantCode {
				t.Errorf("error.code = %q, want %q: %s", e.Get("error.code").Str, tc.wantCode, body)
			}
			if !strings.Contains(e.Get("error.message").Str, tc.wantMsg) {
				t.Errorf("message %q does not name %s", e.Get("error.message").Str, tc.wantMsg)
			}
			if n := len(s.openai.Requests()) + len(s.anthropic.Requests()); n != before {
				t.Error("a refused request reached a provider")
			}
			// ext_proc lived through it.
			ok, b := s.gw.post(t, "/v1/chat/completions", []byte(`{"model":"gpt-test",`+msgs+`}`))
			if ok.StatusCode != 200 {
				t.Fatalf("the next request got %d: %s", ok.StatusCode, b)
			}
		})
	}
}

// TestGarbageUnder200FallsBack: a provider that answers 200 with a body
// that is no chat completion fails over to the next provider, through a
// real Envoy, as a 5xx would.
func TestGarbageUnder200FallsBack(t *testing.T) {
	bad, good := fakeprovider.New(t), fakeprovider.New(t)
	gw := startGateway(t, fmt.Sprintf(`providers:
  - {name: bad, schema: openai, base_url: %s/v1}
  - {name: good, schema: openai, base_url: %s/v1}
models:
  - name: m
    providers:
      - {provider: bad, model: bad-model, priority: 0}
      - {provider: good, model: good-model, priority: 1}
`, bad.URL(), good.URL()))
	// Unsized: chunked, as most providers send whole answers; the
	// status is settled before Envoy's router sees it either way.
	for _, unsized := range []bool{false, true} {
		for _, body := range []string{`{}`, `{"error":{"message":"quota exhausted"}}`} {
			tr := &fakeprovider.Transcript{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(body)}
			bad.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: tr, Unsized: unsized})
			good.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat")), Unsized: unsized})
			resp, out := gw.post(t, "/v1/chat/completions", []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
			if resp.StatusCode != 200 || resp.Header.Get("x-switchboard-provider") != "good" || gjson.GetBytes(out, "choices.0.message.content").Str == "" {
				t.Errorf("bad answer %s (unsized %v): status %d provider %q body %.200s; want the good provider's answer", body, unsized, resp.StatusCode, resp.Header.Get("x-switchboard-provider"), out)
			}
			if f := resp.Header.Get("x-switchboard-fallbacks"); f != "bad/m" {
				t.Errorf("unsized %v: x-switchboard-fallbacks = %q, want bad/m", unsized, f)
			}
		}
	}
}

// TestUnsizedLargeAnswerWithFallback: an unsized answer too large for
// the upstream hop to hold (past 512 KiB) on a plan with a fallback is
// handed to the router hop mid-body and reaches the client whole, from
// the first provider, in several sizes around the bound; one cut before
// the bound falls back.
func TestUnsizedLargeAnswerWithFallback(t *testing.T) {
	first, second := fakeprovider.New(t), fakeprovider.New(t)
	gw := startGateway(t, fmt.Sprintf(`providers:
  - {name: first, schema: openai, base_url: %s/v1}
  - {name: second, schema: openai, base_url: %s/v1}
models:
  - name: m
    providers:
      - {provider: first, model: first-model, priority: 0}
      - {provider: second, model: second-model, priority: 1}
`, first.URL(), second.URL()))
	second.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat"))})
	for _, n := range []int{500 << 10, 600 << 10, 3 << 20} {
		content := strings.Repeat("a", n)
		body := `{"id":"chatcmpl-big","object":"chat.completion","model":"first-model","choices":[{"index":0,"message":{"role":"assistant","content":"` +
			content + `"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}`
		first.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Unsized: true, Transcript: inlineTranscript(t, "big", 200, "application/json", body)})
		resp, out := gw.post(t, "/v1/chat/completions", []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
		if resp.StatusCode != 200 || resp.Header.Get("x-switchboard-provider") != "first" || gjson.GetBytes(out, "choices.0.message.content").Str != content {
			t.Errorf("%d bytes: status %d provider %q, %d bytes of content; want the first provider's whole answer",
				n, resp.StatusCode, resp.Header.Get("x-switchboard-provider"), len(gjson.GetBytes(out, "choices.0.message.content").Str))
		}
		if got := gjson.GetBytes(out, "usage.total_tokens").Int(); got != 8 {
			t.Errorf("%d bytes: usage.total_tokens = %d, want 8", n, got)
		}
	}
	// Cut before the hop's bound: no byte reached the client, so the
	// next provider serves it.
	tr := fakeprovider.MustLoad(t, transcript("openai", "chat"))
	first.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: tr, CutAfterBytes: len(tr.Body) / 2})
	for i := range 10 {
		resp, out := gw.post(t, "/v1/chat/completions", []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
		if resp.StatusCode != 200 || resp.Header.Get("x-switchboard-provider") != "second" {
			t.Errorf("cut answer, try %d: status %d provider %q body %.200s; want the second provider's answer", i, resp.StatusCode, resp.Header.Get("x-switchboard-provider"), out)
		}
	}
}

// TestUnsizedWholeAnswerSettlesStatus: a whole answer without a
// content-length is read before its status reaches the client, so an
// answer cut mid-body is never a 200 with a broken body, and a 2xx that
// is no answer is a 502.
func TestUnsizedWholeAnswerSettlesStatus(t *testing.T) {
	s := newChatSetup(t)
	tr := fakeprovider.MustLoad(t, transcript("openai", "chat"))
	body := []byte(`{"model":"gpt-test","messages":[{"role":"user","content":"hi"}]}`)

	s.openai.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: tr, Unsized: true})
	resp, out := s.gw.post(t, "/v1/chat/completions", body)
	if resp.StatusCode != 200 || gjson.GetBytes(out, "choices.0.message.content").Str == "" || resp.ContentLength < 0 && len(out) == 0 {
		t.Fatalf("unsized answer: status %d body %.200s", resp.StatusCode, out)
	}

	s.openai.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: tr, CutAfterBytes: len(tr.Body) / 2})
	for i := range 20 {
		r, out, err := tryPost(s.gw, body)
		if err == nil && r.StatusCode == 200 {
			t.Fatalf("try %d: a cut answer reached the client as 200: %.200s", i, out)
		}
	}

	s.openai.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Unsized: true,
		Transcript: &fakeprovider.Transcript{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"error":{"message":"quota exhausted"}}`)}})
	resp, out = s.gw.post(t, "/v1/chat/completions", body)
	if resp.StatusCode != 502 || gjson.GetBytes(out, "error.code").Str != "bad_upstream_response" {
		t.Fatalf("unsized error object under 200: status %d body %s", resp.StatusCode, out)
	}
}

// tryPost is gateway.post that returns a transport error instead of
// failing the test: a reset is an acceptable end here.
func tryPost(g *gateway, body []byte) (*http.Response, []byte, error) {
	resp, err := http.Post(g.url("/v1/chat/completions"), "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp, out, err
}

// TestUnknownMessagesPath: an unknown path under /v1/messages/ (an
// Anthropic client's) gets Anthropic's error shape; other unknown paths
// OpenAI's.
func TestUnknownMessagesPath(t *testing.T) {
	s := newChatSetup(t)
	resp, out := s.gw.post(t, "/v1/messages/batches", []byte(`{}`))
	if resp.StatusCode != 404 || gjson.GetBytes(out, "type").Str != "error" || gjson.GetBytes(out, "error.type").Str != "not_found_error" {
		t.Errorf("/v1/messages/batches: %d %s, want Anthropic's not_found_error", resp.StatusCode, out)
	}
	resp, out = s.gw.post(t, "/v1/nope", []byte(`{}`))
	if resp.StatusCode != 404 || gjson.GetBytes(out, "error.code").Str != "unknown_url" {
		t.Errorf("/v1/nope: %d %s, want OpenAI's unknown_url", resp.StatusCode, out)
	}
}
