package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

// stalledStream answers at once with a stream's headers, then sends
// nothing until the client goes away.
func stalledStream(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("content-type", "text/event-stream")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestPerTryTimeout: routing.per_try_timeout bounds every attempt, a
// single-provider route's included, until the first byte of the answer's
// body: a provider that hangs, or sends a stream's headers and then
// nothing, costs the client about per_try_timeout (504, or a fallback),
// not timeouts.idle.
func TestPerTryTimeout(t *testing.T) {
	hung, ok := fakeprovider.New(t), fakeprovider.New(t)
	hung.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Hang: true})
	gw := startGateway(t, fmt.Sprintf(`routing:
  max_attempts: 2
  per_try_timeout: 1s
providers:
  - {name: hung, schema: openai, base_url: "%s/v1"}
  - {name: stalled, schema: openai, base_url: "%s/v1"}
  - {name: ok, schema: openai, base_url: "%s/v1"}
models:
  - {name: only-hung, providers: [{provider: hung}]}
  - {name: only-stalled, providers: [{provider: stalled}]}
  - {name: hung-then-ok, providers: [{provider: hung}, {provider: ok, priority: 1}]}
  - {name: stalled-then-ok, providers: [{provider: stalled}, {provider: ok, priority: 1}]}
`, hung.URL(), stalledStream(t), ok.URL()))
	for _, tc := range []struct {
		model    string
		stream   bool
		status   int
		provider string
	}{
		{"only-hung", false, 504, ""},
		{"only-hung", true, 504, ""},
		{"only-stalled", true, 504, ""},
		{"hung-then-ok", false, 200, "ok"},
		{"hung-then-ok", true, 200, "ok"},
		{"stalled-then-ok", true, 200, "ok"},
	} {
		t.Run(fmt.Sprintf("%s stream=%v", tc.model, tc.stream), func(t *testing.T) {
			name := "chat"
			if tc.stream {
				name = "chat_stream"
			}
			ok.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", name))})
			before := len(hung.Requests())
			start := time.Now()
			resp, body := gw.post(t, "/v1/chat/completions", chatBody(tc.model, streamOpt(tc.stream)))
			took := time.Since(start)
			if tc.model == "only-hung" && len(hung.Requests()) != before+1 {
				t.Errorf("the hung provider got %d requests, want 1: a single-provider route never retries", len(hung.Requests())-before)
			}
			if tc.status == 504 {
				assertOpenAIError(t, resp, body, 504, "upstream_timeout")
			} else if resp.StatusCode != tc.status || resp.Header.Get("x-switchboard-provider") != tc.provider {
				t.Fatalf("status %d provider %q, want %d from %q: %s", resp.StatusCode, resp.Header.Get("x-switchboard-provider"), tc.status, tc.provider, body)
			}
			if tc.stream && tc.status == 200 {
				if data := sseData(body); len(data) < 2 || data[len(data)-1] != "[DONE]" || gjson.Get(data[len(data)-2], "error").Exists() {
					t.Fatalf("stream after the fallback: %s", body)
				}
			}
			if took < 900*time.Millisecond || took > 3*time.Second {
				t.Errorf("answered after %v, want about routing.per_try_timeout (1s)", took)
			}
		})
	}
}
