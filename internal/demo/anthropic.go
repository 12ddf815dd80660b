package demo

import (
	"encoding/json"
	"net/http"

	"go.uber.org/zap"
)

type messagesRequest struct {
	Model     string             `json:"model"`
	Messages  []anthropicMessage `json:"messages"`
	System    json.RawMessage    `json:"system"`
	MaxTokens *int               `json:"max_tokens"`
	Stream    bool               `json:"stream"`
}

type anthropicMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

type anthropicUsage struct {
	InputTokens  int `json:"input_tokens"`
	OutputTokens int `json:"output_tokens"`
}

type textBlock struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type anthropicMessageOut struct {
	ID           string          `json:"id"`
	Type         string          `json:"type"`
	Role         string          `json:"role"`
	Model        string          `json:"model"`
	Content      []textBlock     `json:"content"`
	StopReason   *string         `json:"stop_reason"`
	StopSequence json.RawMessage `json:"stop_sequence"`
	Usage        anthropicUsage  `json:"usage"`
}

type messageDelta struct {
	Type  string      `json:"type"`
	Delta stopDelta   `json:"delta"`
	Usage outputUsage `json:"usage"`
}

type stopDelta struct {
	StopReason   string          `json:"stop_reason"`
	StopSequence json.RawMessage `json:"stop_sequence"`
}

type outputUsage struct {
	OutputTokens int `json:"output_tokens"`
}

type typeOnly struct {
	Type string `json:"type"`
}

// anthropicError writes {"type":"error","error":{"type","message"}}.
func anthropicError(w http.ResponseWriter, status int, typ, msg string) {
	type detail struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}
	writeJSON(w, status, struct {
		Type  string `json:"type"`
		Error detail `json:"error"`
	}{"error", detail{typ, msg}})
}

func (h *handler) messages(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("anthropic-version") == "" {
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "anthropic-version: header is required")
		return
	}
	raw, tooLarge, err := readBody(w, r)
	switch {
	case tooLarge:
		anthropicError(w, http.StatusRequestEntityTooLarge, "request_too_large", "Request exceeds the maximum allowed number of bytes.")
		return
	case err != nil:
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "could not read the request body: "+err.Error())
		return
	}
	var req messagesRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "There was an error parsing the body of your request: "+err.Error())
		return
	}
	// The real API requires all three; failing the same way here catches a
	// translator that forgets one before it meets the real provider.
	switch {
	case req.Model == "":
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "model: Field required")
		return
	case req.Messages == nil:
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "messages: Field required")
		return
	case req.MaxTokens == nil:
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "max_tokens: Field required")
		return
	case *req.MaxTokens < 1:
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "max_tokens: Input should be greater than or equal to 1")
		return
	}

	var userText string
	prompt := countWords(contentText(req.System))
	for _, m := range req.Messages {
		text := contentText(m.Content)
		prompt += countWords(text)
		if m.Role == "user" {
			userText = text
		}
	}
	c := complete(userText, prompt, *req.MaxTokens)
	stop := "end_turn"
	if c.truncated {
		stop = "max_tokens"
	}
	id := "msg_demo" + responseID(raw)
	w.Header().Set("request-id", "req_demo"+responseID(raw))
	h.log.Debug("message", zap.String("model", req.Model), zap.Bool("stream", req.Stream), zap.Int("output_tokens", c.outputTokens()))

	if !req.Stream {
		writeJSON(w, http.StatusOK, anthropicMessageOut{
			ID: id, Type: "message", Role: "assistant", Model: req.Model,
			Content:      []textBlock{{Type: "text", Text: c.text()}},
			StopReason:   &stop,
			StopSequence: jsonNull,
			Usage:        anthropicUsage{InputTokens: c.promptTokens, OutputTokens: c.outputTokens()},
		})
		return
	}

	type namedEvent struct {
		name string
		data []byte
	}
	events := make([]namedEvent, 0, len(c.pieces)+6)
	add := func(name string, v any) { events = append(events, namedEvent{name, mustMarshal(v)}) }
	// message_start carries output_tokens 1 like the real API; the final
	// count comes in message_delta.
	add("message_start", struct {
		Type    string              `json:"type"`
		Message anthropicMessageOut `json:"message"`
	}{"message_start", anthropicMessageOut{
		ID: id, Type: "message", Role: "assistant", Model: req.Model,
		Content: []textBlock{}, StopSequence: jsonNull,
		Usage: anthropicUsage{InputTokens: c.promptTokens, OutputTokens: 1},
	}})
	add("content_block_start", struct {
		Type         string    `json:"type"`
		Index        int       `json:"index"`
		ContentBlock textBlock `json:"content_block"`
	}{"content_block_start", 0, textBlock{Type: "text", Text: ""}})
	add("ping", typeOnly{"ping"})
	for _, p := range c.pieces {
		add("content_block_delta", struct {
			Type  string    `json:"type"`
			Index int       `json:"index"`
			Delta textBlock `json:"delta"`
		}{"content_block_delta", 0, textBlock{Type: "text_delta", Text: p}})
	}
	add("content_block_stop", struct {
		Type  string `json:"type"`
		Index int    `json:"index"`
	}{"content_block_stop", 0})
	add("message_delta", messageDelta{
		Type:  "message_delta",
		Delta: stopDelta{StopReason: stop, StopSequence: jsonNull},
		Usage: outputUsage{OutputTokens: c.outputTokens()},
	})
	add("message_stop", typeOnly{"message_stop"})

	sse := newSSEWriter(w)
	for i, ev := range events {
		if i > 0 {
			if err := h.pause(r.Context()); err != nil {
				h.log.Debug("stream ended by client", zap.Error(err))
				return
			}
		}
		if err := sse.event(ev.name, ev.data); err != nil {
			h.log.Debug("stream write failed", zap.Error(err))
			return
		}
	}
}
