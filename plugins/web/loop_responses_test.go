package web

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

const (
	respUsage    = `{"input_tokens":%d,"input_tokens_details":{"cached_tokens":0},"output_tokens":%d,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":0}`
	respMsgItem  = `{"type":"message","id":"msg_%s","status":"completed","role":"assistant","content":[{"type":"output_text","text":%q,"annotations":[]}]}`
	respCallItem = `{"type":"function_call","id":"fc_1","call_id":"call_1","name":"web_search","arguments":"{\"query\":\"go 1.26\"}","status":"completed"}`
	respToolReq  = `{"model":"gpt-test",%STREAM%"input":"Search: go 1.26","tools":[{"type":"web_search","filters":{"allowed_domains":["go.dev"]}},{"type":"function","name":"lookup","parameters":{}}],"tool_choice":{"type":"web_search"}}`
)

func respObject(id string, items []string, in, out int) string {
	return fmt.Sprintf(`{"id":"resp_%s","object":"response","status":"completed","model":"gpt-test","output":[%s],"usage":`+respUsage+`}`, id, strings.Join(items, ","), in, out)
}

func TestLoopResponsesWhole(t *testing.T) {
	b := &stubBackend{name: "stub", results: loopResults()}
	loop, g := newLoop(t, b,
		fakeRound{status: 200, body: respObject("1", []string{fmt.Sprintf(respMsgItem, "1", "Let me look."), respCallItem}, 10, 5)},
		fakeRound{status: 200, body: respObject("2", []string{fmt.Sprintf(respMsgItem, "2", "Go 1.26 is out.")}, 40, 7)})
	resp, out := postPath(t, loop.URL, ResponsesPath, strings.Replace(respToolReq, "%STREAM%", "", 1))
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, out)
	}
	items := gjson.GetBytes(out, "output").Array()
	var types []string
	for _, it := range items {
		types = append(types, it.Get("type").Str)
	}
	if strings.Join(types, ",") != "message,web_search_call,message" {
		t.Fatalf("output %v: %s", types, out)
	}
	ws := items[1]
	if ws.Get("status").Str != "completed" || ws.Get("action.query").Str != "go 1.26" || ws.Get("id").Str != "ws_1" ||
		len(ws.Get("action.sources").Array()) != 1 || ws.Get("action.sources.0.url").Str != "https://go.dev/blog/go1.26" {
		t.Errorf("web_search_call %s", ws.Raw)
	}
	if u := gjson.GetBytes(out, "usage"); u.Get("input_tokens").Int() != 50 || u.Get("output_tokens").Int() != 12 || u.Get("total_tokens").Int() != 62 {
		t.Errorf("usage %s", u.Raw)
	}
	if gjson.GetBytes(out, "id").Str != "resp_2" || strings.Contains(string(out), `"function_call"`) {
		t.Errorf("answer %s", out)
	}
	got := g.requests()
	if len(got) != 2 || got[0].Path != ResponsesPath {
		t.Fatalf("%d rounds", len(got))
	}
	first, second := got[0], got[1]
	if tt := gjson.Get(first.Body, "tools.0"); tt.Get("type").Str != "function" || tt.Get("name").Str != "web_search" || gjson.Get(first.Body, "tools.1.name").Str != "lookup" {
		t.Errorf("round 1 tools %s", gjson.Get(first.Body, "tools").Raw)
	}
	if gjson.Get(first.Body, "tool_choice.name").Str != "web_search" || gjson.Get(second.Body, "tool_choice").Str != "auto" {
		t.Errorf("tool_choice %s then %s", gjson.Get(first.Body, "tool_choice").Raw, gjson.Get(second.Body, "tool_choice").Raw)
	}
	in := gjson.Get(second.Body, "input").Array()
	if len(in) != 4 || in[0].Get("content").Str != "Search: go 1.26" || in[2].Get("type").Str != "function_call" ||
		in[3].Get("type").Str != "function_call_output" || in[3].Get("call_id").Str != "call_1" ||
		!strings.Contains(in[3].Get("output").Str, "https://go.dev/blog/go1.26") || strings.Contains(in[3].Get("output").Str, "evil.example") {
		t.Errorf("round 2 input %s", gjson.Get(second.Body, "input").Raw)
	}
	if h := second.Header.Get("X-Switchboard-Web-Searches"); h != "searches=1;results=1" {
		t.Errorf("round 2 reports %q", h)
	}
}

// respSSE renders events as a Responses stream (sequence numbers the
// round's own, from 0).
func respSSE(events ...string) string {
	var b strings.Builder
	for i, e := range events {
		typ := gjson.Get(e, "type").Str
		e = strings.Replace(e, `"type":"`+typ+`"`, fmt.Sprintf(`"type":"%s","sequence_number":%d`, typ, i), 1)
		fmt.Fprintf(&b, "event: %s\ndata: %s\n\n", typ, e)
	}
	return b.String()
}

