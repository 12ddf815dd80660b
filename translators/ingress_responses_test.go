package translators

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3/packages/param"
	"github.com/openai/openai-go/v3/responses"
	"github.com/tidwall/gjson"
)

const responsesDir = "ingress_responses"

var (
	respCreatedRe = regexp.MustCompile(`"created_at":\d+`)
	respIDRe      = regexp.MustCompile(`switchboard_[0-9a-z]+`)
)

// normalizeResponses blanks what the ingress takes from the clock.
func normalizeResponses(b []byte) []byte {
	b = respCreatedRe.ReplaceAll(b, []byte(`"created_at":0`))
	return respIDRe.ReplaceAll(b, []byte("switchboard_test"))
}

// requestGolden is what a request golden records: the chat body and what
// the translation reports beside it.
func requestGolden(tb testing.TB, r ResponsesRequest) []byte {
	echo := append([]byte{'{'}, r.Echo.Fields[1:]...)
	echo = append(echo, '}')
	g := map[string]any{"chat": json.RawMessage(r.Body), "stream": r.Stream, "store": r.Store,
		"dropped": r.Dropped, "summary": r.Echo.Summary, "echo": json.RawMessage(echo)}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // the golden shows prompts as the provider gets them
	if err := enc.Encode(g); err != nil {
		tb.Fatal(err)
	}
	return prettyJSON(tb, bytes.TrimSpace(buf.Bytes()))
}

func TestResponsesIngressRequestGolden(t *testing.T) {
	for _, name := range goldenCases(t, responsesDir) {
		t.Run(name, func(t *testing.T) {
			in := goldenIn(t, responsesDir, name)
			orig := bytes.Clone(in)
			r, err := ResponsesIngress{}.Request(in)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(in, orig) {
				t.Fatal("Request modified its input")
			}
			if err := checkChatRequest(r.Body); err != nil {
				t.Fatalf("output is not a chat request: %v", err)
			}
			checkGolden(t, filepath.Join(testdata, responsesDir, name+".out.json"), requestGolden(t, r))
		})
	}
}

