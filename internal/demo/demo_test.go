package demo

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
	"go.uber.org/zap"
)

var fixedNow = func() time.Time { return time.Unix(1700000000, 0) }

func newTestHandler() http.Handler {
	return NewHandlerWithOptions(zap.NewNop(), Options{Now: fixedNow})
}

// do runs one request against the handler in process.
func do(t *testing.T, h http.Handler, method, path, body string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

type sseEvent struct {
	name string
	data string
}

// parseSSE splits a body into events and fails on anything that is not
// strict framing: "event:"/"data:" lines, each event ended by a blank line.
func parseSSE(t *testing.T, body string) []sseEvent {
	t.Helper()
	if !strings.HasSuffix(body, "\n\n") {
		t.Fatalf("stream does not end with a blank line: %q", body)
	}
	var events []sseEvent
	for _, block := range strings.Split(strings.TrimSuffix(body, "\n\n"), "\n\n") {
		var ev sseEvent
		for _, line := range strings.Split(block, "\n") {
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			default:
				t.Fatalf("unexpected SSE line %q in event %q", line, block)
			}
		}
		if ev.data == "" {
			t.Fatalf("event without data: %q", block)
		}
		events = append(events, ev)
	}
	return events
}

func TestReplyText(t *testing.T) {
	long := strings.Repeat("é", 250)
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"simple", "hi there", "Hello from the Switchboard demo provider. You said: hi there."},
		{"whitespace collapsed", "  hi\n\tthere ", "Hello from the Switchboard demo provider. You said: hi there."},
		{"empty", "", "Hello from the Switchboard demo provider. You said nothing."},
		{"truncated to 200 characters", long, "Hello from the Switchboard demo provider. You said: " + strings.Repeat("é", 200) + "."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ReplyText(tc.in); got != tc.want {
				t.Errorf("ReplyText(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestChatCompletions(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		wantStatus int
		// success
		wantContent string
		wantFinish  string
		wantUsage   [3]int64 // prompt, completion, total
		// failure
		wantErr string
	}{
		{
			name:        "string content",
			body:        `{"model":"gpt-x","messages":[{"role":"user","content":"hi there"}]}`,
			wantStatus:  200,
			wantContent: "Hello from the Switchboard demo provider. You said: hi there.",
			wantFinish:  "stop",
			wantUsage:   [3]int64{2, 10, 12},
		},
		{
			name: "last user message of several, content parts",
			body: `{"model":"m","messages":[{"role":"system","content":"be nice"},{"role":"user","content":"first"},` +
				`{"role":"assistant","content":null},{"role":"user","content":[{"type":"text","text":"second"},{"type":"image_url","image_url":{"url":"x"}}]}]}`,
			wantStatus:  200,
			wantContent: "Hello from the Switchboard demo provider. You said: second.",
			wantFinish:  "stop",
			wantUsage:   [3]int64{4, 9, 13},
		},
		{
			name:        "max_tokens cuts with length",
			body:        `{"model":"m","max_tokens":3,"messages":[{"role":"user","content":"hi"}]}`,
			wantStatus:  200,
			wantContent: "Hello from the",
			wantFinish:  "length",
			wantUsage:   [3]int64{1, 3, 4},
		},
		{
			name:        "max_completion_tokens wins over max_tokens",
			body:        `{"model":"m","max_tokens":100,"max_completion_tokens":2,"messages":[{"role":"user","content":"hi"}]}`,
			wantStatus:  200,
			wantContent: "Hello from",
			wantFinish:  "length",
			wantUsage:   [3]int64{1, 2, 3},
		},
		{
			name:        "max_tokens equal to the word count is not a cut",
			body:        `{"model":"m","max_tokens":9,"messages":[{"role":"user","content":"hi"}]}`,
			wantStatus:  200,
			wantContent: "Hello from the Switchboard demo provider. You said: hi.",
			wantFinish:  "stop",
			wantUsage:   [3]int64{1, 9, 10},
		},
		{name: "malformed JSON", body: `{"model":`, wantStatus: 400, wantErr: "could not parse the JSON body"},
		{name: "wrong type", body: `{"model":3,"messages":[]}`, wantStatus: 400, wantErr: "could not parse the JSON body"},
		{name: "missing model", body: `{"messages":[]}`, wantStatus: 400, wantErr: "must provide a model"},
		{name: "missing messages", body: `{"model":"m"}`, wantStatus: 400, wantErr: "'messages'"},
		{name: "max_tokens zero", body: `{"model":"m","max_tokens":0,"messages":[]}`, wantStatus: 400, wantErr: "max_tokens"},
	}
	h := newTestHandler()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(t, h, "POST", "/v1/chat/completions", tc.body, nil)
			body := rec.Body.String()
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tc.wantStatus, body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("content-type %q", ct)
			}
			if tc.wantErr != "" {
				if got := gjson.Get(body, "error.type").String(); got != "invalid_request_error" {
					t.Errorf("error.type %q in %s", got, body)
				}
				if got := gjson.Get(body, "error.message").String(); !strings.Contains(got, tc.wantErr) {
					t.Errorf("error.message %q, want it to contain %q", got, tc.wantErr)
				}
				return
			}
			checks := map[string]any{
				"object":                    "chat.completion",
				"model":                     gjson.Get(tc.body, "model").String(),
				"created":                   int64(1700000000),
				"choices.0.message.role":    "assistant",
				"choices.0.message.content": tc.wantContent,
				"choices.0.finish_reason":   tc.wantFinish,
				"usage.prompt_tokens":       tc.wantUsage[0],
				"usage.completion_tokens":   tc.wantUsage[1],
				"usage.total_tokens":        tc.wantUsage[2],
			}
			for path, want := range checks {
				if got := gjson.Get(body, path).Value(); !equalJSON(got, want) {
					t.Errorf("%s = %v, want %v; body %s", path, got, want, body)
				}
			}
			if id := gjson.Get(body, "id").String(); !strings.HasPrefix(id, "chatcmpl-") {
				t.Errorf("id %q", id)
			}
		})
	}
}

