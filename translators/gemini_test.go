package translators

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

const geminiKey = "AIzaSy-test-key"

func TestGeminiRequestGolden(t *testing.T) {
	for _, name := range goldenCases(t, "openai_gemini") {
		t.Run(name, func(t *testing.T) {
			in := goldenIn(t, "openai_gemini", name)
			orig := bytes.Clone(in)
			// The case's own model is the provider model: thinking and
			// signatures depend on the Gemini generation.
			target := Target{Model: gjson.GetBytes(in, "model").Str}
			req, err := openAIToGemini{}.Request(in, target)
			if err != nil {
				t.Fatalf("Request: %v", err)
			}
			if !bytes.Equal(in, orig) {
				t.Fatal("Request modified its input")
			}
			again, _ := openAIToGemini{}.Request(in, target)
			if !bytes.Equal(again.Body, req.Body) {
				t.Fatal("two translations of one request differ")
			}
			checkGolden(t, filepath.Join(testdata, "openai_gemini", name+".out.json"), prettyJSON(t, req.Body))
		})
	}
}

// TestGeminiRequestFields pins the request parts outside the body and the
// body fields each OpenAI parameter maps to. want maps a gjson path of the
// body to its compact JSON, or to "" when it must be absent.
func TestGeminiRequestFields(t *testing.T) {
	const user = `"messages":[{"role":"user","content":"hi"}]`
	const tools = `"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"type":"string"}}}}},{"type":"function","function":{"name":"g"}}]`
	tests := []struct {
		name        string
		body        string
		target      Target
		wantPath    string
		wantHeaders []Header
		wantStream  bool
		wantUsage   bool
		wantDropped []string
		want        map[string]string
	}{
		{
			name:        "plain with key",
			body:        `{` + user + `}`,
			target:      Target{Model: "gemini-2.5-flash"},
			wantPath:    "/v1beta/models/gemini-2.5-flash:generateContent",
			wantHeaders: []Header{{"content-type", "application/json"}},
			want:        map[string]string{"contents": `[{"role":"user","parts":[{"text":"hi"}]}]`, "generationConfig": "", "tools": "", "toolConfig": ""},
		},
		{
			name:        "stream with usage, models/ prefix and a googleVersioned base URL",
			body:        `{"stream":true,"stream_options":{"include_usage":true},` + user + `}`,
			target:      Target{Model: "models/gemini-2.5-pro", PathPrefix: "/v1beta"},
			wantPath:    "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
			wantHeaders: []Header{{"content-type", "application/json"}},
			wantStream:  true, wantUsage: true,
		},
		{
			name:        "proxy path prefix, stream without usage",
			body:        `{"stream":true,` + user + `}`,
			target:      Target{Model: "gemini-2.0-flash", PathPrefix: "/google"},
			wantPath:    "/google/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
			wantHeaders: []Header{{"content-type", "application/json"}},
			wantStream:  true,
		},
		{
			name:        "include_usage ignored without stream",
			body:        `{"stream_options":{"include_usage":true},` + user + `}`,
			target:      Target{Model: "gemini-2.5-flash"},
			wantPath:    "/v1beta/models/gemini-2.5-flash:generateContent",
			wantHeaders: []Header{{"content-type", "application/json"}},
		},
		{
			name: "dropped parameters", target: Target{Model: "gemini-2.5-flash"},
			body:        `{"logit_bias":{"1":2},"logprobs":true,"top_logprobs":2,"parallel_tool_calls":false,"service_tier":"auto","messages":[{"role":"user","name":"ana","content":"hi"}]}`,
			wantDropped: []string{"logit_bias", "top_logprobs", "service_tier", "logprobs", "parallel_tool_calls", "messages[].name"},
		},
		{
			name: "defaults are not dropped", target: Target{Model: "gemini-2.5-flash"},
			body: `{"logprobs":false,"parallel_tool_calls":true,"logit_bias":null,"n":1,` + user + `}`,
			want: map[string]string{"generationConfig": ""},
		},
		{
			name: "tool_choice auto", target: Target{Model: "gemini-2.5-flash"},
			body: `{"tool_choice":"auto",` + tools + `,` + user + `}`,
			want: map[string]string{"toolConfig": `{"functionCallingConfig":{"mode":"AUTO"}}`, "tools.0.functionDeclarations.#": "2"},
		},
		{
			name: "tool_choice none", target: Target{Model: "gemini-2.5-flash"},
			body: `{"tool_choice":"none",` + tools + `,` + user + `}`,
			want: map[string]string{"toolConfig": `{"functionCallingConfig":{"mode":"NONE"}}`},
		},
		{
			name: "tool_choice required", target: Target{Model: "gemini-2.5-flash"},
			body: `{"tool_choice":"required",` + tools + `,` + user + `}`,
			want: map[string]string{"toolConfig": `{"functionCallingConfig":{"mode":"ANY"}}`},
		},
		{
			name: "tool_choice named", target: Target{Model: "gemini-2.5-flash"},
			body: `{"tool_choice":{"type":"function","function":{"name":"g"}},` + tools + `,` + user + `}`,
			want: map[string]string{"toolConfig": `{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["g"]}}`},
		},
		{
			name: "allowed_tools required", target: Target{Model: "gemini-2.5-flash"},
			body: `{"tool_choice":{"type":"allowed_tools","allowed_tools":{"mode":"required","tools":[{"type":"function","function":{"name":"f"}}]}},` + tools + `,` + user + `}`,
			want: map[string]string{"toolConfig": `{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["f"]}}`, "tools.0.functionDeclarations.#": "2"},
		},
		{
			name: "allowed_tools auto narrows the declarations", target: Target{Model: "gemini-2.5-flash"},
			body: `{"tool_choice":{"type":"allowed_tools","allowed_tools":{"mode":"auto","tools":[{"type":"function","function":{"name":"g"}}]}},` + tools + `,` + user + `}`,
			want: map[string]string{"toolConfig": `{"functionCallingConfig":{"mode":"AUTO"}}`, "tools.0.functionDeclarations": `[{"name":"g"}]`},
		},
		{
			name: "tool_choice auto without tools", target: Target{Model: "gemini-2.5-flash"},
			body: `{"tool_choice":"auto",` + user + `}`,
			want: map[string]string{"toolConfig": "", "tools": ""},
		},
		{
			name: "effort on gemini 2.5", target: Target{Model: "gemini-2.5-flash"},
			body: `{"reasoning_effort":"medium",` + user + `}`,
			want: map[string]string{"generationConfig.thinkingConfig": `{"includeThoughts":true,"thinkingBudget":8192}`},
		},
		{
			name: "effort none on gemini 2.5 flash turns thinking off", target: Target{Model: "gemini-2.5-flash"},
			body: `{"reasoning_effort":"none",` + user + `}`,
			want: map[string]string{"generationConfig.thinkingConfig": `{"thinkingBudget":0}`},
		},
		{
			name: "reasoning disabled on gemini 2.5 pro takes the least budget", target: Target{Model: "gemini-2.5-pro"},
			body: `{"reasoning":{"enabled":false},` + user + `}`,
			want: map[string]string{"generationConfig.thinkingConfig": `{"thinkingBudget":128}`},
		},
		{
			name: "reasoning enabled alone is dynamic", target: Target{Model: "gemini-2.5-flash"},
			body: `{"reasoning":{"enabled":true},` + user + `}`,
			want: map[string]string{"generationConfig.thinkingConfig": `{"includeThoughts":true,"thinkingBudget":-1}`},
		},
		{
			name: "reasoning max_tokens wins over effort", target: Target{Model: "gemini-3-flash-preview"},
			body: `{"reasoning_effort":"low","reasoning":{"max_tokens":3000},` + user + `}`,
			want: map[string]string{"generationConfig.thinkingConfig": `{"includeThoughts":true,"thinkingBudget":3000}`},
		},
		{
			name: "minimal effort on gemini 3 pro is low", target: Target{Model: "gemini-3-pro-preview"},
			body: `{"reasoning":{"effort":"minimal","exclude":true},` + user + `}`,
			want: map[string]string{"generationConfig.thinkingConfig": `{"thinkingLevel":"low"}`},
		},
		{
			name: "effort none on gemini 3 flash is minimal", target: Target{Model: "gemini-3-flash-preview"},
			body: `{"reasoning_effort":"none",` + user + `}`,
			want: map[string]string{"generationConfig.thinkingConfig": `{"thinkingLevel":"minimal"}`},
		},
		{
			name: "xhigh on gemini 3 is high", target: Target{Model: "gemini-3-flash-preview"},
			body: `{"reasoning_effort":"xhigh",` + user + `}`,
			want: map[string]string{"generationConfig.thinkingConfig": `{"includeThoughts":true,"thinkingLevel":"high"}`},
		},
		{
			name: "gemini 3 without an effort keeps its default level", target: Target{Model: "gemini-3-pro-preview"},
			body: `{"reasoning":{},` + user + `}`,
			want: map[string]string{"generationConfig.thinkingConfig": `{"includeThoughts":true}`},
		},
		{
			name: "response_format text", target: Target{Model: "gemini-2.5-flash"},
			body: `{"response_format":{"type":"text"},` + user + `}`,
			want: map[string]string{"generationConfig": ""},
		},
		{
			name: "json_schema without a schema", target: Target{Model: "gemini-2.5-flash"},
			body: `{"response_format":{"type":"json_schema","json_schema":{"name":"x"}},` + user + `}`,
			want: map[string]string{"generationConfig": `{"responseMimeType":"application/json"}`},
		},
		{
			name: "http image rejected before https image accepted", target: Target{Model: "gemini-2.5-flash"},
			body: `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"HTTPS://x.example/a.gif"}}]}]}`,
			want: map[string]string{"contents.0.parts.0": `{"fileData":{"mimeType":"image/gif","fileUri":"HTTPS://x.example/a.gif"}}`},
		},
		{
			name: "legacy function message", target: Target{Model: "gemini-2.5-flash"},
			body: `{"messages":[{"role":"user","content":"hi"},{"role":"function","name":"f","content":"[1,2]"}]}`,
			want: map[string]string{"contents": `[{"role":"user","parts":[{"text":"hi"},{"functionResponse":{"name":"f","response":{"output":"[1,2]"}}}]}]`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := openAIToGemini{}.Request([]byte(tc.body), tc.target)
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantPath != "" && req.Path != tc.wantPath {
				t.Errorf("path %q, want %q", req.Path, tc.wantPath)
			}
			if tc.wantHeaders != nil && !geminiEqualHeaders(req.Headers, tc.wantHeaders) {
				t.Errorf("headers %v, want %v", req.Headers, tc.wantHeaders)
			}
			if req.Stream != tc.wantStream || req.IncludeUsage != tc.wantUsage {
				t.Errorf("stream %v include usage %v, want %v %v", req.Stream, req.IncludeUsage, tc.wantStream, tc.wantUsage)
			}
			if strings.Join(req.Dropped, ",") != strings.Join(tc.wantDropped, ",") {
				t.Errorf("dropped %q, want %q", req.Dropped, tc.wantDropped)
			}
			geminiCheckPaths(t, req.Body, tc.want)
		})
	}
}

