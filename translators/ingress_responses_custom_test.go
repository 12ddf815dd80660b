package translators

import (
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// codexPatch is an apply_patch input as the Codex CLI's freeform tool
// takes it: free text with quotes, newlines and a tab.
const codexPatch = "*** Begin Patch\n*** Add File: hello.txt\n+say \"hi\"\t!\n*** End Patch"

// TestResponsesCustomToolRequest: a custom (freeform) tool reaches chat
// as a function of one string, and the client's custom_tool_call and
// custom_tool_call_output items as the tool call and its tool message.
func TestResponsesCustomToolRequest(t *testing.T) {
	body := `{"model":"m","tools":[{"type":"custom","name":"apply_patch","description":"Edit files.","format":{"type":"grammar","syntax":"lark","definition":"start: patch"}}],` +
		`"input":[{"type":"message","role":"user","content":"add hello"},` +
		`{"type":"custom_tool_call","call_id":"call_1","name":"apply_patch","input":` + string(appendJSONString(nil, codexPatch)) + `},` +
		`{"type":"custom_tool_call_output","call_id":"call_1","output":"Success. Updated: A hello.txt"}]}`
	rr, err := ResponsesIngress{}.Request([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(rr.Dropped) != 0 || len(rr.Echo.Custom) != 1 || rr.Echo.Custom[0] != "apply_patch" {
		t.Errorf("dropped %v, custom %v", rr.Dropped, rr.Echo.Custom)
	}
	out := gjson.ParseBytes(rr.Body)
	tool := out.Get("tools.0")
	if tool.Get("type").Str != "function" || tool.Get("function.name").Str != "apply_patch" ||
		tool.Get("function.parameters.properties.input.type").Str != "string" ||
		!strings.Contains(tool.Get("function.description").Str, "lark grammar:\nstart: patch") {
		t.Errorf("tool %s", tool.Raw)
	}
	call := out.Get("messages.1.tool_calls.0")
	if out.Get("messages.1.role").Str != "assistant" || call.Get("id").Str != "call_1" || gjson.Get(call.Get("function.arguments").Str, "input").Str != codexPatch {
		t.Errorf("assistant turn %s", out.Get("messages.1").Raw)
	}
	if m := out.Get("messages.2"); m.Get("role").Str != "tool" || m.Get("tool_call_id").Str != "call_1" || m.Get("content").Str != "Success. Updated: A hello.txt" {
		t.Errorf("tool message %s", m.Raw)
	}
	if _, err := (ResponsesIngress{}).Request([]byte(`{"model":"m","input":[{"type":"custom_tool_call","call_id":"c","name":"x","input":{}}]}`)); err == nil || !strings.Contains(err.Error(), "input must be a string") {
		t.Errorf("err = %v", err)
	}
}

// customEcho is what Request returns for a request with apply_patch.
func customEcho(t *testing.T) ResponsesEcho {
	t.Helper()
	rr, err := ResponsesIngress{}.Request([]byte(`{"model":"m","input":"hi","tools":[{"type":"custom","name":"apply_patch"},{"type":"function","name":"exec_command","parameters":{"type":"object"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return rr.Echo
}

// TestResponsesCustomToolAnswer: a chat call of a custom tool comes back
// as a custom_tool_call item whose input is the string argument; a
// function's call stays a function_call.
func TestResponsesCustomToolAnswer(t *testing.T) {
	args := `{"input":` + string(appendJSONString(nil, codexPatch)) + `}`
	chat := `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":null,"tool_calls":[` +
		`{"id":"call_1","type":"function","function":{"name":"apply_patch","arguments":` + string(appendJSONString(nil, args)) + `}},` +
		`{"id":"call_2","type":"function","function":{"name":"exec_command","arguments":"{\"cmd\":\"ls\"}"}}]}}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`
	out, err := ResponsesIngress{}.Response([]byte(chat), customEcho(t))
	if err != nil {
		t.Fatal(err)
	}
	items := gjson.GetBytes(out, "output").Array()
	if len(items) != 2 {
		t.Fatalf("output %s", gjson.GetBytes(out, "output").Raw)
	}
	if c := items[0]; c.Get("type").Str != "custom_tool_call" || c.Get("call_id").Str != "call_1" || c.Get("name").Str != "apply_patch" || c.Get("input").Str != codexPatch || c.Get("arguments").Exists() {
		t.Errorf("custom call %s", c.Raw)
	}
	if f := items[1]; f.Get("type").Str != "function_call" || f.Get("arguments").Str != `{"cmd":"ls"}` {
		t.Errorf("function call %s", f.Raw)
	}
}

// TestResponsesCustomToolStream: streamed, a custom tool's call sends no
// function_call_arguments events; its input goes out whole in
// response.custom_tool_call_input.delta and .done once the arguments
// end, and output_item.done and response.completed carry the
// custom_tool_call item. Fed whole and byte by byte.
func TestResponsesCustomToolStream(t *testing.T) {
	args := `{"input":` + string(appendJSONString(nil, codexPatch)) + `}`
	lit := string(appendJSONString(nil, args))
	half := len(lit) / 2
	sse := `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"apply_patch","arguments":""}}]},"finish_reason":null}]}` + "\n\n" +
		`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":` + lit[:half] + `"}}]},"finish_reason":null}]}` + "\n\n" +
		`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"` + lit[half:] + `}}]},"finish_reason":null}]}` + "\n\n" +
		`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}` + "\n\n" +
		`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}` + "\n\n" +
		"data: [DONE]\n\n"
	if !gjson.Valid(strings.TrimPrefix(strings.Split(sse, "\n\n")[1], "data: ")) {
		t.Fatalf("bad test chunk: %s", strings.Split(sse, "\n\n")[1])
	}
	for _, split := range []string{"whole", "bytes"} {
		t.Run(split, func(t *testing.T) {
			s := ResponsesIngress{}.NewStream(customEcho(t))
			var out []byte
			if split == "whole" {
				out = s.Translate(out, []byte(sse))
			} else {
				for i := range len(sse) {
					out = s.Translate(out, []byte{sse[i]})
				}
			}
			out = s.Finish(out)
			var types []string
			byType := map[string]gjson.Result{}
			for _, d := range sseDataOf(out) {
				typ := gjson.Get(d, "type").Str
				types = append(types, typ)
				byType[typ] = gjson.Parse(d)
			}
			got := strings.Join(types, " ")
			want := "response.created response.in_progress response.output_item.added response.custom_tool_call_input.delta response.custom_tool_call_input.done response.output_item.done response.completed"
			if got != want {
				t.Fatalf("events\n%s\nwant\n%s", got, want)
			}
			if a := byType["response.output_item.added"].Get("item"); a.Get("type").Str != "custom_tool_call" || a.Get("status").Str != "in_progress" || a.Get("input").Str != "" {
				t.Errorf("added %s", a.Raw)
			}
			for _, ev := range []string{"response.custom_tool_call_input.delta", "response.custom_tool_call_input.done"} {
				e := byType[ev]
				if e.Get("delta").Str+e.Get("input").Str != codexPatch || e.Get("item_id").Str != byType["response.output_item.added"].Get("item.id").Str {
					t.Errorf("%s %s", ev, e.Raw)
				}
			}
			done := byType["response.output_item.done"].Get("item")
			if done.Get("type").Str != "custom_tool_call" || done.Get("status").Str != "completed" || done.Get("call_id").Str != "call_1" || done.Get("input").Str != codexPatch {
				t.Errorf("done %s", done.Raw)
			}
			if c := byType["response.completed"].Get("response.output.0"); c.Raw != done.Raw {
				t.Errorf("completed output %s, want %s", c.Raw, done.Raw)
			}
		})
	}
}

// sseDataOf returns the data payloads of an SSE body.
func sseDataOf(b []byte) []string {
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if d, ok := strings.CutPrefix(line, "data: "); ok {
			out = append(out, d)
		}
	}
	return out
}
