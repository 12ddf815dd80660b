package translators

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

var bedrockTarget = Target{Model: "us.anthropic.claude-sonnet-4-5-20250929-v1:0", Region: "us-east-1"}

// bedrockRequestGolden renders what a request translation sends: path,
// headers, dropped parameters and the body.
func bedrockRequestGolden(tb testing.TB, req Request) []byte {
	tb.Helper()
	headers := make([]string, len(req.Headers))
	for i, h := range req.Headers {
		headers[i] = h.Key + ": " + h.Value
	}
	out := struct {
		Path    string          `json:"path"`
		Headers []string        `json:"headers"`
		Dropped []string        `json:"dropped,omitempty"`
		Stream  bool            `json:"stream,omitempty"`
		Usage   bool            `json:"include_usage,omitempty"`
		Body    json.RawMessage `json:"body"`
	}{req.Path, headers, req.Dropped, req.Stream, req.IncludeUsage, req.Body}
	b, err := json.Marshal(out)
	if err != nil {
		tb.Fatal(err)
	}
	return prettyJSON(tb, b)
}

func TestBedrockRequestGolden(t *testing.T) {
	tr := openAIToBedrock{}
	for _, name := range goldenCases(t, "openai_bedrock") {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(testdata, "openai_bedrock")
			in, err := os.ReadFile(filepath.Join(dir, name+".in.json"))
			if err != nil {
				t.Fatal(err)
			}
			orig := bytes.Clone(in)
			req, err := tr.Request(in, bedrockTarget)
			if err != nil {
				t.Fatalf("Request: %v", err)
			}
			if !bytes.Equal(in, orig) {
				t.Fatal("Request modified its input")
			}
			again, _ := tr.Request(in, bedrockTarget)
			if !bytes.Equal(again.Body, req.Body) {
				t.Fatal("a second translation of the same request differs")
			}
			checkGolden(t, filepath.Join(dir, name+".out.json"), bedrockRequestGolden(t, req))
		})
	}
}

