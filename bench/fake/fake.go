// Package fake is the benchmark's provider: a tiny HTTP server that answers
// every chat request with the same fixed response, in the OpenAI or the
// Anthropic schema and in each schema's real SSE framing when the request
// asks for a stream. Responses are rendered once at start-up, so the hot
// path only reads the request and writes prepared bytes; nothing is logged.
package fake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options shape the fixed response.
type Options struct {
	// Chunks is the number of content chunks in a stream; a whole response
	// carries the same text in one message. Default 20.
	Chunks int
	// ChunkText is the text of one chunk. Default "hello ".
	ChunkText string
	// Interval is the pause before each content chunk of a stream; the
	// first event (role / message_start) is sent at once. Default 0.
	Interval time.Duration
}

func (o Options) withDefaults() Options {
	if o.Chunks <= 0 {
		o.Chunks = 20
	}
	if o.ChunkText == "" {
		o.ChunkText = "hello "
	}
	return o
}

// responses holds every body the server sends, rendered once.
type responses struct {
	openAIJSON, anthropicJSON []byte
	// A stream is head, then Chunks times chunk (each after Interval), then tail.
	openAIHead, openAIChunk, openAITail []byte
	// openAIEnd closes a stream; openAIUsageEnd adds the usage chunk
	// first, as OpenAI does when stream_options.include_usage is set.
	openAIEnd, openAIUsageEnd                    []byte
	anthropicHead, anthropicChunk, anthropicTail []byte
}

func render(o Options) responses {
	text := strings.Repeat(o.ChunkText, o.Chunks)
	words := o.Chunks
	var r responses
	r.openAIJSON = mustJSON(map[string]any{
		"id": "chatcmpl-bench", "object": "chat.completion", "created": 1762869912, "model": "bench-1",
		"choices": []any{map[string]any{
			"index": 0, "logprobs": nil, "finish_reason": "stop",
			"message": map[string]any{"role": "assistant", "content": text, "refusal": nil},
		}},
		"usage": map[string]any{"prompt_tokens": 12, "completion_tokens": words, "total_tokens": 12 + words},
	})
	r.anthropicJSON = mustJSON(map[string]any{
		"id": "msg_bench", "type": "message", "role": "assistant", "model": "claude-bench-1",
		"content":     []any{map[string]any{"type": "text", "text": text}},
		"stop_reason": "end_turn", "stop_sequence": nil,
		"usage": map[string]any{"input_tokens": 12, "output_tokens": words},
	})

	chunk := func(delta map[string]any, finish any) []byte {
		return sse("", map[string]any{
			"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1762869950, "model": "bench-1",
			"choices": []any{map[string]any{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish}},
		})
	}
	r.openAIHead = chunk(map[string]any{"role": "assistant", "content": ""}, nil)
	r.openAIChunk = chunk(map[string]any{"content": o.ChunkText}, nil)
	r.openAITail = chunk(map[string]any{}, "stop")
	r.openAIEnd = []byte("data: [DONE]\n\n")
	r.openAIUsageEnd = append(sse("", map[string]any{
		"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1762869950, "model": "bench-1",
		"choices": []any{}, "usage": map[string]any{"prompt_tokens": 12, "completion_tokens": words, "total_tokens": 12 + words},
	}), r.openAIEnd...)

	r.anthropicHead = append(sse("message_start", map[string]any{"type": "message_start", "message": map[string]any{
		"id": "msg_bench", "type": "message", "role": "assistant", "model": "claude-bench-1", "content": []any{},
		"stop_reason": nil, "stop_sequence": nil, "usage": map[string]any{"input_tokens": 12, "output_tokens": 1},
	}}), sse("content_block_start", map[string]any{"type": "content_block_start", "index": 0,
		"content_block": map[string]any{"type": "text", "text": ""}})...)
	r.anthropicChunk = sse("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0,
		"delta": map[string]any{"type": "text_delta", "text": o.ChunkText}})
	r.anthropicTail = bytes.Join([][]byte{
		sse("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0}),
		sse("message_delta", map[string]any{"type": "message_delta",
			"delta": map[string]any{"stop_reason": "end_turn", "stop_sequence": nil},
			"usage": map[string]any{"output_tokens": words}}),
		sse("message_stop", map[string]any{"type": "message_stop"}),
	}, nil)
	return r
}

