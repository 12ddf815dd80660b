package e2e

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/internal/bigcatalog"
	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

// A provider connection cut mid-stream must never look like a clean
// answer: either a 502 (cut before headers reached the client) or a
// stream error.
func TestProviderConnectionCut(t *testing.T) {
	s := newChatSetup(t)
	s.anthropic.Handle("POST", "/v1/messages", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("anthropic", "text_stream")), CutAfterEvents: 4})
	stream := s.client.Chat.Completions.NewStreaming(ctxT(t), userParams("claude-test", "x"))
	finished := false
	for stream.Next() {
		if len(stream.Current().Choices) > 0 && stream.Current().Choices[0].FinishReason == "stop" {
			finished = true
		}
	}
	err := stream.Err()
	var apiErr *openai.Error
	switch {
	case errors.As(err, &apiErr):
		if apiErr.StatusCode != 502 || apiErr.Code == "" {
			t.Fatalf("error = %v (code %q)", err, apiErr.Code)
		}
	case err == nil:
		t.Fatalf("a cut stream ended cleanly (finished=%v)", finished)
	}
}

const demoModels = `providers:
  - name: up
    schema: openai
    base_url: %s/v1
models:
  - name: first
    providers: [{provider: up, model: m1}]
`

func TestExtProcDownGives503(t *testing.T) {
	up := fakeprovider.New(t)
	up.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat"))})
	gw := startGateway(t, fmt.Sprintf(demoModels, up.URL()))
	body := []byte(`{"model":"first","messages":[{"role":"user","content":"hi"}]}`)
	if resp, out := gw.post(t, "/v1/chat/completions", body); resp.StatusCode != 200 {
		t.Fatalf("before: %d %s", resp.StatusCode, out)
	}

	gw.stopExtProc()
	start := time.Now()
	resp, out := gw.post(t, "/v1/chat/completions", body)
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("503 took %v: the client hung", took)
	}
	assertOpenAIError(t, resp, out, 503, "service_unavailable")
	// The model list needs no processing and keeps working.
	if r, err := http.Get(gw.url("/v1/models")); err != nil || r.StatusCode != 200 {
		t.Fatalf("models while ext_proc is down: %v %v", r, err)
	}

	gw.startExtProc()
	waitFor(t, 10*time.Second, func() bool {
		r, _ := gw.post(t, "/v1/chat/completions", body)
		return r.StatusCode == 200
	})
}

func TestHotReload(t *testing.T) {
	up := fakeprovider.New(t)
	up.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat"))})
	gw := startGateway(t, fmt.Sprintf(demoModels, up.URL()))
	second := []byte(`{"model":"second","messages":[{"role":"user","content":"hi"}]}`)
	if r, _ := gw.post(t, "/v1/chat/completions", second); r.StatusCode != 404 {
		t.Fatalf("second before reload: %d", r.StatusCode)
	}

	t.Run("model added is live within a second", func(t *testing.T) {
		start := time.Now()
		gw.writeConfig(fmt.Sprintf(demoModels+`  - name: second
    providers: [{provider: up, model: m2}]
`, up.URL()))
		waitFor(t, 5*time.Second, func() bool {
			r, _ := gw.post(t, "/v1/chat/completions", second)
			return r.StatusCode == 200 && modelsList(t, gw) == "first,second"
		})
		took := time.Since(start)
		t.Logf("config change live in Envoy and ext_proc after %v", took)
		if took > time.Second {
			t.Fatalf("reload took %v, want under 1s", took)
		}
		if m := gjson.GetBytes(lastRequest(t, up).Body, "model").Str; m != "m2" {
			t.Fatalf("provider got model %q", m)
		}
	})

	t.Run("bad config is rejected and the old one keeps serving", func(t *testing.T) {
		gw.writeConfig(fmt.Sprintf(`providers:
  - name: up
    schema: openai
    base_url: %s/v1
models:
  - name: first
    providers: [{provider: antropic}]
`, up.URL()))
		waitFor(t, 5*time.Second, func() bool {
			return strings.Contains(gw.xds.log.String(), "config rejected") && strings.Contains(gw.extproc.log.String(), "config rejected")
		})
		if !strings.Contains(gw.xds.log.String(), `unknown provider`) {
			t.Fatalf("rejection log does not say why:\n%s", tail(gw.xds.log.String(), 2000))
		}
		if r, out := gw.post(t, "/v1/chat/completions", second); r.StatusCode != 200 {
			t.Fatalf("old config stopped serving: %d %s", r.StatusCode, out)
		}
		if got := modelsList(t, gw); got != "first,second" {
			t.Fatalf("models after bad push = %s", got)
		}
		gw.writeRawConfig("listener: [not: a map")
		waitFor(t, 5*time.Second, func() bool { return strings.Count(gw.xds.log.String(), "config rejected") >= 2 })
		if r, _ := gw.post(t, "/v1/chat/completions", second); r.StatusCode != 200 {
			t.Fatalf("old config stopped serving after a YAML error: %d", r.StatusCode)
		}
	})
}

