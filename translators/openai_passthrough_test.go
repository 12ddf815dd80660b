package translators

import (
	"path/filepath"
	"testing"

	"github.com/tidwall/gjson"
)

// TestOpenAIPassthroughFeatures: features OpenAI and Azure OpenAI take
// natively reach them exactly as the client sent them, on a model whose
// quirks rewrite other fields. The full request is in the
// passthrough_features goldens; this covers each tool_choice and
// response_format value on its own.
func TestOpenAIPassthroughFeatures(t *testing.T) {
	const (
		user  = `"messages":[{"role":"user","name":"alice","content":"Weather in Paris?"}]`
		tools = `"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"location":{"type":"string"}}}}}]`
	)
	fields := []struct {
		name, field, value string
	}{
		{"tool_choice auto", "tool_choice", `"auto"`},
		{"tool_choice none", "tool_choice", `"none"`},
		{"tool_choice required", "tool_choice", `"required"`},
		{"tool_choice named", "tool_choice", `{"type":"function","function":{"name":"get_weather"}}`},
		{"parallel_tool_calls false", "parallel_tool_calls", `false`},
		{"response_format json_object", "response_format", `{"type":"json_object"}`},
		{"response_format json_schema", "response_format", `{"type":"json_schema","json_schema":{"name":"w","strict":true,"schema":{"type":"object","properties":{"t":{"type":"number"}},"required":["t"],"additionalProperties":false}}}`},
	}
	schemas := []struct {
		name   string
		tr     Translator
		target Target
	}{
		{"openai", openAIToOpenAI{}, Target{Model: "gpt-4.1-2025-04-14", Host: "api.openai.com"}},
		{"azure-openai", openAIToAzure{}, Target{Model: "gpt-4.1", APIVersion: "2024-10-21"}},
	}
	for _, s := range schemas {
		for _, f := range fields {
			t.Run(s.name+"/"+f.name, func(t *testing.T) {
				body := `{"model":"m",` + user + `,` + tools + `,"max_tokens":50,"` + f.field + `":` + f.value + `}`
				req, err := s.tr.Request([]byte(body), s.target)
				if err != nil {
					t.Fatal(err)
				}
				out := gjson.ParseBytes(req.Body)
				if got := out.Get(f.field).Raw; got != f.value {
					t.Errorf("%s = %s, want %s as sent", f.field, got, f.value)
				}
				// The tools, and the name OpenAI accepts, go as sent too,
				// while the quirks still apply to the token limit.
				if out.Get("tools").Raw != gjson.Get(body, "tools").Raw || out.Get("messages.0.name").Str != "alice" ||
					out.Get("max_completion_tokens").Int() != 50 || out.Get("max_tokens").Exists() {
					t.Errorf("body %s", req.Body)
				}
				if len(req.Dropped) != 0 {
					t.Errorf("dropped %q, want none", req.Dropped)
				}
			})
		}
	}
}

// TestAzureResponse translates Azure's whole answers: OpenAI's shape with
// content-filter annotations, which pass through.
func TestAzureResponse(t *testing.T) {
	tests := []struct {
		transcript  string
		wantUsage   Usage
		wantContent string
		wantCalls   []string // id:arguments of each tool call
		wantFinish  string
	}{
		{transcript: "chat", wantUsage: Usage{PromptTokens: 24, CompletionTokens: 8}, wantContent: "The capital of France is Paris.", wantFinish: "stop"},
		{
			transcript: "tool_calls", wantUsage: Usage{PromptTokens: 84, CompletionTokens: 49}, wantFinish: "tool_calls",
			wantCalls: []string{`call_Vb3nM5qW7eR9tY1uI3oP5aS7:{"location": "Paris"}`, `call_Zx2cV4bN6mQ8wE0rT2yU4iO6:{"location": "Tokyo"}`},
		},
		{
			// An o-series deployment: no reasoning text, only its tokens.
			transcript: "reasoning", wantUsage: Usage{PromptTokens: 1302, CompletionTokens: 278, CachedTokens: 1152, ReasoningTokens: 256},
			wantContent: "9.8 is larger: 9.80 > 9.11.", wantFinish: "stop",
		},
	}
	for _, tc := range tests {
		t.Run(tc.transcript, func(t *testing.T) {
			tx := readTranscript(t, "azure", tc.transcript)
			out, usage, err := openAIToAzure{}.Response(tx.body)
			if err != nil {
				t.Fatal(err)
			}
			if usage != tc.wantUsage {
				t.Errorf("usage %+v, want %+v", usage, tc.wantUsage)
			}
			c := gjson.GetBytes(out, "choices.0")
			if c.Get("message.content").Str != tc.wantContent || c.Get("finish_reason").Str != tc.wantFinish {
				t.Errorf("content %q finish %q, want %q %q", c.Get("message.content").Str, c.Get("finish_reason").Str, tc.wantContent, tc.wantFinish)
			}
			calls := c.Get("message.tool_calls").Array()
			if len(calls) != len(tc.wantCalls) {
				t.Fatalf("%d tool calls, want %d", len(calls), len(tc.wantCalls))
			}
			for i, call := range calls {
				if got := call.Get("id").Str + ":" + call.Get("function.arguments").Str; got != tc.wantCalls[i] {
					t.Errorf("tool call %d = %s, want %s", i, got, tc.wantCalls[i])
				}
			}
			checkGolden(t, filepath.Join(testdata, "openai_azure", tc.transcript+".resp.json"), prettyJSON(t, out))
		})
	}
}