func respRoundStream(id string, items []string, in, out int) string {
	start := fmt.Sprintf(`{"id":"resp_%s","object":"response","status":"in_progress","model":"gpt-test","output":[],"usage":null}`, id)
	evs := []string{`{"type":"response.created","response":` + start + `}`, `{"type":"response.in_progress","response":` + start + `}`}
	for i, it := range items {
		item := gjson.Parse(it)
		evs = append(evs, fmt.Sprintf(`{"type":"response.output_item.added","output_index":%d,"item":%s}`, i, it))
		if item.Get("type").Str == "message" {
			evs = append(evs, fmt.Sprintf(`{"type":"response.output_text.delta","item_id":%q,"output_index":%d,"content_index":0,"delta":%q}`, item.Get("id").Str, i, item.Get("content.0.text").Str))
		} else {
			evs = append(evs, fmt.Sprintf(`{"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":%d,"delta":%q}`, i, item.Get("arguments").Str))
		}
		evs = append(evs, fmt.Sprintf(`{"type":"response.output_item.done","output_index":%d,"item":%s}`, i, it))
	}
	evs = append(evs, `{"type":"response.completed","response":`+respObject(id, items, in, out)+`}`)
	return respSSE(evs...)
}

func TestLoopResponsesStream(t *testing.T) {
	b := &stubBackend{name: "stub", results: loopResults()}
	loop, g := newLoop(t, b,
		fakeRound{status: 200, ctype: "text/event-stream", body: respRoundStream("1", []string{fmt.Sprintf(respMsgItem, "1", "Let me look."), respCallItem}, 10, 5)},
		fakeRound{status: 200, ctype: "text/event-stream", body: respRoundStream("2", []string{fmt.Sprintf(respMsgItem, "2", "Go 1.26 is out.")}, 40, 7)})
	resp, out := postPath(t, loop.URL, ResponsesPath, strings.Replace(respToolReq, "%STREAM%", `"stream":true,`, 1))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("%d %v %s", resp.StatusCode, resp.Header, out)
	}
	var types []string
	var last gjson.Result
	for i, ev := range strings.Split(strings.TrimSpace(string(out)), "\n\n") {
		name, data, _ := strings.Cut(ev, "\ndata: ")
		d := gjson.Parse(data)
		if "event: "+d.Get("type").Str != name || d.Get("sequence_number").Int() != int64(i) {
			t.Fatalf("event %d: %q", i, ev)
		}
		typ := d.Get("type").Str
		if oi := d.Get("output_index"); oi.Exists() {
			typ += fmt.Sprintf("@%d", oi.Int())
		}
		types = append(types, typ)
		last = d
	}
	want := "response.created,response.in_progress," +
		"response.output_item.added@0,response.output_text.delta@0,response.output_item.done@0," +
		"response.output_item.added@1,response.web_search_call.in_progress@1,response.web_search_call.searching@1,response.web_search_call.completed@1,response.output_item.done@1," +
		"response.output_item.added@2,response.output_text.delta@2,response.output_item.done@2,response.completed"
	if got := strings.Join(types, ","); got != want {
		t.Fatalf("events\n got %s\nwant %s", got, want)
	}
	r := last.Get("response")
	if n := len(r.Get("output").Array()); n != 3 || r.Get("output.1.type").Str != "web_search_call" || r.Get("output.2.content.0.text").Str != "Go 1.26 is out." ||
		r.Get("usage.input_tokens").Int() != 50 || r.Get("usage.output_tokens").Int() != 12 {
		t.Errorf("completed response %s", r.Raw)
	}
	if rounds := g.requests(); len(rounds) != 2 || len(gjson.Get(rounds[1].Body, "input").Array()) != 4 {
		t.Errorf("%d rounds", len(rounds))
	}
}

