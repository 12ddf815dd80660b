package translators

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

const ingressDir = "ingress_anthropic"

var ingressIDRe = regexp.MustCompile(`(msg|toolu)_switchboard_[0-9a-z]+`)

// normalizeIngress blanks the ids the ingress takes from the clock.
func normalizeIngress(b []byte) []byte {
	return ingressIDRe.ReplaceAll(normalize(b), []byte("${1}_switchboard_test"))
}

func readIngress(tb testing.TB, parts ...string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{testdata}, parts...)...))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestAnthropicIngressRequestGolden(t *testing.T) {
	for _, name := range goldenCases(t, ingressDir) {
		t.Run(name, func(t *testing.T) {
			in := readIngress(t, ingressDir, name+".in.json")
			orig := bytes.Clone(in)
			out, err := AnthropicIngress{}.Request(in)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(in, orig) {
				t.Fatal("Request modified its input")
			}
			if err := checkChatRequest(out); err != nil {
				t.Fatalf("output is not a chat request: %v", err)
			}
			checkGolden(t, filepath.Join(testdata, ingressDir, name+".out.json"), prettyJSON(t, out))
		})
	}
}

// TestAnthropicIngressRoundTrip sends Anthropic requests through the ingress
// and back through the Anthropic translator: what reaches an Anthropic
// provider must be what the client sent.
func TestAnthropicIngressRoundTrip(t *testing.T) {
	for _, name := range []string{"text", "claude_code_cache", "tools", "thinking", "images", "structured_output"} {
		t.Run(name, func(t *testing.T) {
			in := readIngress(t, ingressDir, name+".in.json")
			mid, err := AnthropicIngress{}.Request(in)
			if err != nil {
				t.Fatal(err)
			}
			back, err := openAIToAnthropic{}.Request(mid, Target{Model: gjson.GetBytes(in, "model").Str})
			if err != nil {
				t.Fatalf("Anthropic translator rejected the ingress output: %v\n%s", err, mid)
			}
			if len(back.Dropped) > 0 {
				t.Errorf("parameters dropped on the way back: %v", back.Dropped)
			}
			want, got := canonicalAnthropic(t, in), canonicalAnthropic(t, back.Body)
			if !reflect.DeepEqual(want, got) {
				w, _ := json.MarshalIndent(want, "", "  ")
				g, _ := json.MarshalIndent(got, "", "  ")
				t.Errorf("round trip differs\n--- sent\n%s\n--- got back\n%s", w, g)
			}
		})
	}
}

// canonicalAnthropic decodes an Anthropic request into the fields a round
// trip keeps, writing string content as its one text block.
func canonicalAnthropic(tb testing.TB, body []byte) map[string]any {
	tb.Helper()
	var req map[string]any
	if err := json.Unmarshal(body, &req); err != nil {
		tb.Fatal(err)
	}
	keep := []string{"model", "max_tokens", "system", "messages", "tools", "tool_choice", "thinking",
		"temperature", "top_p", "top_k", "stop_sequences", "stream", "metadata", "output_config"}
	out := map[string]any{}
	for _, k := range keep {
		if v, ok := req[k]; ok {
			out[k] = v
		}
	}
	blocks := func(v any) any {
		if s, ok := v.(string); ok {
			return []any{map[string]any{"type": "text", "text": s}}
		}
		return v
	}
	if s, ok := out["system"]; ok {
		out["system"] = blocks(s)
	}
	if ms, ok := out["messages"].([]any); ok {
		for _, m := range ms {
			m := m.(map[string]any)
			m["content"] = blocks(m["content"])
			for _, b := range m["content"].([]any) {
				if b := b.(map[string]any); b["type"] == "tool_result" {
					b["content"] = blocks(b["content"])
				}
			}
		}
	}
	if ts, ok := out["tools"].([]any); ok {
		for _, t := range ts {
			if t := t.(map[string]any); t["type"] == "custom" {
				delete(t, "type")
			}
		}
	}
	return out
}

