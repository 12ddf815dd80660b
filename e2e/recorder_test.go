package e2e

// A recording model server for the real clients (issue 11): it keeps
// every request a client sends (method, path, headers, body) and answers
// in the client's own wire format just enough for a turn, so tests can
// see exactly what Claude Code and the Codex CLI put on the wire.
//
//   - POST /v1/messages (Anthropic Messages; SSE when "stream": true, else
//     one JSON message), /v1/messages/count_tokens, GET /v1/models.
//   - POST /v1/responses (OpenAI Responses, SSE), GET /v1/models.
//
// A turn answers text, or, when the recorder has a tool call set and the
// request offers that tool and carries no tool result yet, a tool call;
// once the client sends the tool's result back, a text that quotes it.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
)

// recordedRequest is one request as the client sent it. Headers hold
// credentials redacted; the raw values are in credentials.
type recordedRequest struct {
	Method  string              `json:"method"`
	Path    string              `json:"path"`
	Headers map[string][]string `json:"headers"`
	Body    json.RawMessage     `json:"body,omitempty"`

	credentials map[string]string
}

// toolCall is what the recorder asks the client to run.
type toolCall struct {
	Name  string
	Input map[string]any
}

type recorder struct {
	t    testing.TB
	srv  *http.Server
	addr string
	// Text is the answer to a plain turn; the answer after a tool result
	// is "tool said: " and the result's text.
	text string
	tool *toolCall

	mu   sync.Mutex
	reqs []recordedRequest
	n    int
}

// startRecorder serves on a free loopback port until the test ends.
func startRecorder(t testing.TB, text string, tool *toolCall) *recorder {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{t: t, addr: l.Addr().String(), text: text, tool: tool}
	r.srv = &http.Server{Handler: r}
	go func() { _ = r.srv.Serve(l) }()
	t.Cleanup(func() { _ = r.srv.Close() })
	return r
}

func (r *recorder) url() string { return "http://" + r.addr }

// requests is what was recorded so far.
func (r *recorder) requests() []recordedRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recordedRequest(nil), r.reqs...)
}

