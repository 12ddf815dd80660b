package translators

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

func TestReadChat(t *testing.T) {
	cc := json.RawMessage(`{"type":"ephemeral"}`)
	tests := []struct {
		name string
		msgs string
		want []chatMessage
	}{
		{
			name: "system string",
			msgs: `[{"role":"system","content":"be brief"}]`,
			want: []chatMessage{{Role: roleSystem, Index: 0, Plain: true,
				Parts: []chatPart{{Kind: partText, Msg: 0, Part: -1, Text: "be brief"}}}},
		},
		{
			name: "developer parts with a breakpoint",
			msgs: `[{"role":"developer","content":[{"type":"text","text":"a","cache_control":{"type":"ephemeral"}},{"type":"text","text":""}]}]`,
			want: []chatMessage{{Role: roleSystem, Index: 0,
				Parts: []chatPart{{Kind: partText, Msg: 0, Part: 0, Text: "a", CacheControl: cc}}}},
		},
		{
			name: "empty string content",
			msgs: `[{"role":"user","content":""}]`,
			want: []chatMessage{{Role: roleUser, Index: 0, Plain: true}},
		},
		{
			name: "message cache_control",
			msgs: `[{"role":"user","content":"hi","cache_control":{"type":"ephemeral"}}]`,
			want: []chatMessage{{Role: roleUser, Index: 0, Plain: true, CacheControl: cc,
				Parts: []chatPart{{Kind: partText, Msg: 0, Part: -1, Text: "hi"}}}},
		},
		{
			name: "user media",
			msgs: `[{"role":"user","content":[
				{"type":"image_url","image_url":{"url":"data:image/PNG;base64,AAA="}},
				{"type":"image_url","image_url":{"url":"https://x.example/a.jpg"}},
				{"type":"input_audio","input_audio":{"data":"UklG","format":"wav"}},
				{"type":"file","file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,JVBE"}},
				{"type":"file","file":{"file_id":"file-1"}}]}]`,
			want: []chatMessage{{Role: roleUser, Index: 0, Parts: []chatPart{
				{Kind: partImage, Msg: 0, Part: 0, URL: "data:image/PNG;base64,AAA=", MediaType: "image/PNG", Data: "AAA="},
				{Kind: partImage, Msg: 0, Part: 1, URL: "https://x.example/a.jpg"},
				{Kind: partAudio, Msg: 0, Part: 2, Data: "UklG", Format: "wav"},
				{Kind: partFile, Msg: 0, Part: 3, MediaType: "application/pdf", Data: "JVBE", FileName: "a.pdf"},
				{Kind: partFile, Msg: 0, Part: 4},
			}}},
		},
		{
			name: "assistant with refusal, tool calls and reasoning",
			msgs: `[{"role":"assistant","content":[{"type":"refusal","refusal":"no"}],
				"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":" {\"a\":1} "}},{"id":"c2","function":{"name":"g"}}],
				"reasoning_details":[{"type":"reasoning.text","text":"t","signature":"s","format":"anthropic-claude-v1","index":0},
					{"type":"reasoning.encrypted","data":"d","id":"c1","format":"google-gemini-v1"}]}]`,
			want: []chatMessage{{Role: roleAssistant, Index: 0,
				Parts:     []chatPart{{Kind: partText, Msg: 0, Part: 0, Text: "no"}},
				ToolCalls: []assistantToolCall{{ID: "c1", Name: "f", Input: json.RawMessage(`{"a":1}`)}, {ID: "c2", Name: "g", Input: json.RawMessage(`{}`)}},
				Reasoning: []reasoningDetail{
					{Type: "reasoning.text", Format: "anthropic-claude-v1", Index: "0", Text: "t", Signature: "s"},
					{Type: "reasoning.encrypted", Format: "google-gemini-v1", ID: "c1", Data: "d"},
				}}},
		},
		{
			name: "assistant without content",
			msgs: `[{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":{"a":1}}}]}]`,
			want: []chatMessage{{Role: roleAssistant, Index: 0,
				ToolCalls: []assistantToolCall{{ID: "c1", Name: "f", Input: json.RawMessage(`{"a":1}`)}}}},
		},
		{
			name: "tool result string",
			msgs: `[{"role":"tool","tool_call_id":"c1","content":"42"}]`,
			want: []chatMessage{{Role: roleTool, Index: 0, Plain: true, ToolCallID: "c1",
				Parts: []chatPart{{Kind: partText, Msg: 0, Part: -1, Text: "42"}}}},
		},
		{
			name: "tool result parts",
			msgs: `[{"role":"tool","tool_call_id":"c1","content":[{"type":"text","text":"4"},{"type":"text","text":"2"}]}]`,
			want: []chatMessage{{Role: roleTool, Index: 0, ToolCallID: "c1", Parts: []chatPart{
				{Kind: partText, Msg: 0, Part: 0, Text: "4"},
				{Kind: partText, Msg: 0, Part: 1, Text: "2"},
			}}},
		},
		{
			name: "legacy function result",
			msgs: `[{"role":"function","name":"f","content":"{}"}]`,
			want: []chatMessage{{Role: roleFunction, Index: 0, Plain: true, Name: "f",
				Parts: []chatPart{{Kind: partText, Msg: 0, Part: -1, Text: "{}"}}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readChat(gjson.Parse(tc.msgs))
			if err != nil {
				t.Fatalf("readChat: %v", err)
			}
			if !reflect.DeepEqual(got.Messages, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got.Messages, tc.want)
			}
		})
	}
}