func TestAnthropicIngressRequestFields(t *testing.T) {
	tests := []struct {
		name string
		body string
		path string
		want string // raw JSON, "" for absent
	}{
		{"stream asks for usage", `{"model":"m","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"x"}]}`, "stream_options", `{"include_usage":true}`},
		{"no stream, no stream options", `{"model":"m","max_tokens":5,"stream":false,"messages":[{"role":"user","content":"x"}]}`, "stream_options", ``},
		{"budget", `{"model":"m","max_tokens":5000,"thinking":{"type":"enabled","budget_tokens":2048},"messages":[{"role":"user","content":"x"}]}`, "reasoning", `{"max_tokens":2048}`},
		{"thinking disabled", `{"model":"m","max_tokens":5,"thinking":{"type":"disabled"},"messages":[{"role":"user","content":"x"}]}`, "reasoning", ``},
		{"tool choice none", `{"model":"m","max_tokens":5,"tool_choice":{"type":"none"},"messages":[{"role":"user","content":"x"}]}`, "tool_choice", `"none"`},
		{"tool choice auto, serial", `{"model":"m","max_tokens":5,"tool_choice":{"type":"auto","disable_parallel_tool_use":true},"messages":[{"role":"user","content":"x"}]}`, "parallel_tool_calls", `false`},
		{"beta output_format", `{"model":"m","max_tokens":5,"output_format":{"type":"json_schema","schema":{"type":"object"}},"messages":[{"role":"user","content":"x"}]}`, "response_format", `{"type":"json_schema","json_schema":{"name":"response","schema":{"type":"object"}}}`},
		{"empty system left out", `{"model":"m","max_tokens":5,"system":"","messages":[{"role":"user","content":"x"}]}`, "messages.#", `1`},
		{"assistant tool calls only: null content", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{"a":[1, 2]}}]}]}`, "messages.1", `{"role":"assistant","content":null,"tool_calls":[{"id":"t","type":"function","function":{"name":"f","arguments":"{\"a\":[1,2]}"}}]}`},
		{"tool_result without content", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t"}]}]}`, "messages.0", `{"role":"tool","content":"","tool_call_id":"t"}`},
		{"tool_result text joined", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","is_error":true,"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]}]}`, "messages.0.content", `"Error: a\nb"`},
		{"tool_result breakpoint keeps parts", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"a","cache_control":{"type":"ephemeral"}}]}]}]}`, "messages.0.content", `[{"type":"text","text":"a","cache_control":{"type":"ephemeral"}}]`},
		{"empty error result", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","is_error":true}]}]}`, "messages.0.content", `"Error"`},
		{"html kept", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"<a> & b"}]}`, "messages.0.content", `"<a> & b"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := AnthropicIngress{}.Request([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if got := gjson.GetBytes(out, tc.path).Raw; got != tc.want {
				t.Errorf("%s = %s, want %s\n%s", tc.path, got, tc.want, out)
			}
		})
	}
}