// credentialHeader says which headers carry a secret.
func credentialHeader(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "authorization", "proxy-authorization", "x-api-key", "cookie", "api-key", "x-goog-api-key":
		return true
	}
	return strings.Contains(n, "token") || strings.Contains(n, "secret")
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	rec := recordedRequest{Method: req.Method, Path: req.URL.RequestURI(), Headers: map[string][]string{}, credentials: map[string]string{}}
	for k, vs := range req.Header {
		k = strings.ToLower(k)
		if credentialHeader(k) {
			rec.credentials[k] = strings.Join(vs, ", ")
			vs = []string{"REDACTED"}
		}
		rec.Headers[k] = vs
	}
	if len(body) > 0 {
		if json.Valid(body) {
			rec.Body = json.RawMessage(body)
		} else {
			rec.Body, _ = json.Marshal(string(body))
		}
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, rec)
	r.n++
	n := r.n
	r.mu.Unlock()

	path := req.URL.Path
	switch {
	case req.Method == http.MethodPost && path == "/v1/messages":
		r.messages(w, body, n)
	case req.Method == http.MethodPost && path == "/v1/messages/count_tokens":
		writeJSON(w, map[string]any{"input_tokens": 42})
	case req.Method == http.MethodPost && path == "/v1/responses":
		r.responses(w, body, n)
	case req.Method == http.MethodGet && path == "/v1/models":
		if req.Header.Get("anthropic-version") != "" {
			writeJSON(w, map[string]any{"data": []any{map[string]any{"type": "model", "id": "recorder-model", "display_name": "Recorder", "created_at": "2026-01-01T00:00:00Z"}},
				"has_more": false, "first_id": "recorder-model", "last_id": "recorder-model"})
			return
		}
		writeJSON(w, map[string]any{"object": "list", "data": []any{map[string]any{"id": "recorder-model", "object": "model", "created": 1767225600, "owned_by": "recorder"}}})
	default:
		w.Header().Set("content-type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"error":{"type":"not_found_error","message":"recorder: no %s %s"}}`, req.Method, path)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("content-type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// sse writes one event and flushes it.
func sse(w http.ResponseWriter, event string, data any) {
	b, _ := json.Marshal(data)
	fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

// anthropicTurn reads what a Messages request needs answering: the
// offered tool names and the text of a tool_result in the last message.
type anthropicTurn struct {
	Model    string                  `json:"model"`
	Stream   bool                    `json:"stream"`
	Tools    []struct{ Name string } `json:"tools"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
}

func (r *recorder) messages(w http.ResponseWriter, body []byte, n int) {
	var in anthropicTurn
	if err := json.Unmarshal(body, &in); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	result, hasResult := "", false
	if len(in.Messages) > 0 {
		var blocks []struct {
			Type    string          `json:"type"`
			Content json.RawMessage `json:"content"`
		}
		_ = json.Unmarshal(in.Messages[len(in.Messages)-1].Content, &blocks)
		for _, b := range blocks {
			if b.Type == "tool_result" {
				hasResult, result = true, blockText(b.Content)
			}
		}
	}
	offered := false
	for _, tl := range in.Tools {
		if r.tool != nil && tl.Name == r.tool.Name {
			offered = true
		}
	}
	id := fmt.Sprintf("msg_recorder_%d", n)
	usage := map[string]any{"input_tokens": 25, "output_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
	var block map[string]any
	var delta map[string]any
	stop := "end_turn"
	switch {
	case hasResult:
		text := "tool said: " + strings.TrimSpace(result)
		block, delta = map[string]any{"type": "text", "text": ""}, map[string]any{"type": "text_delta", "text": text}
	case offered:
		input, _ := json.Marshal(r.tool.Input)
		block = map[string]any{"type": "tool_use", "id": fmt.Sprintf("toolu_recorder_%d", n), "name": r.tool.Name, "input": map[string]any{}}
		delta = map[string]any{"type": "input_json_delta", "partial_json": string(input)}
		stop = "tool_use"
	default:
		block, delta = map[string]any{"type": "text", "text": ""}, map[string]any{"type": "text_delta", "text": r.text}
	}
	if !in.Stream {
		full := map[string]any{}
		for k, v := range block {
			full[k] = v
		}
		if stop == "tool_use" {
			full["input"] = r.tool.Input
		} else {
			full["text"] = delta["text"]
		}
		usage["output_tokens"] = 5
		writeJSON(w, map[string]any{"id": id, "type": "message", "role": "assistant", "model": in.Model,
			"content": []any{full}, "stop_reason": stop, "stop_sequence": nil, "usage": usage})
		return
	}
	w.Header().Set("content-type", "text/event-stream")
	w.Header().Set("cache-control", "no-cache")
	w.Header().Set("request-id", "req_recorder_"+fmt.Sprint(n))
	sse(w, "message_start", map[string]any{"type": "message_start", "message": map[string]any{"id": id, "type": "message", "role": "assistant",
		"model": in.Model, "content": []any{}, "stop_reason": nil, "stop_sequence": nil, "usage": usage}})
	sse(w, "content_block_start", map[string]any{"type": "content_block_start", "index": 0, "content_block": block})
	sse(w, "ping", map[string]any{"type": "ping"})
	sse(w, "content_block_delta", map[string]any{"type": "content_block_delta", "index": 0, "delta": delta})
	sse(w, "content_block_stop", map[string]any{"type": "content_block_stop", "index": 0})
	sse(w, "message_delta", map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": stop, "stop_sequence": nil},
		"usage": map[string]any{"output_tokens": 5}})
	sse(w, "message_stop", map[string]any{"type": "message_stop"})
}

// blockText is a tool_result's content as text (a string or text blocks).
func blockText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var blocks []struct {
		Text string `json:"text"`
	}
	_ = json.Unmarshal(raw, &blocks)
	var b strings.Builder
	for _, bl := range blocks {
		b.WriteString(bl.Text)
	}
	return b.String()
}

// responsesTurn reads what a Responses request needs answering.
type responsesTurn struct {
	Model string `json:"model"`
	Tools []struct {
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"tools"`
	Input json.RawMessage `json:"input"`
}

func (r *recorder) responses(w http.ResponseWriter, body []byte, n int) {
	var in responsesTurn
	if err := json.Unmarshal(body, &in); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var items []struct {
		Type   string          `json:"type"`
		Output json.RawMessage `json:"output"`
	}
	_ = json.Unmarshal(in.Input, &items)
	result, hasResult := "", false
	for _, it := range items {
		if it.Type == "function_call_output" || it.Type == "custom_tool_call_output" {
			hasResult, result = true, responsesOutputText(it.Output)
		}
	}
	offered := false
	for _, tl := range in.Tools {
		if r.tool != nil && tl.Name == r.tool.Name {
			offered = true
		}
	}
	respID := fmt.Sprintf("resp_recorder_%d", n)
	seq := 0
	emit := func(typ string, fields map[string]any) {
		fields["type"] = typ
		fields["sequence_number"] = seq
		seq++
		sse(w, typ, fields)
	}
	response := func(status string, output []any) map[string]any {
		m := map[string]any{"id": respID, "object": "response", "created_at": 1767225600, "status": status, "model": in.Model, "output": output}
		if status == "completed" {
			m["usage"] = map[string]any{"input_tokens": 25, "input_tokens_details": map[string]any{"cached_tokens": 0},
				"output_tokens": 5, "output_tokens_details": map[string]any{"reasoning_tokens": 0}, "total_tokens": 30}
		}
		return m
	}
	w.Header().Set("content-type", "text/event-stream")
	w.Header().Set("cache-control", "no-cache")
	w.Header().Set("x-request-id", "req_recorder_"+fmt.Sprint(n))
	emit("response.created", map[string]any{"response": response("in_progress", []any{})})
	emit("response.in_progress", map[string]any{"response": response("in_progress", []any{})})
	var item map[string]any
	if offered && !hasResult {
		args, _ := json.Marshal(r.tool.Input)
		item = map[string]any{"id": fmt.Sprintf("fc_recorder_%d", n), "type": "function_call", "status": "in_progress",
			"call_id": fmt.Sprintf("call_recorder_%d", n), "name": r.tool.Name, "arguments": ""}
		emit("response.output_item.added", map[string]any{"output_index": 0, "item": item})
		emit("response.function_call_arguments.delta", map[string]any{"item_id": item["id"], "output_index": 0, "delta": string(args)})
		emit("response.function_call_arguments.done", map[string]any{"item_id": item["id"], "output_index": 0, "arguments": string(args)})
		item["arguments"], item["status"] = string(args), "completed"
	} else {
		text := r.text
		if hasResult {
			text = "tool said: " + strings.TrimSpace(result)
		}
		itemID := fmt.Sprintf("msg_recorder_%d", n)
		item = map[string]any{"id": itemID, "type": "message", "status": "in_progress", "role": "assistant", "content": []any{}}
		emit("response.output_item.added", map[string]any{"output_index": 0, "item": item})
		part := map[string]any{"type": "output_text", "text": "", "annotations": []any{}}
		emit("response.content_part.added", map[string]any{"item_id": itemID, "output_index": 0, "content_index": 0, "part": part})
		emit("response.output_text.delta", map[string]any{"item_id": itemID, "output_index": 0, "content_index": 0, "delta": text})
		emit("response.output_text.done", map[string]any{"item_id": itemID, "output_index": 0, "content_index": 0, "text": text})
		done := map[string]any{"type": "output_text", "text": text, "annotations": []any{}}
		emit("response.content_part.done", map[string]any{"item_id": itemID, "output_index": 0, "content_index": 0, "part": done})
		item["content"], item["status"] = []any{done}, "completed"
	}
	emit("response.output_item.done", map[string]any{"output_index": 0, "item": item})
	emit("response.completed", map[string]any{"response": response("completed", []any{item})})
}

// responsesOutputText is a function_call_output's output as text.
func responsesOutputText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return blockText(raw)
}

// fixture renders requests for testdata/clients: indented JSON, bodies
// included, headers sorted by the encoder.
func fixture(reqs []recordedRequest) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(reqs)
	return buf.Bytes()
}

// endpoints lists "METHOD path" (query dropped) of reqs, in order.
func endpoints(reqs []recordedRequest) []string {
	var out []string
	for _, r := range reqs {
		p, _, _ := strings.Cut(r.Path, "?")
		out = append(out, r.Method+" "+p)
	}
	return out
}

// headerValues is the sorted set of comma-separated values of header
// name over reqs (e.g. every anthropic-beta sent).
func headerValues(reqs []recordedRequest, name string) []string {
	set := map[string]bool{}
	for _, r := range reqs {
		for _, v := range r.Headers[name] {
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					set[p] = true
				}
			}
		}
	}
	var out []string
	for v := range set {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}