func TestReadChatNames(t *testing.T) {
	tests := []struct {
		name, msgs string
		want       bool
	}{
		{"none", `[{"role":"user","content":"hi"}]`, false},
		{"empty name", `[{"role":"user","name":"","content":"hi"}]`, false},
		{"participant", `[{"role":"system","content":"s"},{"role":"user","name":"alice","content":"hi"}]`, true},
		{"a function's own name", `[{"role":"function","name":"f","content":"1"}]`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readChat(gjson.Parse(tc.msgs))
			if err != nil || got.Names != tc.want {
				t.Errorf("Names = %v, %v; want %v", got.Names, err, tc.want)
			}
		})
	}
}

// readerErrors are the request shapes the reader refuses, each with its
// code and the message that names the field.
var readerErrors = []struct {
	name, msgs, code, msg string
}{
	{"message not object", `["hi"]`, "invalid_messages", "messages[0] must be an object"},
	{"unknown role", `[{"role":"critic","content":"x"}]`, "invalid_messages", `messages[0].role: unsupported role "critic"`},
	{"numeric content", `[{"role":"user","content":5}]`, "invalid_messages", "messages[0].content must be a string or an array of content parts"},
	{"text part without text", `[{"role":"user","content":[{"type":"text"}]}]`, "invalid_messages", "messages[0].content[0]: text part needs a string 'text'"},
	{"refusal without text", `[{"role":"assistant","content":[{"type":"refusal"}]}]`, "invalid_messages", "messages[0].content[0]: text part needs a string 'text'"},
	{"unknown part", `[{"role":"user","content":[{"type":"video"}]}]`, "invalid_messages", `messages[0].content[0]: unknown content part type "video"`},
	{"refusal in a user message", `[{"role":"user","content":[{"type":"refusal","refusal":"x"}]}]`, "invalid_messages", `messages[0].content[0]: unknown content part type "refusal"`},
	{"image in system", `[{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]`, "invalid_messages", `messages[0].content[0]: content part type "image_url" is not allowed here, only text`},
	{"image in a tool result", `[{"role":"tool","tool_call_id":"c","content":[{"type":"image_url"}]}]`, "invalid_messages", `messages[0].content[0]: content part type "image_url" is not allowed here`},
	{"part cache_control", `[{"role":"user","content":[{"type":"text","text":"hi","cache_control":"ephemeral"}]}]`, "invalid_value", "messages[0].content[0].cache_control must be an object"},
	{"system part cache_control", `[{"role":"system","content":[{"type":"text","text":"hi","cache_control":1}]}]`, "invalid_value", "messages[0].content[0].cache_control must be an object"},
	{"message cache_control", `[{"role":"user","content":"hi","cache_control":true}]`, "invalid_value", "messages[0].cache_control must be an object"},
	{"image data URL not base64", `[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,abc"}}]}]`, "invalid_value", "messages[0].content[0]: image data URL must be base64"},
	{"image data URL without data", `[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,"}}]}]`, "invalid_value", "messages[0].content[0]: image data URL must be base64"},
	{"file_data not a data URL", `[{"role":"user","content":[{"type":"file","file":{"file_data":"https://x/y.pdf"}}]}]`, "invalid_value", "messages[0].content[0]: file_data must be a base64 data URL"},
	{"legacy function_call", `[{"role":"assistant","function_call":{"name":"f","arguments":"{}"}}]`, "unsupported_parameter", "messages[0]: legacy 'function_call' is not supported, use 'tool_calls'"},
	{"custom tool call", `[{"role":"assistant","tool_calls":[{"id":"c1","type":"custom","custom":{}}]}]`, "invalid_messages", `messages[0].tool_calls[0]: unsupported tool call type "custom"`},
	{"tool call without id", `[{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f"}}]}]`, "invalid_messages", "messages[0].tool_calls[0]: tool call needs an id and a function name"},
	{"tool arguments not JSON", `[{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f","arguments":"{\"a\":"}}]}]`, "invalid_value", "messages[0].tool_calls[0].function.arguments is not valid JSON"},
	{"tool arguments not an object", `[{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f","arguments":"[1]"}}]}]`, "invalid_value", "messages[0].tool_calls[0].function.arguments must be a JSON object"},
	{"reasoning_details not array", `[{"role":"assistant","content":"x","reasoning_details":{"type":"reasoning.text"}}]`, "invalid_messages", "messages[0].reasoning_details must be an array"},
	{"encrypted without data", `[{"role":"assistant","content":"x","reasoning_details":[{"type":"reasoning.text"},{"type":"reasoning.encrypted","format":"google-gemini-v1"}]}]`, "invalid_messages", "messages[0].reasoning_details[1]: reasoning.encrypted needs a string 'data'"},
	{"tool message without id", `[{"role":"tool","content":"42"}]`, "invalid_messages", "messages[0]: tool message needs a 'tool_call_id'"},
}