// equalJSON compares a gjson value (numbers are float64) with an expectation.
func equalJSON(got, want any) bool {
	if n, ok := want.(int64); ok {
		f, ok := got.(float64)
		return ok && int64(f) == n
	}
	return got == want
}

func TestChatCompletionsStream(t *testing.T) {
	tests := []struct {
		name         string
		body         string
		includeUsage bool
		wantText     string
		wantFinish   string
		wantUsage    [3]int64
	}{
		{
			name:       "without usage",
			body:       `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`,
			wantText:   "Hello from the Switchboard demo provider. You said: hi.",
			wantFinish: "stop",
		},
		{
			name:         "include_usage",
			body:         `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi you"}]}`,
			includeUsage: true,
			wantText:     "Hello from the Switchboard demo provider. You said: hi you.",
			wantFinish:   "stop",
			wantUsage:    [3]int64{2, 10, 12},
		},
		{
			name:       "include_usage false",
			body:       `{"model":"m","stream":true,"stream_options":{"include_usage":false},"messages":[{"role":"user","content":"hi"}]}`,
			wantText:   "Hello from the Switchboard demo provider. You said: hi.",
			wantFinish: "stop",
		},
		{
			name:         "max_tokens with usage",
			body:         `{"model":"m","stream":true,"max_tokens":2,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`,
			includeUsage: true,
			wantText:     "Hello from",
			wantFinish:   "length",
			wantUsage:    [3]int64{1, 2, 3},
		},
	}
	h := newTestHandler()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(t, h, "POST", "/v1/chat/completions", tc.body, nil)
			if rec.Code != 200 {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "text/event-stream" {
				t.Errorf("content-type %q", ct)
			}
			if !rec.Flushed {
				t.Error("stream was never flushed")
			}
			events := parseSSE(t, rec.Body.String())
			if last := events[len(events)-1]; last.data != "[DONE]" || last.name != "" {
				t.Fatalf("last event %+v, want data [DONE]", last)
			}
			chunks := events[:len(events)-1]
			if tc.includeUsage {
				u := chunks[len(chunks)-1].data
				if got := gjson.Get(u, "choices"); !got.IsArray() || len(got.Array()) != 0 {
					t.Errorf("usage chunk choices %s, want []", got.Raw)
				}
				for i, path := range []string{"usage.prompt_tokens", "usage.completion_tokens", "usage.total_tokens"} {
					if got := gjson.Get(u, path).Int(); got != tc.wantUsage[i] {
						t.Errorf("%s = %d, want %d", path, got, tc.wantUsage[i])
					}
				}
				chunks = chunks[:len(chunks)-1]
			}
			var text strings.Builder
			for i, ev := range chunks {
				d := ev.data
				if got := gjson.Get(d, "object").String(); got != "chat.completion.chunk" {
					t.Errorf("chunk %d object %q", i, got)
				}
				if got := gjson.Get(d, "model").String(); got != "m" {
					t.Errorf("chunk %d model %q", i, got)
				}
				usage := gjson.Get(d, "usage")
				if tc.includeUsage && usage.Type != gjson.Null || !tc.includeUsage && usage.Exists() {
					t.Errorf("chunk %d usage %q (exists %v), include_usage %v", i, usage.Raw, usage.Exists(), tc.includeUsage)
				}
				finish := gjson.Get(d, "choices.0.finish_reason")
				switch i {
				case 0:
					if gjson.Get(d, "choices.0.delta.role").String() != "assistant" {
						t.Errorf("first chunk has no assistant role: %s", d)
					}
				case len(chunks) - 1:
					if finish.String() != tc.wantFinish {
						t.Errorf("finish chunk %s, want finish_reason %q", d, tc.wantFinish)
					}
					if gjson.Get(d, "choices.0.delta").Raw != "{}" {
						t.Errorf("finish chunk delta not empty: %s", d)
					}
				default:
					if finish.Type != gjson.Null {
						t.Errorf("content chunk %d finish_reason %s", i, finish.Raw)
					}
				}
				text.WriteString(gjson.Get(d, "choices.0.delta.content").String())
			}
			if text.String() != tc.wantText {
				t.Errorf("streamed text %q, want %q", text.String(), tc.wantText)
			}
			if want := len(strings.Fields(tc.wantText)) + 2; len(chunks) != want {
				t.Errorf("%d chunks, want one per word plus role and finish (%d)", len(chunks), want)
			}
		})
	}
}

