package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

// Providers that write faster than the gateway translates: a stream or a
// whole answer already generated, sent at full speed. Envoy 1.40 used to
// segfault on these while the upstream hop (a filter on the provider
// cluster) translated answer bodies: it held chunks after the provider's
// HTTP/1 stream had finished (or been reset), and the next flow-control
// watermark made the router readDisable that stream. The router hop now
// translates them; see docs/operations.md#failure-modes. Each test checks
// what the client got and that Envoy is still up.

// floodChunk is one OpenAI content chunk of about 250 bytes.
var floodChunk = []byte(`data: {"id":"chatcmpl-flood","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"` +
	strings.Repeat("token ", 30) + `"},"finish_reason":null}]}` + "\n\n")

// floodGateway serves model "fast" from an OpenAI-schema fake.
func floodGateway(t *testing.T) (*gateway, *fakeprovider.Server) {
	up := fakeprovider.New(t)
	gw := startGateway(t, fmt.Sprintf(`providers:
  - {name: up, schema: openai, base_url: %s/v1}
  - {name: an, schema: anthropic, base_url: %s, api_key: {env: SB_TEST_KEY}}
models:
  - {name: fast, providers: [{provider: up, model: m}]}
  - {name: fast-anthropic, providers: [{provider: an, model: claude}]}
  - {name: fast-embed, type: embeddings, providers: [{provider: up, model: m}]}
`, up.URL(), up.URL()), "SB_TEST_KEY=k")
	if floodBase == 0 {
		floodBase = len(streamFlood(t, gw, up, 0))
	}
	return gw, up
}

// assertEnvoyUp fails the test if Envoy died, and checks it still serves.
func assertEnvoyUp(t *testing.T, gw *gateway) {
	t.Helper()
	select {
	case <-gw.envoy.done:
		if f := os.Getenv("E2E_CRASH_LOG"); f != "" {
			_ = os.WriteFile(f, []byte(gw.envoy.log.String()), 0o644)
		}
		t.Fatalf("envoy exited: %s", firstCrashLine(gw.envoy.log.String()))
	case <-time.After(200 * time.Millisecond):
	}
	r, err := http.Get(gw.url("/v1/models"))
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("envoy no longer answers: %v %v", r, err)
	}
	r.Body.Close()
}

func firstCrashLine(log string) string {
	if i := strings.Index(log, "Caught"); i >= 0 {
		return firstLine(log[i:])
	}
	return tail(log, 500)
}