func TestLoopResponsesErrors(t *testing.T) {
	b := &stubBackend{name: "stub", results: loopResults()}
	t.Run("first round's error passes", func(t *testing.T) {
		loop, _ := newLoop(t, b, fakeRound{status: 429, body: `{"error":{"message":"slow down","type":"rate_limit_error","param":null,"code":"rate_limited"}}`})
		resp, out := postPath(t, loop.URL, ResponsesPath, strings.Replace(respToolReq, "%STREAM%", `"stream":true,`, 1))
		if resp.StatusCode != 429 || gjson.GetBytes(out, "error.message").Str != "slow down" {
			t.Errorf("%d %s", resp.StatusCode, out)
		}
	})
	t.Run("a later round's error ends the stream", func(t *testing.T) {
		loop, _ := newLoop(t, b,
			fakeRound{status: 200, ctype: "text/event-stream", body: respRoundStream("1", []string{respCallItem}, 10, 5)},
			fakeRound{status: 503, body: `{"error":{"message":"provider down","type":"server_error","param":null,"code":"provider_unavailable"}}`})
		resp, out := postPath(t, loop.URL, ResponsesPath, strings.Replace(respToolReq, "%STREAM%", `"stream":true,`, 1))
		evs := strings.Split(strings.TrimSpace(string(out)), "\n\n")
		_, data, _ := strings.Cut(evs[len(evs)-1], "\ndata: ")
		if resp.StatusCode != 200 || gjson.Get(data, "type").Str != "error" || gjson.Get(data, "message").Str != "provider down" {
			t.Errorf("%d last event %s", resp.StatusCode, data)
		}
	})
	t.Run("a round's stream cut", func(t *testing.T) {
		cut := respRoundStream("1", []string{respCallItem}, 10, 5)
		cut = cut[:strings.Index(cut, "event: response.completed")]
		loop, _ := newLoop(t, b, fakeRound{status: 200, ctype: "text/event-stream", body: cut})
		_, out := postPath(t, loop.URL, ResponsesPath, strings.Replace(respToolReq, "%STREAM%", `"stream":true,`, 1))
		if !strings.Contains(string(out), "event: error\n") || strings.Contains(string(out), "response.completed") {
			t.Errorf("stream %s", out)
		}
	})
	t.Run("earlier searches resent", func(t *testing.T) {
		loop, g := newLoop(t, b, fakeRound{status: 200, body: respObject("2", []string{fmt.Sprintf(respMsgItem, "2", "Sure.")}, 4, 2)})
		resp, out := postPath(t, loop.URL, ResponsesPath, `{"model":"m","tools":[{"type":"web_search"}],"input":[{"role":"user","content":"a"},`+
			`{"type":"web_search_call","id":"ws_1","status":"completed","action":{"type":"search","query":"q"}},{"role":"user","content":"b"}]}`)
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, out)
		}
		if in := gjson.Get(g.requests()[0].Body, "input").Array(); len(in) != 2 || strings.Contains(gjson.Get(g.requests()[0].Body, "input").Raw, "web_search_call") {
			t.Errorf("round input %s", gjson.Get(g.requests()[0].Body, "input").Raw)
		}
	})
	t.Run("a conflicting tool", func(t *testing.T) {
		loop, _ := newLoop(t, b)
		resp, out := postPath(t, loop.URL, ResponsesPath, `{"model":"m","input":"x","tools":[{"type":"web_search"},{"type":"function","name":"web_search","parameters":{}}]}`)
		if resp.StatusCode != 400 || !strings.Contains(gjson.GetBytes(out, "error.message").Str, "conflicts") {
			t.Errorf("%d %s", resp.StatusCode, out)
		}
	})
}

func FuzzLoopResponsesStream(f *testing.F) {
	f.Add(respRoundStream("1", []string{fmt.Sprintf(respMsgItem, "1", "hi"), respCallItem}, 1, 1))
	f.Add("event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\",\"output_index\":-1,\"item\":{}}\n\n")
	f.Add("data: {\"type\":\"error\"}\n\n")
	f.Add(":comment\n\nevent: x\n")
	// Found by the fuzzer: an event without a type carrying our call.
	f.Add("data:{\"type\":\"response.output_item.added\",\"output_index\":1}\n\ndata:{\"output_index\":1,\"item\":{\"type\":\"function_call\",\"name\":\"web_search\"}}\n")
	f.Fuzz(func(t *testing.T, body string) {
		rec := httptest.NewRecorder()
		s := &respLoopStream{rt: &loopRun{w: rec, started: true}}
		r := s.round(strings.NewReader(body))
		var seq int64
		for _, ev := range strings.Split(rec.Body.String(), "\n\n") {
			_, data, ok := strings.Cut(ev, "\ndata: ")
			if !ok {
				continue
			}
			if !gjson.Valid(data) {
				t.Fatalf("forwarded an event that is not JSON: %q", ev)
			}
			if gjson.Get(data, "sequence_number").Int() != seq {
				t.Fatalf("sequence_number %s, want %d", gjson.Get(data, "sequence_number").Raw, seq)
			}
			seq++
			if it := gjson.Get(data, "item"); it.Get("type").Str == "function_call" && it.Get("name").Str == ToolName {
				t.Fatalf("our call reached the client: %s", ev)
			}
		}
		for _, c := range r.calls {
			_ = c.Query
		}
	})
}