func modelsList(t *testing.T, gw *gateway) string {
	r, err := http.Get(gw.url("/v1/models"))
	if err != nil {
		return ""
	}
	defer r.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := r.Body.Read(buf)
		b.WriteString(string(buf[:n]))
		if err != nil {
			break
		}
	}
	var ids []string
	for _, id := range gjson.Get(b.String(), "data.#.id").Array() {
		ids = append(ids, id.Str)
	}
	return strings.Join(ids, ",")
}

// waitFor polls cond: the processes under test are separate, with nothing
// to signal on, so polling with a deadline is the honest wait.
func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestValidateCommand(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, config string
		ok           bool
		want         []string
	}{
		{"example config", "", true, []string{"ok (2 providers, 3 models)", "accepts the resources"}},
		// Envoy rejected this one's routes (its model list is over Envoy's
		// default 4 KiB direct response limit) while validate said ok:
		// validate now asks Envoy too.
		{"20 richly described models", bigcatalog.Spec{Models: 20, PerModel: 3, Providers: 3, BaseURL: "http://127.0.0.1:9/v1"}.YAML(), true, []string{
			"cfg.yaml: Envoy (" + envoyBin + ") accepts the resources", "ok (3 providers, 20 models)",
		}},
		{"every problem with its line", `listener:
  port: 70000
providers:
  - name: a
    schema: openai
    base_url: http://127.0.0.1:1/v1
models:
  - name: m
    providers:
      - provider: antropic
`, false, []string{
			"cfg.yaml:2: listener.port \"70000\": must be between 1 and 65535",
			"cfg.yaml:10: models[0].providers[0].provider \"antropic\": unknown provider (known: a)",
		}},
		{"unknown field", "listnr: {}\n", false, []string{`cfg.yaml:1: unknown field "listnr"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := "../examples/switchboard.yaml"
			if tc.config != "" {
				path = filepath.Join(dir, "cfg.yaml")
				if err := os.WriteFile(path, []byte(tc.config), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(switchboardBin, "validate", "--config", path)
			cmd.Env = append(os.Environ(), "OPENAI_API_KEY=", "ANTHROPIC_API_KEY=", "ENVOY_BIN="+envoyBin)
			out, err := cmd.CombinedOutput()
			if (err == nil) != tc.ok {
				t.Fatalf("exit err = %v, output:\n%s", err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Fatalf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestProviderUnreachable(t *testing.T) {
	dead := fmt.Sprintf("http://127.0.0.1:%d", freePort(t)) // nothing listens there
	gw := startGateway(t, fmt.Sprintf(demoModels, dead))
	start := time.Now()
	resp, out := gw.post(t, "/v1/chat/completions", []byte(`{"model":"first","messages":[{"role":"user","content":"hi"}]}`))
	assertOpenAIError(t, resp, out, 503, "provider_unreachable")
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("took %v", took)
	}
}

// SWITCHBOARD_PORT moves the listener without editing the config.
func TestPortFromEnvironment(t *testing.T) {
	up := fakeprovider.New(t)
	up.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat"))})
	port := freePort(t)
	gw := startGateway(t, fmt.Sprintf(demoModels, up.URL()), fmt.Sprintf("SWITCHBOARD_PORT=%d", port))
	if gw.port != port {
		t.Fatalf("harness port %d, want %d", gw.port, port)
	}
	if r, out := gw.post(t, "/v1/chat/completions", []byte(`{"model":"first","messages":[{"role":"user","content":"hi"}]}`)); r.StatusCode != 200 {
		t.Fatalf("status %d on the overridden port: %s", r.StatusCode, out)
	}
}

// A whole answer over the processing limit (by content-length) passes
// through untranslated when it is already in the client's schema.
// TestLargeWholeResponse: multi-megabyte answers are read and translated
// whole, with or without a content-length, and a huge error page becomes a
// short OpenAI error. (Envoy 1.40 used to segfault on these; see
// extProcBufferLimit in xds.) Envoy must survive each one: the next request
// is served.
func TestLargeWholeResponse(t *testing.T) {
	content := strings.Repeat("word ", 4<<20) // 20 MiB
	openAI := fmt.Sprintf(`{"id":"chatcmpl-big","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":%q},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1048576,"total_tokens":1048577}}`, content)
	anthropic := fmt.Sprintf(`{"id":"msg_big","type":"message","role":"assistant","model":"claude","content":[{"type":"text","text":%q}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1048576}}`, content)
	errorPage := "<html><body>" + strings.Repeat("<p>upstream trouble</p>", 1<<20) + "</body></html>" // 23 MiB
	serve := func(status int, contentType, body string, chunked bool) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("content-type", contentType)
			if !chunked {
				w.Header().Set("content-length", fmt.Sprint(len(body)))
			}
			w.WriteHeader(status)
			for b := body; len(b) > 0; {
				n := min(len(b), 256<<10)
				_, _ = io.WriteString(w, b[:n])
				w.(http.Flusher).Flush()
				b = b[n:]
			}
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	cfg := fmt.Sprintf(`providers:
  - {name: oa, schema: openai, base_url: %s/v1}
  - {name: oa-chunked, schema: openai, base_url: %s/v1}
  - {name: an, schema: anthropic, base_url: %s/v1, api_key: {env: SB_TEST_KEY}}
  - {name: broken, schema: openai, base_url: %s/v1}
models:
  - {name: openai-big, providers: [{provider: oa, model: m}]}
  - {name: openai-chunked, providers: [{provider: oa-chunked, model: m}]}
  - {name: anthropic-big, providers: [{provider: an, model: claude}]}
  - {name: error-page, providers: [{provider: broken, model: m}]}
`, serve(200, "application/json", openAI, false), serve(200, "application/json", openAI, true),
		serve(200, "application/json", anthropic, false), serve(500, "text/html", errorPage, true))
	gw := startGateway(t, cfg, "SB_TEST_KEY=k")
	for _, model := range []string{"openai-big", "openai-chunked", "anthropic-big"} {
		resp, body := gw.post(t, "/v1/chat/completions", []byte(`{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`))
		r := gjson.ParseBytes(body)
		if resp.StatusCode != 200 || r.Get("choices.0.message.content").Str != content {
			t.Fatalf("%s: status %d, %d bytes: %.300s", model, resp.StatusCode, len(body), body)
		}
		// Read and translated by the upstream hop, not passed through.
		if r.Get("object").Str != "chat.completion" || r.Get("provider").Str == "" || r.Get("usage.completion_tokens").Int() != 1048576 {
			t.Errorf("%s: object %q, provider %q, usage %s", model, r.Get("object").Str, r.Get("provider").Str, r.Get("usage").Raw)
		}
	}
	resp, body := gw.post(t, "/v1/chat/completions", []byte(`{"model":"error-page","messages":[{"role":"user","content":"hi"}]}`))
	assertOpenAIError(t, resp, body, 502, "upstream_error")
	if len(body) > 4<<10 {
		t.Errorf("error answer is %d bytes; want a short OpenAI error", len(body))
	}
	if resp, body := gw.post(t, "/v1/chat/completions", []byte(`{"model":"openai-big","messages":[{"role":"user","content":"hi"}]}`)); resp.StatusCode != 200 {
		t.Fatalf("after the large answers: %d %.300s", resp.StatusCode, body)
	}
}