func TestBedrockRequestFields(t *testing.T) {
	const hi = `"messages":[{"role":"user","content":"hi"}]`
	tests := []struct {
		name        string
		body        string
		target      Target
		wantPath    string
		wantHeaders []Header
		wantDropped string
		wantStream  bool
		wantUsage   bool
		// gjson path -> raw JSON expected in the body ("" = absent)
		wantBody map[string]string
	}{
		{
			name:     "inference profile id is escaped",
			body:     `{` + hi + `}`,
			target:   Target{Model: "us.anthropic.claude-sonnet-4-5-20250929-v1:0"},
			wantPath: "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse", wantHeaders: []Header{{"content-type", "application/json"}, {"accept", "application/json"}},
			wantBody: map[string]string{"inferenceConfig": "", "toolConfig": "", "system": "", "additionalModelRequestFields": ""},
		},
		{
			name:     "ARN with a path prefix and a bearer key",
			body:     `{` + hi + `}`,
			target:   Target{Model: "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6", PathPrefix: "/bedrock"},
			wantPath: "/bedrock/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fa1b2c3d4e5f6/converse",
			wantHeaders: []Header{
				{"content-type", "application/json"}, {"accept", "application/json"},
			},
		},
		{
			name:     "stream with usage",
			body:     `{"stream":true,"stream_options":{"include_usage":true},` + hi + `}`,
			target:   Target{Model: "anthropic.claude-3-5-haiku-20241022-v1:0"},
			wantPath: "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse-stream", wantHeaders: []Header{{"content-type", "application/json"}, {"accept", "application/vnd.amazon.eventstream"}},
			wantStream: true, wantUsage: true,
		},
		{
			name:     "include_usage ignored without stream",
			body:     `{"stream":false,"stream_options":{"include_usage":true},` + hi + `}`,
			target:   Target{Model: "amazon.nova-pro-v1:0"},
			wantPath: "/model/amazon.nova-pro-v1%3A0/converse", wantHeaders: []Header{{"content-type", "application/json"}, {"accept", "application/json"}},
		},
		{
			name:     "nova top_k",
			body:     `{"top_k":20,` + hi + `}`,
			target:   Target{Model: "us.amazon.nova-lite-v1:0"},
			wantPath: "/model/us.amazon.nova-lite-v1%3A0/converse", wantHeaders: []Header{{"content-type", "application/json"}, {"accept", "application/json"}},
			wantBody: map[string]string{"additionalModelRequestFields": `{"inferenceConfig":{"topK":20}}`},
		},
		{
			name:     "reasoning and top_k dropped for other families",
			body:     `{"top_k":20,"reasoning_effort":"high","reasoning":{"max_tokens":2000},` + hi + `}`,
			target:   Target{Model: "meta.llama3-3-70b-instruct-v1:0"},
			wantPath: "/model/meta.llama3-3-70b-instruct-v1%3A0/converse", wantHeaders: []Header{{"content-type", "application/json"}, {"accept", "application/json"}},
			wantDropped: "reasoning_effort,reasoning,top_k",
			wantBody:    map[string]string{"additionalModelRequestFields": "", "inferenceConfig": ""},
		},
		{
			name:     "reasoning none and disabled",
			body:     `{"reasoning_effort":"none","reasoning":{"enabled":false},` + hi + `}`,
			target:   bedrockTarget,
			wantPath: "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse", wantHeaders: []Header{{"content-type", "application/json"}, {"accept", "application/json"}},
			wantBody: map[string]string{"additionalModelRequestFields": ""},
		},
		{
			name:     "reasoning enabled defaults to medium",
			body:     `{"reasoning":{"enabled":true},` + hi + `}`,
			target:   bedrockTarget,
			wantPath: "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse", wantHeaders: []Header{{"content-type", "application/json"}, {"accept", "application/json"}},
			wantBody: map[string]string{"additionalModelRequestFields": `{"thinking":{"type":"enabled","budget_tokens":8192}}`, "inferenceConfig": `{"maxTokens":12288}`},
		},
		{
			name:     "thinking makes structured output auto",
			body:     `{"reasoning_effort":"low","response_format":{"type":"json_object"},` + hi + `}`,
			target:   bedrockTarget,
			wantPath: "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse", wantHeaders: []Header{{"content-type", "application/json"}, {"accept", "application/json"}},
			wantBody: map[string]string{"toolConfig.toolChoice": `{"auto":{}}`, "toolConfig.tools.0.toolSpec.name": `"structured_output_json"`},
		},
		{
			name:     "thinking takes no sampling but temperature 1 and top_p from 0.95",
			body:     `{"reasoning_effort":"low","temperature":0.2,"top_p":0.5,"top_k":5,` + hi + `}`,
			target:   bedrockTarget,
			wantPath: "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse", wantHeaders: []Header{{"content-type", "application/json"}, {"accept", "application/json"}},
			wantDropped: "temperature,top_p,top_k",
			wantBody:    map[string]string{"inferenceConfig": `{"maxTokens":6144}`, "additionalModelRequestFields": `{"thinking":{"type":"enabled","budget_tokens":2048}}`},
		},
		{
			name:     "thinking keeps temperature 1 and top_p 0.95",
			body:     `{"reasoning_effort":"low","temperature":1,"top_p":0.95,` + hi + `}`,
			target:   bedrockTarget,
			wantPath: "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse", wantHeaders: []Header{{"content-type", "application/json"}, {"accept", "application/json"}},
			wantBody: map[string]string{"inferenceConfig": `{"maxTokens":6144,"temperature":1,"topP":0.95}`},
		},
		{
			name:     "claude temperature above 1 is sent as 1",
			body:     `{"temperature":1.6,` + hi + `}`,
			target:   bedrockTarget,
			wantPath: "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse", wantHeaders: []Header{{"content-type", "application/json"}, {"accept", "application/json"}},
			wantDropped: "temperature",
			wantBody:    map[string]string{"inferenceConfig": `{"temperature":1}`},
		},
		{
			name:     "other families keep temperature as sent",
			body:     `{"temperature":0.2,"top_p":0.5,` + hi + `}`,
			target:   Target{Model: "amazon.nova-pro-v1:0"},
			wantPath: "/model/amazon.nova-pro-v1%3A0/converse", wantHeaders: []Header{{"content-type", "application/json"}, {"accept", "application/json"}},
			wantBody: map[string]string{"inferenceConfig": `{"temperature":0.2,"topP":0.5}`},
		},
		{
			name:     "zero penalties and n of one are fine",
			body:     `{"n":1,"frequency_penalty":0,"presence_penalty":0,"logprobs":false,"response_format":{"type":"text"},` + hi + `}`,
			target:   bedrockTarget,
			wantPath: "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse", wantHeaders: []Header{{"content-type", "application/json"}, {"accept", "application/json"}},
			wantBody: map[string]string{"toolConfig": ""},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := openAIToBedrock{}.Request([]byte(tc.body), tc.target)
			if err != nil {
				t.Fatal(err)
			}
			if req.Path != tc.wantPath {
				t.Errorf("path %q, want %q", req.Path, tc.wantPath)
			}
			if tc.wantHeaders != nil && !equalHeaders(req.Headers, tc.wantHeaders) {
				t.Errorf("headers %v, want %v", req.Headers, tc.wantHeaders)
			}
			if got := strings.Join(req.Dropped, ","); got != tc.wantDropped {
				t.Errorf("dropped %q, want %q", got, tc.wantDropped)
			}
			if req.Stream != tc.wantStream || req.IncludeUsage != tc.wantUsage {
				t.Errorf("stream %v include usage %v, want %v %v", req.Stream, req.IncludeUsage, tc.wantStream, tc.wantUsage)
			}
			for p, want := range tc.wantBody {
				if got := gjson.GetBytes(req.Body, p).Raw; got != want {
					t.Errorf("body %s = %s, want %s", p, got, want)
				}
			}
		})
	}
}