func TestAnthropicIngressRequestErrors(t *testing.T) {
	const msgs = `"messages":[{"role":"user","content":"hi"}]`
	tests := []struct {
		name string
		body string
		want string
	}{
		{"not JSON", `{"model":`, "request body is not valid JSON"},
		{"not an object", `[1]`, "request body must be a JSON object"},
		{"no model", `{"max_tokens":5,` + msgs + `}`, "'model' is required"},
		{"no max_tokens", `{"model":"m",` + msgs + `}`, "'max_tokens' is required and must be a positive integer"},
		{"fractional max_tokens", `{"model":"m","max_tokens":1.5,` + msgs + `}`, "'max_tokens' is required and must be a positive integer"},
		{"no messages", `{"model":"m","max_tokens":5,"messages":[]}`, "'messages' must be a non-empty array"},
		{"bad role", `{"model":"m","max_tokens":5,"messages":[{"role":"tool","content":"x"}]}`, `messages[0].role must be user, assistant or system, got "tool"`},
		{"bad content", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":5}]}`, "messages[0].content must be a string or an array of content blocks"},
		{"system not text", `{"model":"m","max_tokens":5,"system":[{"type":"image"}],` + msgs + `}`, "system[0]: system blocks must be text blocks"},
		{"system number", `{"model":"m","max_tokens":5,"system":1,` + msgs + `}`, "'system' must be a string or an array of text blocks"},
		{"temperature string", `{"model":"m","max_tokens":5,"temperature":"hot",` + msgs + `}`, "'temperature' must be a number"},
		{"stop_sequences string", `{"model":"m","max_tokens":5,"stop_sequences":"END",` + msgs + `}`, "'stop_sequences' must be an array of strings"},
		{"cache_control string", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":"x","cache_control":"yes"}]}]}`, "messages[0].content[0].cache_control must be an object"},
		{"image file source", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"f"}}]}]}`, `messages[0].content[0]: image source type "file" is not supported`},
		{"image without media type", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","data":"AA=="}}]}]}`, "base64 image source needs an image/* 'media_type'"},
		{"unknown block", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"search_result"}]}]}`, `content block type "search_result" is not supported`},
		{"thinking in user turn", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"thinking","thinking":"x"}]}]}`, "thinking blocks belong in assistant messages"},
		{"tool_result without id", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","content":"x"}]}]}`, "tool_result needs a 'tool_use_id'"},
		{"tool_use without name", `{"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t"}]}]}`, "messages[0].content[0]: tool_use needs an 'id' and a 'name'"},
		{"tool_use input array", `{"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":[]}]}]}`, "messages[0].content[0].input must be an object"},
		{"redacted without data", `{"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"redacted_thinking"}]}]}`, "redacted_thinking needs a string 'data'"},
		{"altered envelope", `{"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"redacted_thinking","data":"switchboard:v1:%%%"}]}]}`, "reasoning data from the gateway was altered"},
		{"server tool", `{"model":"m","max_tokens":5,"tools":[{"type":"web_search_20250305","name":"web_search"}],` + msgs + `}`, `tools[0]: tool type "web_search_20250305" is an Anthropic server tool`},
		{"tool without schema", `{"model":"m","max_tokens":5,"tools":[{"name":"f"}],` + msgs + `}`, "tools[0].input_schema must be a JSON Schema object"},
		{"tool choice string", `{"model":"m","max_tokens":5,"tool_choice":"auto",` + msgs + `}`, "'tool_choice' must be an object"},
		{"tool choice tool without name", `{"model":"m","max_tokens":5,"tool_choice":{"type":"tool"},` + msgs + `}`, "'tool_choice.name' is required"},
		{"tool choice unknown", `{"model":"m","max_tokens":5,"tool_choice":{"type":"required"},` + msgs + `}`, `'tool_choice.type' must be auto, any, tool or none, got "required"`},
		{"budget missing", `{"model":"m","max_tokens":5,"thinking":{"type":"enabled"},` + msgs + `}`, "'thinking.budget_tokens' must be a positive integer"},
		{"thinking type unknown", `{"model":"m","max_tokens":5,"thinking":{"type":"on"},` + msgs + `}`, `'thinking.type' must be enabled, adaptive or disabled, got "on"`},
		{"effort unknown", `{"model":"m","max_tokens":5,"thinking":{"type":"adaptive"},"output_config":{"effort":"extreme"},` + msgs + `}`, `'output_config.effort' must be low, medium, high or max, got "extreme"`},
		{"output format type", `{"model":"m","max_tokens":5,"output_config":{"format":{"type":"json_object"}},` + msgs + `}`, `'output_config.format.type' must be json_schema, got "json_object"`},
		{"output format schema", `{"model":"m","max_tokens":5,"output_config":{"format":{"type":"json_schema"}},` + msgs + `}`, "'output_config.format.schema' must be a JSON Schema object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := AnthropicIngress{}.Request([]byte(tc.body))
			var e *APIError
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !errors.As(err, &e) || e.Status != 400 {
				t.Fatalf("error %v is not a 400 *APIError", err)
			}
			if !strings.Contains(e.Message, tc.want) {
				t.Errorf("error %q does not contain %q", e.Message, tc.want)
			}
		})
	}
}

// ingressResponseSources are provider translators' OpenAI answers, as the
// ingress receives them.
var ingressResponseSources = []struct{ dir, name string }{
	{"openai_anthropic", "text"},
	{"openai_anthropic", "tool_use"},
	{"openai_anthropic", "thinking"},
	{"openai_anthropic", "thinking_redacted"},
	{"openai_anthropic", "thinking_tool_use"},
	{"openai_anthropic", "cache_usage"},
	{"openai_anthropic", "structured_output"},
	{"openai_openai", "chat"},
	{"openai_openai", "deepseek_reasoner"},
	{"openai_openai", "o4_mini_reasoning"},
	// Every other schema's answers, as their translators write them.
	{"openai_azure", "chat"},
	{"openai_azure", "tool_calls"},
	{"openai_gemini", "text"},
	{"openai_gemini", "tool_call"},
	{"openai_gemini", "thinking"},
	{"openai_gemini", "prompt_blocked"},
	{"openai_vertex", "gemini_tool_calls"},
	{"openai_vertex", "claude_tool_calls"},
	{"openai_bedrock", "text"},
	{"openai_bedrock", "tool_use"},
	{"openai_bedrock", "reasoning"},
	{"openai_bedrock", "guardrail"},
}

