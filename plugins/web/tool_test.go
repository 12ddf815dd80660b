package web

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tidwall/gjson"
)

func TestOfferTool(t *testing.T) {
	tests := []struct {
		name, body string
		offered    bool
		names      string
	}{
		{name: "no tools", body: `{"messages":[]}`, offered: true, names: `["web_search"]`},
		{name: "client tools kept", body: `{"tools":[{"type":"function","function":{"name":"get_time"}}]}`, offered: true, names: `["get_time","web_search"]`},
		{name: "client's own web_search", body: `{"tools":[{"type":"function","function":{"name":"web_search"}}]}`, names: `["web_search"]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, offered, err := OfferTool([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if offered != tc.offered || gjson.GetBytes(out, "tools.#.function.name").Raw != tc.names {
				t.Errorf("offered %v, tools %s", offered, gjson.GetBytes(out, "tools.#.function.name").Raw)
			}
		})
	}
	if _, _, err := OfferTool([]byte(`{"tools":{}}`)); err == nil {
		t.Error("no error for tools that is no array")
	}
}

const toolAnswer = `{"choices":[{"index":0,"message":{"role":"assistant","content":"Searching.","tool_calls":[
 {"id":"call_1","type":"function","function":{"name":"web_search","arguments":"{\"query\":\" go 1.26 \"}"}},
 {"id":"call_2","type":"function","function":{"name":"get_time","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}`

func TestCallsAndFollowUp(t *testing.T) {
	turn, others := Calls([]byte(toolAnswer))
	want := Turn{Content: "Searching.", Calls: []Call{{ID: "call_1", Arguments: `{"query":" go 1.26 "}`, Query: "go 1.26"}}}
	if diff := cmp.Diff(want, turn); diff != "" || others != 1 {
		t.Errorf("turn (-want +got):\n%s others=%d", diff, others)
	}
	if got := gjson.GetBytes(Without([]byte(toolAnswer)), "choices.0.message.tool_calls.#.id").Raw; got != `["call_2"]` {
		t.Errorf("Without left %s", got)
	}
	req := []byte(`{"model":"m","messages":[{"role":"user","content":"go?"}],"tools":[` + toolDefinition + `]}`)
	out, err := FollowUp(req, turn, []ToolResult{{Call: turn.Calls[0], Results: goResults[:1]}}, true)
	if err != nil {
		t.Fatal(err)
	}
	msgs := gjson.GetBytes(out, "messages").Array()
	if len(msgs) != 3 {
		t.Fatalf("messages = %s", gjson.GetBytes(out, "messages").Raw)
	}
	if got := msgs[1].Raw; got != `{"role":"assistant","content":"Searching.","tool_calls":[{"id":"call_1","type":"function","function":{"name":"web_search","arguments":"{\"query\":\" go 1.26 \"}"}}]}` {
		t.Errorf("assistant = %s", got)
	}
	if msgs[2].Get("role").Str != "tool" || msgs[2].Get("tool_call_id").Str != "call_1" ||
		msgs[2].Get("content").Str != "[1] Go 1.26 Release Notes\nURL: https://go.dev/doc/go1.26\nPublished: 2026-02-10\nGo 1.26 is a major release of Go." {
		t.Errorf("tool message = %s", msgs[2].Raw)
	}
	if gjson.GetBytes(out, "tool_choice").Str != "none" {
		t.Error("last round does not forbid further calls")
	}
	if strings.Contains(string(req), "assistant") {
		t.Error("request modified")
	}
}

func TestRounds(t *testing.T) {
	r := Rounds{Max: 2}
	var got []string
	for {
		ok, last := r.Next()
		if !ok {
			break
		}
		got = append(got, map[bool]string{true: "last", false: "more"}[last])
	}
	if diff := cmp.Diff([]string{"more", "last"}, got); diff != "" || r.Used() != 2 {
		t.Errorf("rounds (-want +got):\n%s", diff)
	}
}

func chunk(delta, finish string) string {
	if finish == "" {
		finish = "null"
	}
	return `{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":` + delta + `,"finish_reason":` + finish + `}]}`
}

func TestCallStream(t *testing.T) {
	tests := []struct {
		name     string
		in       []string
		emitted  []string
		cont     bool
		turn     Turn
		heldSize int
	}{
		{name: "only our call: held, continued",
			in: []string{
				chunk(`{"role":"assistant","content":"Let me look."}`, ""),
				chunk(`{"tool_calls":[{"index":0,"id":"call_9","type":"function","function":{"name":"web_search","arguments":""}}]}`, ""),
				chunk(`{"tool_calls":[{"index":0,"function":{"arguments":"{\"query\":"}}]}`, ""),
				chunk(`{"tool_calls":[{"index":0,"function":{"arguments":"\"go\"}"}}]}`, ""),
				chunk(`{}`, `"tool_calls"`),
				`{"id":"c","choices":[],"usage":{"prompt_tokens":9}}`,
			},
			emitted:  []string{chunk(`{"role":"assistant","content":"Let me look."}`, "")},
			cont:     true,
			turn:     Turn{Content: "Let me look.", Calls: []Call{{ID: "call_9", Arguments: `{"query":"go"}`, Query: "go"}}},
			heldSize: 2},
		{name: "mixed with a client tool: ours removed, renumbered, finish passes",
			in: []string{
				chunk(`{"tool_calls":[{"index":0,"id":"call_1","function":{"name":"web_search","arguments":"{}"}}]}`, ""),
				chunk(`{"tool_calls":[{"index":1,"id":"call_2","function":{"name":"get_time","arguments":"{}"}}]}`, ""),
				chunk(`{}`, `"tool_calls"`),
			},
			emitted: []string{
				chunk(`{"tool_calls":[{"index":0,"id":"call_2","function":{"name":"get_time","arguments":"{}"}}]}`, ""),
				chunk(`{}`, `"tool_calls"`),
			},
			turn: Turn{Calls: []Call{{ID: "call_1", Arguments: "{}"}}}},
		{name: "plain answer passes",
			in:      []string{chunk(`{"content":"hi"}`, ""), chunk(`{}`, `"stop"`)},
			emitted: []string{chunk(`{"content":"hi"}`, ""), chunk(`{}`, `"stop"`)},
			turn:    Turn{Content: "hi"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s CallStream
			var emitted []string
			for _, c := range tc.in {
				s.Chunk([]byte(c), func(b []byte) { emitted = append(emitted, string(b)) })
			}
			if diff := cmp.Diff(tc.emitted, emitted); diff != "" {
				t.Errorf("emitted (-want +got):\n%s", diff)
			}
			if s.Continue() != tc.cont || len(s.Held()) != tc.heldSize {
				t.Errorf("state %s, held %d", &s, len(s.Held()))
			}
			if diff := cmp.Diff(tc.turn, s.Turn()); diff != "" {
				t.Errorf("turn (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAnthropicServerTool(t *testing.T) {
	body := []byte(`{"model":"claude","tools":[{"name":"Bash","input_schema":{}},{"type":"web_search_20250305","name":"web_search","max_uses":3,"allowed_domains":["Go.dev"],"blocked_domains":["blog.go.dev"]}]}`)
	st, ok := AnthropicServerTool(body)
	want := ServerTool{Type: "web_search_20250305", MaxUses: 3, AllowedDomains: []string{"go.dev"}, BlockedDomains: []string{"blog.go.dev"}}
	if diff := cmp.Diff(want, st); !ok || diff != "" {
		t.Fatalf("server tool (-want +got):\n%s", diff)
	}
	rs := st.Filter([]Result{{URL: "https://go.dev/doc"}, {URL: "https://pkg.go.dev/x"}, {URL: "https://blog.go.dev/y"}, {URL: "https://example.com"}})
	if got := len(rs); got != 2 || rs[1].URL != "https://pkg.go.dev/x" {
		t.Errorf("filtered = %+v", rs)
	}
	if _, ok := AnthropicServerTool([]byte(`{"tools":[{"name":"Bash"}]}`)); ok {
		t.Error("found a server tool in client tools")
	}
	if st, _ := AnthropicServerTool([]byte(`{"tools":[{"type":"web_search_20250305","name":"web_search"}]}`)); st.MaxUses != DefaultMaxUses {
		t.Errorf("default max_uses = %d", st.MaxUses)
	}
	use, res := AnthropicBlocks(Call{ID: "call_1", Query: "go"}, goResults[:1])
	if string(use) != `{"type":"server_tool_use","id":"srvtoolu_call_1","name":"web_search","input":{"query":"go"}}` {
		t.Errorf("server_tool_use = %s", use)
	}
	if string(res) != `{"type":"web_search_tool_result","tool_use_id":"srvtoolu_call_1","content":[{"type":"web_search_result","url":"https://go.dev/doc/go1.26","title":"Go 1.26 Release Notes","encrypted_content":"R28gMS4yNiBpcyBhIG1ham9yIHJlbGVhc2Ugb2YgR28u","page_age":"2026-02-10"}]}` {
		t.Errorf("web_search_tool_result = %s", res)
	}
}