func equalHeaders(a, b []Header) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestBedrockRequireParameters(t *testing.T) {
	body := `{"seed":1,"frequency_penalty":0.2,"messages":[{"role":"user","content":"hi","name":"bob"}],"provider":{"require_parameters":true}}`
	_, err := openAIToBedrock{}.Request([]byte(body), bedrockTarget)
	var e *APIError
	if !errors.As(err, &e) || e.Status != 400 || e.Code != "unsupported_parameter" ||
		e.Message != "provider schema bedrock cannot honour: seed, frequency_penalty, messages[].name (provider.require_parameters is set)" {
		t.Fatalf("err = %v", err)
	}
	// Everything honoured: require_parameters changes nothing.
	if _, err := (openAIToBedrock{}).Request([]byte(`{"top_k":5,"messages":[{"role":"user","content":"hi"}],"provider":{"require_parameters":true}}`), bedrockTarget); err != nil {
		t.Fatalf("honoured request rejected: %v", err)
	}
}

func TestBedrockRequestErrors(t *testing.T) {
	const user = `{"role":"user","content":"hi"}`
	tests := []struct {
		name     string
		body     string
		target   Target
		wantCode string
		wantMsg  string
	}{
		{"not json", `{"model":`, bedrockTarget, "invalid_json", "not valid JSON"},
		{"no messages", `{"messages":[]}`, bedrockTarget, "invalid_messages", "'messages' must be a non-empty array"},
		{"no model id", `{"messages":[` + user + `]}`, Target{}, "invalid_request", "no Bedrock model id is configured"},
		{"only system", `{"messages":[{"role":"system","content":"be nice"}]}`, bedrockTarget, "invalid_messages", "at least one user or assistant message"},
		{"zero max_tokens", `{"max_tokens":0,"messages":[` + user + `]}`, bedrockTarget, "invalid_value", "'max_tokens' must be a positive integer"},
		{"fractional max_completion_tokens", `{"max_completion_tokens":1.5,"messages":[` + user + `]}`, bedrockTarget, "invalid_value", "'max_completion_tokens' must be a positive integer"},
		{"string temperature", `{"temperature":"hot","messages":[` + user + `]}`, bedrockTarget, "invalid_value", "'temperature' must be a number"},
		{"temperature out of range", `{"temperature":2.5,"messages":[` + user + `]}`, bedrockTarget, "invalid_value", "'temperature' must be between 0 and 2"},
		{"fractional top_k", `{"top_k":2.5,"messages":[` + user + `]}`, bedrockTarget, "invalid_value", "'top_k' must be an integer"},
		{"numeric stop", `{"stop":7,"messages":[` + user + `]}`, bedrockTarget, "invalid_value", "'stop' must be a string or an array of strings"},
		{"stop array with number", `{"stop":["a",1],"messages":[` + user + `]}`, bedrockTarget, "invalid_value", "'stop' must be a string or an array of strings"},
		{"message not object", `{"messages":["hi"]}`, bedrockTarget, "invalid_messages", "messages[0] must be an object"},
		{"unknown role", `{"messages":[{"role":"function","content":"x"}]}`, bedrockTarget, "invalid_messages", `messages[0].role: unsupported role "function"`},
		{"numeric content", `{"messages":[{"role":"user","content":5}]}`, bedrockTarget, "invalid_messages", "messages[0].content must be a string or an array"},
		{"audio part", `{"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]}`, bedrockTarget, "unsupported_parameter", `messages[0].content[0]: content part type "input_audio" is not supported`},
		{"word document as zip", `{"messages":[{"role":"user","content":[{"type":"text","text":"hi"},{"type":"file","file":{"filename":"a.zip","file_data":"data:application/zip;base64,UEsDBA=="}}]}]}`, bedrockTarget, "unsupported_parameter", `messages[0].content[1]: file type "application/zip" is not supported by Bedrock (pdf, csv, doc, docx, xls, xlsx, html, txt and md documents are)`},
		{"file by id", `{"messages":[{"role":"user","content":[{"type":"text","text":"hi"},{"type":"file","file":{"file_id":"file-abc"}}]}]}`, bedrockTarget, "unsupported_parameter", `messages[0].content[1]: a file part needs 'file_data' (a data: URL); 'file_id' refers to OpenAI's file store, which Bedrock cannot read`},
		{"file data url not base64", `{"messages":[{"role":"user","content":[{"type":"text","text":"hi"},{"type":"file","file":{"file_data":"data:application/pdf,abc"}}]}]}`, bedrockTarget, "invalid_value", "messages[0].content[1]: file_data must be a base64 data URL"},
		{"document without text", `{"messages":[{"role":"user","content":[{"type":"file","file":{"file_data":"data:application/pdf;base64,JVBERi0xLjQK"}}]}]}`, bedrockTarget, "invalid_messages", "messages[0].content[0]: Bedrock needs a text part in the user turn that holds a file"},
		{"six documents in a merged turn", `{"messages":[{"role":"user","content":[{"type":"text","text":"read"},` + strings.Repeat(`{"type":"file","file":{"file_data":"data:text/plain;base64,aGk="}},`, 3) + `{"type":"text","text":"these"}]},{"role":"user","content":[` + strings.TrimSuffix(strings.Repeat(`{"type":"file","file":{"file_data":"data:text/csv;base64,YSxi"}},`, 3), ",") + `]}]}`, bedrockTarget, "unsupported_parameter", "messages[0].content[1]: Bedrock takes at most 5 documents in one user turn; this turn has 6"},
		{"unknown part", `{"messages":[{"role":"user","content":[{"type":"video"}]}]}`, bedrockTarget, "invalid_messages", `unknown content part type "video"`},
		{"text part without text", `{"messages":[{"role":"user","content":[{"type":"text"}]}]}`, bedrockTarget, "invalid_messages", "text part needs a string 'text'"},
		{"image in system", `{"messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]},` + user + `]}`, bedrockTarget, "invalid_messages", `content part type "image_url" is not allowed here`},
		{"https image", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]}]}`, bedrockTarget, "unsupported_parameter", "messages[0].content[0]: image URLs are not supported by Bedrock; send the image inline as a base64 data: URL"},
		{"ftp image", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x/y.png"}}]}]}`, bedrockTarget, "invalid_value", "image_url.url must be a base64 data: URL"},
		{"data url not base64", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,abc"}}]}]}`, bedrockTarget, "invalid_value", "image data URL must be base64"},
		{"svg image", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/svg+xml;base64,PHN2Zz4="}}]}]}`, bedrockTarget, "invalid_value", `image media type "image/svg+xml" is not supported by Bedrock`},
		{"bad tool arguments", `{"messages":[` + user + `,{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":"}}]}]}`, bedrockTarget, "invalid_value", "messages[1].tool_calls[0].function.arguments is not valid JSON"},
		{"array tool arguments", `{"messages":[` + user + `,{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`, bedrockTarget, "invalid_value", "arguments must be a JSON object"},
		{"tool call without id", `{"messages":[` + user + `,{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]}]}`, bedrockTarget, "invalid_messages", "tool call needs an id and a function name"},
		{"custom tool call", `{"messages":[` + user + `,{"role":"assistant","tool_calls":[{"id":"c1","type":"custom","custom":{}}]}]}`, bedrockTarget, "invalid_messages", `unsupported tool call type "custom"`},
		{"legacy function_call", `{"messages":[` + user + `,{"role":"assistant","function_call":{"name":"f","arguments":"{}"}}]}`, bedrockTarget, "unsupported_parameter", "legacy 'function_call' is not supported"},
		{"tool message without id", `{"messages":[` + user + `,{"role":"tool","content":"42"}]}`, bedrockTarget, "invalid_messages", "messages[1]: tool message needs a 'tool_call_id'"},
		{"tools not array", `{"tools":{},"messages":[` + user + `]}`, bedrockTarget, "invalid_value", "'tools' must be an array"},
		{"non-function tool", `{"tools":[{"type":"web_search"}],"messages":[` + user + `]}`, bedrockTarget, "unsupported_parameter", `tools[0]: tool type "web_search" is not supported`},
		{"tool without name", `{"tools":[{"type":"function","function":{}}],"messages":[` + user + `]}`, bedrockTarget, "invalid_value", "tools[0].function.name is required"},
		{"reserved tool name", `{"tools":[{"type":"function","function":{"name":"structured_output_x"}}],"messages":[` + user + `]}`, bedrockTarget, "invalid_value", `the prefix "structured_output_" is reserved`},
		{"tool parameters not object", `{"tools":[{"type":"function","function":{"name":"f","parameters":[]}}],"messages":[` + user + `]}`, bedrockTarget, "invalid_value", "tools[0].function.parameters must be a JSON Schema object"},
		{"bad tool_choice string", `{"tool_choice":"always","tools":[{"type":"function","function":{"name":"f"}}],"messages":[` + user + `]}`, bedrockTarget, "invalid_value", `'tool_choice' must be auto, none, required or a function: got "always"`},
		{"tool_choice without name", `{"tool_choice":{"type":"function","function":{}},"tools":[{"type":"function","function":{"name":"f"}}],"messages":[` + user + `]}`, bedrockTarget, "invalid_value", "'tool_choice.function.name' is required"},
		{"tool_choice object of other type", `{"tool_choice":{"type":"allowed_tools"},"tools":[{"type":"function","function":{"name":"f"}}],"messages":[` + user + `]}`, bedrockTarget, "unsupported_parameter", "'tool_choice' must be auto, none, required"},
		{"required without tools", `{"tool_choice":"required","messages":[` + user + `]}`, bedrockTarget, "invalid_value", "'tool_choice' requires 'tools'"},
		{"unknown response_format", `{"response_format":{"type":"yaml"},"messages":[` + user + `]}`, bedrockTarget, "invalid_value", `'response_format.type' must be text, json_object or json_schema: got "yaml"`},
		{"schema not object", `{"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":"{}"}},"messages":[` + user + `]}`, bedrockTarget, "invalid_value", "'response_format.json_schema.schema' must be a JSON Schema object"},
		{"unknown effort", `{"reasoning_effort":"maximum","messages":[` + user + `]}`, bedrockTarget, "invalid_value", `'reasoning_effort' must be one of none, minimal, low, medium, high, xhigh: got "maximum"`},
		{"unknown reasoning.effort", `{"reasoning":{"effort":"max"},"messages":[` + user + `]}`, bedrockTarget, "invalid_value", `'reasoning.effort' must be one of`},
		{"reasoning not object", `{"reasoning":"high","messages":[` + user + `]}`, bedrockTarget, "invalid_value", "'reasoning' must be an object"},
		{"reasoning budget not integer", `{"reasoning":{"max_tokens":-5},"messages":[` + user + `]}`, bedrockTarget, "invalid_value", "'reasoning.max_tokens' must be a positive integer"},
		{"max_tokens below the budget", `{"max_tokens":2000,"reasoning":{"max_tokens":4000},"messages":[` + user + `]}`, bedrockTarget, "invalid_value", "'max_tokens' (2000) must be greater than the reasoning budget (4000 tokens, at least 1024)"},
		{"max_tokens too small to reason", `{"max_tokens":1000,"reasoning_effort":"low","messages":[` + user + `]}`, bedrockTarget, "invalid_value", "'max_tokens' (1000) must be greater than the reasoning budget (1024 tokens"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := openAIToBedrock{}.Request([]byte(tc.body), tc.target)
			var e *APIError
			if !errors.As(err, &e) {
				t.Fatalf("error %v, want an *APIError", err)
			}
			if e.Status != 400 || e.Code != tc.wantCode || !strings.Contains(e.Message, tc.wantMsg) {
				t.Errorf("got %d %s %q, want 400 %s containing %q", e.Status, e.Code, e.Message, tc.wantCode, tc.wantMsg)
			}
		})
	}
}