func geminiEqualHeaders(a, b []Header) bool {
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

// geminiCheckPaths asserts body fields: path -> compact JSON, "" for absent.
func geminiCheckPaths(t *testing.T, body []byte, want map[string]string) {
	t.Helper()
	for path, w := range want {
		r := gjson.GetBytes(body, path)
		if w == "" {
			if r.Exists() {
				t.Errorf("%s = %s, want it absent", path, r.Raw)
			}
			continue
		}
		if got := geminiCompact(r.Raw); got != w {
			t.Errorf("%s = %s, want %s\nbody %s", path, got, w, body)
		}
	}
}

func geminiCompact(s string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		return s
	}
	return b.String()
}

func TestGeminiRequestErrors(t *testing.T) {
	const user = `{"role":"user","content":"hi"}`
	tests := []struct {
		name     string
		body     string
		wantCode string
		wantMsg  string
	}{
		{"not json", `{"model":`, "invalid_json", "not valid JSON"},
		{"no messages", `{"messages":[]}`, "invalid_messages", "'messages' must be a non-empty array"},
		{"only system", `{"messages":[{"role":"system","content":"be nice"}]}`, "invalid_messages", "at least one user or assistant message"},
		{"zero max_tokens", `{"max_tokens":0,"messages":[` + user + `]}`, "invalid_value", "'max_tokens' must be a positive integer"},
		{"fractional max_completion_tokens", `{"max_completion_tokens":2.5,"messages":[` + user + `]}`, "invalid_value", "'max_completion_tokens' must be a positive integer"},
		{"zero n", `{"n":0,"messages":[` + user + `]}`, "invalid_value", "'n' must be a positive integer"},
		{"string temperature", `{"temperature":"hot","messages":[` + user + `]}`, "invalid_value", "'temperature' must be a number"},
		{"fractional seed", `{"seed":1.5,"messages":[` + user + `]}`, "invalid_value", "'seed' must be an integer"},
		{"numeric stop", `{"stop":7,"messages":[` + user + `]}`, "invalid_value", "'stop' must be a string or an array of strings"},
		{"unknown role", `{"messages":[{"role":"critic","content":"x"}]}`, "invalid_messages", `messages[0].role: unsupported role "critic"`},
		{"message not object", `{"messages":[1]}`, "invalid_messages", "messages[0] must be an object"},
		{"unknown part", `{"messages":[{"role":"user","content":[{"type":"video"}]}]}`, "invalid_messages", `messages[0].content[0]: unknown content part type "video"`},
		{"text part without text", `{"messages":[{"role":"user","content":[{"type":"text"}]}]}`, "invalid_messages", "text part needs a string 'text'"},
		{"image in system", `{"messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]},` + user + `]}`, "invalid_messages", `content part type "image_url" is not allowed here`},
		{"plain http image", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"http://x.example/y.png"}}]}]}`, "invalid_value", "messages[0].content[0]: Gemini only fetches https:// and gs:// URLs"},
		{"ftp image", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x/y.png"}}]}]}`, "invalid_value", "must be a data: URL, an https:// URL or a gs:// URL"},
		{"data url not base64", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,abc"}}]}]}`, "invalid_value", "data URL must be base64"},
		{"data url without media type", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:;base64,abc"}}]}]}`, "invalid_value", "data URL needs a media type"},
		{"audio without format", `{"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"UklG"}}]}]}`, "invalid_messages", "input_audio needs 'data' and 'format'"},
		{"file by id", `{"messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"file-abc"}}]}]}`, "unsupported_parameter", "'file_id' refers to OpenAI's file store"},
		{"legacy function_call", `{"messages":[` + user + `,{"role":"assistant","function_call":{"name":"f","arguments":"{}"}}]}`, "unsupported_parameter", "legacy 'function_call' is not supported"},
		{"tool call without id", `{"messages":[` + user + `,{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]}]}`, "invalid_messages", "messages[1].tool_calls[0]: tool call needs an id and a function name"},
		{"bad tool arguments", `{"messages":[` + user + `,{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":"}}]}]}`, "invalid_value", "messages[1].tool_calls[0].function.arguments is not valid JSON"},
		{"tool result for an unknown call", `{"messages":[` + user + `,{"role":"tool","tool_call_id":"call_x","content":"42"}]}`, "invalid_messages", `messages[1]: tool_call_id "call_x" matches no tool call of an earlier assistant message`},
		{"tool message without id", `{"messages":[` + user + `,{"role":"tool","content":"42"}]}`, "invalid_messages", "messages[1]: tool message needs a 'tool_call_id'"},
		{"function message without name", `{"messages":[` + user + `,{"role":"function","content":"42"}]}`, "invalid_messages", "function message needs a 'name'"},
		{"tools not array", `{"tools":{},"messages":[` + user + `]}`, "invalid_value", "'tools' must be an array"},
		{"non-function tool", `{"tools":[{"type":"code_interpreter"}],"messages":[` + user + `]}`, "unsupported_parameter", `tools[0]: tool type "code_interpreter" is not supported`},
		{"tool without name", `{"tools":[{"type":"function","function":{}}],"messages":[` + user + `]}`, "invalid_value", "tools[0].function.name is required"},
		{"tool parameters not object", `{"tools":[{"type":"function","function":{"name":"f","parameters":[]}}],"messages":[` + user + `]}`, "invalid_value", "parameters must be a JSON Schema object"},
		{"unknown tool_choice", `{"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"always","messages":[` + user + `]}`, "invalid_value", `got "always"`},
		{"tool_choice names an undeclared function", `{"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"g"}},"messages":[` + user + `]}`, "invalid_value", `names function "g", which is not in 'tools'`},
		{"tool_choice without name", `{"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{}},"messages":[` + user + `]}`, "invalid_value", "'tool_choice.function.name' is required"},
		{"allowed_tools naming nothing declared", `{"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"allowed_tools","allowed_tools":{"mode":"auto","tools":[{"type":"function","function":{"name":"z"}}]}},"messages":[` + user + `]}`, "invalid_value", "names no function of 'tools'"},
		{"allowed_tools bad mode", `{"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"allowed_tools","allowed_tools":{"mode":"sometimes","tools":[{"type":"function","function":{"name":"f"}}]}},"messages":[` + user + `]}`, "invalid_value", `must be auto or required: got "sometimes"`},
		{"custom tool_choice", `{"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"custom"},"messages":[` + user + `]}`, "unsupported_parameter", "'tool_choice' must be auto, none, required"},
		{"required without tools", `{"tool_choice":"required","messages":[` + user + `]}`, "invalid_value", "'tool_choice' requires 'tools'"},
		{"audio modality", `{"modalities":["text","audio"],"messages":[` + user + `]}`, "invalid_value", `Gemini models cannot answer "audio"`},
		{"modalities not an array", `{"modalities":"image","messages":[` + user + `]}`, "invalid_value", "'modalities' must be an array"},
		{"audio response_format", `{"response_format":{"type":"grammar"},"messages":[` + user + `]}`, "unsupported_parameter", `'response_format' of type "grammar" is not supported by Gemini models`},
		{"json_schema schema not object", `{"response_format":{"type":"json_schema","json_schema":{"schema":"x"}},"messages":[` + user + `]}`, "invalid_value", "'response_format.json_schema.schema' must be a JSON Schema object"},
		{"unknown effort", `{"reasoning_effort":"maximum","messages":[` + user + `]}`, "invalid_value", `'reasoning_effort' must be one of none, minimal, low, medium, high, xhigh: got "maximum"`},
		{"unknown reasoning.effort", `{"reasoning":{"effort":"lots"},"messages":[` + user + `]}`, "invalid_value", `'reasoning.effort' must be one of`},
		{"negative reasoning budget", `{"reasoning":{"max_tokens":-1},"messages":[` + user + `]}`, "invalid_value", "'reasoning.max_tokens' must be a non-negative integer"},
		{"reasoning not object", `{"reasoning":"high","messages":[` + user + `]}`, "invalid_value", "'reasoning' must be an object"},
		{"require_parameters", `{"logit_bias":{"1":1},"parallel_tool_calls":false,"provider":{"require_parameters":true},"messages":[` + user + `]}`, "unsupported_parameter", "provider schema gemini cannot honour: logit_bias, parallel_tool_calls (provider.require_parameters is set)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.body)
			orig := bytes.Clone(in)
			_, err := openAIToGemini{}.Request(in, Target{Model: "gemini-2.5-flash"})
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

func TestGeminiSchema(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"keeps the subset", `{"type":"object","title":"T","description":"d","properties":{"a":{"type":"string","pattern":"^x","maxLength":3}},"required":["a"],"propertyOrdering":["a"]}`,
			`{"type":"object","title":"T","description":"d","properties":{"a":{"type":"string","pattern":"^x","maxLength":3}},"required":["a"],"propertyOrdering":["a"]}`},
		{"drops what Gemini rejects", `{"$schema":"x","$id":"y","type":"object","additionalProperties":false,"patternProperties":{"^a":{}},"properties":{"n":{"type":"number","exclusiveMinimum":0,"multipleOf":2,"not":{}}}}`,
			`{"type":"object","properties":{"n":{"type":"number"}}}`},
		{"type array with null", `{"type":["integer","null"]}`, `{"type":"integer","nullable":true}`},
		{"null member of anyOf", `{"anyOf":[{"type":"string"},{"type":"null"}]}`, `{"type":"string","nullable":true}`},
		{"anyOf member yields to the parent", `{"description":"p","anyOf":[{"type":"string","description":"m","maxLength":3},{"type":"null"}],"default":null}`, `{"description":"p","type":"string","maxLength":3,"default":null,"nullable":true}`},
		{"anyOf of several with null", `{"anyOf":[{"type":"string"},{"type":"integer"},{"type":"null"}]}`, `{"anyOf":[{"type":"string"},{"type":"integer"}],"nullable":true}`},
		{"oneOf is anyOf", `{"oneOf":[{"type":"string"},{"type":"integer"}]}`, `{"anyOf":[{"type":"string"},{"type":"integer"}]}`},
		{"const is a string enum", `{"const":"x"}`, `{"type":"string","enum":["x"]}`},
		{"numeric enum dropped", `{"type":"integer","enum":[1,2]}`, `{"type":"integer"}`},
		{"null in an enum is nullable", `{"type":["string","null"],"enum":["celsius","fahrenheit",null]}`, `{"type":"string","enum":["celsius","fahrenheit"],"nullable":true}`},
		{"null in an untyped enum", `{"enum":[null,"a"]}`, `{"type":"string","enum":["a"],"nullable":true}`},
		{"enum of null alone", `{"enum":[null]}`, `{"nullable":true}`},
		{"unsupported format dropped", `{"type":"string","format":"email"}`, `{"type":"string"}`},
		{"supported format kept", `{"type":"number","format":"double"}`, `{"type":"number","format":"double"}`},
		{"empty properties dropped", `{"type":"object","properties":{}}`, `{"type":"object"}`},
		{"local refs inlined", `{"type":"object","properties":{"p":{"$ref":"#/definitions/P"}},"definitions":{"P":{"type":"string","description":"a p"}}}`,
			`{"type":"object","properties":{"p":{"type":"string","description":"a p"}}}`},
		{"escaped ref path", `{"properties":{"p":{"$ref":"#/$defs/a~1b"}},"$defs":{"a/b":{"type":"boolean"}}}`, `{"properties":{"p":{"type":"boolean"}}}`},
		{"allOf of one", `{"allOf":[{"type":"string"}],"description":"lost"}`, `{"type":"string"}`},
		{"unknown ref", `{"$ref":"https://example.com/s.json"}`, `{}`},
		{"recursive ref stops", `{"$defs":{"N":{"type":"object","properties":{"next":{"$ref":"#/$defs/N"}}}},"$ref":"#/$defs/N"}`, ""},
		{"tuple items", `{"type":"array","items":[{"type":"string"},{"type":"integer"}]}`, `{"type":"array","items":{"type":"string"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := geminiSchema(gjson.Parse(tc.in))
			if !gjson.ValidBytes(got) {
				t.Fatalf("not JSON: %s", got)
			}
			if tc.want != "" && string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if tc.want == "" && strings.Count(string(got), `"next"`) > geminiSchemaMaxDepth {
				t.Errorf("recursion not bounded: %d levels", strings.Count(string(got), `"next"`))
			}
		})
	}
}

func TestGeminiResponseGolden(t *testing.T) {
	tests := []struct {
		name      string
		wantUsage Usage
	}{
		{"text", Usage{PromptTokens: 9, CompletionTokens: 38 + 565, ReasoningTokens: 565}},
		{"tool_call", Usage{PromptTokens: 126, CompletionTokens: 42 + 97, ReasoningTokens: 97}},
		{"thinking", Usage{PromptTokens: 2071, CompletionTokens: 14 + 312, CachedTokens: 1024, ReasoningTokens: 312}},
		{"prompt_blocked", Usage{PromptTokens: 14}},
		{"multi_candidate", Usage{PromptTokens: 11, CompletionTokens: 31}},
		{"structured", Usage{PromptTokens: 61, CompletionTokens: 39 + 188, ReasoningTokens: 188}},
		// An image model's picture becomes message.images (OpenRouter's shape).
		{"image_generate", Usage{PromptTokens: 9, CompletionTokens: 1297}},
		// Google Search grounding: its sources are url_citation annotations.
		{"grounding", Usage{PromptTokens: 8 + 112, CompletionTokens: 19}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := translateGolden(t, openAIToGemini{}, "gemini", tc.name, tc.wantUsage)
			checkGolden(t, filepath.Join(testdata, "openai_gemini", tc.name+".resp.json"), prettyJSON(t, normalize(out)))
		})
	}
}

func TestGeminiResponseShapes(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		want   map[string]string
		status int // of the error, when one is expected
		code   string
	}{
		{
			name: "array form of streamGenerateContent",
			body: `[{"candidates":[{"content":{"parts":[{"text":"Hel"}],"role":"model"}}],"responseId":"r1","modelVersion":"m"},{"candidates":[{"content":{"parts":[{"text":"lo"},{"functionCall":{"id":"fc-7","name":"f","args":{ "x" : 1 }}}],"role":"model"},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":2}}]`,
			want: map[string]string{"id": `"r1"`, "choices.0.message.content": `"Hello"`, "choices.0.finish_reason": `"tool_calls"`,
				"choices.0.message.tool_calls.0": `{"id":"fc-7","type":"function","function":{"name":"f","arguments":"{\"x\":1}"}}`, "usage.total_tokens": "5"},
		},
		{
			name: "no candidates",
			body: `{"usageMetadata":{"promptTokenCount":3},"modelVersion":"m","responseId":"r2"}`,
			want: map[string]string{"choices.0.message.content": "null", "choices.0.finish_reason": `"stop"`},
		},
		{
			name: "safety finish without content",
			body: `{"candidates":[{"finishReason":"SAFETY","index":0,"safetyRatings":[{"category":"HARM_CATEGORY_HARASSMENT","probability":"HIGH","blocked":true}]}],"responseId":"r3"}`,
			want: map[string]string{"choices.0.message.content": "null", "choices.0.finish_reason": `"content_filter"`},
		},
		{
			name: "recitation", body: `{"candidates":[{"content":{"parts":[{"text":"a"}]},"finishReason":"RECITATION"}],"responseId":"r"}`,
			want: map[string]string{"choices.0.finish_reason": `"content_filter"`},
		},
		{
			name: "max tokens with only thoughts",
			body: `{"candidates":[{"content":{"parts":[{"text":"thinking...","thought":true}]},"finishReason":"MAX_TOKENS"}],"responseId":"r"}`,
			want: map[string]string{"choices.0.finish_reason": `"length"`, "choices.0.message.content": "null", "choices.0.message.reasoning": `"thinking..."`},
		},
		{
			name: "unknown parts and finish reasons",
			body: `{"candidates":[{"content":{"parts":[{"executableCode":{"code":"print(1)"}},{"text":"1"}]},"finishReason":"MALFORMED_FUNCTION_CALL"}],"responseId":"r"}`,
			want: map[string]string{"choices.0.finish_reason": `"stop"`, "choices.0.message.content": `"1"`},
		},
		{name: "not JSON", body: "<html>502</html>", status: 502, code: "bad_upstream_response"},
		{name: "not an object", body: `[1]`, status: 502, code: "bad_upstream_response"},
		{name: "error with status 200", body: `{"error":{"code":500,"message":"Internal error encountered.","status":"INTERNAL"}}`, status: 502, code: "upstream_error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := openAIToGemini{}.Response([]byte(tc.body))
			if tc.status != 0 {
				var ae *APIError
				if !errors.As(err, &ae) || ae.Status != tc.status || ae.Code != tc.code {
					t.Fatalf("error %v, want %d %s", err, tc.status, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !gjson.ValidBytes(out) {
				t.Fatalf("not JSON: %s", out)
			}
			geminiCheckPaths(t, out, tc.want)
		})
	}
}

func TestGeminiError(t *testing.T) {
	tests := []struct {
		name       string
		transcript string // or status and body
		status     int
		retryAfter string
		body       string
		want       APIError
	}{
		{
			name: "quota with RetryInfo", transcript: "error_429",
			want: APIError{Status: 429, Type: TypeRateLimit, Code: "rate_limit_exceeded", RetryAfter: "22",
				Message: "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your current usage, head to: https://ai.dev/usage?tab=rate-limit. \n* Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 10, model: gemini-2.5-flash\nPlease retry in 22.717514126s."},
		},
		{
			name: "Retry-After header wins over RetryInfo", status: 429, retryAfter: "5",
			body: `{"error":{"code":429,"message":"slow down","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"40s"}]}}`,
			want: APIError{Status: 429, Type: TypeRateLimit, Code: "rate_limit_exceeded", RetryAfter: "5", Message: "slow down"},
		},
		{
			name: "fractional retry delay rounds up", status: 429,
			body: `{"error":{"code":429,"message":"slow down","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"0.250s"}]}}`,
			want: APIError{Status: 429, Type: TypeRateLimit, Code: "rate_limit_exceeded", RetryAfter: "1", Message: "slow down"},
		},
		{
			name: "invalid API key is the gateway's credential", transcript: "error_400_api_key",
			want: APIError{Status: 502, Type: TypeUpstream, Code: "provider_auth_failed", Message: "the gateway's credential for the provider was rejected (upstream status 401)"},
		},
		{
			name: "permission denied", transcript: "error_403",
			want: APIError{Status: 502, Type: TypeUpstream, Code: "provider_auth_failed", Message: "the gateway's credential for the provider was rejected (upstream status 403)"},
		},
		{
			name: "prompt too long", transcript: "error_400_too_long",
			want: APIError{Status: 400, Type: TypeInvalidRequest, Code: "context_length_exceeded", Message: "The input token count (1184624) exceeds the maximum number of tokens allowed (1048576)."},
		},
		{
			name: "overloaded", transcript: "error_503",
			want: APIError{Status: 503, Type: TypeUpstream, Code: "provider_overloaded", Message: "The model is overloaded. Please try again later."},
		},
		{
			name: "invalid argument", status: 400,
			body: `{"error":{"code":400,"message":"* GenerateContentRequest.generation_config.temperature: must be in [0, 2]","status":"INVALID_ARGUMENT"}}`,
			want: APIError{Status: 400, Type: TypeInvalidRequest, Message: "* GenerateContentRequest.generation_config.temperature: must be in [0, 2]"},
		},
		{
			name: "failed precondition", status: 400,
			body: `{"error":{"code":400,"message":"User location is not supported for the API use.","status":"FAILED_PRECONDITION"}}`,
			want: APIError{Status: 400, Type: TypeInvalidRequest, Message: "User location is not supported for the API use."},
		},
		{
			name: "model not found", status: 404,
			body: `{"error":{"code":404,"message":"models/gemini-9 is not found for API version v1beta","status":"NOT_FOUND"}}`,
			want: APIError{Status: 502, Type: TypeUpstream, Code: "upstream_not_found", Message: "models/gemini-9 is not found for API version v1beta"},
		},
		{
			name: "internal", status: 500,
			body: `{"error":{"code":500,"message":"An internal error has occurred.","status":"INTERNAL"}}`,
			want: APIError{Status: 502, Type: TypeUpstream, Code: "upstream_error", Message: "An internal error has occurred."},
		},
		{
			name: "deadline", status: 504,
			body: `{"error":{"code":504,"message":"The request timed out.","status":"DEADLINE_EXCEEDED"}}`,
			want: APIError{Status: 504, Type: TypeUpstream, Code: "upstream_timeout", Message: "The request timed out."},
		},
		{
			name: "array form", status: 429,
			body: `[{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}]`,
			want: APIError{Status: 429, Type: TypeRateLimit, Code: "rate_limit_exceeded", Message: "quota"},
		},
		{
			name: "html from a proxy", status: 502, body: "<html>bad gateway</html>",
			want: APIError{Status: 502, Type: TypeUpstream, Code: "upstream_error", Message: "<html>bad gateway</html>"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, retryAfter, body := tc.status, tc.retryAfter, []byte(tc.body)
			if tc.transcript != "" {
				tx := readTranscript(t, "gemini", tc.transcript)
				status, retryAfter, body = tx.status, tx.header.Get("Retry-After"), tx.body
			}
			got := openAIToGemini{}.Error(status, retryAfter, body)
			if *got != tc.want {
				t.Errorf("got  %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}

func TestGoogleRetryDelay(t *testing.T) {
	for in, want := range map[string]string{"23s": "23", "22.717s": "23", "0s": "1", "0.001s": "1", "": "", "5m": "", "xs": "", "-3s": "", "99999999s": ""} {
		if got := googleRetryDelay(in); got != want {
			t.Errorf("googleRetryDelay(%q) = %q, want %q", in, got, want)
		}
	}
}

// gemEvent is one SSE event of a Gemini stream.
func gemEvent(json string) string { return "data: " + json + "\r\n\r\n" }

func TestGeminiStreamGolden(t *testing.T) {
	tests := []struct {
		name       string
		transcript string
		body       string // used when transcript is empty
		usage      bool
		wantUsage  Usage
		wantErr    string // code of the error chunk
		wantErrMsg string
	}{
		{name: "text_stream", transcript: "text_stream", usage: true, wantUsage: Usage{PromptTokens: 8, CompletionTokens: 41 + 302, ReasoningTokens: 302}},
		{name: "text_stream.no_usage", transcript: "text_stream", wantUsage: Usage{PromptTokens: 8, CompletionTokens: 41 + 302, ReasoningTokens: 302}},
		{name: "thinking_stream", transcript: "thinking_stream", usage: true, wantUsage: Usage{PromptTokens: 12, CompletionTokens: 14 + 202, ReasoningTokens: 202}},
		{name: "tool_call_stream", transcript: "tool_call_stream", usage: true, wantUsage: Usage{PromptTokens: 131, CompletionTokens: 42 + 88, ReasoningTokens: 88}},
		{name: "stream_safety", transcript: "stream_safety", usage: true, wantUsage: Usage{PromptTokens: 19, CompletionTokens: 7}},
		{name: "image_generate_stream", transcript: "image_generate_stream", usage: true, wantUsage: Usage{PromptTokens: 9, CompletionTokens: 1295}},
		{name: "grounding_stream", transcript: "grounding_stream", usage: true, wantUsage: Usage{PromptTokens: 8 + 112, CompletionTokens: 19}},
		{
			// Data that is not base64 is escaped, never copied raw.
			name: "stream_image_hostile", usage: false,
			body: gemEvent(`{"candidates":[{"content":{"parts":[{"inlineData":{"mimeType":"image/png\"x","data":"AA\"}"}}]},"finishReason":"STOP"}],"responseId":"g6"}`),
		},
		{
			name: "stream_truncated", transcript: "stream_truncated", usage: true, wantUsage: Usage{PromptTokens: 10},
			wantErr: "upstream_stream_error", wantErrMsg: "provider stream ended before the response was complete",
		},
		{
			name: "stream_error", transcript: "stream_error", usage: true, wantUsage: Usage{PromptTokens: 15},
			wantErr: "provider_overloaded", wantErrMsg: "The model is overloaded. Please try again later.",
		},
		{
			name:    "stream_garbage",
			body:    gemEvent(`{"candidates":[{"content":{"parts":[{"text":"a"}]}}],"responseId":"g1"}`) + "data: <html>oops</html>\r\n\r\n",
			wantErr: "upstream_stream_error", wantErrMsg: "provider sent a stream event that is not JSON",
		},
		{
			name:    "stream_not_object",
			body:    gemEvent(`["candidates"]`),
			wantErr: "upstream_stream_error", wantErrMsg: "provider sent a stream event that is not a JSON object",
		},
		{
			name:    "stream_cut_inside_event",
			body:    gemEvent(`{"candidates":[{"content":{"parts":[{"text":"a"}]},"finishReason":"STOP"}],"responseId":"g2"}`) + `data: {"usageMetadata": {"promptTokenCount"`,
			wantErr: "upstream_stream_error", wantErrMsg: "provider stream ended inside an event",
		},
		{
			name: "stream_prompt_blocked", usage: true, wantUsage: Usage{PromptTokens: 7},
			body: gemEvent(`{"promptFeedback": {"blockReason": "SAFETY","safetyRatings": [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT","probability": "HIGH"}]},"usageMetadata": {"promptTokenCount": 7,"totalTokenCount": 7},"modelVersion": "gemini-2.5-flash","responseId": "g3"}`),
		},
		{
			name: "stream_two_candidates", usage: true, wantUsage: Usage{PromptTokens: 5, CompletionTokens: 9},
			body: gemEvent(`{"candidates": [{"content": {"parts": [{"text": "Red"}],"role": "model"}},{"content": {"parts": [{"text": "Blue"}],"role": "model"},"index": 1}],"responseId": "g4","modelVersion": "gemini-2.0-flash"}`) +
				gemEvent(`{"candidates": [{"content": {"parts": [{"functionCall": {"name": "paint","args": {}}}],"role": "model"},"finishReason": "STOP","index": 1},{"content": {"parts": [{"text": " sky"}],"role": "model"},"index": 0}],"responseId": "g4"}`) +
				gemEvent(`{"candidates": [{"content": {"parts": [{"text": "."}],"role": "model"},"finishReason": "MAX_TOKENS","index": 0},{"content": {"parts": [{"text": "ignored after finish"}]},"index": 1},{"index": 9},"not a candidate"],"usageMetadata": {"promptTokenCount": 5,"candidatesTokenCount": 9},"responseId": "g4"}`),
		},
		{
			name: "stream_usage_after_finish_and_comments", usage: true, wantUsage: Usage{PromptTokens: 4, CompletionTokens: 2, CachedTokens: 2},
			body: ": keep-alive\n\n" + gemEvent(`{"candidates":[{"content":{"parts":[{"text":"ok"}]},"finishReason":"STOP"}],"responseId":"g5","usageMetadata":{"promptTokenCount":4}}`) +
				gemEvent(`{"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":2,"cachedContentTokenCount":2},"responseId":"g5"}`),
		},
		{
			name: "stream_without_response_id", usage: false,
			body: gemEvent(`{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{"a":[1, 2]}}}]},"finishReason":"STOP"}]}`),
		},
		{
			name: "stream_empty", usage: true,
			wantErr: "upstream_stream_error", wantErrMsg: "provider stream ended before the response was complete",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(tc.body)
			if tc.transcript != "" {
				body = readTranscript(t, "gemini", tc.transcript).body
			}
			golden := filepath.Join(testdata, "openai_gemini", tc.name+".resp.sse")
			out, usage := checkStreamGolden(t, openAIToGemini{}, StreamOptions{IncludeUsage: tc.usage}, body, golden)
			if usage != tc.wantUsage {
				t.Errorf("usage %+v, want %+v", usage, tc.wantUsage)
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

// geminiStreamMessage folds a client stream of one choice into a message the
// way an SDK accumulator does.
type geminiStreamMessage struct {
	content, reasoning string
	ids, names, args   map[int64]string
	details            map[int64]gjson.Result // by reasoning_details index, text concatenated
	detailText         map[int64]string
	finish             string
}

func geminiFold(t *testing.T, out []byte) geminiStreamMessage {
	t.Helper()
	m := geminiStreamMessage{ids: map[int64]string{}, names: map[int64]string{}, args: map[int64]string{}, details: map[int64]gjson.Result{}, detailText: map[int64]string{}}
	for _, ev := range bytes.Split(out, []byte("\n\n")) {
		data, _ := bytes.CutPrefix(ev, []byte("data: "))
		c := gjson.GetBytes(data, "choices.0")
		if !c.Exists() {
			continue
		}
		d := c.Get("delta")
		m.content += d.Get("content").Str
		m.reasoning += d.Get("reasoning").Str
		for _, tc := range d.Get("tool_calls").Array() {
			i := tc.Get("index").Int()
			m.args[i] += tc.Get("function.arguments").Str
			if id := tc.Get("id").Str; id != "" {
				m.ids[i] = id
			}
			if n := tc.Get("function.name").Str; n != "" {
				m.names[i] = n
			}
		}
		for _, rd := range d.Get("reasoning_details").Array() {
			i := rd.Get("index").Int()
			m.details[i] = rd
			m.detailText[i] += rd.Get("text").Str
		}
		if f := c.Get("finish_reason").Str; f != "" {
			m.finish = f
		}
	}
	return m
}

// TestGeminiToolCallsStreamedAndWhole checks that a streamed answer and
// the same answer whole give one tool call list: same ids, arguments and
// signatures, so either can be sent back on the next turn.
func TestGeminiToolCallsStreamedAndWhole(t *testing.T) {
	out, _ := runStream(openAIToGemini{}, StreamOptions{}, readTranscript(t, "gemini", "tool_call_stream").body, byteByByte)
	m := geminiFold(t, out)
	wantIDs := []string{"call_Q0IcaZCJJ7OLz7IPvqmwiAo_0", "call_Q0IcaZCJJ7OLz7IPvqmwiAo_1"}
	wantArgs := []string{`{"city":"Paris","unit":"celsius"}`, `{"city":"Tokyo","unit":"celsius"}`}
	for i := range wantIDs {
		if m.ids[int64(i)] != wantIDs[i] || m.args[int64(i)] != wantArgs[i] || m.names[int64(i)] != "get_weather" {
			t.Errorf("tool call %d: %q %q %q", i, m.ids[int64(i)], m.names[int64(i)], m.args[int64(i)])
		}
	}
	if m.finish != "tool_calls" || !strings.HasPrefix(m.reasoning, "**Checking two cities**") || m.detailText[0] != m.reasoning {
		t.Errorf("finish %q reasoning %q details %v", m.finish, m.reasoning, m.detailText)
	}
	sig := m.details[1]
	if sig.Get("type").Str != "reasoning.encrypted" || sig.Get("id").Str != wantIDs[0] || sig.Get("data").Str != "CiQBcsjafE2xPq0wV3aN8tR5yK1mL4dJ7hG0fS6eB9cZ2iU3oT8=" {
		t.Errorf("signature detail %s", sig.Raw)
	}

	whole, _, err := openAIToGemini{}.Response(readTranscript(t, "gemini", "tool_call").body)
	if err != nil {
		t.Fatal(err)
	}
	msg := gjson.GetBytes(whole, "choices.0.message")
	if id := msg.Get("tool_calls.0.id").Str; id != "call_9TkcaeK3HJ6Lz7IPqfXv8Ac_0" || msg.Get("reasoning_details.0.id").Str != id {
		t.Errorf("whole response ids: %s", msg.Raw)
	}
}

// TestGeminiThinkingToolRoundTrip sends an assistant message the gateway
// produced back to Gemini: the signature must come back on the function
// call it belongs to, and tool results must find their function names.
func TestGeminiThinkingToolRoundTrip(t *testing.T) {
	whole, _, err := openAIToGemini{}.Response(readTranscript(t, "gemini", "tool_call").body)
	if err != nil {
		t.Fatal(err)
	}
	assistant := gjson.GetBytes(whole, "choices.0.message").Raw
	ids := gjson.GetBytes(whole, "choices.0.message.tool_calls.#.id").Array()
	body := `{"messages":[{"role":"user","content":"Weather in Paris and Tokyo?"},` + assistant +
		`,{"role":"tool","tool_call_id":"` + ids[1].Str + `","content":"22C"},{"role":"tool","tool_call_id":"` + ids[0].Str + `","content":"{\"c\":14}"}]}`
	for _, model := range []string{"gemini-2.5-flash", "gemini-3-pro-preview"} {
		t.Run(model, func(t *testing.T) {
			req, err := openAIToGemini{}.Request([]byte(body), Target{Model: model})
			if err != nil {
				t.Fatal(err)
			}
			geminiCheckPaths(t, req.Body, map[string]string{
				"contents.1.role":                     `"model"`,
				"contents.1.parts.0.thoughtSignature": `"` + gjson.GetBytes(whole, "choices.0.message.reasoning_details.0.data").Str + `"`,
				"contents.1.parts.0.functionCall":     `{"name":"get_weather","args":{"city":"Paris","unit":"celsius"}}`,
				"contents.1.parts.1.thoughtSignature": "",
				"contents.2.role":                     `"user"`,
				"contents.2.parts":                    `[{"functionResponse":{"name":"get_weather","response":{"output":"22C"}}},{"functionResponse":{"name":"get_weather","response":{"c":14}}}]`,
			})
		})
	}
}

// TestGeminiStreamExcludeReasoning: with reasoning.exclude the client gets
// neither thought text nor signatures, while reasoning tokens still count.
func TestGeminiStreamExcludeReasoning(t *testing.T) {
	for _, name := range []string{"thinking_stream", "tool_call_stream"} {
		t.Run(name, func(t *testing.T) {
			body := readTranscript(t, "gemini", name).body
			opts := StreamOptions{IncludeUsage: true, ExcludeReasoning: true}
			out, usage := runStream(openAIToGemini{}, opts, body, whole)
			checkSSE(t, out)
			if bytes.Contains(out, []byte(`"reasoning":`)) || bytes.Contains(out, []byte(`"reasoning_details"`)) {
				t.Errorf("reasoning left in the stream:\n%s", out)
			}
			split, _ := runStream(openAIToGemini{}, opts, body, byteByByte)
			if !bytes.Equal(normalize(split), normalize(out)) {
				t.Error("byte-by-byte output differs")
			}
			if m := geminiFold(t, out); usage.ReasoningTokens == 0 || m.finish == "" || (m.content == "" && len(m.ids) == 0) {
				t.Errorf("usage %+v, message %+v", usage, m)
			}
		})
	}
}

func TestGeminiStreamEventTooLarge(t *testing.T) {
	st := openAIToGemini{}.NewStream(StreamOptions{})
	out := st.Translate(nil, []byte(gemEvent(`{"candidates":[{"content":{"parts":[{"text":"a"}]}}],"responseId":"big"}`)))
	out = st.Translate(out, []byte("data: "+strings.Repeat("x", maxEventBytes)))
	out = st.Translate(out, []byte("more after the end"))
	out = st.Finish(out)
	checkSSE(t, out)
	if e := streamErrorOf(out); e.Get("message").Str != ErrEventTooLarge.Error() {
		t.Errorf("error chunk %s, want %q", e.Raw, ErrEventTooLarge)
	}
}

func TestGeminiStreamDoneOnlyFromFinish(t *testing.T) {
	for _, name := range []string{"text_stream", "tool_call_stream", "thinking_stream"} {
		t.Run(name, func(t *testing.T) {
			st := openAIToGemini{}.NewStream(StreamOptions{IncludeUsage: true})
			out := st.Translate(nil, readTranscript(t, "gemini", name).body)
			if bytes.Contains(out, []byte("[DONE]")) || bytes.Contains(out, []byte(`"usage"`)) {
				t.Fatalf("Translate wrote [DONE] or usage before the end:\n%s", out)
			}
			n := len(out)
			out = st.Finish(out)
			checkSSE(t, out)
			if !bytes.Contains(out[n:], []byte(`"choices":[],"usage":{`)) {
				t.Errorf("no usage chunk from Finish: %s", out[n:])
			}
			if again := st.Finish(out); len(again) != len(out) {
				t.Errorf("second Finish wrote %q", again[len(out):])
			}
		})
	}
}

// geminiSeeds are the fuzz seeds: every Gemini transcript body, the Vertex
// Gemini ones and a few hand-made corner cases.
func geminiSeeds(f *testing.F) [][]byte {
	seeds := append(transcriptBodies(f, "gemini"), transcriptBodies(f, "vertex")...)
	return append(seeds,
		[]byte(gemEvent(`{"candidates":[{"index":3,"content":{"parts":[{"functionCall":{"name":7,"args":[1]},"thoughtSignature":"\u0000"}]},"finishReason":"STOP"}],"responseId":"\u00ff"}`)),
		[]byte(gemEvent(`{"candidates":[{"index":-1},{"index":1e300},{"content":{"parts":{"text":"x"}}}]}`)),
		[]byte(`[{"candidates":[{"content":{"parts":[{"text":"a","thought":true},{"thoughtSignature":"s"}]}}]}]`),
	)
}

func FuzzGeminiStream(f *testing.F) {
	for i, b := range geminiSeeds(f) {
		f.Add(b, uint64(i), i%2 == 0)
	}
	f.Fuzz(func(t *testing.T, body []byte, seed uint64, usage bool) {
		opts := StreamOptions{IncludeUsage: usage}
		out, u := runStream(openAIToGemini{}, opts, body, whole)
		out = normalize(out)
		checkSSE(t, out)
		split, su := runStream(openAIToGemini{}, opts, body, randomSplits(seed, 32))
		if !bytes.Equal(normalize(split), out) || su != u {
			t.Fatalf("split output differs:\n%s\n---\n%s", split, out)
		}
	})
}

func FuzzGeminiResponse(f *testing.F) {
	for _, b := range geminiSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := bytes.Clone(body)
		out, usage, err := openAIToGemini{}.Response(body)
		if !bytes.Equal(body, orig) {
			t.Fatal("Response modified its input")
		}
		if err != nil {
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status < 400 {
				t.Fatalf("error %v is not an APIError", err)
			}
			return
		}
		if !gjson.ValidBytes(out) || gjson.GetBytes(out, "usage.total_tokens").Int() != usage.Total() {
			t.Fatalf("bad output %s for usage %+v", out, usage)
		}
		if e := (openAIToGemini{}).Error(500, "", body); e == nil || e.Status < 400 {
			t.Fatalf("Error mapped to %+v", e)
		}
	})
}

func BenchmarkGeminiRequest(b *testing.B) {
	benchRequest(b, openAIToGemini{}, goldenIn(b, "openai_gemini", "tool_results"), Target{Model: "gemini-2.5-flash"})
}

func BenchmarkGeminiResponse(b *testing.B) {
	benchResponse(b, openAIToGemini{}, "gemini", "tool_call")
}

// BenchmarkGeminiStreamTextDelta measures the steady state: one text
// event in, one chunk out, buffers already grown.
func BenchmarkGeminiStreamTextDelta(b *testing.B) {
	st := openAIToGemini{}.NewStream(StreamOptions{IncludeUsage: true})
	body := readTranscript(b, "gemini", "text_stream").body
	first := body[:bytes.Index(body, []byte("\n\n"))+2]
	ev := []byte(`data: {"candidates": [{"content": {"parts": [{"text": " flow through—one door, many rivers met,"}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 8,"totalTokenCount": 8,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 8}]},"modelVersion": "gemini-2.5-flash","responseId": "lkAcaYWKCMmLz7IPt-zh0Qw"}` + "\n\n")
	dst := st.Translate(nil, first)
	b.ReportAllocs()
	b.SetBytes(int64(len(ev)))
	for b.Loop() {
		dst = st.Translate(dst[:0], ev)
	}
	if !bytes.Contains(dst, []byte(`"content":" flow through`)) {
		b.Fatalf("unexpected chunk %s", dst)
	}
}

func BenchmarkGeminiStreamTranscript(b *testing.B) {
	body := readTranscript(b, "gemini", "tool_call_stream").body
	var dst []byte
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		st := openAIToGemini{}.NewStream(StreamOptions{IncludeUsage: true})
		dst = st.Finish(st.Translate(dst[:0], body))
	}
}
