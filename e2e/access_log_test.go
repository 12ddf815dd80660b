package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

// accessLines are the JSON access-log lines in Envoy's output so far.
func accessLines(gw *gateway) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(gw.envoy.log.String(), "\n") {
		var m map[string]any
		if strings.HasPrefix(line, "{") && json.Unmarshal([]byte(line), &m) == nil && m["status"] != nil {
			out = append(out, m)
		}
	}
	return out
}

// TestAccessLog: every request gets one JSON line in Envoy's output, the
// ones the gateway refuses itself included, with what an operator needs
// and never a prompt, an answer or a credential.
func TestAccessLog(t *testing.T) {
	up := fakeprovider.New(t)
	up.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat"))})
	gw := startGateway(t, fmt.Sprintf(`providers:
  - {name: up, schema: openai, base_url: "%s/v1", api_key: {env: SB_ACCESS_KEY}}
models:
  - {name: first, providers: [{provider: up, model: m1}]}
`, up.URL()), "SB_ACCESS_KEY=sk-access-log-secret")
	const prompt = "the-secret-prompt-words"
	chat := []byte(`{"model":"first","messages":[{"role":"user","content":"` + prompt + `"}]}`)
	requests := []struct {
		name, method, path string
		body               []byte
		status             int
		provider           string
		model              string
		details            string // prefix of the response code details
		query, requestID   string // sent, not logged; and the x-request-id sent
	}{
		// The provider never sees x-request-id; the log keeps the one
		// the request came with, and the client's path without its query.
		{"served", "POST", "/v1/chat/completions", chat, 200, "up", "first", "via_upstream", "?trace=1", "e2e-request-id-served"},
		// Translated: the router hop rewrites :path for the provider.
		{"messages", "POST", "/v1/messages", []byte(`{"model":"first","max_tokens":5,"messages":[{"role":"user","content":"` + prompt + `"}]}`), 200, "up", "first", "via_upstream", "", ""},
		{"unknown path", "GET", "/v1/nope", nil, 404, "", "", "direct_response", "?q=2", "e2e-request-id-nope"},
		{"malformed JSON", "POST", "/v1/chat/completions", []byte(`{"model":`), 400, "", "", "switchboard", "", ""},
		{"too large", "POST", "/v1/chat/completions", []byte(`{"model":"first","messages":[{"role":"user","content":"` + strings.Repeat("a", 31<<20) + `"}]}`), 413, "", "", "request_payload_too_large", "", ""},
	}
	for _, r := range requests {
		req, err := http.NewRequestWithContext(ctxT(t), r.method, gw.url(r.path+r.query), strings.NewReader(string(r.body)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("authorization", "Bearer client-credential-xyz")
		if r.requestID != "" {
			req.Header.Set("x-request-id", r.requestID)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != r.status {
			t.Fatalf("%s: status %d, want %d", r.name, resp.StatusCode, r.status)
		}
	}
	// The harness's readiness probes (GET /v1/models, one or more) are
	// not this test's requests.
	ours := func() []map[string]any {
		var out []map[string]any
		for _, l := range accessLines(gw) {
			if l["path"] != "/v1/models" {
				out = append(out, l)
			}
		}
		return out
	}
	waitFor(t, 5*time.Second, func() bool { return len(ours()) >= len(requests) })
	lines := ours()
	lines = lines[len(lines)-len(requests):]
	for i, r := range requests {
		l := lines[i]
		t.Run(r.name, func(t *testing.T) {
			str := func(k string) string { s, _ := l[k].(string); return s }
			num := func(k string) float64 { f, _ := l[k].(float64); return f }
			if str("method") != r.method || str("path") != r.path || int(num("status")) != r.status {
				t.Errorf("method %v path %v status %v, want %s %s %d: %v", l["method"], l["path"], l["status"], r.method, r.path, r.status, l)
			}
			if !strings.HasPrefix(str("error"), r.details) {
				t.Errorf("error %q, want it to start with %q", str("error"), r.details)
			}
			if str("provider") != r.provider || str("model") != r.model {
				t.Errorf("provider %q model %q, want %q %q", str("provider"), str("model"), r.provider, r.model)
			}
			if str("request_id") == "" || (r.requestID != "" && str("request_id") != r.requestID) {
				t.Errorf("request id %q, want %q (or any when none was sent): %v", str("request_id"), r.requestID, l)
			}
			for _, k := range []string{"duration_ms", "bytes_received", "bytes_sent"} {
				if _, ok := l[k].(float64); !ok {
					t.Errorf("%s = %v, want a number", k, l[k])
				}
			}
			if r.provider != "" {
				if num("attempts") != 1 || num("bytes_received") == 0 || num("bytes_sent") == 0 {
					t.Errorf("attempts %v, bytes %v in %v out; want 1 and some bytes", l["attempts"], l["bytes_received"], l["bytes_sent"])
				}
				if _, ok := l["ttfb_ms"].(float64); !ok {
					t.Errorf("ttfb_ms = %v, want a number", l["ttfb_ms"])
				}
			}
		})
	}
	for _, rec := range up.Requests() {
		if v := rec.Header.Get("x-request-id"); v != "" {
			t.Errorf("the provider got x-request-id %q", v)
		}
	}
	all := gw.envoy.log.String()
	for _, secret := range []string{prompt, "sk-access-log-secret", "client-credential-xyz", "capital of France"} {
		if strings.Contains(all, secret) {
			t.Errorf("Envoy's output contains %q", secret)
		}
	}
}

// TestAccessLogOff: access_log.enabled false writes no lines.
func TestAccessLogOff(t *testing.T) {
	up := fakeprovider.New(t)
	gw := startGateway(t, "access_log: {enabled: false}\n"+fmt.Sprintf(demoModels, up.URL()))
	if r, err := http.Get(gw.url("/v1/nope")); err != nil || r.StatusCode != 404 {
		t.Fatalf("GET: %v %v", r, err)
	}
	time.Sleep(time.Second) // the harness has Envoy flush access logs every 100 ms
	if n := len(accessLines(gw)); n != 0 {
		t.Fatalf("%d access-log lines with access_log.enabled false", n)
	}
}
