package target

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	dmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/dynamic_modules/v3"
	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/xds"
)

// TestModuleFloorConfig: the in-process floor is the baseline with the
// dynamic-module filter before the router, loading the module by the
// name its library has, never unloaded (Go cannot be).
func TestModuleFloorConfig(t *testing.T) {
	var text bytes.Buffer
	if err := baselineTmpl.Execute(&text, map[string]int{"Port": 9300, "Admin": 9301, "Module": 1, "Upstream": 9302}); err != nil {
		t.Fatal(err)
	}
	l := parseBootstrap(t, text.Bytes()).GetStaticResources().GetListeners()[0]
	f := httpFilter[*dmv3.DynamicModuleFilter](t, l, "envoy.filters.http.dynamic_modules")
	if c := f.GetDynamicModuleConfig(); c.GetName() != moduleName || !c.GetDoNotClose() {
		t.Errorf("module config %v, want %s, do_not_close", c, moduleName)
	}
	if bytes.Contains(text.Bytes(), []byte("ext_proc")) {
		t.Error("the in-process floor has an ext_proc filter")
	}
}

// TestModuleFloor builds the Go module and runs it in a real Envoy:
// Envoy loads it (an Envoy that cannot exits at start), at the ABI
// version it was built for. A pass-through request crosses it both ways
// unchanged; a translated one reaches the fake as an Anthropic Messages
// request, and its answer, whole or streamed, comes back as a chat
// completion.
func TestModuleFloor(t *testing.T) {
	envoy := testEnvoy(t)
	dir := t.TempDir()
	so := filepath.Join(dir, "lib"+moduleName+".so")
	build := exec.Command("go", "build", "-buildmode=c-shared", "-o", so, "../peers/modfloor")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the module: %v\n%s", err, out)
	}
	type seen struct{ path, key, body string }
	var (
		mu  sync.Mutex
		got []seen
	)
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, seen{r.URL.Path, r.Header.Get("x-api-key"), string(b)})
		mu.Unlock()
		stream := gjson.GetBytes(b, "stream").Bool()
		switch {
		case r.URL.Path == "/v1/messages" && !stream:
			w.Header().Set("content-type", "application/json")
			_, _ = io.WriteString(w, anthropicAnswer)
		case r.URL.Path == "/v1/messages":
			w.Header().Set("content-type", "text/event-stream")
			for _, ev := range strings.SplitAfter(anthropicStream, "\n\n") {
				_, _ = io.WriteString(w, ev)
				w.(http.Flusher).Flush()
			}
		default:
			w.Header().Set("content-type", "text/event-stream")
			for _, ev := range []string{"data: 1\n\n", "data: 2\n\n", "data: [DONE]\n\n"} {
				_, _ = io.WriteString(w, ev)
				w.(http.Flusher).Flush()
			}
		}
	}))
	defer fake.Close()
	port := fake.Listener.Addr().(*net.TCPAddr).Port

	st, err := StartModuleFloor(Env{Dir: dir, Envoy: envoy, Concurrency: 1, ModuleFloor: so}, port)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Stop()
	post := func(body string) string {
		t.Helper()
		resp, err := http.Post(st.URL("/v1/chat/completions"), "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, out)
		}
		return string(out)
	}
	last := func() seen {
		mu.Lock()
		defer mu.Unlock()
		return got[len(got)-1]
	}

	body := `{"model":"` + ModelOpenAI + `","messages":[{"role":"user","content":"` + strings.Repeat("x", 200<<10) + `"}]}`
	if out := post(body); out != "data: 1\n\ndata: 2\n\ndata: [DONE]\n\n" {
		t.Errorf("pass-through: %q, want the fake's stream unchanged", out)
	}
	if s := last(); s.path != "/v1/chat/completions" || s.body != body {
		t.Errorf("pass-through: the fake got %s with %d bytes; want the body unchanged", s.path, len(s.body))
	}

	out := post(`{"model":"` + ModelAnthropic + `","messages":[{"role":"user","content":"hi"}]}`)
	if gjson.Get(out, "object").Str != "chat.completion" || gjson.Get(out, "choices.0.message.content").Str != "hi there" ||
		gjson.Get(out, "usage.total_tokens").Int() != 5 {
		t.Errorf("translated whole answer: %s", out)
	}
	if s := last(); s.path != "/v1/messages" || s.key != "bench-key" || gjson.Get(s.body, "model").Str != upstreamModel || gjson.Get(s.body, "max_tokens").Int() == 0 {
		t.Errorf("translated request: the fake got %s (key %q) %s", s.path, s.key, s.body)
	}
	out = post(`{"model":"` + ModelAnthropic + `","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if !strings.Contains(out, `"content":"hi there"`) || !strings.HasSuffix(out, "data: [DONE]\n\n") || !strings.Contains(out, "chat.completion.chunk") {
		t.Errorf("translated stream: %q", out)
	}
	if logs := st.Logs(); strings.Contains(logs, "deprecated") || strings.Contains(strings.ToLower(logs), "error") {
		t.Errorf("Envoy log: %s", logs)
	}
}

// upstreamModel is the model the module asks the fake's Anthropic
// endpoint for (bench/peers/modfloor).
const upstreamModel = "claude-bench-1"

const anthropicAnswer = `{"id":"msg_1","type":"message","role":"assistant","model":"claude-bench-1","content":[{"type":"text","text":"hi there"}],"stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":2}}`

const anthropicStream = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-bench-1\",\"content\":[],\"usage\":{\"input_tokens\":3,\"output_tokens\":0}}}\n\n" +
	"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi there\"}}\n\n" +
	"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n" +
	"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":2}}\n\n" +
	"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"

// testEnvoy is a real Envoy binary (ENVOY_BIN, set by the Makefile, or
// the Makefile's install folder); the test fails without one.
func testEnvoy(t *testing.T) string {
	t.Helper()
	bin, err := xds.FindEnvoy("")
	if err != nil {
		t.Fatalf("ENVOY_BIN: %v", err)
	}
	if bin == "" {
		if p, err := filepath.Abs("../../.tools/envoy-1.40.0/envoy"); err == nil {
			if _, err := os.Stat(p); err == nil {
				bin = p
			}
		}
	}
	if bin == "" {
		t.Fatal("no Envoy binary: run `make envoy` or set ENVOY_BIN; this test is never skipped")
	}
	return bin
}
