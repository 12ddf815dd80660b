// Package demo is a built-in LLM provider that needs no API key. It speaks
// the OpenAI Chat Completions and Anthropic Messages wire formats, answers
// with deterministic text, and is served as an ordinary upstream behind
// Envoy so the gateway can be tried out offline.
package demo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"
)

// maxBodyBytes bounds a request body; the demo never needs more.
const maxBodyBytes = 64 << 20 // as large as the gateway default limit, so long contexts pass

// maxEcho is how many characters of the user's text the reply repeats.
const maxEcho = 200

// modelIDs are the models GET /v1/models lists. Requests may name any model:
// the reply echoes it.
var modelIDs = []string{"switchboard-demo", "switchboard-demo-small", "switchboard-demo-image"}

// ModelIDs returns the model ids the demo provider lists.
func ModelIDs() []string { return append([]string(nil), modelIDs...) }

// Options tunes the demo provider.
type Options struct {
	// ChunkDelay is the pause between two streamed events, to make
	// streaming visible to a human. Default 0: no pause.
	ChunkDelay time.Duration
	// Now is the clock for "created" timestamps. Default time.Now.
	Now func() time.Time
}

// NewHandler returns the demo provider with default options.
func NewHandler(log *zap.Logger) http.Handler {
	return NewHandlerWithOptions(log, Options{})
}

// NewHandlerWithOptions returns the demo provider.
func NewHandlerWithOptions(log *zap.Logger, opts Options) http.Handler {
	if log == nil {
		log = zap.NewNop()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	h := &handler{log: log.Named("demo"), opts: opts}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", h.chatCompletions)
	mux.HandleFunc("POST /v1/messages", h.messages)
	mux.HandleFunc("GET /v1/models", h.models)
	mux.HandleFunc("POST /v1/images/generations", h.imagesGenerations)
	mux.HandleFunc("POST /v1/images/edits", h.imagesEdits)
	mux.HandleFunc("GET /search", h.search)
	return mux
}

type handler struct {
	log  *zap.Logger
	opts Options
}

// ReplyText is the full answer to a prompt whose last user text is
// userText, before any max_tokens cut.
func ReplyText(userText string) string {
	said := strings.Join(strings.Fields(userText), " ")
	if said == "" {
		return "Hello from the Switchboard demo provider. You said nothing."
	}
	if utf8.RuneCountInString(said) > maxEcho {
		said = strings.TrimSpace(string([]rune(said)[:maxEcho]))
	}
	return "Hello from the Switchboard demo provider. You said: " + said + "."
}

// completion is one answer, split the way it is streamed.
type completion struct {
	// pieces are the words, each after the first with its leading space,
	// so that joining them gives the text.
	pieces       []string
	truncated    bool // cut by max_tokens
	promptTokens int
}

func complete(userText string, promptTokens, maxTokens int) completion {
	return completeFrom(ReplyText(userText), promptTokens, maxTokens)
}

// completeFrom splits a reply into its streamed words.
func completeFrom(reply string, promptTokens, maxTokens int) completion {
	words := strings.Fields(reply)
	c := completion{promptTokens: promptTokens}
	if maxTokens > 0 && len(words) > maxTokens {
		words, c.truncated = words[:maxTokens], true
	}
	c.pieces = make([]string, len(words))
	for i, w := range words {
		if i > 0 {
			w = " " + w
		}
		c.pieces[i] = w
	}
	return c
}

func (c completion) text() string { return strings.Join(c.pieces, "") }

// outputTokens counts one token per word: crude, but stable.
func (c completion) outputTokens() int { return len(c.pieces) }

// countWords is the demo's tokenizer.
func countWords(s string) int { return len(strings.Fields(s)) }

// contentText extracts the text of a message content that is either a
// string or an array of blocks ({"type":"text","text":...}), as both
// schemas allow. Other blocks (images, tool results) are ignored.
func contentText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var blocks []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &blocks) != nil {
		return ""
	}
	var parts []string
	for _, b := range blocks {
		if b.Type == "text" {
			parts = append(parts, b.Text)
		}
	}
	return strings.Join(parts, " ")
}

// responseID derives an id from the request body, so the same request
// always gets the same answer, id included.
func responseID(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:12])
}

// readBody reads a size-limited request body. tooLarge tells the caller to
// answer 413 rather than 400.
func readBody(w http.ResponseWriter, r *http.Request) (body []byte, tooLarge bool, err error) {
	body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	var mbe *http.MaxBytesError
	return body, errors.As(err, &mbe), err
}

// pause waits ChunkDelay between streamed events, or returns early when
// the client has gone.
func (h *handler) pause(ctx context.Context) error {
	if h.opts.ChunkDelay <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(h.opts.ChunkDelay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// sseWriter writes server-sent events, flushing each so the client sees
// it at once.
type sseWriter struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	buf []byte
}

func newSSEWriter(w http.ResponseWriter) *sseWriter {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	return &sseWriter{w: w, rc: http.NewResponseController(w)}
}

// event writes one event; name is omitted when empty (OpenAI style).
func (s *sseWriter) event(name string, data []byte) error {
	s.buf = s.buf[:0]
	if name != "" {
		s.buf = append(s.buf, "event: "...)
		s.buf = append(s.buf, name...)
		s.buf = append(s.buf, '\n')
	}
	s.buf = append(s.buf, "data: "...)
	s.buf = append(s.buf, data...)
	s.buf = append(s.buf, "\n\n"...)
	if _, err := s.w.Write(s.buf); err != nil {
		return err
	}
	return s.rc.Flush()
}

// writeJSON writes v as the whole response body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own types are marshaled; this is a programming error.
		http.Error(w, "demo: marshal response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// mustMarshal marshals the demo's own event types, which cannot fail.
func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("demo: marshal event: " + err.Error())
	}
	return b
}

func (h *handler) models(w http.ResponseWriter, r *http.Request) {
	// Anthropic clients send anthropic-version; give them their own shape.
	if r.Header.Get("anthropic-version") != "" {
		type model struct {
			Type        string `json:"type"`
			ID          string `json:"id"`
			DisplayName string `json:"display_name"`
			CreatedAt   string `json:"created_at"`
		}
		out := struct {
			Data    []model `json:"data"`
			HasMore bool    `json:"has_more"`
			FirstID string  `json:"first_id"`
			LastID  string  `json:"last_id"`
		}{FirstID: modelIDs[0], LastID: modelIDs[len(modelIDs)-1]}
		for _, id := range modelIDs {
			out.Data = append(out.Data, model{Type: "model", ID: id, DisplayName: id, CreatedAt: "2025-01-01T00:00:00Z"})
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	out := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{Object: "list"}
	for _, id := range modelIDs {
		out.Data = append(out.Data, model{ID: id, Object: "model", Created: 1735689600, OwnedBy: "switchboard"})
	}
	writeJSON(w, http.StatusOK, out)
}