func TestAnthropicIngressResponseGolden(t *testing.T) {
	type tcase struct{ name, in, golden string }
	var cases []tcase
	for _, s := range ingressResponseSources {
		cases = append(cases, tcase{s.dir + "/" + s.name, filepath.Join(s.dir, s.name+".resp.json"),
			filepath.Join(testdata, ingressDir, "response", s.dir+"."+s.name+".anthropic.json")})
	}
	own, _ := filepath.Glob(filepath.Join(testdata, ingressDir, "response", "*.openai.json"))
	for _, p := range own {
		name := strings.TrimSuffix(filepath.Base(p), ".openai.json")
		cases = append(cases, tcase{name, filepath.Join(ingressDir, "response", name+".openai.json"),
			filepath.Join(testdata, ingressDir, "response", name+".anthropic.json")})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := readIngress(t, tc.in)
			out, err := AnthropicIngress{}.Response(in)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tc.golden, prettyJSON(t, normalizeIngress(out)))
		})
	}
}

func TestAnthropicIngressResponseFields(t *testing.T) {
	tests := []struct {
		name, body, path, want string
	}{
		{"usage splits cache", `{"id":"x","choices":[{"message":{"content":"a"},"finish_reason":"stop"}],"usage":{"prompt_tokens":100,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":60,"cache_write_tokens":30}}}`,
			"usage", `{"input_tokens":10,"cache_creation_input_tokens":30,"cache_read_input_tokens":60,"output_tokens":5}`},
		{"no usage", `{"id":"x","choices":[{"message":{"content":"a"},"finish_reason":"stop"}]}`,
			"usage", `{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}`},
		{"msg id kept", `{"id":"msg_01","choices":[{"message":{"content":"a"}}]}`, "id", `"msg_01"`},
		{"other id prefixed", `{"id":"chatcmpl-1","choices":[{"message":{"content":"a"}}]}`, "id", `"msg_chatcmpl-1"`},
		{"no choices", `{"id":"x","choices":[]}`, "content", `[]`},
		{"tool_calls stop", `{"id":"x","choices":[{"message":{"tool_calls":[{"id":"c","function":{"name":"f","arguments":"{ \"a\" : 1 }"}}]},"finish_reason":"tool_calls"}]}`,
			"content", `[{"type":"tool_use","id":"c","name":"f","input":{"a":1}}]`},
		{"arguments object", `{"id":"x","choices":[{"message":{"tool_calls":[{"id":"c","function":{"name":"f","arguments":{"b":2}}}]}}]}`,
			"content.0.input", `{"b":2}`},
		{"unknown finish", `{"id":"x","choices":[{"message":{"content":"a"},"finish_reason":"eos"}]}`, "stop_reason", `"end_turn"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := AnthropicIngress{}.Response([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if !gjson.ValidBytes(out) {
				t.Fatalf("not JSON: %s", out)
			}
			if got := gjson.GetBytes(out, tc.path).Raw; got != tc.want {
				t.Errorf("%s = %s, want %s", tc.path, got, tc.want)
			}
		})
	}
}

func TestAnthropicIngressResponseErrors(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"not JSON", `{"id":`, "provider answer is not JSON"},
		{"error body", `{"error":{"message":"quota exceeded","type":"x"}}`, "quota exceeded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := AnthropicIngress{}.Response([]byte(tc.body))
			var e *APIError
			if !errors.As(err, &e) || e == nil || e.Status != 502 || !strings.Contains(e.Message, tc.want) {
				t.Fatalf("error %v, want a 502 containing %q", err, tc.want)
			}
		})
	}
}

// TestAnthropicIngressForeignReasoningRoundTrip checks that another
// provider's reasoning reaches an Anthropic client in blocks whose echo
// restores the original reasoning_details entries, and that an Anthropic
// provider is never sent them.
func TestAnthropicIngressForeignReasoningRoundTrip(t *testing.T) {
	in := readIngress(t, ingressDir, "response", "gemini_signatures.openai.json")
	msg, err := AnthropicIngress{}.Response(in)
	if err != nil {
		t.Fatal(err)
	}
	content := gjson.GetBytes(msg, "content").Raw
	req := `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"Weather?"},{"role":"assistant","content":` + content +
		`},{"role":"user","content":[{"type":"tool_result","tool_use_id":"call_Q0Ic_0","content":"18C"}]}]}`
	out, err := AnthropicIngress{}.Request([]byte(req))
	if err != nil {
		t.Fatal(err)
	}
	got := gjson.GetBytes(out, "messages.1.reasoning_details")
	want := gjson.GetBytes(in, "choices.0.message.reasoning_details")
	if len(got.Array()) != 2 {
		t.Fatalf("reasoning_details = %s", got.Raw)
	}
	enc := got.Array()[1]
	for _, f := range []string{"type", "data", "id", "format"} {
		if g, w := enc.Get(f).Str, want.Array()[1].Get(f).Str; g != w {
			t.Errorf("encrypted entry %s = %q, want %q", f, g, w)
		}
	}
	if g := got.Array()[0].Get("text").Str; g != "Need the weather tool." {
		t.Errorf("reasoning text = %q", g)
	}
	back, err := openAIToAnthropic{}.Request(out, Target{Model: "claude"})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(back.Body, []byte("CiQBcsjafE2x")) || bytes.Contains(back.Body, []byte("redacted_thinking")) {
		t.Errorf("Gemini's signature was sent to Anthropic: %s", back.Body)
	}
}

func TestAnthropicIngressError(t *testing.T) {
	tests := []struct {
		status   int
		body     string
		wantType string
		wantMsg  string
	}{
		{400, `{"error":{"message":"'messages' must be a non-empty array","type":"invalid_request_error","code":"invalid_messages"}}`, "invalid_request_error", "'messages' must be a non-empty array"},
		{401, `{"error":{"message":"bad key"}}`, "authentication_error", "bad key"},
		{403, `{"error":{"message":"denied by policy"}}`, "permission_error", "denied by policy"},
		{404, `{"error":{"message":"model \"x\" not found","code":"model_not_found"}}`, "not_found_error", `model "x" not found`},
		{413, `{"error":{"message":"too big"}}`, "request_too_large", "too big"},
		{422, `{"error":{"message":"unprocessable"}}`, "invalid_request_error", "unprocessable"},
		{429, `{"error":{"message":"slow down","code":"rate_limit_exceeded"}}`, "rate_limit_error", "slow down"},
		{500, `{"error":{"message":"boom"}}`, "api_error", "boom"},
		{502, `{"error":{"message":"the gateway's credential was rejected","code":"provider_auth_failed"}}`, "api_error", "the gateway's credential was rejected"},
		{502, `{"error":{"message":"Overloaded","code":"provider_overloaded"}}`, "overloaded_error", "Overloaded"},
		{503, `{"error":{"message":"no healthy upstream"}}`, "overloaded_error", "no healthy upstream"},
		{504, `{"error":{"message":"upstream timeout"}}`, "timeout_error", "upstream timeout"},
		{529, ``, "overloaded_error", "request failed with status 529"},
		{500, `not json at all`, "api_error", "not json at all"},
	}
	for _, tc := range tests {
		t.Run(tc.wantType+"/"+tc.wantMsg, func(t *testing.T) {
			out := AnthropicIngress{}.Error(tc.status, []byte(tc.body))
			if !gjson.ValidBytes(out) || gjson.GetBytes(out, "type").Str != "error" {
				t.Fatalf("not an Anthropic error: %s", out)
			}
			if g := gjson.GetBytes(out, "error.type").Str; g != tc.wantType {
				t.Errorf("type %q, want %q", g, tc.wantType)
			}
			if g := gjson.GetBytes(out, "error.message").Str; g != tc.wantMsg {
				t.Errorf("message %q, want %q", g, tc.wantMsg)
			}
		})
	}
}

func FuzzAnthropicIngressRequest(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(testdata, ingressDir, "*.in.json"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := bytes.Clone(body)
		out, err := AnthropicIngress{}.Request(body)
		if !bytes.Equal(body, orig) {
			t.Fatal("Request modified its input")
		}
		if err != nil {
			var e *APIError
			if !errors.As(err, &e) || e.Status != 400 {
				t.Fatalf("error %v is not a 400 *APIError", err)
			}
			return
		}
		if !gjson.ValidBytes(out) {
			t.Fatalf("output is not JSON: %s", out)
		}
	})
}

func BenchmarkAnthropicIngressRequest(b *testing.B) {
	in := readIngress(b, ingressDir, "claude_code_cache.in.json")
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := (AnthropicIngress{}).Request(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAnthropicIngressResponse(b *testing.B) {
	in := readIngress(b, "openai_anthropic", "thinking_tool_use.resp.json")
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := (AnthropicIngress{}).Response(in); err != nil {
			b.Fatal(err)
		}
	}
}
