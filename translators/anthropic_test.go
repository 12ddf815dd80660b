package translators

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

var anthropicTarget = Target{Model: "claude-sonnet-4-5-20250929"}

func TestAnthropicRequestGolden(t *testing.T) {
	tr := openAIToAnthropic{}
	for _, name := range goldenCases(t, "openai_anthropic") {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(testdata, "openai_anthropic")
			in, err := os.ReadFile(filepath.Join(dir, name+".in.json"))
			if err != nil {
				t.Fatal(err)
			}
			orig := bytes.Clone(in)
			req, err := tr.Request(in, anthropicTarget)
			if err != nil {
				t.Fatalf("Request: %v", err)
			}
			if !bytes.Equal(in, orig) {
				t.Fatal("Request modified its input")
			}
			checkGolden(t, filepath.Join(dir, name+".out.json"), prettyJSON(t, req.Body))
		})
	}
}

func TestAnthropicRequestFields(t *testing.T) {
	tests := []struct {
		name             string
		body             string
		target           Target
		wantPath         string
		wantHeaders      []Header
		wantStream       bool
		wantIncludeUsage bool
	}{
		{
			name:     "plain",
			body:     `{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
			target:   Target{Model: "claude"},
			wantPath: "/v1/messages",
			wantHeaders: []Header{
				{"content-type", "application/json"}, {"anthropic-version", "2023-06-01"},
			},
		},
		{
			name:        "no key and a path prefix",
			body:        `{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
			target:      Target{Model: "claude", PathPrefix: "/anthropic"},
			wantPath:    "/anthropic/v1/messages",
			wantHeaders: []Header{{"content-type", "application/json"}, {"anthropic-version", "2023-06-01"}},
		},
		{
			name:             "stream with usage",
			body:             `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`,
			target:           Target{Model: "claude"},
			wantPath:         "/v1/messages",
			wantHeaders:      []Header{{"content-type", "application/json"}, {"anthropic-version", "2023-06-01"}},
			wantStream:       true,
			wantIncludeUsage: true,
		},
		{
			name:        "stream without usage",
			body:        `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`,
			target:      Target{Model: "claude"},
			wantPath:    "/v1/messages",
			wantHeaders: []Header{{"content-type", "application/json"}, {"anthropic-version", "2023-06-01"}},
			wantStream:  true,
		},
		{
			name:        "include_usage ignored without stream",
			body:        `{"model":"m","stream":false,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`,
			target:      Target{Model: "claude"},
			wantPath:    "/v1/messages",
			wantHeaders: []Header{{"content-type", "application/json"}, {"anthropic-version", "2023-06-01"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := openAIToAnthropic{}.Request([]byte(tc.body), tc.target)
			if err != nil {
				t.Fatal(err)
			}
			if req.Path != tc.wantPath {
				t.Errorf("path %q, want %q", req.Path, tc.wantPath)
			}
			if len(req.Headers) != len(tc.wantHeaders) {
				t.Fatalf("headers %v, want %v", req.Headers, tc.wantHeaders)
			}
			for i := range req.Headers {
				if req.Headers[i] != tc.wantHeaders[i] {
					t.Errorf("headers %v, want %v", req.Headers, tc.wantHeaders)
				}
			}
			if req.Stream != tc.wantStream || req.IncludeUsage != tc.wantIncludeUsage {
				t.Errorf("stream %v include usage %v, want %v %v", req.Stream, req.IncludeUsage, tc.wantStream, tc.wantIncludeUsage)
			}
			if got := gjson.GetBytes(req.Body, "stream").Bool(); got != tc.wantStream {
				t.Errorf("body stream %v, want %v", got, tc.wantStream)
			}
			if got := gjson.GetBytes(req.Body, "model").Str; got != tc.target.Model {
				t.Errorf("body model %q, want %q", got, tc.target.Model)
			}
		})
	}
}

func TestAnthropicRequestErrors(t *testing.T) {
	const user = `{"role":"user","content":"hi"}`
	tests := []struct {
		name     string
		body     string
		wantCode string
		wantMsg  string
	}{
		{"not json", `{"model":`, "invalid_json", "not valid JSON"},
		{"no messages", `{"model":"m","messages":[]}`, "invalid_messages", "'messages' must be a non-empty array"},
		{"only system", `{"messages":[{"role":"system","content":"be nice"}]}`, "invalid_messages", "at least one user or assistant message"},
		{"n above one", `{"n":2,"messages":[` + user + `]}`, "unsupported_parameter", "'n' other than 1 is not supported"},
		{"logprobs", `{"logprobs":true,"messages":[` + user + `]}`, "unsupported_parameter", "'logprobs' is not supported"},
		{"json schema without schema", `{"response_format":{"type":"json_schema"},"messages":[` + user + `]}`, "invalid_value", "'response_format.json_schema.schema' must be a JSON Schema object"},
		{"json tool name reserved", `{"tools":[{"type":"function","function":{"name":"structured_output_json"}}],"messages":[` + user + `]}`, "invalid_value", `tools[0].function.name: the name "structured_output_json" is reserved for response_format json_object`},
		{"json schema not object", `{"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":"any"}},"messages":[` + user + `]}`, "invalid_value", "'response_format.json_schema.schema' must be a JSON Schema object"},
		{"unknown response_format", `{"response_format":{"type":"regex"},"messages":[` + user + `]}`, "unsupported_parameter", `'response_format' of type "regex" is not supported by Anthropic models`},
		{"reasoning not object", `{"reasoning":"high","messages":[` + user + `]}`, "invalid_value", "'reasoning' must be an object"},
		{"effort and budget", `{"reasoning":{"effort":"high","max_tokens":2000},"messages":[` + user + `]}`, "invalid_value", "'reasoning.effort' and 'reasoning.max_tokens' are mutually exclusive"},
		{"unknown effort", `{"reasoning_effort":"extreme","messages":[` + user + `]}`, "invalid_value", `'reasoning_effort' must be one of none, minimal, low, medium, high, xhigh: got "extreme"`},
		{"numeric effort", `{"reasoning":{"effort":3},"messages":[` + user + `]}`, "invalid_value", "'reasoning.effort' must be one of none, minimal, low, medium, high, xhigh: got 3"},
		{"zero reasoning budget", `{"reasoning":{"max_tokens":0},"messages":[` + user + `]}`, "invalid_value", "'reasoning.max_tokens' must be a positive integer"},
		{"forced tool with thinking", `{"reasoning_effort":"low","tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required","messages":[` + user + `]}`, "unsupported_parameter", "'tool_choice' that forces a tool call cannot be combined with reasoning"},
		{"named tool with thinking", `{"reasoning":{"enabled":true},"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"f"}},"messages":[` + user + `]}`, "unsupported_parameter", "extended thinking allows only auto and none"},
		{"temperature above 2", `{"temperature":2.5,"messages":[` + user + `]}`, "invalid_value", "'temperature' must be between 0 and 2"},
		{"negative temperature", `{"temperature":-0.1,"messages":[` + user + `]}`, "invalid_value", "'temperature' must be between 0 and 2"},
		{"cache_control not object", `{"messages":[{"role":"user","content":[{"type":"text","text":"hi","cache_control":"ephemeral"}]}]}`, "invalid_value", "messages[0].content[0].cache_control must be an object"},
		{"message cache_control not object", `{"messages":[{"role":"user","content":"hi","cache_control":true}]}`, "invalid_value", "messages[0].cache_control must be an object"},
		{"tool cache_control not object", `{"tools":[{"type":"function","function":{"name":"f"},"cache_control":1}],"messages":[` + user + `]}`, "invalid_value", "tools[0].cache_control must be an object"},
		{"bmp image", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/bmp;base64,Qk0="}}]}]}`, "unsupported_parameter", `image type "image/bmp" is not supported by Anthropic models (jpeg, png, gif and webp are)`},
		{"reasoning_details not array", `{"messages":[` + user + `,{"role":"assistant","content":"x","reasoning_details":{"type":"reasoning.text"}}]}`, "invalid_messages", "messages[1].reasoning_details must be an array"},
		{"encrypted without data", `{"messages":[` + user + `,{"role":"assistant","content":"x","reasoning_details":[{"type":"reasoning.encrypted","format":"anthropic-claude-v1"}]}]}`, "invalid_messages", "messages[1].reasoning_details[0]: reasoning.encrypted needs a string 'data'"},
		{"required name dropped", `{"provider":{"require_parameters":true},"messages":[{"role":"user","name":"alice","content":"hi"}]}`, "unsupported_parameter", "provider schema anthropic cannot honour: messages[].name (provider.require_parameters is set)"},
		{"required parameter dropped", `{"seed":7,"frequency_penalty":0.1,"provider":{"require_parameters":true},"messages":[` + user + `]}`, "unsupported_parameter", "provider schema anthropic cannot honour: frequency_penalty, seed (provider.require_parameters is set)"},
		{"required temperature with thinking", `{"temperature":0.2,"reasoning_effort":"low","provider":{"require_parameters":true},"messages":[` + user + `]}`, "unsupported_parameter", "cannot honour: temperature (provider.require_parameters is set)"},
		{"required temperature above one", `{"temperature":1.5,"provider":{"require_parameters":true},"messages":[` + user + `]}`, "unsupported_parameter", "cannot honour: temperature (provider.require_parameters is set)"},
		{"audio output", `{"audio":{"voice":"alloy"},"messages":[` + user + `]}`, "unsupported_parameter", "'audio' output"},
		{"zero max_tokens", `{"max_tokens":0,"messages":[` + user + `]}`, "invalid_value", "'max_tokens' must be a positive integer"},
		{"fractional max_completion_tokens", `{"max_completion_tokens":1.5,"messages":[` + user + `]}`, "invalid_value", "'max_completion_tokens' must be a positive integer"},
		{"string temperature", `{"temperature":"hot","messages":[` + user + `]}`, "invalid_value", "'temperature' must be a number"},
		{"fractional top_k", `{"top_k":2.5,"messages":[` + user + `]}`, "invalid_value", "'top_k' must be an integer"},
		{"numeric stop", `{"stop":7,"messages":[` + user + `]}`, "invalid_value", "'stop' must be a string or an array of strings"},
		{"stop array with number", `{"stop":["a",1],"messages":[` + user + `]}`, "invalid_value", "'stop' must be a string or an array of strings"},
		{"message not object", `{"messages":["hi"]}`, "invalid_messages", "messages[0] must be an object"},
		{"unknown role", `{"messages":[{"role":"function","content":"x"}]}`, "invalid_messages", `messages[0].role: unsupported role "function"`},
		{"numeric content", `{"messages":[{"role":"user","content":5}]}`, "invalid_messages", "messages[0].content must be a string or an array"},
		{"file by id", `{"messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"file-abc"}}]}]}`, "unsupported_parameter", `messages[0].content[0]: a file part needs 'file_data'`},
		{"file not a data url", `{"messages":[{"role":"user","content":[{"type":"file","file":{"file_data":"https://x/y.pdf"}}]}]}`, "invalid_value", "file_data must be a base64 data URL"},
		{"word document", `{"messages":[{"role":"user","content":[{"type":"file","file":{"file_data":"data:application/vnd.openxmlformats-officedocument.wordprocessingml.document;base64,UEsDBA=="}}]}]}`, "unsupported_parameter", "(application/pdf and text/plain are)"},
		{"text file not base64", `{"messages":[{"role":"user","content":[{"type":"file","file":{"file_data":"data:text/plain;base64,%%%"}}]}]}`, "invalid_value", "file_data is not valid base64"},
		{"audio part", `{"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]}`, "unsupported_parameter", `messages[0].content[0]: content part type "input_audio" is not supported`},
		{"unknown part", `{"messages":[{"role":"user","content":[{"type":"video"}]}]}`, "invalid_messages", `unknown content part type "video"`},
		{"text part without text", `{"messages":[{"role":"user","content":[{"type":"text"}]}]}`, "invalid_messages", "text part needs a string 'text'"},
		{"image in system", `{"messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]},` + user + `]}`, "invalid_messages", `content part type "image_url" is not allowed here`},
		{"data url not base64", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,abc"}}]}]}`, "invalid_value", "image data URL must be base64"},
		{"data url not image", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:application/pdf;base64,JVBER"}}]}]}`, "invalid_value", `media type "application/pdf" is not an image`},
		{"ftp image", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x/y.png"}}]}]}`, "invalid_value", "must be a data: URL or an http(s) URL"},
		{"bad tool arguments", `{"messages":[` + user + `,{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":"}}]}]}`, "invalid_value", "messages[1].tool_calls[0].function.arguments is not valid JSON"},
		{"array tool arguments", `{"messages":[` + user + `,{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`, "invalid_value", "arguments must be a JSON object"},
		{"tool call without id", `{"messages":[` + user + `,{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]}]}`, "invalid_messages", "tool call needs an id and a function name"},
		{"legacy function_call", `{"messages":[` + user + `,{"role":"assistant","function_call":{"name":"f","arguments":"{}"}}]}`, "unsupported_parameter", "legacy 'function_call' is not supported"},
		{"tool message without id", `{"messages":[` + user + `,{"role":"tool","content":"42"}]}`, "invalid_messages", "messages[1]: tool message needs a 'tool_call_id'"},
		{"tools not array", `{"tools":{},"messages":[` + user + `]}`, "invalid_value", "'tools' must be an array"},
		{"non-function tool", `{"tools":[{"type":"web_search"}],"messages":[` + user + `]}`, "unsupported_parameter", `tools[0]: tool type "web_search" is not supported`},
		{"tool without name", `{"tools":[{"type":"function","function":{}}],"messages":[` + user + `]}`, "invalid_value", "tools[0].function.name is required"},
		{"tool parameters not object", `{"tools":[{"type":"function","function":{"name":"f","parameters":"x"}}],"messages":[` + user + `]}`, "invalid_value", "parameters must be a JSON Schema object"},
		{"unknown tool_choice", `{"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"sometimes","messages":[` + user + `]}`, "invalid_value", `got "sometimes"`},
		{"tool_choice without name", `{"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{}},"messages":[` + user + `]}`, "invalid_value", "'tool_choice.function.name' is required"},
		{"allowed_tools choice", `{"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"allowed_tools"},"messages":[` + user + `]}`, "unsupported_parameter", "'tool_choice' must be"},
		{"required without tools", `{"tool_choice":"required","messages":[` + user + `]}`, "invalid_value", "'tool_choice' requires 'tools'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.body)
			orig := bytes.Clone(in)
			_, err := openAIToAnthropic{}.Request(in, anthropicTarget)
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v, want *APIError", err)
			}
			if ae.Status != 400 || ae.Type != TypeInvalidRequest || ae.Code != tc.wantCode {
				t.Errorf("got %d %s %s, want 400 %s %s", ae.Status, ae.Type, ae.Code, TypeInvalidRequest, tc.wantCode)
			}
			if !strings.Contains(ae.Message, tc.wantMsg) {
				t.Errorf("message %q, want it to contain %q", ae.Message, tc.wantMsg)
			}
			if !bytes.Equal(in, orig) {
				t.Error("Request modified its input")
			}
		})
	}
}

func TestAnthropicResponseGolden(t *testing.T) {
	tests := []struct {
		name      string
		wantUsage Usage
	}{
		{"text", Usage{PromptTokens: 27, CompletionTokens: 41}},
		{"tool_use", Usage{PromptTokens: 412, CompletionTokens: 93}},
		{"parallel_tool_use", Usage{PromptTokens: 418, CompletionTokens: 131}},
		{"cache_usage", Usage{PromptTokens: 14 + 1840 + 312, CompletionTokens: 22, CachedTokens: 1840, CacheWriteTokens: 312}},
		{"thinking", Usage{PromptTokens: 46, CompletionTokens: 112}},
		{"thinking_redacted", Usage{PromptTokens: 92, CompletionTokens: 187}},
		{"thinking_tool_use", Usage{PromptTokens: 528, CompletionTokens: 164}},
		{"thinking_tool_result", Usage{PromptTokens: 742, CompletionTokens: 31}},
		{"structured_output", Usage{PromptTokens: 187, CompletionTokens: 38}},
		{"json_object", Usage{PromptTokens: 642, CompletionTokens: 41}},
		// The web search server tool: its blocks are not tool calls, its
		// citations are url_citation annotations.
		{"web_search", Usage{PromptTokens: 6039, CompletionTokens: 186, WebSearches: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := translateGolden(t, openAIToAnthropic{}, "anthropic", tc.name, tc.wantUsage)
			checkGolden(t, filepath.Join(testdata, "openai_anthropic", tc.name+".resp.json"), prettyJSON(t, normalize(out)))
		})
	}
}

func TestAnthropicResponseErrors(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantCode   string
		wantMsg    string
	}{
		{"html", "<html>502 Bad Gateway</html>", 502, "bad_upstream_response", "provider returned a body that is not JSON"},
		{"error object with 200", `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, 503, "provider_overloaded", "Overloaded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := openAIToAnthropic{}.Response([]byte(tc.body))
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v, want *APIError", err)
			}
			if ae.Status != tc.wantStatus || ae.Code != tc.wantCode || ae.Message != tc.wantMsg {
				t.Errorf("got %d %s %q, want %d %s %q", ae.Status, ae.Code, ae.Message, tc.wantStatus, tc.wantCode, tc.wantMsg)
			}
		})
	}
}

func TestAnthropicResponseShapes(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		wantFinish string
		wantNull   bool // content is null
		wantArgs   string
	}{
		{"max_tokens", `{"id":"m","content":[{"type":"text","text":"abc"}],"stop_reason":"max_tokens"}`, "length", false, ""},
		{"refusal", `{"id":"m","content":[],"stop_reason":"refusal"}`, "content_filter", true, ""},
		{"stop_sequence", `{"id":"m","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}],"stop_reason":"stop_sequence"}`, "stop", false, ""},
		{"tool without text", `{"id":"m","content":[{"type":"thinking","thinking":"hmm","signature":"s"},{"type":"tool_use","id":"t","name":"f","input":{ "a" : [1, 2] }}],"stop_reason":"tool_use"}`, "tool_calls", true, `{"a":[1,2]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := openAIToAnthropic{}.Response([]byte(tc.body))
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

func TestAnthropicError(t *testing.T) {
	tests := []struct {
		name       string
		transcript string // or status and body
		status     int
		body       string
		want       APIError
	}{
		{
			name: "rate limited", transcript: "error_429",
			want: APIError{Status: 429, Type: TypeRateLimit, Code: "rate_limit_exceeded", RetryAfter: "17",
				Message: "This request would exceed the rate limit for your organization (6f1c3e0a-2b7d-4c1e-9a52-3d8e41b0c7f2) of 30,000 input tokens per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later. You may also contact sales at https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase."},
		},
		{
			name: "bad key", transcript: "error_401",
			want: APIError{Status: 502, Type: TypeUpstream, Code: "provider_auth_failed",
				Message: "the gateway's credential for the provider was rejected (upstream status 401)"},
		},
		{
			name: "overloaded", transcript: "error_529",
			want: APIError{Status: 503, Type: TypeUpstream, Code: "provider_overloaded", Message: "Overloaded"},
		},
		{
			name: "prompt too long", status: 400,
			body: `{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 215843 tokens > 200000 maximum"}}`,
			want: APIError{Status: 400, Type: TypeInvalidRequest, Code: "context_length_exceeded", Message: "prompt is too long: 215843 tokens > 200000 maximum"},
		},
		{
			name: "invalid request", status: 400,
			body: `{"type":"error","error":{"type":"invalid_request_error","message":"temperature: range: 0..1"}}`,
			want: APIError{Status: 400, Type: TypeInvalidRequest, Message: "temperature: range: 0..1"},
		},
		{
			name: "permission", status: 403,
			body: `{"type":"error","error":{"type":"permission_error","message":"Your API key does not have permission to use the specified resource."}}`,
			want: APIError{Status: 502, Type: TypeUpstream, Code: "provider_auth_failed", Message: "the gateway's credential for the provider was rejected (upstream status 403)"},
		},
		{
			name: "rate limit type wins over status", status: 400,
			body: `{"type":"error","error":{"type":"rate_limit_error","message":"Number of concurrent connections has exceeded your rate limit."}}`,
			want: APIError{Status: 429, Type: TypeRateLimit, Code: "rate_limit_exceeded", Message: "Number of concurrent connections has exceeded your rate limit."},
		},
		{
			name: "api error", status: 500,
			body: `{"type":"error","error":{"type":"api_error","message":"Internal server error"}}`,
			want: APIError{Status: 502, Type: TypeUpstream, Code: "upstream_error", Message: "Internal server error"},
		},
		{
			name: "model not found", status: 404,
			body: `{"type":"error","error":{"type":"not_found_error","message":"model: claude-9"}}`,
			want: APIError{Status: 502, Type: TypeUpstream, Code: "upstream_not_found", Message: "model: claude-9"},
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
				tx := readTranscript(t, "anthropic", tc.transcript)
				status, retryAfter, body = tx.status, tx.header.Get("Retry-After"), tx.body
			}
			got := openAIToAnthropic{}.Error(status, retryAfter, body)
			if *got != tc.want {
				t.Errorf("got  %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}

func TestAnthropicStreamGolden(t *testing.T) {
	tests := []struct {
		name       string
		transcript string
		body       string // used when transcript is empty
		usage      bool
		wantUsage  Usage
		wantErr    string // code of the error chunk
		wantErrMsg string
		wantFinish string // checked when set
	}{
		{name: "text_stream", transcript: "text_stream", usage: true, wantUsage: Usage{PromptTokens: 18, CompletionTokens: 24}},
		{name: "web_search_stream", transcript: "web_search_stream", usage: true, wantUsage: Usage{PromptTokens: 6039, CompletionTokens: 186, WebSearches: 1}},
		{name: "text_stream.no_usage", transcript: "text_stream", wantUsage: Usage{PromptTokens: 18, CompletionTokens: 24}},
		{name: "tool_use_stream", transcript: "tool_use_stream", usage: true, wantUsage: Usage{PromptTokens: 472, CompletionTokens: 118}},
		{name: "thinking_stream", transcript: "thinking_stream", usage: true, wantUsage: Usage{PromptTokens: 46, CompletionTokens: 109}},
		{name: "thinking_tool_use_stream", transcript: "thinking_tool_use_stream", usage: true, wantUsage: Usage{PromptTokens: 528, CompletionTokens: 158}},
		{name: "structured_output_stream", transcript: "structured_output_stream", wantUsage: Usage{PromptTokens: 187, CompletionTokens: 38}},
		{name: "json_object_stream", transcript: "json_object_stream", usage: true, wantUsage: Usage{PromptTokens: 642, CompletionTokens: 41}, wantFinish: "stop"},
		{name: "refusal_stream", transcript: "refusal_stream", usage: true, wantUsage: Usage{PromptTokens: 41, CompletionTokens: 9}, wantFinish: "content_filter"},
		{
			name: "cache_usage_stream", transcript: "cache_usage_stream", usage: true,
			wantUsage: Usage{PromptTokens: 14 + 1840 + 312, CompletionTokens: 22, CachedTokens: 1840, CacheWriteTokens: 312},
		},
		{
			name: "stream_overloaded", transcript: "stream_overloaded", usage: true,
			wantUsage: Usage{PromptTokens: 35, CompletionTokens: 1}, wantErr: "provider_overloaded", wantErrMsg: "Overloaded",
		},
		{
			name: "stream_truncated", transcript: "stream_truncated", usage: true,
			wantUsage: Usage{PromptTokens: 52, CompletionTokens: 1},
			wantErr:   "upstream_stream_error", wantErrMsg: "provider stream ended before the response was complete",
		},
		{
			name:    "stream_garbage",
			body:    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"claude\"}}\n\nevent: content_block_delta\ndata: <html>oops</html>\n\n",
			wantErr: "upstream_stream_error", wantErrMsg: "provider sent a stream event that is not JSON",
		},
		{
			name:    "stream_delta_before_start",
			body:    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\n",
			wantErr: "upstream_stream_error", wantErrMsg: "provider stream did not start with message_start",
		},
		{
			name: "stream_cache_thinking_unknown_events",
			body: "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_2\",\"model\":\"claude\",\"usage\":{\"input_tokens\":3,\"cache_read_input_tokens\":100,\"cache_creation_input_tokens\":20,\"output_tokens\":1}}}\n\n" +
				"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\n\n" +
				"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Let me think\"}}\n\n" +
				"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EqQB\"}}\n\n" +
				"event: brand_new_event\ndata: {\"type\":\"brand_new_event\"}\n\n" +
				": a comment line\n\n" +
				"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
				"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"<b>\\\"quoted\\\"</b>\\u0000\"}}\n\n" +
				"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"max_tokens\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":9}}\n\n" +
				"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":10}}\n\n" +
				"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n" +
				"event: content_block_delta\ndata: ignored after message_stop\n\n",
			usage:     true,
			wantUsage: Usage{PromptTokens: 123, CompletionTokens: 10, CachedTokens: 100, CacheWriteTokens: 20},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(tc.body)
			if tc.transcript != "" {
				body = readTranscript(t, "anthropic", tc.transcript).body
			}
			golden := filepath.Join(testdata, "openai_anthropic", tc.name+".resp.sse")
			out, usage := checkStreamGolden(t, openAIToAnthropic{}, StreamOptions{IncludeUsage: tc.usage}, body, golden)
			if usage != tc.wantUsage {
				t.Errorf("usage %+v, want %+v", usage, tc.wantUsage)
			}
			if got := streamFinishReason(out); tc.wantFinish != "" && got != tc.wantFinish {
				t.Errorf("finish_reason %q, want %q", got, tc.wantFinish)
			}
			e := streamErrorOf(out)
			if e.Get("code").Str != tc.wantErr || e.Get("message").Str != tc.wantErrMsg {
				t.Errorf("error chunk %s, want code %q message %q", e.Raw, tc.wantErr, tc.wantErrMsg)
			}
			hasUsage := bytes.Contains(out, []byte(`"choices":[],"usage"`))
			if want := tc.usage && tc.wantErr == ""; hasUsage != want {
				t.Errorf("usage chunk present %v, want %v", hasUsage, want)
			}
		})
	}
}

func TestAnthropicStreamToolIndexes(t *testing.T) {
	body := readTranscript(t, "anthropic", "tool_use_stream").body
	out, _ := runStream(openAIToAnthropic{}, StreamOptions{}, body, whole)
	args := map[int64]string{}
	ids := map[int64]string{}
	for _, ev := range bytes.Split(out, []byte("\n\n")) {
		data, _ := bytes.CutPrefix(ev, []byte("data: "))
		for _, tc := range gjson.GetBytes(data, "choices.0.delta.tool_calls").Array() {
			i := tc.Get("index").Int()
			args[i] += tc.Get("function.arguments").Str
			if id := tc.Get("id").Str; id != "" {
				ids[i] = id
			}
		}
	}
	want := map[int64][2]string{
		0: {"toolu_01T1x1fJ34qAmk2tNTrN7Up6", `{"location": "San Francisco, CA", "unit": "fahrenheit"}`},
		1: {"toolu_01Kz8sJd9TqYp3MvWn5RbXc2", `{"location": "Tokyo, Japan", "unit": "celsius"}`},
	}
	if len(args) != len(want) {
		t.Fatalf("tool calls %v, want %v", args, want)
	}
	for i, w := range want {
		if ids[i] != w[0] || args[i] != w[1] {
			t.Errorf("tool call %d: id %q args %q, want %q %q", i, ids[i], args[i], w[0], w[1])
		}
	}
}

// TestStreamDoneOnlyFromFinish pins the StreamTranslator contract the
// ext_proc layer relies on: a complete stream's usage chunk and [DONE] come
// from Finish, and input after the upstream's end is ignored.
func TestStreamDoneOnlyFromFinish(t *testing.T) {
	tests := []struct {
		name       string
		tr         Translator
		provider   string
		transcript string
		// usageAtEnd: the gateway builds the usage chunk, so Finish writes
		// it; OpenAI's own usage chunk passes through as it arrives.
		usageAtEnd bool
	}{
		{"anthropic text", openAIToAnthropic{}, "anthropic", "text_stream", true},
		{"anthropic tools", openAIToAnthropic{}, "anthropic", "tool_use_stream", true},
		{"openai chat", openAIToOpenAI{}, "openai", "chat_stream", false},
		{"openai tools", openAIToOpenAI{}, "openai", "tool_calls_stream", false},
	}
	late := []byte("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"late\"}}\n\n")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.tr.NewStream(StreamOptions{IncludeUsage: true})
			out := st.Translate(nil, readTranscript(t, tc.provider, tc.transcript).body)
			out = st.Translate(out, late)
			if bytes.Contains(out, []byte("[DONE]")) || bytes.Contains(out, []byte("late")) {
				t.Fatalf("Translate wrote [DONE] or input after the end:\n%s", out)
			}
			n := len(out)
			out = st.Finish(out)
			checkSSE(t, out)
			if got := bytes.Contains(out[n:], []byte(`"choices":[],"usage":{`)); got != tc.usageAtEnd {
				t.Errorf("usage chunk from Finish %v, want %v: %s", got, tc.usageAtEnd, out[n:])
			}
			if again := st.Finish(out); len(again) != len(out) {
				t.Errorf("second Finish wrote %q", again[len(out):])
			}
		})
	}
}

func TestAnthropicStreamEventTooLarge(t *testing.T) {
	st := openAIToAnthropic{}.NewStream(StreamOptions{})
	out := st.Translate(nil, []byte("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_big\",\"model\":\"claude\"}}\n\n"))
	out = st.Translate(out, []byte("data: "+strings.Repeat("x", maxEventBytes)))
	checkSSE(t, out)
	if e := streamErrorOf(out); e.Get("message").Str != ErrEventTooLarge.Error() {
		t.Errorf("error chunk %s, want %q", e.Raw, ErrEventTooLarge)
	}
}

// TestAnthropicRequestParams pins what a request sends for reasoning and
// sampling, and which parameters it reports as dropped.
func TestAnthropicRequestParams(t *testing.T) {
	const user = `"messages":[{"role":"user","content":"hi"}]`
	tests := []struct {
		name        string
		body        string
		wantBudget  int64 // 0: no thinking block
		wantMax     int64
		wantTemp    string // raw temperature sent, "" for none
		wantDropped []string
	}{
		{name: "no reasoning", body: `{` + user + `}`, wantMax: 4096},
		{name: "effort none", body: `{"reasoning_effort":"none",` + user + `}`, wantMax: 4096},
		{name: "minimal effort", body: `{"reasoning_effort":"minimal",` + user + `}`, wantBudget: 1024, wantMax: 1024 + 4096},
		{name: "medium effort", body: `{"reasoning_effort":"medium",` + user + `}`, wantBudget: 8192, wantMax: 8192 + 4096},
		{name: "high effort", body: `{"reasoning":{"effort":"high"},` + user + `}`, wantBudget: 16384, wantMax: 16384 + 4096},
		{name: "xhigh effort", body: `{"reasoning":{"effort":"xhigh"},` + user + `}`, wantBudget: 32000, wantMax: 32000 + 4096},
		{name: "effort share of max_tokens", body: `{"reasoning_effort":"medium","max_tokens":20000,` + user + `}`, wantBudget: 10000, wantMax: 20000},
		{name: "effort share capped", body: `{"reasoning_effort":"high","max_tokens":64000,` + user + `}`, wantBudget: 32000, wantMax: 64000},
		{name: "effort below minimum raises max_tokens", body: `{"reasoning_effort":"low","max_tokens":500,` + user + `}`, wantBudget: 1024, wantMax: 1524},
		{name: "reasoning effort wins over reasoning_effort", body: `{"reasoning_effort":"high","reasoning":{"effort":"minimal"},` + user + `}`, wantBudget: 1024, wantMax: 1024 + 4096},
		{name: "budget under max_tokens", body: `{"reasoning":{"max_tokens":2000},"max_completion_tokens":8000,` + user + `}`, wantBudget: 2000, wantMax: 8000},
		{name: "budget raised to minimum", body: `{"reasoning":{"max_tokens":100},` + user + `}`, wantBudget: 1024, wantMax: 1024 + 4096},
		{name: "enabled alone is medium", body: `{"reasoning":{"enabled":true},` + user + `}`, wantBudget: 8192, wantMax: 8192 + 4096},
		{name: "enabled false wins", body: `{"reasoning":{"enabled":false,"effort":"high"},` + user + `}`, wantMax: 4096},
		{name: "exclude alone enables nothing", body: `{"reasoning":{"exclude":true},` + user + `}`, wantMax: 4096},
		{name: "temperature kept", body: `{"temperature":0.3,` + user + `}`, wantMax: 4096, wantTemp: "0.3"},
		{name: "temperature clamped to one", body: `{"temperature":1.7,` + user + `}`, wantMax: 4096, wantTemp: "1", wantDropped: []string{"temperature"}},
		{
			name: "thinking drops sampling", body: `{"reasoning_effort":"low","temperature":0.5,"top_k":5,"top_p":0.5,` + user + `}`,
			wantBudget: 2048, wantMax: 2048 + 4096, wantDropped: []string{"temperature", "top_p", "top_k"},
		},
		{name: "thinking keeps temperature one", body: `{"reasoning_effort":"low","temperature":1,"top_p":0.95,` + user + `}`, wantBudget: 2048, wantMax: 2048 + 4096},
		{
			name: "unsupported parameters", body: `{"frequency_penalty":0.5,"presence_penalty":0.1,"seed":1,"logit_bias":{"5":1},"top_logprobs":2,"service_tier":"flex","metadata":{"a":"b"},"parallel_tool_calls":true,` + user + `}`,
			wantMax: 4096, wantDropped: []string{"frequency_penalty", "presence_penalty", "seed", "logit_bias", "top_logprobs", "service_tier", "metadata"},
		},
		{name: "null parameters are not set", body: `{"seed":null,"frequency_penalty":null,"temperature":null,` + user + `}`, wantMax: 4096},
		{
			name: "participant names dropped and reported", body: `{"seed":1,"messages":[{"role":"system","content":"s"},{"role":"user","name":"alice","content":"hi"}]}`,
			wantMax: 4096, wantDropped: []string{"seed", "messages[].name"},
		},
		{name: "empty name is not set", body: `{"messages":[{"role":"user","name":"","content":"hi"}]}`, wantMax: 4096},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := openAIToAnthropic{}.Request([]byte(tc.body), anthropicTarget)
			if err != nil {
				t.Fatal(err)
			}
			b := gjson.ParseBytes(req.Body)
			if got := b.Get("thinking.budget_tokens").Int(); got != tc.wantBudget || b.Get("thinking").Exists() != (tc.wantBudget > 0) {
				t.Errorf("thinking %s, want budget %d", b.Get("thinking").Raw, tc.wantBudget)
			}
			if tc.wantBudget > 0 && b.Get("thinking.type").Str != "enabled" {
				t.Errorf("thinking type %q, want enabled", b.Get("thinking.type").Str)
			}
			if got := b.Get("max_tokens").Int(); got != tc.wantMax {
				t.Errorf("max_tokens %d, want %d", got, tc.wantMax)
			}
			if got := b.Get("temperature").Raw; got != tc.wantTemp {
				t.Errorf("temperature %q, want %q", got, tc.wantTemp)
			}
			if strings.Join(req.Dropped, ",") != strings.Join(tc.wantDropped, ",") {
				t.Errorf("dropped %q, want %q", req.Dropped, tc.wantDropped)
			}
			if bytes.Contains(req.Body, []byte("alice")) {
				t.Errorf("participant name sent: %s", req.Body)
			}
		})
	}
}

func TestAnthropicRetryAfter(t *testing.T) {
	now := time.Date(2025, 11, 11, 14, 7, 12, 0, time.UTC)
	rateLimited := readTranscript(t, "anthropic", "error_429").header
	tests := []struct {
		name   string
		header http.Header
		want   string
	}{
		{"retry-after wins", rateLimited, "17"},
		{"input tokens exhausted", withoutHeader(rateLimited, "retry-after"), "17"},
		{"latest exhausted reset", http.Header{
			"Anthropic-Ratelimit-Requests-Remaining":      {"0"},
			"Anthropic-Ratelimit-Requests-Reset":          {"2025-11-11T14:07:20Z"},
			"Anthropic-Ratelimit-Output-Tokens-Remaining": {"0"},
			"Anthropic-Ratelimit-Output-Tokens-Reset":     {"2025-11-11T14:07:42.5Z"},
			"Anthropic-Ratelimit-Tokens-Remaining":        {"100"},
			"Anthropic-Ratelimit-Tokens-Reset":            {"2025-11-11T14:09:00Z"},
		}, "31"},
		{"reset already passed", http.Header{
			"Anthropic-Ratelimit-Requests-Remaining": {"0"},
			"Anthropic-Ratelimit-Requests-Reset":     {"2025-11-11T14:07:00Z"},
		}, "1"},
		{"nothing exhausted", withoutHeader(readTranscript(t, "anthropic", "text").header, "retry-after"), ""},
		{"unparsable reset", http.Header{
			"Anthropic-Ratelimit-Requests-Remaining": {"0"},
			"Anthropic-Ratelimit-Requests-Reset":     {"soon"},
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := (openAIToAnthropic{}).RetryAfter(tc.header.Get, now); got != tc.want {
				t.Errorf("RetryAfter %q, want %q", got, tc.want)
			}
		})
	}
}

func withoutHeader(h http.Header, key string) http.Header {
	h = h.Clone()
	h.Del(key)
	return h
}

// TestAnthropicExcludeReasoning covers reasoning.exclude: thinking is left
// out of the answer, streamed or not, while its tokens are still counted.
func TestAnthropicExcludeReasoning(t *testing.T) {
	for _, name := range []string{"thinking", "thinking_redacted", "thinking_tool_use"} {
		t.Run(name, func(t *testing.T) {
			body := readTranscript(t, "anthropic", name).body
			full, fullUsage, err := anthropicResponse(body, false)
			if err != nil {
				t.Fatal(err)
			}
			out, usage, err := anthropicResponse(body, true)
			if err != nil {
				t.Fatal(err)
			}
			m := gjson.GetBytes(out, "choices.0.message")
			if m.Get("reasoning").Exists() || m.Get("reasoning_details").Exists() {
				t.Errorf("reasoning not excluded: %s", m.Raw)
			}
			if usage != fullUsage || m.Get("content").Raw != gjson.GetBytes(full, "choices.0.message.content").Raw {
				t.Errorf("usage %+v content %s, want %+v %s", usage, m.Get("content").Raw, fullUsage, gjson.GetBytes(full, "choices.0.message.content").Raw)
			}
		})
	}
	for _, name := range []string{"thinking_stream", "thinking_tool_use_stream"} {
		t.Run(name, func(t *testing.T) {
			body := readTranscript(t, "anthropic", name).body
			st := &anthropicStream{opts: StreamOptions{IncludeUsage: true}, excludeReasoning: true}
			out := st.Finish(st.Translate(nil, body))
			checkSSE(t, out)
			if bytes.Contains(out, []byte(`"reasoning":`)) || bytes.Contains(out, []byte(`"reasoning_details"`)) {
				t.Errorf("reasoning not excluded:\n%s", out)
			}
			_, full := runStream(openAIToAnthropic{}, StreamOptions{IncludeUsage: true}, body, whole)
			if st.Usage() != full || !bytes.Contains(out, []byte(`"completion_tokens":`+strconv.FormatInt(full.CompletionTokens, 10))) {
				t.Errorf("usage %+v, want %+v", st.Usage(), full)
			}
		})
	}
}

// TestAnthropicStreamReasoning accumulates the streamed reasoning the way a
// client does and checks it matches the transcript: text, signature, index.
func TestAnthropicStreamReasoning(t *testing.T) {
	body := readTranscript(t, "anthropic", "thinking_stream").body
	out, _ := runStream(openAIToAnthropic{}, StreamOptions{}, body, byteByByte)
	var reasoning, detailText, signature strings.Builder
	for _, ev := range bytes.Split(out, []byte("\n\n")) {
		data, _ := bytes.CutPrefix(ev, []byte("data: "))
		d := gjson.GetBytes(data, "choices.0.delta")
		reasoning.WriteString(d.Get("reasoning").Str)
		for _, rd := range d.Get("reasoning_details").Array() {
			if rd.Get("index").Int() != 0 || rd.Get("type").Str != "reasoning.text" || rd.Get("format").Str != "anthropic-claude-v1" {
				t.Errorf("unexpected detail %s", rd.Raw)
			}
			detailText.WriteString(rd.Get("text").Str)
			signature.WriteString(rd.Get("signature").Str)
		}
	}
	var wantText, wantSig string
	for _, d := range anthropicSSEData(body) {
		wantText += gjson.Get(d, "delta.thinking").Str
		wantSig += gjson.Get(d, "delta.signature").Str
	}
	if reasoning.String() != wantText || detailText.String() != wantText || signature.String() != wantSig || wantSig == "" {
		t.Errorf("reasoning %q details %q signature %q, want %q %q", reasoning.String(), detailText.String(), signature.String(), wantText, wantSig)
	}
}

// anthropicSSEData returns the data payloads of an SSE body.
func anthropicSSEData(body []byte) []string {
	var out []string
	for _, line := range strings.Split(string(body), "\n") {
		if d, ok := strings.CutPrefix(line, "data: "); ok {
			out = append(out, d)
		}
	}
	return out
}

// TestAnthropicReasoningRoundTrip feeds the reasoning a response returned
// back as the next turn's assistant message and checks Anthropic gets the
// very thinking blocks it sent, signatures and order included.
func TestAnthropicReasoningRoundTrip(t *testing.T) {
	for _, name := range []string{"thinking", "thinking_redacted", "thinking_tool_use"} {
		t.Run(name, func(t *testing.T) {
			upstream := readTranscript(t, "anthropic", name).body
			resp, _, err := openAIToAnthropic{}.Response(upstream)
			if err != nil {
				t.Fatal(err)
			}
			msg := gjson.GetBytes(resp, "choices.0.message").Raw
			body := `{"messages":[{"role":"user","content":"q"},` + msg + `,{"role":"user","content":"next"}],"reasoning_effort":"low"}`
			if gjson.Get(msg, "tool_calls").Exists() {
				id := gjson.Get(msg, "tool_calls.0.id").Str
				body = `{"messages":[{"role":"user","content":"q"},` + msg + `,{"role":"tool","tool_call_id":"` + id + `","content":"18C"}],"tools":[{"type":"function","function":{"name":"get_weather"}}],"reasoning_effort":"low"}`
			}
			req, err := openAIToAnthropic{}.Request([]byte(body), anthropicTarget)
			if err != nil {
				t.Fatal(err)
			}
			sent := gjson.GetBytes(req.Body, "messages.1.content").Array()
			var want []gjson.Result
			for _, b := range gjson.GetBytes(upstream, "content").Array() {
				if typ := b.Get("type").Str; typ == "thinking" || typ == "redacted_thinking" {
					want = append(want, b)
				}
			}
			if len(sent) < len(want) {
				t.Fatalf("sent %d blocks, want at least %d thinking blocks", len(sent), len(want))
			}
			for i, w := range want {
				if sent[i].Raw != w.Raw {
					t.Errorf("block %d: sent %s, want %s", i, sent[i].Raw, w.Raw)
				}
			}
		})
	}
}

func FuzzAnthropicResponse(f *testing.F) {
	for _, b := range transcriptBodies(f, "anthropic") {
		f.Add(b)
	}
	f.Add([]byte(`{"content":[{"type":"thinking","thinking":7,"signature":null},{"type":"redacted_thinking"},{"type":"tool_use","input":"x"}],"usage":{"output_tokens":"9"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := bytes.Clone(body)
		out, _, err := openAIToAnthropic{}.Response(body)
		if !bytes.Equal(body, orig) {
			t.Fatal("Response modified its input")
		}
		if err != nil {
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v is not an *APIError", err)
			}
			return
		}
		if !gjson.ValidBytes(out) || !gjson.GetBytes(out, "choices.0.message").IsObject() {
			t.Fatalf("not a chat.completion: %s", out)
		}
	})
}

func FuzzAnthropicRequest(f *testing.F) {
	for _, name := range goldenCases(f, "openai_anthropic") {
		in, err := os.ReadFile(filepath.Join(testdata, "openai_anthropic", name+".in.json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := bytes.Clone(body)
		req, err := openAIToAnthropic{}.Request(body, anthropicTarget)
		if !bytes.Equal(body, orig) {
			t.Fatal("Request modified its input")
		}
		if err != nil {
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != 400 {
				t.Fatalf("error %v, want a 400 *APIError", err)
			}
			return
		}
		if !gjson.ValidBytes(req.Body) {
			t.Fatalf("request body is not JSON: %s", req.Body)
		}
	})
}

func FuzzAnthropicStream(f *testing.F) {
	for i, b := range transcriptBodies(f, "anthropic") {
		f.Add(b, uint64(i), i%2 == 0)
	}
	f.Add([]byte("data: {\"type\":\"message_start\",\"message\":{\"id\":\"\\u0001\",\"model\":\"\\xff\"}}\n\ndata: {\"type\":\"content_block_start\",\"index\":3,\"content_block\":{\"type\":\"tool_use\",\"id\":7,\"name\":null}}\n\n"), uint64(7), true)
	f.Fuzz(func(t *testing.T, body []byte, seed uint64, usage bool) {
		opts := StreamOptions{IncludeUsage: usage}
		out, u := runStream(openAIToAnthropic{}, opts, body, whole)
		out = normalize(out)
		checkSSE(t, out)
		split, su := runStream(openAIToAnthropic{}, opts, body, randomSplits(seed, 32))
		if !bytes.Equal(normalize(split), out) || su != u {
			t.Fatalf("split output differs:\n%s\n---\n%s", split, out)
		}
	})
}

func BenchmarkAnthropicRequest(b *testing.B) {
	benchRequest(b, openAIToAnthropic{}, goldenIn(b, "openai_anthropic", "tool_results"), anthropicTarget)
}

func BenchmarkAnthropicResponse(b *testing.B) {
	benchResponse(b, openAIToAnthropic{}, "anthropic", "tool_use")
}

// BenchmarkAnthropicStreamTextDelta measures the steady state: one
// text_delta event in, one chunk out, buffers already grown.
func BenchmarkAnthropicStreamTextDelta(b *testing.B) {
	st := openAIToAnthropic{}.NewStream(StreamOptions{IncludeUsage: true})
	start := readTranscript(b, "anthropic", "text_stream").body
	start = start[:bytes.Index(start, []byte("event: content_block_delta"))]
	ev := []byte("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" flow through—one door, many rivers met,\"}}\n\n")
	dst := st.Translate(nil, start)
	b.ReportAllocs()
	b.SetBytes(int64(len(ev)))
	for b.Loop() {
		dst = st.Translate(dst[:0], ev)
	}
	if !bytes.Contains(dst, []byte(`"content":" flow through`)) {
		b.Fatalf("unexpected chunk %s", dst)
	}
}

func BenchmarkAnthropicStreamTranscript(b *testing.B) {
	body := readTranscript(b, "anthropic", "tool_use_stream").body
	var dst []byte
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		st := openAIToAnthropic{}.NewStream(StreamOptions{IncludeUsage: true})
		dst = st.Finish(st.Translate(dst[:0], body))
	}
}

func BenchmarkAnthropicRequestThinkingTools(b *testing.B) {
	benchRequest(b, openAIToAnthropic{}, goldenIn(b, "openai_anthropic", "thinking_tool_turn2"), anthropicTarget)
}

func BenchmarkAnthropicResponseThinking(b *testing.B) {
	benchResponse(b, openAIToAnthropic{}, "anthropic", "thinking_tool_use")
}

// BenchmarkAnthropicStreamThinkingDelta measures one thinking_delta event
// in steady state: a reasoning chunk with its reasoning_details entry out.
func BenchmarkAnthropicStreamThinkingDelta(b *testing.B) {
	st := openAIToAnthropic{}.NewStream(StreamOptions{IncludeUsage: true})
	start := readTranscript(b, "anthropic", "thinking_stream").body
	start = start[:bytes.Index(start, []byte("event: content_block_delta"))]
	ev := []byte("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\" so 17 × 20 = 340, plus 17 × 4 = 68,\"}}\n\n")
	dst := st.Translate(nil, start)
	b.ReportAllocs()
	b.SetBytes(int64(len(ev)))
	for b.Loop() {
		dst = st.Translate(dst[:0], ev)
	}
	if !bytes.Contains(dst, []byte(`"reasoning":" so 17`)) {
		b.Fatalf("unexpected chunk %s", dst)
	}
}

// TestAnthropicJSONObject: response_format json_object forces the JSON tool,
// or lets the model choose between it and the client's tools, except where
// the client forces a tool of its own or thinking rules forcing out.
func TestAnthropicJSONObject(t *testing.T) {
	const (
		user  = `"messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_object"}`
		tools = `"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],`
	)
	tests := []struct {
		name, body            string
		wantTools, wantChoice string // JSON of tools.#.name and tool_choice
		wantSystem            bool   // the instruction in words is in the system prompt
	}{
		{"alone", `{` + user + `}`, `["structured_output_json"]`, `{"type":"tool","name":"structured_output_json"}`, false},
		{"beside the client's tools", `{` + tools + user + `}`, `["f","structured_output_json"]`, `{"type":"any"}`, false},
		{"tool_choice auto", `{` + tools + `"tool_choice":"auto",` + user + `}`, `["f","structured_output_json"]`, `{"type":"any"}`, false},
		{"tool_choice required", `{` + tools + `"tool_choice":"required",` + user + `}`, `["f","structured_output_json"]`, `{"type":"any"}`, false},
		{"tool_choice none", `{` + tools + `"tool_choice":"none",` + user + `}`, `["f","structured_output_json"]`, `{"type":"tool","name":"structured_output_json"}`, false},
		{"parallel_tool_calls false", `{` + tools + `"parallel_tool_calls":false,` + user + `}`, `["f","structured_output_json"]`, `{"type":"any","disable_parallel_tool_use":true}`, false},
		{"the client forces its tool", `{` + tools + `"tool_choice":{"type":"function","function":{"name":"f"}},` + user + `}`, `["f"]`, `{"type":"tool","name":"f"}`, false},
		{"thinking asks in words", `{"reasoning_effort":"low",` + user + `}`, ``, ``, true},
		{"thinking with tools asks in words", `{"reasoning_effort":"low",` + tools + user + `}`, `["f"]`, ``, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := openAIToAnthropic{}.Request([]byte(tc.body), anthropicTarget)
			if err != nil {
				t.Fatal(err)
			}
			b := gjson.ParseBytes(req.Body)
			if got := b.Get("tools.#.name").Raw; got != tc.wantTools && !(tc.wantTools == "" && got == "[]") {
				t.Errorf("tools %s, want %s", got, tc.wantTools)
			}
			if got := b.Get("tool_choice").Raw; got != tc.wantChoice {
				t.Errorf("tool_choice %s, want %s", got, tc.wantChoice)
			}
			if got := strings.Contains(b.Get("system").Raw, "single valid JSON object"); got != tc.wantSystem {
				t.Errorf("instruction in the system prompt %v, want %v: %s", got, tc.wantSystem, b.Get("system").Raw)
			}
			if b.Get("output_config").Exists() {
				t.Errorf("output_config %s: JSON outputs need a schema with properties", b.Get("output_config").Raw)
			}
			if tc.wantTools != "" && strings.Contains(tc.wantTools, "structured_output_json") {
				if s := b.Get(`tools.#(name=="structured_output_json").input_schema`).Raw; s != `{"type":"object"}` {
					t.Errorf("JSON tool schema %s", s)
				}
			}
		})
	}
}

// TestAnthropicJSONObjectAnswers: the JSON tool's input is the content,
// not a tool call, beside a real call or alone, whole and streamed.
func TestAnthropicJSONObjectAnswers(t *testing.T) {
	const whole = `{"id":"msg_1","model":"claude","content":[%s],"stop_reason":"tool_use","usage":{"input_tokens":5,"output_tokens":7}}`
	tests := []struct {
		name, content          string
		wantContent, wantCalls string
		wantFinish             string
	}{
		{"alone, text before it left out", `{"type":"text","text":"Here:"},{"type":"tool_use","id":"t1","name":"structured_output_json","input":{ "a" : [1, 2] }}`,
			`"{\"a\":[1,2]}"`, ``, "stop"},
		{"beside a client call", `{"type":"tool_use","id":"t1","name":"structured_output_json","input":{}},{"type":"tool_use","id":"t2","name":"f","input":{"x":1}}`,
			`"{}"`, `["f"]`, "tool_calls"},
		{"a client call only", `{"type":"tool_use","id":"t2","name":"f","input":{"x":1}}`, `null`, `["f"]`, "tool_calls"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := openAIToAnthropic{}.Response([]byte(strings.Replace(whole, "%s", tc.content, 1)))
			if err != nil {
				t.Fatal(err)
			}
			m := gjson.GetBytes(out, "choices.0.message")
			if got := m.Get("content").Raw; got != tc.wantContent {
				t.Errorf("content %s, want %s", got, tc.wantContent)
			}
			if got := m.Get("tool_calls.#.function.name").Raw; got != tc.wantCalls && !(tc.wantCalls == "" && got == "") {
				t.Errorf("tool calls %s, want %s", got, tc.wantCalls)
			}
			if got := gjson.GetBytes(out, "choices.0.finish_reason").Str; got != tc.wantFinish {
				t.Errorf("finish_reason %q, want %q", got, tc.wantFinish)
			}
		})
	}

	t.Run("streamed beside a client call", func(t *testing.T) {
		body := "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"claude\"}}\n\n" +
			"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"structured_output_json\",\"input\":{}}}\n\n" +
			"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}}\n\n" +
			"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t2\",\"name\":\"f\",\"input\":{}}}\n\n" +
			"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"x\\\":1}\"}}\n\n" +
			"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"}}\n\n" +
			"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
		s := openAIToAnthropic{}.NewStream(StreamOptions{})
		out := s.Finish(s.Translate(nil, []byte(body)))
		var content, args, names string
		for _, d := range anthropicSSEData(out) {
			if d == "[DONE]" {
				continue
			}
			delta := gjson.Get(d, "choices.0.delta")
			content += delta.Get("content").Str
			args += delta.Get("tool_calls.0.function.arguments").Str
			names += delta.Get("tool_calls.0.function.name").Str
		}
		if content != "{}" || args != `{"x":1}` || names != "f" {
			t.Errorf("content %q arguments %q names %q\n%s", content, args, names, out)
		}
		if got := streamFinishReason(out); got != "tool_calls" {
			t.Errorf("finish_reason %q", got)
		}
	})
}

// TestAnthropicThinkingTokens: Anthropic's output_tokens_details.
// thinking_tokens is OpenAI's reasoning_tokens, whole and streamed.
func TestAnthropicThinkingTokens(t *testing.T) {
	body := []byte(`{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"hi"}],` +
		`"stop_reason":"end_turn","usage":{"input_tokens":10,"output_tokens":120,"output_tokens_details":{"thinking_tokens":100}}}`)
	out, u, err := openAIToAnthropic{}.Response(body)
	if err != nil {
		t.Fatal(err)
	}
	if u.ReasoningTokens != 100 || gjson.GetBytes(out, "usage.completion_tokens_details.reasoning_tokens").Int() != 100 {
		t.Errorf("reasoning tokens: usage %+v, body %s", u, out)
	}
	s := openAIToAnthropic{}.NewStream(StreamOptions{IncludeUsage: true})
	sse := "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"m\",\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\n\n" +
		"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":120,\"output_tokens_details\":{\"thinking_tokens\":100}}}\n\n" +
		"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
	s.Translate(nil, []byte(sse))
	if got := s.Usage().ReasoningTokens; got != 100 {
		t.Errorf("streamed reasoning tokens = %d, want 100", got)
	}
}
