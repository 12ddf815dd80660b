package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

// assertAnthropicError asserts an Anthropic-shaped error reply.
func assertAnthropicError(t *testing.T, resp *http.Response, body []byte, status int, typ string) {
	t.Helper()
	if resp.StatusCode != status || !strings.HasPrefix(resp.Header.Get("content-type"), "application/json") {
		t.Fatalf("status %d type %q, want %d JSON: %s", resp.StatusCode, resp.Header.Get("content-type"), status, body)
	}
	r := gjson.ParseBytes(body)
	if r.Get("type").Str != "error" || r.Get("error.type").Str != typ || r.Get("error.message").Str == "" || r.Get("error.code").Exists() {
		t.Fatalf("not an Anthropic %s error: %s", typ, body)
	}
}

// assertLocalOpenAIError is assertOpenAIError for Envoy's own replies,
// which carry "param": null as OpenAI's do.
func assertLocalOpenAIError(t *testing.T, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	assertOpenAIError(t, resp, body, status, code)
	if p := gjson.GetBytes(body, "error.param"); !p.Exists() || p.Type != gjson.Null {
		t.Fatalf("error.param = %s, want null: %s", p.Raw, body)
	}
}

// TestLocalReplies: the errors Envoy makes itself (provider unreachable,
// timeouts, 413, no route, ext_proc down or stuck) come in the client's
// API's shape (Anthropic's on /v1/messages) and say what failed.
func TestLocalReplies(t *testing.T) {
	hung := fakeprovider.New(t)
	hung.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Hang: true})
	dead := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	models := fmt.Sprintf(`routing: {max_attempts: 1, per_try_timeout: 1s}
providers:
  - {name: dead, schema: openai, base_url: "%s/v1"}
  - {name: hung, schema: openai, base_url: "%s/v1"}
models:
  - {name: dead-model, providers: [{provider: dead}]}
  - {name: hung-model, providers: [{provider: hung}]}
`, dead, hung.URL())
	gw := startGateway(t, models)
	chat := func(model string) []byte { return chatBody(model, "") }
	messages := func(model string) []byte {
		return []byte(`{"model":"` + model + `","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`)
	}
	huge := `{"model":"dead-model","messages":[{"role":"user","content":"` + strings.Repeat("a", 31<<20) + `"}]}`
	// check posts the model's request to the path; chat wants the OpenAI
	// code, messages the Anthropic type.
	check := func(t *testing.T, path, model string, status int, want string) {
		t.Helper()
		if path == "/v1/messages" {
			resp, out := gw.post(t, path, messages(model))
			assertAnthropicError(t, resp, out, status, want)
			return
		}
		resp, out := gw.post(t, path, chat(model))
		assertLocalOpenAIError(t, resp, out, status, want)
	}
	cases := []struct {
		name, model, code, anthropicType string
		status                           int
	}{
		{"provider unreachable", "dead-model", "provider_unreachable", "api_error", 503},
		{"provider timeout", "hung-model", "upstream_timeout", "timeout_error", 504},
	}
	for _, tc := range cases {
		t.Run(tc.name+" chat", func(t *testing.T) { check(t, "/v1/chat/completions", tc.model, tc.status, tc.code) })
		t.Run(tc.name+" messages", func(t *testing.T) { check(t, "/v1/messages", tc.model, tc.status, tc.anthropicType) })
	}
	t.Run("body too large", func(t *testing.T) {
		resp, out := gw.post(t, "/v1/chat/completions", []byte(huge))
		assertLocalOpenAIError(t, resp, out, 413, "request_too_large")
		resp, out = gw.post(t, "/v1/messages", []byte(huge))
		assertAnthropicError(t, resp, out, 413, "request_too_large")
	})

	// A model ext_proc has loaded and Envoy has no route for yet (the
	// control plane is down): requests are served with the config
	// version Envoy's routes carry, so the new model is not known yet,
	// a clean 404, never half-routed.
	t.Run("no route in Envoy", func(t *testing.T) {
		gw.xds.stop()
		gw.writeConfig(models + "  - {name: new-model, providers: [{provider: hung}]}\n")
		waitFor(t, 5*time.Second, func() bool {
			return strings.Contains(gw.extproc.log.String(), "config loaded; each request uses it once Envoy runs its routes")
		})
		check(t, "/v1/chat/completions", "new-model", 404, "model_not_found")
		check(t, "/v1/messages", "new-model", 404, "not_found_error")
	})

	// ext_proc accepts the connection and never answers.
	t.Run("ext_proc stuck", func(t *testing.T) {
		if err := gw.extproc.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		defer gw.extproc.cmd.Process.Signal(syscall.SIGCONT)
		// The signal only queues the stop: wait until every thread is
		// stopped, or a request sent at once may still be served (CI saw
		// a 503 from the dead provider in 0.00 s).
		waitFor(t, 5*time.Second, func() bool { return allThreadsStopped(gw.extproc.cmd.Process.Pid) })
		// Both at once: each waits out ext_proc's 10 s message timeout.
		type reply struct {
			resp *http.Response
			body []byte
			err  error
		}
		onMessages := make(chan reply, 1)
		go func() { // gw.post would call t.Fatal off the test's goroutine
			resp, err := http.Post(gw.url("/v1/messages"), "application/json", bytes.NewReader(messages("dead-model")))
			if err != nil {
				onMessages <- reply{err: err}
				return
			}
			defer resp.Body.Close()
			out, err := io.ReadAll(resp.Body)
			onMessages <- reply{resp, out, err}
		}()
		resp, out := gw.post(t, "/v1/chat/completions", chat("dead-model"))
		assertLocalOpenAIError(t, resp, out, 504, "processing_timeout")
		m := <-onMessages
		if m.err != nil {
			t.Fatal(m.err)
		}
		assertAnthropicError(t, m.resp, m.body, 504, "timeout_error")
	})

	t.Run("ext_proc down", func(t *testing.T) {
		gw.stopExtProc()
		check(t, "/v1/chat/completions", "dead-model", 503, "service_unavailable")
		check(t, "/v1/messages", "dead-model", 503, "api_error")
	})
}

// allThreadsStopped reports whether every thread of process pid is in
// the stopped state (Linux /proc).
func allThreadsStopped(pid int) bool {
	stats, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(stats) == 0 {
		return false
	}
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			return false
		}
		// "pid (comm) S ...": the state follows the last ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) || b[i+2] != 'T' {
			return false
		}
	}
	return true
}