func TestResponsesIngressRequestFields(t *testing.T) {
	tests := []struct {
		name, body, path, want string // want: raw JSON, "" for absent
	}{
		{"string input", `{"model":"m","input":"hi"}`, "messages", `[{"role":"user","content":"hi"}]`},
		{"instructions lead", `{"model":"m","instructions":"be brief","input":"hi"}`, "messages.0", `{"role":"system","content":"be brief"}`},
		{"developer is system", `{"model":"m","input":[{"role":"developer","content":"rules"}]}`, "messages.0.role", `"system"`},
		{"easy message without type", `{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"a"},{"type":"input_text","text":"b"}]}]}`, "messages.0.content", `[{"type":"text","text":"a"},{"type":"text","text":"b"}]`},
		{"stream asks for usage", `{"model":"m","input":"x","stream":true}`, "stream_options", `{"include_usage":true}`},
		{"max_output_tokens", `{"model":"m","input":"x","max_output_tokens":100}`, "max_completion_tokens", `100`},
		{"effort", `{"model":"m","input":"x","reasoning":{"effort":"xhigh"}}`, "reasoning", `{"effort":"xhigh"}`},
		{"summary alone sets no chat field", `{"model":"m","input":"x","reasoning":{"summary":"auto"}}`, "reasoning", ``},
		{"json_object", `{"model":"m","input":"x","text":{"format":{"type":"json_object"}}}`, "response_format", `{"type":"json_object"}`},
		{"text format is the default", `{"model":"m","input":"x","text":{"format":{"type":"text"}}}`, "response_format", ``},
		{"tool_choice required", `{"model":"m","input":"x","tools":[{"type":"function","name":"f"}],"tool_choice":"required"}`, "tool_choice", `"required"`},
		{"no tool_choice without tools", `{"model":"m","input":"x","tools":[{"type":"web_search"}],"tool_choice":"required"}`, "tool_choice", ``},
		{"tool without parameters", `{"model":"m","input":"x","tools":[{"type":"function","name":"f","parameters":null}]}`, "tools.0.function.parameters", `{"type":"object","properties":{}}`},
		{"parallel tool calls", `{"model":"m","input":"x","parallel_tool_calls":false}`, "parallel_tool_calls", `false`},
		{"calls gather into one turn", `{"model":"m","input":[{"role":"user","content":"x"},{"type":"function_call","call_id":"a","name":"f","arguments":"{}"},{"type":"function_call","call_id":"b","name":"g","arguments":"{\"k\":1}"}]}`,
			"messages.1", `{"role":"assistant","content":null,"tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"{}"}},{"id":"b","type":"function","function":{"name":"g","arguments":"{\"k\":1}"}}]}`},
		{"assistant text joins its calls", `{"model":"m","input":[{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Checking."}]},{"type":"function_call","call_id":"a","name":"f","arguments":"{}"}]}`,
			"messages.0.content", `"Checking."`},
		{"tool images follow the tool messages", `{"model":"m","input":[{"type":"function_call","call_id":"a","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"a","output":[{"type":"input_image","image_url":"https://x/y.png"}]},{"type":"function_call_output","call_id":"b","output":"ok"}]}`,
			"messages.#.role", `["assistant","tool","tool","user"]`},
		{"refusal in history", `{"model":"m","input":[{"type":"message","role":"assistant","content":[{"type":"refusal","refusal":"I can't help."}]}]}`, "messages.0.content", `"I can't help."`},
		{"bare base64 file", `{"model":"m","input":[{"role":"user","content":[{"type":"input_file","filename":"a.pdf","file_data":"JVBERi0="}]}]}`, "messages.0.content.0.file.file_data", `"data:application/pdf;base64,JVBERi0="`},
		{"image detail kept", `{"model":"m","input":[{"role":"user","content":[{"type":"input_image","image_url":"https://x/y.png","detail":"low"}]}]}`, "messages.0.content.0.image_url", `{"url":"https://x/y.png","detail":"low"}`},
		{"native reasoning item", `{"model":"m","input":[{"id":"rs_1","type":"reasoning","summary":[],"encrypted_content":"gAAA"}]}`,
			"messages.0.reasoning_details", `[{"type":"reasoning.encrypted","data":"gAAA","id":"rs_1","format":"openai-responses-v1","index":0}]`},
		{"routing fields travel on", `{"model":"m","input":"x","models":["a","b"],"provider":{"only":["openai"]},"session_id":"s1"}`, "@this", `{"model":"m","messages":[{"role":"user","content":"x"}],"models":["a","b"],"provider":{"only":["openai"]},"session_id":"s1"}`},
		{"store and metadata stay here", `{"model":"m","input":"x","store":true,"metadata":{"a":"b"}}`, "@this", `{"model":"m","messages":[{"role":"user","content":"x"}]}`},
		{"html kept", `{"model":"m","input":"<a> & b"}`, "messages.0.content", `"<a> & b"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ResponsesIngress{}.Request([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if got := gjson.GetBytes(r.Body, tc.path).Raw; got != tc.want {
				t.Errorf("%s = %s, want %s\n%s", tc.path, got, tc.want, r.Body)
			}
		})
	}
}

func TestResponsesIngressRequestReports(t *testing.T) {
	tests := []struct {
		name, body string
		dropped    []string
		store      bool
		summary    bool
	}{
		{"plain", `{"model":"m","input":"x"}`, nil, true, false},
		{"store false", `{"model":"m","input":"x","store":false}`, nil, false, false},
		{"built-in tools", `{"model":"m","input":"x","tools":[{"type":"web_search"},{"type":"file_search"},{"type":"web_search"}]}`, []string{"tools[].web_search", "tools[].file_search"}, true, false},
		{"truncation disabled is no drop", `{"model":"m","input":"x","truncation":"disabled"}`, nil, true, false},
		{"chat-less params", `{"model":"m","input":"x","prompt_cache_key":"k","max_tool_calls":3,"truncation":"auto"}`, []string{"max_tool_calls", "prompt_cache_key", "truncation"}, true, false},
		{"encrypted content include is served", `{"model":"m","input":"x","include":["reasoning.encrypted_content"]}`, nil, true, false},
		{"other include", `{"model":"m","input":"x","include":["file_search_call.results"]}`, []string{"include"}, true, false},
		{"summary", `{"model":"m","input":"x","reasoning":{"summary":"concise"}}`, nil, true, true},
		{"legacy generate_summary", `{"model":"m","input":"x","reasoning":{"generate_summary":"auto"}}`, nil, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ResponsesIngress{}.Request([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(r.Dropped, ",") != strings.Join(tc.dropped, ",") {
				t.Errorf("dropped %q, want %q", r.Dropped, tc.dropped)
			}
			if r.Store != tc.store || r.Echo.Summary != tc.summary {
				t.Errorf("store %v summary %v, want %v %v", r.Store, r.Echo.Summary, tc.store, tc.summary)
			}
		})
	}
}

func TestResponsesIngressRequestErrors(t *testing.T) {
	tests := []struct {
		name, body, param, want string
	}{
		{"not JSON", `{"model":`, "", "request body is not valid JSON"},
		{"not an object", `[1]`, "", "request body must be a JSON object"},
		{"no model", `{"input":"x"}`, "model", "'model' is required"},
		{"no input", `{"model":"m"}`, "input", "'input' is required"},
		{"empty input", `{"model":"m","input":[]}`, "input", "'input' is required"},
		{"input number", `{"model":"m","input":5}`, "input", "'input' must be a string or an array"},
		{"previous_response_id", `{"model":"m","input":"x","previous_response_id":"resp_1"}`, "previous_response_id", "needs the gateway's response store"},
		{"conversation", `{"model":"m","input":"x","conversation":"conv_1"}`, "conversation", "conversation store"},
		{"background", `{"model":"m","input":"x","background":true}`, "background", "'background' responses need"},
		{"item reference", `{"model":"m","input":[{"type":"item_reference","id":"msg_1"}]}`, "input[0]", "item references need the gateway's response store"},
		{"unknown item", `{"model":"m","input":[{"type":"computer_call_output","call_id":"c"}]}`, "input[0].type", `input item type "computer_call_output" is not supported`},
		{"bad role", `{"model":"m","input":[{"role":"tool","content":"x"}]}`, "input[0].role", `got "tool"`},
		{"image by file id", `{"model":"m","input":[{"role":"user","content":[{"type":"input_image","file_id":"file-1"}]}]}`, "input[0].content[0].file_id", "Files API"},
		{"image without url", `{"model":"m","input":[{"role":"user","content":[{"type":"input_image","detail":"auto"}]}]}`, "input[0].content[0].image_url", "needs an 'image_url'"},
		{"file by url", `{"model":"m","input":[{"role":"user","content":[{"type":"input_file","file_url":"https://x/a.pdf"}]}]}`, "input[0].content[0].file_url", "file_url"},
		{"audio part", `{"model":"m","input":[{"role":"user","content":[{"type":"input_audio"}]}]}`, "input[0].content[0].type", `"input_audio" is not supported`},
		{"call without id", `{"model":"m","input":[{"type":"function_call","name":"f","arguments":"{}"}]}`, "input[0].call_id", "needs a 'call_id'"},
		{"output without id", `{"model":"m","input":[{"type":"function_call_output","output":"x"}]}`, "input[0].call_id", "needs a 'call_id'"},
		{"output number", `{"model":"m","input":[{"type":"function_call_output","call_id":"c","output":1}]}`, "input[0].output", "must be a string or an array"},
		{"altered envelope", `{"model":"m","input":[{"type":"reasoning","summary":[],"encrypted_content":"switchboard:v1:%%%"}]}`, "input[0].encrypted_content", "reasoning data from the gateway was altered"},
		{"envelope of a number", `{"model":"m","input":[{"type":"reasoning","summary":[],"encrypted_content":"switchboard:v1:MQ"}]}`, "input[0].encrypted_content", "was altered"},
		{"max_output_tokens zero", `{"model":"m","input":"x","max_output_tokens":0}`, "max_output_tokens", "positive integer"},
		{"temperature string", `{"model":"m","input":"x","temperature":"hot"}`, "temperature", "must be a number"},
		{"tool without name", `{"model":"m","input":"x","tools":[{"type":"function"}]}`, "tools[0].name", "is required"},
		{"tool schema string", `{"model":"m","input":"x","tools":[{"type":"function","name":"f","parameters":"{}"}]}`, "tools[0].parameters", "JSON Schema object"},
		{"tool_choice unknown", `{"model":"m","input":"x","tool_choice":"any"}`, "tool_choice", `got "any"`},
		{"hosted tool_choice", `{"model":"m","input":"x","tool_choice":{"type":"web_search_preview"}}`, "tool_choice.type", "only function tools are"},
		{"function choice without name", `{"model":"m","input":"x","tool_choice":{"type":"function"}}`, "tool_choice.name", "is required"},
		{"effort unknown", `{"model":"m","input":"x","reasoning":{"effort":"max"}}`, "reasoning.effort", `got "max"`},
		{"summary unknown", `{"model":"m","input":"x","reasoning":{"summary":"full"}}`, "reasoning.summary", `got "full"`},
		{"json_schema without name", `{"model":"m","input":"x","text":{"format":{"type":"json_schema","schema":{}}}}`, "text.format.name", "is required"},
		{"json_schema without schema", `{"model":"m","input":"x","text":{"format":{"type":"json_schema","name":"n"}}}`, "text.format.schema", "JSON Schema object"},
		{"format unknown", `{"model":"m","input":"x","text":{"format":{"type":"grammar"}}}`, "text.format.type", `got "grammar"`},
		{"require_parameters", `{"model":"m","input":"x","tools":[{"type":"web_search"}],"provider":{"require_parameters":true}}`, "tools[].web_search", "cannot honour through a chat provider: tools[].web_search"},
		{"metadata string", `{"model":"m","input":"x","metadata":"x"}`, "metadata", "must be an object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ResponsesIngress{}.Request([]byte(tc.body))
			var e *APIError
			if !errors.As(err, &e) || e.Status != 400 {
				t.Fatalf("error %v is not a 400 *APIError", err)
			}
			if !strings.Contains(e.Message, tc.want) {
				t.Errorf("error %q does not contain %q", e.Message, tc.want)
			}
			if e.Param != tc.param {
				t.Errorf("param %q, want %q", e.Param, tc.param)
			}
			if gjson.GetBytes(e.Body(), "error.type").Str != TypeInvalidRequest {
				t.Errorf("body %s", e.Body())
			}
		})
	}
}

// responsesResponseSources are provider translators' chat answers, as the
// ingress receives them.
var responsesResponseSources = []struct{ dir, name string }{
	{"openai_anthropic", "text"},
	{"openai_anthropic", "thinking_tool_use"},
	{"openai_anthropic", "thinking_redacted"},
	{"openai_anthropic", "cache_usage"},
	{"openai_anthropic", "structured_output"},
	{"openai_openai", "chat"},
	{"openai_openai", "tool_calls"},
	{"openai_openai", "deepseek_reasoner"},
	{"openai_openai", "o4_mini_reasoning"},
	{"openai_openai", "openrouter_cache"},
	{"openai_azure", "tool_calls"},
	{"openai_gemini", "thinking"},
	{"openai_gemini", "tool_call"},
	{"openai_gemini", "prompt_blocked"},
	{"openai_vertex", "gemini_tool_calls"},
	{"openai_bedrock", "reasoning"},
	{"openai_bedrock", "guardrail"},
}

// summaryEcho is the echo of a request that asks for reasoning summaries.
func summaryEcho(tb testing.TB) ResponsesEcho {
	r, err := ResponsesIngress{}.Request([]byte(`{"model":"gateway-model","input":"x","reasoning":{"effort":"medium","summary":"auto"},"store":false}`))
	if err != nil {
		tb.Fatal(err)
	}
	return r.Echo
}

func TestResponsesIngressResponseGolden(t *testing.T) {
	type tcase struct{ name, in, golden string }
	var cases []tcase
	for _, s := range responsesResponseSources {
		cases = append(cases, tcase{s.dir + "/" + s.name, filepath.Join(s.dir, s.name+".resp.json"),
			filepath.Join(testdata, responsesDir, "response", s.dir+"."+s.name+".responses.json")})
	}
	own, _ := filepath.Glob(filepath.Join(testdata, responsesDir, "response", "*.openai.json"))
	for _, p := range own {
		name := strings.TrimSuffix(filepath.Base(p), ".openai.json")
		cases = append(cases, tcase{name, filepath.Join(responsesDir, "response", name+".openai.json"),
			filepath.Join(testdata, responsesDir, "response", name+".responses.json")})
	}
	echo := summaryEcho(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := readIngress(t, tc.in)
			orig := bytes.Clone(in)
			out, err := ResponsesIngress{}.Response(in, echo)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(in, orig) {
				t.Fatal("Response modified its input")
			}
			checkSDKResponse(t, out)
			if got, want := gjson.GetBytes(out, "usage.total_tokens").Int(), openAIUsage(gjson.GetBytes(in, "usage")).Total(); got != want {
				t.Errorf("total_tokens %d, want %d", got, want)
			}
			checkGolden(t, tc.golden, prettyJSON(t, normalizeResponses(out)))
		})
	}
}

// checkSDKResponse decodes a response object as the openai-go SDK does and
// checks the fields clients read are present with the right types.
func checkSDKResponse(tb testing.TB, out []byte) responses.Response {
	tb.Helper()
	var r responses.Response
	if err := json.Unmarshal(out, &r); err != nil {
		tb.Fatalf("openai-go cannot decode the response: %v\n%s", err, out)
	}
	for name, f := range map[string]interface{ Valid() bool }{"id": r.JSON.ID, "object": r.JSON.Object,
		"created_at": r.JSON.CreatedAt, "model": r.JSON.Model, "output": r.JSON.Output, "status": r.JSON.Status,
		"parallel_tool_calls": r.JSON.ParallelToolCalls, "tool_choice": r.JSON.ToolChoice, "tools": r.JSON.Tools} {
		if !f.Valid() {
			tb.Errorf("response field %s is not valid for the SDK:\n%s", name, out)
		}
	}
	if r.Status != "failed" && (!r.JSON.Usage.Valid() || !r.Usage.JSON.InputTokensDetails.Valid() || !r.Usage.JSON.OutputTokensDetails.Valid()) {
		tb.Errorf("usage is not valid for the SDK:\n%s", out)
	}
	if !strings.HasPrefix(r.ID, "resp_") || r.Object != "response" {
		tb.Errorf("id %q object %q", r.ID, r.Object)
	}
	for i, it := range r.Output {
		ok := it.JSON.ID.Valid() && it.JSON.Type.Valid()
		switch it.Type {
		case "message":
			ok = ok && it.JSON.Content.Valid() && it.JSON.Status.Valid()
			for _, c := range it.Content {
				ok = ok && (c.Type == "output_text" && c.JSON.Text.Valid() && c.JSON.Annotations.Valid() || c.Type == "refusal" && c.JSON.Refusal.Valid())
			}
		case "function_call":
			ok = ok && it.JSON.CallID.Valid() && it.JSON.Name.Valid() && it.JSON.Arguments.Valid() && gjson.Valid(it.Arguments.OfString)
		case "reasoning":
			ok = ok && it.JSON.Summary.Valid()
		case "image_generation_call":
			ok = ok && it.JSON.Result.Valid() && it.JSON.Status.Valid() && it.Result != ""
		default:
			ok = false
		}
		if !ok {
			tb.Errorf("output[%d] (%s) is not valid for the SDK: %s", i, it.Type, it.RawJSON())
		}
	}
	return r
}

func TestResponsesIngressResponseFields(t *testing.T) {
	tests := []struct {
		name, body, path, want string
	}{
		{"id from chat id", `{"id":"chatcmpl-1","choices":[{"message":{"content":"a"},"finish_reason":"stop"}]}`, "id", `"resp_chatcmpl-1"`},
		{"length is incomplete", `{"id":"x","choices":[{"message":{"content":"a"},"finish_reason":"length"}]}`, "[status,incomplete_details,output.0.status]", `["incomplete",{"reason":"max_output_tokens"},"incomplete"]`},
		{"content filter is incomplete", `{"id":"x","choices":[{"message":{"content":""},"finish_reason":"content_filter"}]}`, "[status,incomplete_details.reason,output]", `["incomplete","content_filter",[]]`},
		{"refusal part", `{"id":"x","choices":[{"message":{"content":null,"refusal":"I can't."},"finish_reason":"stop"}]}`, "output.0.content", `[{"type":"refusal","refusal":"I can't."}]`},
		{"annotations", `{"id":"x","choices":[{"message":{"content":"See [1].","annotations":[{"type":"url_citation","url_citation":{"url":"https://e.x","title":"E","start_index":4,"end_index":7}}]}}]}`,
			"output.0.content.0.annotations", `[{"type":"url_citation","start_index":4,"end_index":7,"title":"E","url":"https://e.x"}]`},
		{"call without id or arguments", `{"id":"x","choices":[{"message":{"tool_calls":[{"function":{"name":"f"}}]},"finish_reason":"tool_calls"}]}`, "output.0", `{"id":"fc_x_1","type":"function_call","status":"completed","arguments":"{}","call_id":"call_x_1","name":"f"}`},
		{"arguments object", `{"id":"x","choices":[{"message":{"tool_calls":[{"id":"c","function":{"name":"f","arguments":{"b":2}}}]}}]}`, "output.0.arguments", `"{\"b\":2}"`},
		{"usage", `{"id":"x","choices":[{"message":{"content":"a"}}],"usage":{"prompt_tokens":100,"completion_tokens":20,"prompt_tokens_details":{"cached_tokens":60,"cache_write_tokens":30},"completion_tokens_details":{"reasoning_tokens":12}}}`,
			"usage", `{"input_tokens":100,"input_tokens_details":{"cached_tokens":60,"cache_write_tokens":30},"output_tokens":20,"output_tokens_details":{"reasoning_tokens":12},"total_tokens":120}`},
		{"model from echo when none", `{"id":"x","choices":[{"message":{"content":"a"}}]}`, "model", `"gateway-model"`},
		{"plain reasoning is carried", `{"id":"x","choices":[{"message":{"content":"a","reasoning_content":"think"}}]}`, "output.0.summary", `[{"type":"summary_text","text":"think"}]`},
		{"no choices", `{"id":"x","choices":[]}`, "output", `[]`},
	}
	echo := summaryEcho(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := ResponsesIngress{}.Response([]byte(tc.body), echo)
			if err != nil {
				t.Fatal(err)
			}
			checkSDKResponse(t, out)
			if got := gjson.GetBytes(out, tc.path).Raw; got != tc.want {
				t.Errorf("%s = %s, want %s", tc.path, got, tc.want)
			}
		})
	}
}

func TestResponsesIngressResponseWithoutSummary(t *testing.T) {
	in := readIngress(t, "openai_anthropic", "thinking_tool_use.resp.json")
	out, err := ResponsesIngress{}.Response(in, ResponsesEcho{})
	if err != nil {
		t.Fatal(err)
	}
	rs := gjson.GetBytes(out, "output.0")
	if rs.Get("type").Str != "reasoning" || rs.Get("summary").Raw != "[]" || !strings.HasPrefix(rs.Get("encrypted_content").Str, ingressEnvelope) {
		t.Errorf("reasoning item %s, want no summary and the envelope", rs.Raw)
	}
	if got := gjson.GetBytes(out, "[store,reasoning,tool_choice]").Raw; got != `[true,{"effort":null,"summary":null},"auto"]` {
		t.Errorf("default echo %s", got)
	}
}

func TestResponsesIngressResponseErrors(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"not JSON", `{"id":`, "provider answer is not JSON"},
		{"error body", `{"error":{"message":"quota exceeded","type":"x"}}`, "quota exceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ResponsesIngress{}.Response([]byte(tc.body), ResponsesEcho{})
			var e *APIError
			if !errors.As(err, &e) || e.Status != 502 || !strings.Contains(e.Message, tc.want) {
				t.Fatalf("error %v, want a 502 containing %q", err, tc.want)
			}
		})
	}
}

// TestResponsesIngressReasoningRoundTrip sends a whole answer's output
// items back as the next request's input, as a stateless client (store:
// false) does: the assistant turn must carry the provider's reasoning_details
// unchanged, and Claude must get its signed thinking back.
func TestResponsesIngressReasoningRoundTrip(t *testing.T) {
	for _, src := range []struct{ dir, name string }{
		{"openai_anthropic", "thinking_tool_use"},
		{"openai_anthropic", "thinking_redacted"},
		{"openai_gemini", "tool_call"},
		{"openai_bedrock", "reasoning"},
		{"openai_openai", "deepseek_reasoner"},
	} {
		t.Run(src.dir+"/"+src.name, func(t *testing.T) {
			in := readIngress(t, src.dir, src.name+".resp.json")
			out, err := ResponsesIngress{}.Response(in, ResponsesEcho{})
			if err != nil {
				t.Fatal(err)
			}
			req := `{"model":"m","store":false,"input":[{"role":"user","content":"go"}`
			for _, it := range gjson.GetBytes(out, "output").Array() {
				req += "," + it.Raw
			}
			r, err := ResponsesIngress{}.Request([]byte(req + `]}`))
			if err != nil {
				t.Fatal(err)
			}
			msg := gjson.GetBytes(in, "choices.0.message")
			turn := gjson.GetBytes(r.Body, "messages.1")
			want := msg.Get("reasoning_details").Raw
			if want == "" {
				want = `[{"type":"reasoning.text","text":` + string(appendJSONString(nil, ingressReasoningText(msg))) + `}]`
			}
			if !jsonEqual(t, turn.Get("reasoning_details").Raw, want) {
				t.Errorf("reasoning_details\n%s\nwant\n%s", turn.Get("reasoning_details").Raw, want)
			}
			if got, w := len(turn.Get("tool_calls").Array()), len(msg.Get("tool_calls").Array()); got != w {
				t.Errorf("%d tool calls, want %d", got, w)
			}
			if src.dir != "openai_anthropic" {
				return
			}
			back, err := openAIToAnthropic{}.Request(r.Body, Target{Model: "claude"})
			if err != nil {
				t.Fatal(err)
			}
			blocks := gjson.GetBytes(back.Body, "messages.1.content.0")
			if typ := blocks.Get("type").Str; typ != "thinking" && typ != "redacted_thinking" {
				t.Errorf("Claude gets no thinking block back: %s", back.Body)
			}
		})
	}
}

func jsonEqual(tb testing.TB, a, b string) bool {
	tb.Helper()
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xs, _ := json.Marshal(x)
	ys, _ := json.Marshal(y)
	return bytes.Equal(xs, ys)
}

// TestResponsesIngressSDKRequest sends what the openai-go SDK writes for a
// tool turn, rather than hand-written JSON.
func TestResponsesIngressSDKRequest(t *testing.T) {
	output := responses.ResponseInputItemParamOfFunctionCallOutput("18C")
	output.OfFunctionCallOutput.CallID = param.NewOpt("call_1")
	p := responses.ResponseNewParams{
		Model: "gpt-4.1",
		Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
			responses.ResponseInputItemParamOfMessage("Weather in Paris?", responses.EasyInputMessageRoleUser),
			responses.ResponseInputItemParamOfFunctionCall(`{"city":"Paris"}`, "call_1", "get_weather"),
			output,
		}},
		Tools: []responses.ToolUnionParam{responses.ToolParamOfFunction("get_weather",
			map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}}, true)},
	}
	sdk, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ResponsesIngress{}.Request(sdk)
	if err != nil {
		t.Fatalf("%v\n%s", err, sdk)
	}
	if got := gjson.GetBytes(r.Body, "messages.#.role").Raw; got != `["user","assistant","tool"]` {
		t.Errorf("roles %s\n%s", got, r.Body)
	}
	if got := gjson.GetBytes(r.Body, "tools.0.function.strict").Raw; got != "true" {
		t.Errorf("strict %s", got)
	}
}

func TestResponsesIngressError(t *testing.T) {
	tests := []struct {
		status         int
		body           string
		want, wantType string
		code, param    string
	}{
		{400, `{"error":{"message":"'input' is required","type":"invalid_request_error","param":"input","code":"invalid_request"}}`, "'input' is required", "invalid_request_error", "invalid_request", "input"},
		{429, `{"error":{"message":"slow down","type":"rate_limit_error","code":"rate_limit_exceeded"}}`, "slow down", "rate_limit_error", "rate_limit_exceeded", ""},
		{502, `{"message":"bad gateway"}`, "bad gateway", "server_error", "", ""},
		{404, `{"error":{"message":"nope","code":404}}`, "nope", "invalid_request_error", "404", ""},
		{503, ``, "request failed with status 503", "server_error", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			out := ResponsesIngress{}.Error(tc.status, []byte(tc.body))
			e := gjson.GetBytes(out, "error")
			if e.Get("message").Str != tc.want || e.Get("type").Str != tc.wantType || e.Get("code").String() != tc.code || e.Get("param").String() != tc.param {
				t.Errorf("error %s", out)
			}
			if !e.Get("param").Exists() || !e.Get("code").Exists() {
				t.Errorf("param and code must be present (null when unset): %s", out)
			}
		})
	}
}

func FuzzResponsesIngressRequest(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(testdata, responsesDir, "*.in.json"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := bytes.Clone(body)
		r, err := ResponsesIngress{}.Request(body)
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
		if err := checkChatRequest(r.Body); err != nil {
			t.Fatalf("output is not a chat request: %v\n%s", err, r.Body)
		}
	})
}

func BenchmarkResponsesIngressRequest(b *testing.B) {
	in := goldenIn(b, responsesDir, "codex_turn")
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := (ResponsesIngress{}).Request(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkResponsesIngressResponse(b *testing.B) {
	in := readIngress(b, "openai_anthropic", "thinking_tool_use.resp.json")
	echo := summaryEcho(b)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := (ResponsesIngress{}).Response(in, echo); err != nil {
			b.Fatal(err)
		}
	}
}