func TestMessages(t *testing.T) {
	version := map[string]string{"anthropic-version": "2023-06-01"}
	tests := []struct {
		name       string
		body       string
		header     map[string]string
		wantStatus int
		wantText   string
		wantStop   string
		wantUsage  [2]int64
		wantErr    string
	}{
		{
			name:       "string content",
			body:       `{"model":"claude-x","max_tokens":100,"messages":[{"role":"user","content":"hi there"}]}`,
			header:     version,
			wantStatus: 200,
			wantText:   "Hello from the Switchboard demo provider. You said: hi there.",
			wantStop:   "end_turn",
			wantUsage:  [2]int64{2, 10},
		},
		{
			name: "system and blocks",
			body: `{"model":"c","max_tokens":100,"system":[{"type":"text","text":"be brief"}],"messages":[{"role":"user","content":"one"},` +
				`{"role":"assistant","content":"two"},{"role":"user","content":[{"type":"text","text":"three"},{"type":"image","source":{}}]}]}`,
			header:     version,
			wantStatus: 200,
			wantText:   "Hello from the Switchboard demo provider. You said: three.",
			wantStop:   "end_turn",
			wantUsage:  [2]int64{5, 9},
		},
		{
			name:       "max_tokens cut",
			body:       `{"model":"c","max_tokens":4,"messages":[{"role":"user","content":"hi"}]}`,
			header:     version,
			wantStatus: 200,
			wantText:   "Hello from the Switchboard",
			wantStop:   "max_tokens",
			wantUsage:  [2]int64{1, 4},
		},
		{name: "no anthropic-version", body: `{"model":"c","max_tokens":4,"messages":[]}`, wantStatus: 400, wantErr: "anthropic-version"},
		{name: "malformed JSON", body: `{"model"`, header: version, wantStatus: 400, wantErr: "error parsing the body"},
		{name: "missing max_tokens", body: `{"model":"c","messages":[]}`, header: version, wantStatus: 400, wantErr: "max_tokens: Field required"},
		{name: "missing model", body: `{"max_tokens":4,"messages":[]}`, header: version, wantStatus: 400, wantErr: "model: Field required"},
		{name: "missing messages", body: `{"model":"c","max_tokens":4}`, header: version, wantStatus: 400, wantErr: "messages: Field required"},
	}
	h := newTestHandler()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(t, h, "POST", "/v1/messages", tc.body, tc.header)
			body := rec.Body.String()
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tc.wantStatus, body)
			}
			if tc.wantErr != "" {
				if gjson.Get(body, "type").String() != "error" || gjson.Get(body, "error.type").String() != "invalid_request_error" {
					t.Errorf("not an Anthropic invalid_request_error: %s", body)
				}
				if got := gjson.Get(body, "error.message").String(); !strings.Contains(got, tc.wantErr) {
					t.Errorf("error.message %q, want it to contain %q", got, tc.wantErr)
				}
				return
			}
			checks := map[string]any{
				"type":                "message",
				"role":                "assistant",
				"model":               gjson.Get(tc.body, "model").String(),
				"content.#":           int64(1),
				"content.0.type":      "text",
				"content.0.text":      tc.wantText,
				"stop_reason":         tc.wantStop,
				"usage.input_tokens":  tc.wantUsage[0],
				"usage.output_tokens": tc.wantUsage[1],
			}
			for path, want := range checks {
				if got := gjson.Get(body, path).Value(); !equalJSON(got, want) {
					t.Errorf("%s = %v, want %v; body %s", path, got, want, body)
				}
			}
			if !strings.HasPrefix(gjson.Get(body, "id").String(), "msg_") {
				t.Errorf("id not msg_: %s", body)
			}
		})
	}
}