func TestBedrockResponseGolden(t *testing.T) {
	tests := []struct {
		name      string
		wantUsage Usage
	}{
		{"text", Usage{PromptTokens: 12, CompletionTokens: 21}},
		{"tool_use", Usage{PromptTokens: 412, CompletionTokens: 118}},
		{"reasoning", Usage{PromptTokens: 1867, CompletionTokens: 96, CachedTokens: 1843}},
		{"structured_output", Usage{PromptTokens: 506, CompletionTokens: 61}},
		{"cache_usage", Usage{PromptTokens: 28960, CompletionTokens: 27, CacheWriteTokens: 28946}},
		{"guardrail", Usage{PromptTokens: 31}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := translateGolden(t, openAIToBedrock{}, "bedrock", tc.name, tc.wantUsage)
			checkGolden(t, filepath.Join(testdata, "openai_bedrock", tc.name+".resp.json"), prettyJSON(t, normalize(out)))
		})
	}
}

func TestBedrockResponseShapes(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		wantFinish string
		wantNull   bool
		wantArgs   string
	}{
		{"max tokens", `{"output":{"message":{"role":"assistant","content":[{"text":"cut"}]}},"stopReason":"max_tokens"}`, "length", false, ""},
		{"context window", `{"output":{"message":{"role":"assistant","content":[{"text":"cut"}]}},"stopReason":"model_context_window_exceeded"}`, "length", false, ""},
		{"stop sequence", `{"output":{"message":{"role":"assistant","content":[{"text":"a"}]}},"stopReason":"stop_sequence"}`, "stop", false, ""},
		{"content filtered", `{"output":{"message":{"role":"assistant","content":[]}},"stopReason":"content_filtered"}`, "content_filter", true, ""},
		{"tool only", `{"output":{"message":{"role":"assistant","content":[{"toolUse":{"toolUseId":"t","name":"f","input":{ "a" : [1, 2] }}}]}},"stopReason":"tool_use"}`, "tool_calls", true, `{"a":[1,2]}`},
		{"tool input not object", `{"output":{"message":{"role":"assistant","content":[{"toolUse":{"toolUseId":"t","name":"f","input":"x"}}]}},"stopReason":"tool_use"}`, "tool_calls", true, `{}`},
		{"structured beside a tool call", `{"output":{"message":{"role":"assistant","content":[{"text":"Let me"},{"toolUse":{"toolUseId":"t","name":"structured_output_x","input":{"a":1}}},{"toolUse":{"toolUseId":"u","name":"f","input":{}}}]}},"stopReason":"tool_use"}`, "tool_calls", false, `{}`},
		{"unknown stop reason", `{"output":{"message":{"role":"assistant","content":[{"text":"a"}]}},"stopReason":"brand_new"}`, "stop", false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := openAIToBedrock{}.Response([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if !gjson.ValidBytes(out) {
				t.Fatalf("not JSON: %s", out)
			}
			c := gjson.GetBytes(out, "choices.0")
			if got := c.Get("finish_reason").Str; got != tc.wantFinish {
				t.Errorf("finish_reason %q, want %q", got, tc.wantFinish)
			}
			if got := c.Get("message.content").Type == gjson.Null; got != tc.wantNull {
				t.Errorf("content null %v, want %v: %s", got, tc.wantNull, out)
			}
			if got := c.Get("message.tool_calls.0.function.arguments").Str; got != tc.wantArgs {
				t.Errorf("arguments %q, want %q", got, tc.wantArgs)
			}
		})
	}
}

