package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

// Streams that stall end with the gateway's error chunk and [DONE]
// (timeouts.stream_idle), and slow streams get SSE keep-alive comments
// (timeouts.stream_keepalive): the stream hop, xds/stall.go and
// extproc/stall.go.

type streamEndSetup struct {
	gw                *gateway
	openai, anthropic *fakeprovider.Server
}

func newStreamEndSetup(t *testing.T, idle, keepalive string) *streamEndSetup {
	s := &streamEndSetup{openai: fakeprovider.New(t), anthropic: fakeprovider.New(t)}
	s.gw = startGateway(t, fmt.Sprintf(`timeouts:
  connect: 2s
  request: 60s
  idle: 30s
  stream_idle: %s
  stream_keepalive: %s
providers:
  - {name: fake-openai, schema: openai, base_url: %s/v1, api_key: {env: E2E_OPENAI_KEY}}
  - {name: fake-anthropic, schema: anthropic, base_url: %s, api_key: {env: E2E_ANTHROPIC_KEY}}
models:
  - {name: gpt-test, providers: [{provider: fake-openai, model: gpt-4.1-mini-2025-04-14}]}
  - {name: claude-test, providers: [{provider: fake-anthropic, model: claude-sonnet-4-5-20250929}]}
`, idle, keepalive, s.openai.URL(), s.anthropic.URL()), "E2E_OPENAI_KEY="+openAIKey, "E2E_ANTHROPIC_KEY="+anthropicKey)
	return s
}

// postStream posts a stream request and reads the whole answer; a reset
// or truncated chunked body fails the test (the point is a clean end).
func postStream(t *testing.T, gw *gateway, path, model string) (time.Duration, []byte) {
	t.Helper()
	body := `{"model":"` + model + `","stream":true,"max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`
	start := time.Now()
	resp, out := gw.post(t, path, []byte(body))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %.300s", resp.StatusCode, out)
	}
	return time.Since(start), out
}

func wantErrorChunkThenDone(t *testing.T, body []byte, code string) {
	t.Helper()
	data := sseData(body)
	if len(data) < 3 || data[len(data)-1] != "[DONE]" {
		t.Fatalf("stream does not end with [DONE]: %q", body)
	}
	last := data[len(data)-2]
	if gjson.Get(last, "choices.0.finish_reason").Str != "error" || gjson.Get(last, "error.code").Str != code || gjson.Get(last, "error.message").Str == "" {
		t.Fatalf("last chunk is not the %s error chunk: %s", code, last)
	}
	if gjson.Get(last, "id").Str == "" || gjson.Get(last, "id").Str != gjson.Get(data[0], "id").Str {
		t.Fatalf("error chunk id %q, stream's %q", gjson.Get(last, "id").Str, gjson.Get(data[0], "id").Str)
	}
	if gjson.Get(data[1], "choices.0.delta.content").Str == "" && gjson.Get(data[0], "choices.0.delta.content").Str == "" {
		t.Fatalf("the chunks before the stall were lost: %q", body)
	}
}

// TestStalledStreamEndsWithErrorChunk: a provider that stops sending
// mid-stream (connection open) ends the client's stream after
// timeouts.stream_idle with an error chunk and [DONE], a clean end of
// the HTTP body, and the provider's request is cancelled. Before, the
// client waited for timeouts.idle and got a reset.
func TestStalledStreamEndsWithErrorChunk(t *testing.T) {
	s := newStreamEndSetup(t, "600ms", "0s")
	t.Run("openai on chat", func(t *testing.T) {
		s.openai.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat_stream")), HangAfterEvents: 3})
		took, body := postStream(t, s.gw, "/v1/chat/completions", "gpt-test")
		wantErrorChunkThenDone(t, body, "stream_idle_timeout")
		if took < 500*time.Millisecond || took > 5*time.Second {
			t.Fatalf("stream ended after %v, want about stream_idle (600ms)", took)
		}
		if _, err := s.openai.WaitFinished(ctxT(t), 1); err != nil {
			t.Fatalf("the provider's stream was not ended: %v", err)
		}
	})
	t.Run("anthropic on chat", func(t *testing.T) {
		s.anthropic.Handle("POST", "/v1/messages", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("anthropic", "text_stream")), HangAfterEvents: 4})
		_, body := postStream(t, s.gw, "/v1/chat/completions", "claude-test")
		wantErrorChunkThenDone(t, body, "stream_idle_timeout")
	})
	t.Run("anthropic on messages", func(t *testing.T) {
		s.anthropic.Handle("POST", "/v1/messages", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("anthropic", "text_stream")), HangAfterEvents: 4})
		_, body := postStream(t, s.gw, "/v1/messages", "claude-test")
		events := strings.Split(strings.TrimSpace(string(body)), "\n\n")
		last := events[len(events)-1]
		if !strings.HasPrefix(last, "event: error\ndata: ") || gjson.Get(strings.TrimPrefix(last, "event: error\ndata: "), "error.type").Str != "timeout_error" {
			t.Fatalf("last event is not an Anthropic error: %q", last)
		}
		if !strings.Contains(string(body), "event: content_block_delta") {
			t.Fatalf("the events before the stall were lost: %q", body)
		}
	})
	t.Run("openai-go sees the error", func(t *testing.T) {
		s.openai.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat_stream")), HangAfterEvents: 3})
		client := openai.NewClient(option.WithBaseURL(s.gw.url("/v1/")), option.WithAPIKey(clientKey), option.WithMaxRetries(0))
		stream := client.Chat.Completions.NewStreaming(ctxT(t), userParams("gpt-test", "x"))
		chunks := 0
		for stream.Next() {
			chunks++
		}
		if chunks == 0 || stream.Err() == nil || !strings.Contains(stream.Err().Error(), "stream_idle_timeout") && !strings.Contains(stream.Err().Error(), "sent nothing") {
			t.Fatalf("got %d chunks and err %v: want chunks, then the gateway's error", chunks, stream.Err())
		}
	})
	t.Run("a stream that keeps going is untouched", func(t *testing.T) {
		tr := fakeprovider.MustLoad(t, transcript("openai", "chat_stream"))
		s.openai.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: tr})
		_, body := postStream(t, s.gw, "/v1/chat/completions", "gpt-test")
		want := len(sseData(body))
		s.openai.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: tr, PauseAfterEvents: 2, Pause: 300 * time.Millisecond})
		_, body = postStream(t, s.gw, "/v1/chat/completions", "gpt-test")
		data := sseData(body)
		if len(data) != want || data[len(data)-1] != "[DONE]" || strings.Contains(string(body), `"finish_reason":"error"`) {
			t.Fatalf("got %d events (want %d), ending %q", len(data), want, data[len(data)-1])
		}
	})
}