func TestMessagesStream(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		wantText string
		wantStop string
	}{
		{
			name:     "end_turn",
			body:     `{"model":"c","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}`,
			wantText: "Hello from the Switchboard demo provider. You said: hi.",
			wantStop: "end_turn",
		},
		{
			name:     "max_tokens",
			body:     `{"model":"c","max_tokens":3,"stream":true,"messages":[{"role":"user","content":"hi"}]}`,
			wantText: "Hello from the",
			wantStop: "max_tokens",
		},
	}
	h := newTestHandler()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(t, h, "POST", "/v1/messages", tc.body, map[string]string{"anthropic-version": "2023-06-01"})
			if rec.Code != 200 {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "text/event-stream" {
				t.Errorf("content-type %q", ct)
			}
			events := parseSSE(t, rec.Body.String())
			words := len(strings.Fields(tc.wantText))
			var names []string
			for _, ev := range events {
				names = append(names, ev.name)
				if got := gjson.Get(ev.data, "type").String(); got != ev.name {
					t.Errorf("event %q carries data type %q", ev.name, got)
				}
			}
			want := []string{"message_start", "content_block_start", "ping"}
			for range words {
				want = append(want, "content_block_delta")
			}
			want = append(want, "content_block_stop", "message_delta", "message_stop")
			if strings.Join(names, ",") != strings.Join(want, ",") {
				t.Fatalf("events\n%v\nwant\n%v", names, want)
			}
			start := events[0].data
			if gjson.Get(start, "message.model").String() != "c" || gjson.Get(start, "message.usage.input_tokens").Int() != 1 ||
				gjson.Get(start, "message.content").Raw != "[]" {
				t.Errorf("message_start %s", start)
			}
			var text strings.Builder
			for _, ev := range events[3 : 3+words] {
				if gjson.Get(ev.data, "delta.type").String() != "text_delta" {
					t.Errorf("delta %s", ev.data)
				}
				text.WriteString(gjson.Get(ev.data, "delta.text").String())
			}
			if text.String() != tc.wantText {
				t.Errorf("streamed text %q, want %q", text.String(), tc.wantText)
			}
			md := events[len(events)-2].data
			if got := gjson.Get(md, "delta.stop_reason").String(); got != tc.wantStop {
				t.Errorf("stop_reason %q, want %q", got, tc.wantStop)
			}
			if got := gjson.Get(md, "usage.output_tokens").Int(); got != int64(words) {
				t.Errorf("output_tokens %d, want %d", got, words)
			}
		})
	}
}