func TestBedrockResponseErrors(t *testing.T) {
	tests := []struct {
		name, body, wantMsg string
	}{
		{"not json", `<html>`, "provider returned a body that is not JSON"},
		{"no output", `{"message":"odd"}`, "provider response has no output message"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := openAIToBedrock{}.Response([]byte(tc.body))
			var e *APIError
			if !errors.As(err, &e) || e.Status != 502 || e.Code != "bad_upstream_response" || e.Message != tc.wantMsg {
				t.Fatalf("err = %v, want 502 bad_upstream_response %q", err, tc.wantMsg)
			}
		})
	}
}

// TestBedrockReasoningRoundTrip feeds the reasoning_details of an answer
// back as the next turn's assistant message: the reasoning blocks come
// back unchanged, first.
func TestBedrockReasoningRoundTrip(t *testing.T) {
	out, _, err := openAIToBedrock{}.Response(readTranscript(t, "bedrock", "reasoning").body)
	if err != nil {
		t.Fatal(err)
	}
	msg := gjson.GetBytes(out, "choices.0.message").Raw
	next := `{"reasoning_effort":"low","messages":[{"role":"user","content":"17 × 23?"},` + msg + `,{"role":"user","content":"And 17 × 24?"}]}`
	req, err := openAIToBedrock{}.Request([]byte(next), bedrockTarget)
	if err != nil {
		t.Fatal(err)
	}
	got := gjson.GetBytes(req.Body, "messages.1.content").Raw
	want := `[{"reasoningContent":{"reasoningText":{"text":"The user wants 17 × 23. 17 × 20 = 340, 17 × 3 = 51, so 391.","signature":"EqoBCkgIBxABGAIiQLmQ3m0p2n7H1e8Kc9wZf4y0xV6tR2sU1aB3cD5eF7gH9iJ0kL2mN4oP6qR8sT0uV2wX4yZ6aB8cD0eF2gH4iJ6k"}}},` +
		`{"reasoningContent":{"redactedContent":"RXFvQkNrZ0lCeEFCR0FJaVFMbVEzbTBwMm43SDFlOEtjOXdaZjR5MHhWNnRSMnNVMWFCM2NENWVGN2dIOWlKMGtMMm1ONA=="}},{"text":"17 × 23 = **391**."}]`
	if got != want {
		t.Errorf("assistant turn\n got %s\nwant %s", got, want)
	}

	// The same through a stream, accumulated as a client would.
	sout, _ := runStream(openAIToBedrock{}, StreamOptions{}, readTranscript(t, "bedrock", "reasoning_stream").body, whole)
	var details []string
	for _, ev := range bytes.Split(sout, []byte("\n\n")) {
		data, _ := bytes.CutPrefix(ev, []byte("data: "))
		for _, d := range gjson.GetBytes(data, "choices.0.delta.reasoning_details").Array() {
			details = append(details, d.Raw)
		}
	}
	next = `{"messages":[{"role":"user","content":"17 × 23?"},{"role":"assistant","content":"17 × 23 = **391**.","reasoning_details":[` + strings.Join(details, ",") + `]},{"role":"user","content":"And 17 × 24?"}]}`
	if req, err = (openAIToBedrock{}).Request([]byte(next), bedrockTarget); err != nil {
		t.Fatal(err)
	}
	want = `[{"reasoningContent":{"reasoningText":{"text":"The user wants 17 × 23. 17 × 20 = 340, 17 × 3 = 51, so 391.","signature":"EqoBCkgIBxABGAIiQLmQ3m0p2n7H1e8Kc9wZf4y0xV6tR2sU1aB3cD5eF7gH9iJ0kL2mN4oP6qR8sT0uV2wX4yZ6aB8cD0eF2gH4iJ6k"}}},{"text":"17 × 23 = **391**."}]`
	if got := gjson.GetBytes(req.Body, "messages.1.content").Raw; got != want {
		t.Errorf("assistant turn from stream deltas\n got %s\nwant %s", got, want)
	}
}