// TestStreamKeepAlive: while a stream pauses (a model thinking), the
// client gets ": keep-alive" SSE comments every timeouts.stream_keepalive;
// the answer is otherwise unchanged, and openai-go reads it as usual.
func TestStreamKeepAlive(t *testing.T) {
	s := newStreamEndSetup(t, "5s", "200ms")
	tr := fakeprovider.MustLoad(t, transcript("openai", "chat_stream"))
	s.openai.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: tr})
	_, plain := postStream(t, s.gw, "/v1/chat/completions", "gpt-test")
	if bytes.Contains(plain, []byte(": keep-alive")) {
		t.Fatalf("keep-alive comments in a stream that never paused: %q", plain)
	}
	want := len(sseData(plain))
	s.openai.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: tr, PauseAfterEvents: 1, Pause: 1100 * time.Millisecond})

	// Plain HTTP: the comments are on the wire, between whole events.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.gw.url("/v1/chat/completions"),
		strings.NewReader(`{"model":"gpt-test","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	n := bytes.Count(body, []byte("\n: keep-alive\n\n"))
	if n < 3 || n > 7 {
		t.Fatalf("%d keep-alive comments in a 1.1 s pause at 200 ms, want about 5: %q", n, body)
	}
	data := sseData(body)
	if len(data) != want || data[len(data)-1] != "[DONE]" {
		t.Fatalf("got %d events (want %d): %q", len(data), want, body)
	}

	client := openai.NewClient(option.WithBaseURL(s.gw.url("/v1/")), option.WithAPIKey(clientKey), option.WithMaxRetries(0))
	stream := client.Chat.Completions.NewStreaming(ctxT(t), userParams("gpt-test", "x"))
	var text strings.Builder
	for stream.Next() {
		if c := stream.Current(); len(c.Choices) > 0 {
			text.WriteString(c.Choices[0].Delta.Content)
		}
	}
	if stream.Err() != nil || text.Len() == 0 {
		t.Fatalf("openai-go: err %v, text %q", stream.Err(), text.String())
	}
}

// TestFastStreamThroughStreamHop: streams at full speed through the
// stream hop (FULL_DUPLEX_STREAMED has no ext_proc flow control): a
// 20 MiB stream and 20 concurrent 1 MB streams arrive whole, and Envoy
// stays up.
func TestFastStreamThroughStreamHop(t *testing.T) {
	s := newStreamEndSetup(t, "5s", "1s")
	flood := func(count int) {
		s.openai.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{
			Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat_stream")), Flood: floodChunk, FloodCount: count})
	}
	run := func() []string {
		_, body := postStream(t, s.gw, "/v1/chat/completions", "gpt-test")
		return sseData(body)
	}
	want := func(got []string, n int) error {
		if len(got) == 0 || len(got) != n || got[len(got)-1] != "[DONE]" {
			return fmt.Errorf("client got %d events, want %d ending in [DONE]", len(got), n)
		}
		return nil
	}
	flood(0)
	base := len(run())
	n := 20 << 20 / len(floodChunk)
	flood(n)
	if err := want(run(), base+n); err != nil {
		t.Fatal(err)
	}
	assertEnvoyUp(t, s.gw)

	n = 1_000_000 / len(floodChunk)
	flood(n)
	errs := make(chan error, 20)
	for range 20 {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.gw.url("/v1/chat/completions"),
				strings.NewReader(`{"model":"gpt-test","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				errs <- err
				return
			}
			errs <- want(sseData(b), base+n)
		}()
	}
	for range 20 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	assertEnvoyUp(t, s.gw)
}

// TestStreamHopLeavesOtherAnswers: with the stream hop on, whole answers
// and errors are untouched (the hop answers their headers and is gone).
func TestStreamHopLeavesOtherAnswers(t *testing.T) {
	s := newStreamEndSetup(t, "300ms", "100ms")
	s.openai.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat")), DelayFirstByte: 500 * time.Millisecond})
	resp, body := s.gw.post(t, "/v1/chat/completions", []byte(`{"model":"gpt-test","messages":[{"role":"user","content":"hi"}]}`))
	if resp.StatusCode != 200 || gjson.GetBytes(body, "choices.0.message.content").Str == "" {
		t.Fatalf("whole answer: status %d: %.300s", resp.StatusCode, body)
	}
	s.openai.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "error_429"))})
	resp, body = s.gw.post(t, "/v1/chat/completions", []byte(`{"model":"gpt-test","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	if resp.StatusCode != 429 || gjson.GetBytes(body, "error.message").Str == "" {
		t.Fatalf("error: status %d: %.300s", resp.StatusCode, body)
	}
}