func sse(event string, v any) []byte {
	var b bytes.Buffer
	if event != "" {
		b.WriteString("event: " + event + "\n")
	}
	b.WriteString("data: ")
	b.Write(mustJSON(v))
	b.WriteString("\n\n")
	return b.Bytes()
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // static values only
	}
	return b
}

// Handler answers POST .../chat/completions (OpenAI) and POST .../messages
// or .../models/M:rawPredict and :streamRawPredict (Anthropic), streamed
// when the body holds "stream":true.
type Handler struct {
	opts Options
	r    responses
	bufs sync.Pool
}

// NewHandler renders the responses for o.
func NewHandler(o Options) *Handler {
	o = o.withDefaults()
	return &Handler{opts: o, r: render(o), bufs: sync.Pool{New: func() any { return new(bytes.Buffer) }}}
}

// The flags are found as bytes, not by parsing; Python clients (LiteLLM)
// write JSON with a space after the colon.
var (
	streamTrue, streamTrueSpaced = []byte(`"stream":true`), []byte(`"stream": true`)
	usageTrue, usageTrueSpaced   = []byte(`"include_usage":true`), []byte(`"include_usage": true`)
)

func (h *Handler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method == http.MethodGet && req.URL.Path == "/healthz" {
		w.WriteHeader(http.StatusOK)
		return
	}
	// Claude on Vertex AI (:rawPredict, :streamRawPredict) takes the
	// Messages body and answers in the Messages schema too; Envoy AI
	// Gateway translates OpenAI requests to that, not to /v1/messages.
	anthropic := strings.HasSuffix(req.URL.Path, "/messages") || strings.HasSuffix(req.URL.Path, ":rawPredict") ||
		strings.HasSuffix(req.URL.Path, ":streamRawPredict")
	if req.Method != http.MethodPost || !anthropic && !strings.HasSuffix(req.URL.Path, "/chat/completions") {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	buf := h.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	_, err := buf.ReadFrom(req.Body)
	stream := bytes.Contains(buf.Bytes(), streamTrue) || bytes.Contains(buf.Bytes(), streamTrueSpaced)
	usage := bytes.Contains(buf.Bytes(), usageTrue) || bytes.Contains(buf.Bytes(), usageTrueSpaced)
	h.bufs.Put(buf)
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	if !stream {
		body := h.r.openAIJSON
		if anthropic {
			body = h.r.anthropicJSON
		}
		w.Header()["Content-Type"] = []string{"application/json"}
		w.Header()["Content-Length"] = []string{strconv.Itoa(len(body))}
		_, _ = w.Write(body)
		return
	}
	if anthropic {
		h.stream(req.Context(), w, h.r.anthropicHead, h.r.anthropicChunk, h.r.anthropicTail, nil)
		return
	}
	end := h.r.openAIEnd
	if usage {
		end = h.r.openAIUsageEnd
	}
	h.stream(req.Context(), w, h.r.openAIHead, h.r.openAIChunk, h.r.openAITail, end)
}

// stream writes head, the chunks at the configured pace, then tail and end.
func (h *Handler) stream(ctx context.Context, w http.ResponseWriter, head, chunk, tail, end []byte) {
	w.Header()["Content-Type"] = []string{"text/event-stream; charset=utf-8"}
	w.Header()["Cache-Control"] = []string{"no-cache"}
	flusher, _ := w.(http.Flusher)
	write := func(b []byte) bool {
		if _, err := w.Write(b); err != nil {
			return false
		}
		if flusher != nil {
			flusher.Flush()
		}
		return true
	}
	if !write(head) {
		return
	}
	var timer *time.Timer
	if h.opts.Interval > 0 {
		timer = time.NewTimer(h.opts.Interval)
		defer timer.Stop()
	}
	for i := 0; i < h.opts.Chunks; i++ {
		if timer != nil {
			if i > 0 {
				timer.Reset(h.opts.Interval)
			}
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		}
		if !write(chunk) {
			return
		}
	}
	if write(tail) && len(end) > 0 {
		write(end)
	}
}

// Serve runs the handler on l until ctx ends.
func Serve(ctx context.Context, l net.Listener, o Options) error {
	srv := &http.Server{
		Handler:           NewHandler(o),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