func TestBedrockError(t *testing.T) {
	tests := []struct {
		name       string
		transcript string // or status and body
		status     int
		body       string
		want       APIError
	}{
		{
			name: "throttled", transcript: "error_throttling",
			want: APIError{Status: 429, Type: TypeRateLimit, Code: "rate_limit_exceeded", Message: "Too many requests, please wait before trying again."},
		},
		{
			name: "input too long", transcript: "error_too_long",
			want: APIError{Status: 400, Type: TypeInvalidRequest, Code: "context_length_exceeded", Message: "Input is too long for requested model."},
		},
		{
			name: "validation", transcript: "error_validation",
			want: APIError{Status: 400, Type: TypeInvalidRequest, Message: "The provided model identifier is invalid."},
		},
		{
			name: "access denied", transcript: "error_access_denied",
			want: APIError{Status: 502, Type: TypeUpstream, Code: "provider_auth_failed", Message: "the gateway's credential for the provider was rejected (upstream status 403)"},
		},
		{
			name: "service unavailable", transcript: "error_unavailable",
			want: APIError{Status: 503, Type: TypeUpstream, Code: "provider_overloaded", Message: "Bedrock is unable to process your request."},
		},
		{
			// 429 on the wire; the type is only in x-amzn-ErrorType.
			name: "model not ready by status", transcript: "error_model_not_ready",
			want: APIError{Status: 429, Type: TypeRateLimit, Code: "rate_limit_exceeded", Message: "Model is not ready for inference. Wait and try your request again. Refer to https://docs.aws.amazon.com/bedrock/latest/userguide/invoke-imported-model.html#handle-model-not-ready-exception."},
		},
		{
			name: "too many input tokens", status: 400, body: `{"message":"Too many input tokens. Max input tokens: 8192, request input token count: 9120 "}`,
			want: APIError{Status: 400, Type: TypeInvalidRequest, Code: "context_length_exceeded", Message: "Too many input tokens. Max input tokens: 8192, request input token count: 9120 "},
		},
		{
			name: "prompt too long from the model", status: 400, body: `{"message":"The model returned the following errors: prompt is too long: 215843 tokens > 200000 maximum"}`,
			want: APIError{Status: 400, Type: TypeInvalidRequest, Code: "context_length_exceeded", Message: "The model returned the following errors: prompt is too long: 215843 tokens > 200000 maximum"},
		},
		{
			name: "type in the body wins", status: 400, body: `{"__type":"com.amazon.coral.service#ModelNotReadyException","message":"Model is loading."}`,
			want: APIError{Status: 503, Type: TypeUpstream, Code: "provider_overloaded", Message: "Model is loading."},
		},
		{
			name: "IAM message capitalised", status: 403, body: `{"Message":"User: arn:aws:iam::123456789012:user/gw is not authorized to perform: bedrock:InvokeModel"}`,
			want: APIError{Status: 502, Type: TypeUpstream, Code: "provider_auth_failed", Message: "the gateway's credential for the provider was rejected (upstream status 403)"},
		},
		{
			name: "model timeout", status: 408, body: `{"message":"Model has timed out in processing the request."}`,
			want: APIError{Status: 504, Type: TypeUpstream, Code: "upstream_timeout", Message: "Model has timed out in processing the request."},
		},
		{
			name: "model error", status: 424, body: `{"message":"Received server error (500) from model.","originalStatusCode":500}`,
			want: APIError{Status: 502, Type: TypeUpstream, Code: "upstream_error", Message: "Received server error (500) from model."},
		},
		{
			name: "html from a proxy", status: 502, body: "<html>bad gateway</html>",
			want: APIError{Status: 502, Type: TypeUpstream, Code: "upstream_error", Message: "<html>bad gateway</html>"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, retryAfter, body := tc.status, "", []byte(tc.body)
			if tc.transcript != "" {
				tx := readTranscript(t, "bedrock", tc.transcript)
				status, retryAfter, body = tx.status, tx.header.Get("Retry-After"), tx.body
			}
			got := openAIToBedrock{}.Error(status, retryAfter, body)
			if *got != tc.want {
				t.Errorf("got  %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}

// TestBedrockHeaderError maps the error transcripts by their
// x-amzn-ErrorType header.
func TestBedrockHeaderError(t *testing.T) {
	tests := []struct {
		transcript string
		want       APIError
	}{
		{"error_model_not_ready", APIError{Status: 503, Type: TypeUpstream, Code: "provider_overloaded",
			Message: "Model is not ready for inference. Wait and try your request again. Refer to https://docs.aws.amazon.com/bedrock/latest/userguide/invoke-imported-model.html#handle-model-not-ready-exception."}},
		{"error_throttling", APIError{Status: 429, Type: TypeRateLimit, Code: "rate_limit_exceeded", Message: "Too many requests, please wait before trying again."}},
		{"error_too_long", APIError{Status: 400, Type: TypeInvalidRequest, Code: "context_length_exceeded", Message: "Input is too long for requested model."}},
		{"error_access_denied", APIError{Status: 502, Type: TypeUpstream, Code: "provider_auth_failed", Message: "the gateway's credential for the provider was rejected (upstream status 403)"}},
		{"error_unavailable", APIError{Status: 503, Type: TypeUpstream, Code: "provider_overloaded", Message: "Bedrock is unable to process your request."}},
	}
	for _, tc := range tests {
		t.Run(tc.transcript, func(t *testing.T) {
			tx := readTranscript(t, "bedrock", tc.transcript)
			got := openAIToBedrock{}.HeaderError(tx.status, tx.header.Get, tx.body)
			if *got != tc.want {
				t.Errorf("got  %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}

// TestBedrockAPIErrorTypes covers the exception names an event stream or
// the x-amzn-ErrorType header carries.
func TestBedrockAPIErrorTypes(t *testing.T) {
	tests := []struct {
		typ        string
		wantStatus int
		wantCode   string
	}{
		{"ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/", 429, "rate_limit_exceeded"},
		{"throttlingException", 429, "rate_limit_exceeded"},
		{"serviceUnavailableException", 503, "provider_overloaded"},
		{"ModelNotReadyException", 503, "provider_overloaded"},
		{"internalServerException", 502, "upstream_error"},
		{"modelStreamErrorException", 502, "upstream_error"},
		{"validationException", 400, ""},
		{"AccessDeniedException", 502, "provider_auth_failed"},
		{"ExpiredTokenException", 502, "provider_auth_failed"},
		{"ResourceNotFoundException", 502, "upstream_not_found"},
		{"ModelTimeoutException", 504, "upstream_timeout"},
		{"SomethingNew", 502, "upstream_error"},
	}
	for _, tc := range tests {
		t.Run(tc.typ, func(t *testing.T) {
			e := bedrockAPIError(0, "", tc.typ, "m")
			if e.Status != tc.wantStatus || e.Code != tc.wantCode {
				t.Errorf("got %d %q, want %d %q", e.Status, e.Code, tc.wantStatus, tc.wantCode)
			}
		})
	}
}

func FuzzBedrockResponse(f *testing.F) {
	for _, b := range transcriptBodies(f, "bedrock") {
		f.Add(b)
	}
	f.Add([]byte(`{"output":{"message":{"content":[{"toolUse":{"name":7,"input":[1]}},{"reasoningContent":{"reasoningText":{"text":5}}},{"text":"\u0000"}]}},"usage":{"inputTokens":"x"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := bytes.Clone(body)
		out, _, err := openAIToBedrock{}.Response(body)
		if !bytes.Equal(body, orig) {
			t.Fatal("Response modified its input")
		}
		if err != nil {
			return
		}
		if !gjson.ValidBytes(out) || gjson.GetBytes(out, "choices.0.finish_reason").Str == "" {
			t.Fatalf("bad output %s", out)
		}
	})
}

func FuzzBedrockRequest(f *testing.F) {
	for _, name := range goldenCases(f, "openai_bedrock") {
		in, err := os.ReadFile(filepath.Join(testdata, "openai_bedrock", name+".in.json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := bytes.Clone(body)
		req, err := openAIToBedrock{}.Request(body, bedrockTarget)
		if !bytes.Equal(body, orig) {
			t.Fatal("Request modified its input")
		}
		if err != nil {
			var e *APIError
			if !errors.As(err, &e) || e.Status != 400 {
				t.Fatalf("error %v is not a 400 APIError", err)
			}
			return
		}
		if !gjson.ValidBytes(req.Body) || !gjson.GetBytes(req.Body, "messages.0.content").IsArray() {
			t.Fatalf("bad body %s", req.Body)
		}
	})
}

func BenchmarkBedrockRequest(b *testing.B) {
	benchRequest(b, openAIToBedrock{}, goldenIn(b, "openai_bedrock", "tool_results"), bedrockTarget)
}

func BenchmarkBedrockResponse(b *testing.B) {
	benchResponse(b, openAIToBedrock{}, "bedrock", "tool_use")
}

// TestBedrockDocumentName: file names become Converse document names
// (alphanumerics, single spaces, hyphens, parentheses, square brackets).
func TestBedrockDocumentName(t *testing.T) {
	for _, tc := range []struct{ filename, format, want string }{
		{"contract.pdf", "pdf", "contract"},
		{"Q3 report (final) [v2].PDF", "pdf", "Q3 report (final) [v2]"},
		{"notes.md", "txt", "notes-md"},
		{"my_file  name\t.txt", "txt", "my-file name"},
		{"  ", "pdf", "document"},
		{"", "csv", "document"},
		{"Résumé.docx", "docx", "R-sum-"},
		{strings.Repeat("a", 250) + ".pdf", "pdf", strings.Repeat("a", 200)},
	} {
		t.Run(tc.filename, func(t *testing.T) {
			if got := bedrockDocumentName(tc.filename, tc.format); got != tc.want {
				t.Errorf("bedrockDocumentName(%q, %q) = %q, want %q", tc.filename, tc.format, got, tc.want)
			}
		})
	}
}

// TestBedrockRetryAfter: Bedrock sends no retry hint, so a throttled
// request gets no Retry-After; a retry-after header (from a proxy in front
// of Bedrock) is passed on, and none is invented.
func TestBedrockRetryAfter(t *testing.T) {
	body := []byte(`{"message":"Too many requests, please wait before trying again."}`)
	for _, tc := range []struct{ name, header, want string }{
		{"no header", "", ""},
		{"retry-after header", "3", "3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			header := func(k string) string {
				switch k {
				case "x-amzn-errortype":
					return "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"
				case "retry-after":
					return tc.header
				}
				return ""
			}
			for _, got := range []*APIError{openAIToBedrock{}.HeaderError(429, header, body), openAIToBedrock{}.Error(429, tc.header, body)} {
				if got.Status != 429 || got.Code != "rate_limit_exceeded" || got.RetryAfter != tc.want {
					t.Errorf("got %+v, want a 429 rate_limit_exceeded with Retry-After %q", *got, tc.want)
				}
			}
		})
	}
}
