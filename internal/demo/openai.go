package demo

import (
	"encoding/json"
	"net/http"
	"strings"

	"go.uber.org/zap"
)

type chatRequest struct {
	Model         string        `json:"model"`
	Messages      []chatMessage `json:"messages"`
	Stream        bool          `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	MaxTokens           *int `json:"max_tokens"`
	MaxCompletionTokens *int `json:"max_completion_tokens"`
	Tools               []struct {
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	} `json:"tools"`
}

// searchTool is the tool the demo model calls, once per turn: the
// gateway's web search loop offers it for Anthropic's web_search server
// tool, so `make run` shows the tool form with no key.
const searchTool = "web_search"

// wantsSearch reports whether the demo model calls web_search: the tool
// is offered and the turn has not had its results yet.
func (r chatRequest) wantsSearch() bool {
	if len(r.Messages) == 0 || r.Messages[len(r.Messages)-1].Role != "user" {
		return false
	}
	for _, t := range r.Tools {
		if t.Function.Name == searchTool {
			return true
		}
	}
	return false
}

type chatToolCall struct {
	Index    *int   `json:"index,omitempty"`
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

func searchCall(id, query string, index *int) chatToolCall {
	c := chatToolCall{Index: index, ID: id, Type: "function"}
	c.Function.Name = searchTool
	c.Function.Arguments = string(mustMarshal(map[string]string{"query": query}))
	return c
}

type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

type chatUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

type chatCompletion struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []chatChoice `json:"choices"`
	Usage   chatUsage    `json:"usage"`
}

type chatChoice struct {
	Index        int             `json:"index"`
	Message      chatReply       `json:"message"`
	Logprobs     json.RawMessage `json:"logprobs"`
	FinishReason string          `json:"finish_reason"`
}

type chatReply struct {
	Role      string          `json:"role"`
	Content   *string         `json:"content"`
	Refusal   json.RawMessage `json:"refusal"`
	ToolCalls []chatToolCall  `json:"tool_calls,omitempty"`
}

type chatChunk struct {
	ID      string            `json:"id"`
	Object  string            `json:"object"`
	Created int64             `json:"created"`
	Model   string            `json:"model"`
	Choices []chatChunkChoice `json:"choices"`
	// Usage is left out when the client did not ask for usage; with
	// include_usage, chatChunkUsageNull writes it, null until the last chunk.
	Usage *chatUsage `json:"usage,omitempty"`
}

// chatChunkUsageNull is chatChunk with a usage field that is always
// written, null included.
type chatChunkUsageNull struct {
	ID      string            `json:"id"`
	Object  string            `json:"object"`
	Created int64             `json:"created"`
	Model   string            `json:"model"`
	Choices []chatChunkChoice `json:"choices"`
	Usage   *chatUsage        `json:"usage"`
}

type chatChunkChoice struct {
	Index        int             `json:"index"`
	Delta        chatDelta       `json:"delta"`
	Logprobs     json.RawMessage `json:"logprobs"`
	FinishReason *string         `json:"finish_reason"`
}

type chatDelta struct {
	Role      string         `json:"role,omitempty"`
	Content   *string        `json:"content,omitempty"`
	ToolCalls []chatToolCall `json:"tool_calls,omitempty"`
}

var jsonNull = json.RawMessage("null")

// openAIError writes {"error":{"message","type","param","code"}}.
func openAIError(w http.ResponseWriter, status int, typ, param, msg string) {
	type body struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	}
	b := body{Message: msg, Type: typ}
	if param != "" {
		b.Param = &param
	}
	writeJSON(w, status, struct {
		Error body `json:"error"`
	}{b})
}

func (h *handler) chatCompletions(w http.ResponseWriter, r *http.Request) {
	raw, tooLarge, err := readBody(w, r)
	switch {
	case tooLarge:
		openAIError(w, http.StatusRequestEntityTooLarge, "invalid_request_error", "", "request body too large")
		return
	case err != nil:
		openAIError(w, http.StatusBadRequest, "invalid_request_error", "", "could not read the request body: "+err.Error())
		return
	}
	var req chatRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		openAIError(w, http.StatusBadRequest, "invalid_request_error", "", "We could not parse the JSON body of your request: "+err.Error())
		return
	}
	maxTokens := req.MaxTokens
	if req.MaxCompletionTokens != nil {
		maxTokens = req.MaxCompletionTokens
	}
	switch {
	case req.Model == "":
		openAIError(w, http.StatusBadRequest, "invalid_request_error", "model", "you must provide a model parameter")
		return
	case req.Messages == nil:
		openAIError(w, http.StatusBadRequest, "invalid_request_error", "messages", "Missing required parameter: 'messages'.")
		return
	case maxTokens != nil && *maxTokens < 1:
		openAIError(w, http.StatusBadRequest, "invalid_request_error", "max_tokens", "Invalid 'max_tokens': integer below minimum value. Expected a value >= 1.")
		return
	}

	var userText, results string
	prompt := 0
	for _, m := range req.Messages {
		text := contentText(m.Content)
		prompt += countWords(text)
		switch m.Role {
		case "user":
			userText, results = text, ""
		case "tool":
			results = text
		}
	}
	limit := 0
	if maxTokens != nil {
		limit = *maxTokens
	}
	c := complete(userText, prompt, limit)
	if results != "" {
		c = completeFrom(searchedText(results), prompt, limit)
	}
	finish := "stop"
	if c.truncated {
		finish = "length"
	}
	var calls []chatToolCall
	if req.wantsSearch() {
		c = completion{promptTokens: prompt}
		calls, finish = []chatToolCall{searchCall("call_demo"+responseID(raw), userText, nil)}, "tool_calls"
	}
	usage := chatUsage{PromptTokens: c.promptTokens, CompletionTokens: c.outputTokens(), TotalTokens: c.promptTokens + c.outputTokens()}
	id := "chatcmpl-demo" + responseID(raw)
	created := h.opts.Now().Unix()
	w.Header().Set("x-request-id", "req_demo"+responseID(raw))
	h.log.Debug("chat completion", zap.String("model", req.Model), zap.Bool("stream", req.Stream), zap.Int("output_tokens", c.outputTokens()))

	if !req.Stream {
		writeJSON(w, http.StatusOK, chatCompletion{
			ID: id, Object: "chat.completion", Created: created, Model: req.Model,
			Choices: []chatChoice{{
				Message:      chatReply{Role: "assistant", Content: textOrNull(c.text(), calls), Refusal: jsonNull, ToolCalls: calls},
				Logprobs:     jsonNull,
				FinishReason: finish,
			}},
			Usage: usage,
		})
		return
	}

	includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	chunk := func(delta chatDelta, finish *string) []byte {
		ch := chatChunk{
			ID: id, Object: "chat.completion.chunk", Created: created, Model: req.Model,
			Choices: []chatChunkChoice{{Delta: delta, Logprobs: jsonNull, FinishReason: finish}},
		}
		if includeUsage {
			return mustMarshal(chatChunkUsageNull(ch))
		}
		return mustMarshal(ch)
	}
	empty := ""
	events := make([][]byte, 0, len(c.pieces)+4)
	events = append(events, chunk(chatDelta{Role: "assistant", Content: &empty}, nil))
	for i := range c.pieces {
		events = append(events, chunk(chatDelta{Content: &c.pieces[i]}, nil))
	}
	if len(calls) > 0 {
		zero := 0
		events = append(events, chunk(chatDelta{ToolCalls: []chatToolCall{searchCall(calls[0].ID, userText, &zero)}}, nil))
	}
	events = append(events, chunk(chatDelta{}, &finish))
	if includeUsage {
		events = append(events, mustMarshal(chatChunkUsageNull{
			ID: id, Object: "chat.completion.chunk", Created: created, Model: req.Model,
			Choices: []chatChunkChoice{}, Usage: &usage,
		}))
	}
	events = append(events, []byte("[DONE]"))

	sse := newSSEWriter(w)
	for i, ev := range events {
		if i > 0 {
			if err := h.pause(r.Context()); err != nil {
				h.log.Debug("stream ended by client", zap.Error(err))
				return
			}
		}
		if err := sse.event("", ev); err != nil {
			h.log.Debug("stream write failed", zap.Error(err))
			return
		}
	}
}

func textOrNull(text string, calls []chatToolCall) *string {
	if text == "" && len(calls) > 0 {
		return nil
	}
	return &text
}

// searchedText is the demo's answer after a search: the first result's
// line, as the loop numbered it ("[1] Title (URL) ...").
func searchedText(results string) string {
	first, _, _ := strings.Cut(strings.TrimSpace(results), "\n")
	if len(first) > 200 {
		first = first[:200]
	}
	return "Hello from the Switchboard demo provider. The web search found: " + first
}