func TestModels(t *testing.T) {
	tests := []struct {
		name   string
		header map[string]string
		path   string
	}{
		{"openai shape", nil, "data.#.id"},
		{"anthropic shape", map[string]string{"anthropic-version": "2023-06-01"}, "data.#(type==\"model\")#.id"},
	}
	h := newTestHandler()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(t, h, "GET", "/v1/models", "", tc.header)
			if rec.Code != 200 {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			var ids []string
			for _, id := range gjson.Get(rec.Body.String(), tc.path).Array() {
				ids = append(ids, id.String())
			}
			if strings.Join(ids, ",") != strings.Join(ModelIDs(), ",") {
				t.Errorf("ids %v, want %v; body %s", ids, ModelIDs(), rec.Body)
			}
		})
	}
}

// TestStreamStopsOnCancel checks that a client going away mid-stream ends
// the handler even while it waits between chunks.
func TestStreamStopsOnCancel(t *testing.T) {
	tests := []struct {
		name   string
		path   string
		body   string
		header map[string]string
	}{
		{"openai", "/v1/chat/completions", `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`, nil},
		{"anthropic", "/v1/messages", `{"model":"m","max_tokens":9,"stream":true,"messages":[{"role":"user","content":"hi"}]}`,
			map[string]string{"anthropic-version": "2023-06-01"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The delay is far longer than the test: only cancellation can
			// end the handler in time.
			h := NewHandlerWithOptions(zap.NewNop(), Options{ChunkDelay: time.Hour})
			done := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				defer close(done)
				h.ServeHTTP(w, r)
			}))
			defer srv.Close()

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, "POST", srv.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			// The first event arrives at once because each event is flushed.
			line, err := bufio.NewReader(resp.Body).ReadString('\n')
			if err != nil || !(strings.HasPrefix(line, "data: ") || strings.HasPrefix(line, "event: ")) {
				t.Fatalf("first line %q, %v", line, err)
			}
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("handler still running 10s after the client canceled")
			}
			if _, err := io.ReadAll(resp.Body); err == nil {
				t.Error("body read after cancel returned no error")
			}
		})
	}
}

// TestWebSearchTool: offered web_search, the demo model calls it with the
// user's text, then answers from the tool's result.
func TestWebSearchTool(t *testing.T) {
	h := newTestHandler()
	tools := `"tools":[{"type":"function","function":{"name":"web_search","parameters":{"type":"object"}}}]`
	rec := do(t, h, "POST", "/v1/chat/completions", `{"model":"demo-1",`+tools+`,"messages":[{"role":"user","content":"gateway news"}]}`, nil)
	var got struct {
		Choices []struct {
			Message struct {
				Content   *string
				ToolCalls []chatToolCall `json:"tool_calls"`
			}
			FinishReason string `json:"finish_reason"`
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || len(got.Choices) != 1 {
		t.Fatalf("%v %s", err, rec.Body)
	}
	c := got.Choices[0]
	if c.FinishReason != "tool_calls" || c.Message.Content != nil || len(c.Message.ToolCalls) != 1 ||
		c.Message.ToolCalls[0].Function.Name != "web_search" || c.Message.ToolCalls[0].Function.Arguments != `{"query":"gateway news"}` {
		t.Fatalf("%s", rec.Body)
	}
	rec = do(t, h, "POST", "/v1/chat/completions", `{"model":"demo-1",`+tools+`,"messages":[{"role":"user","content":"gateway news"},`+
		`{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"web_search","arguments":"{}"}}]},`+
		`{"role":"tool","tool_call_id":"c1","content":"[1] Gateway news (https://example.com/news)\nsnippet"}]}`, nil)
	if !strings.Contains(rec.Body.String(), "The web search found: [1] Gateway news (https://example.com/news)") || strings.Contains(rec.Body.String(), "tool_calls\"") {
		t.Fatalf("%s", rec.Body)
	}
}