func TestReadChatErrors(t *testing.T) {
	for _, tc := range readerErrors {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readChat(gjson.Parse(tc.msgs))
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v, want *APIError", err)
			}
			if ae.Status != 400 || ae.Code != tc.code || !strings.Contains(ae.Message, tc.msg) {
				t.Errorf("got %d %s %q, want 400 %s containing %q", ae.Status, ae.Code, ae.Message, tc.code, tc.msg)
			}
		})
	}
}

// TestWritersShareReaderErrors: every writer refuses what the reader
// refuses, in the same words, whatever its provider would make of it.
func TestWritersShareReaderErrors(t *testing.T) {
	writers := []struct {
		name   string
		tr     Translator
		target Target
	}{
		{"anthropic", openAIToAnthropic{}, anthropicTarget},
		{"bedrock", openAIToBedrock{}, bedrockTarget},
		{"gemini", openAIToGemini{}, Target{Model: "gemini-2.5-flash"}},
		{"vertex gemini", openAIToVertex{}, Target{Model: "gemini-2.5-flash", Project: "p", Region: "r"}},
	}
	for _, w := range writers {
		for _, tc := range readerErrors {
			t.Run(w.name+"/"+tc.name, func(t *testing.T) {
				_, err := w.tr.Request([]byte(`{"messages":`+tc.msgs+`}`), w.target)
				var ae *APIError
				if !errors.As(err, &ae) || ae.Code != tc.code || !strings.Contains(ae.Message, tc.msg) {
					t.Errorf("got %v, want %s containing %q", err, tc.code, tc.msg)
				}
			})
		}
	}
}

func TestClaudeThinking(t *testing.T) {
	claude := func(f string) bool { return f == "" || f == anthropicReasoningFormat }
	text := func(text, sig, index string) reasoningDetail {
		return reasoningDetail{Type: "reasoning.text", Text: text, Signature: sig, Index: index}
	}
	tests := []struct {
		name    string
		details []reasoningDetail
		want    []thinkingBlock
	}{
		{"whole block", []reasoningDetail{text("think", "sig", "0")}, []thinkingBlock{{Text: "think", Signature: "sig"}}},
		{"stream pieces joined, signature last", []reasoningDetail{text("a", "", "0"), text("b", "", "0"), text("", "sig", "0")},
			[]thinkingBlock{{Text: "ab", Signature: "sig"}}},
		{"another index starts a block", []reasoningDetail{text("a", "s1", "0"), text("b", "s2", "1")},
			[]thinkingBlock{{Text: "a", Signature: "s1"}, {Text: "b", Signature: "s2"}}},
		{"no index never joins", []reasoningDetail{text("a", "s1", ""), text("b", "s2", "")},
			[]thinkingBlock{{Text: "a", Signature: "s1"}, {Text: "b", Signature: "s2"}}},
		{"unsigned text left out", []reasoningDetail{text("a", "", "0")}, nil},
		{"redacted between blocks", []reasoningDetail{text("a", "s", "0"), {Type: "reasoning.encrypted", Data: "d", Index: "0"}, text("b", "t", "0")},
			[]thinkingBlock{{Text: "a", Signature: "s"}, {Redacted: "d"}, {Text: "b", Signature: "t"}}},
		{"summaries and other formats skipped", []reasoningDetail{text("a", "", "0"), {Type: "reasoning.summary", Index: "0"},
			{Type: "reasoning.text", Text: "x", Signature: "g", Format: "google-gemini-v1", Index: "0"}, text("b", "s", "0")},
			[]thinkingBlock{{Text: "ab", Signature: "s"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := claudeThinking(tc.details, claude)
			if len(got) == 0 && len(tc.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestChatPaths(t *testing.T) {
	conv, err := readChat(gjson.Parse(`[{"role":"user","content":"a"},{"role":"user","content":[{"type":"text","text":""},{"type":"text","text":"b"}]}]`))
	if err != nil {
		t.Fatal(err)
	}
	m := conv.Messages
	for _, tc := range []struct{ got, want string }{
		{m[0].path(), "messages[0]"},
		{m[0].Parts[0].path(), "messages[0]"},
		{m[1].Parts[0].path(), "messages[1].content[1]"},
	} {
		if tc.got != tc.want {
			t.Errorf("path %q, want %q", tc.got, tc.want)
		}
	}
}