// streamFlood asks for a stream of count flood chunks and returns the
// data payloads the client received.
func streamFlood(t *testing.T, gw *gateway, up *fakeprovider.Server, count int) []string {
	t.Helper()
	up.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{
		Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat_stream")), Flood: floodChunk, FloodCount: count})
	resp, body := gw.post(t, "/v1/chat/completions", []byte(`{"model":"fast","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %.300s", resp.StatusCode, body)
	}
	return sseData(body)
}

// floodBase is the number of events the client gets from the unflooded
// transcript.
var floodBase int

func wantFloodStream(t *testing.T, got []string, count int) {
	t.Helper()
	base := floodBase
	if len(got) != base+count || got[len(got)-1] != "[DONE]" {
		t.Fatalf("client got %d events (last %.80q), want %d ending in [DONE]", len(got), got[len(got)-1], base+count)
	}
	for _, d := range got[:len(got)-1] {
		if gjson.Get(d, "provider").Str != "up" {
			t.Fatalf("an event was not translated: %.200s", d)
		}
	}
}

func TestFastStream20MiB(t *testing.T) {
	gw, up := floodGateway(t)
	n := 20 << 20 / len(floodChunk)
	wantFloodStream(t, streamFlood(t, gw, up, n), n)
	assertEnvoyUp(t, gw)
}

func TestFastStream5MB(t *testing.T) {
	gw, up := floodGateway(t)
	n := 5_000_000 / len(floodChunk)
	wantFloodStream(t, streamFlood(t, gw, up, n), n)
	assertEnvoyUp(t, gw)
}

// TestFastStreamsConcurrent: 50 fast 1 MB streams at once.
func TestFastStreamsConcurrent(t *testing.T) {
	gw, up := floodGateway(t)
	n := 1_000_000 / len(floodChunk)
	up.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{
		Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat_stream")), Flood: floodChunk, FloodCount: n})
	var wg sync.WaitGroup
	results := make([][]string, 50)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, gw.url("/v1/chat/completions"),
				strings.NewReader(`{"model":"fast","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			results[i] = sseData(b)
		}()
	}
	wg.Wait()
	assertEnvoyUp(t, gw)
	for _, got := range results {
		if len(got) == 0 {
			t.Fatal("a stream got no events")
		}
		wantFloodStream(t, got, n)
	}
}

// TestEndlessFastStreamCanceled: the client leaves an endless fast stream
// after 8 MB; Envoy stays up and serves the next stream.
// (Envoy 1.40 crashed here on the cancel: the upstream hop's chunk queue
// was over its watermark, and clearing it after the router had reset the
// provider stream called readDisable on none.)
func TestEndlessFastStreamCanceled(t *testing.T) {
	gw, up := floodGateway(t)
	up.Enqueue("POST", "/v1/chat/completions", fakeprovider.Reply{
		Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat_stream")), Flood: floodChunk, FloodCount: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, gw.url("/v1/chat/completions"),
		strings.NewReader(`{"model":"fast","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.CopyN(io.Discard, resp.Body, 8<<20)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("read %d bytes of the endless stream: %v", n, err)
	}
	cancel()
	if _, err := up.WaitFinished(ctxT(t), 1); err != nil {
		t.Fatal(err)
	}
	assertEnvoyUp(t, gw)
	n5 := 5_000_000 / len(floodChunk)
	wantFloodStream(t, streamFlood(t, gw, up, n5), n5)
}

// TestHugeWholeAnswer: a 100 MiB answer with a content-length, over the
// hop's 64 MiB reading limit, at full speed. In OpenAI's schema it passes
// through, on chat and on embeddings; in another schema it is a clear 502.
func TestHugeWholeAnswer(t *testing.T) {
	gw, up := floodGateway(t)
	big := func(prefix, suffix string) *fakeprovider.Transcript {
		var b bytes.Buffer
		b.WriteString(prefix)
		for b.Len() < 100<<20 {
			b.WriteString("word ")
		}
		b.WriteString(suffix)
		return &fakeprovider.Transcript{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: b.Bytes()}
	}
	chat := big(`{"id":"chatcmpl-big","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"`,
		`"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`)
	emb := big(`{"object":"list","data":[{"object":"embedding","index":0,"embedding":[],"pad":"`,
		`"}],"model":"m","usage":{"prompt_tokens":1,"total_tokens":1}}`)
	up.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: chat})
	up.Handle("POST", "/v1/embeddings", fakeprovider.Reply{Transcript: emb})
	up.Handle("POST", "/v1/messages", fakeprovider.Reply{Transcript: chat})
	for _, c := range []struct {
		path, body string
		want       *fakeprovider.Transcript
	}{
		{"/v1/chat/completions", `{"model":"fast","messages":[{"role":"user","content":"hi"}]}`, chat},
		{"/v1/embeddings", `{"model":"fast-embed","input":"hi"}`, emb},
	} {
		resp, body := gw.post(t, c.path, []byte(c.body))
		if resp.StatusCode != 200 || !bytes.Equal(body, c.want.Body) {
			t.Fatalf("%s: status %d, %d bytes (want the %d bytes passed through): %.200s", c.path, resp.StatusCode, len(body), len(c.want.Body), body)
		}
		assertEnvoyUp(t, gw)
	}
	resp, body := gw.post(t, "/v1/chat/completions", []byte(`{"model":"fast-anthropic","messages":[{"role":"user","content":"hi"}]}`))
	assertOpenAIError(t, resp, body, 502, "upstream_response_too_large")
	assertEnvoyUp(t, gw)
}
