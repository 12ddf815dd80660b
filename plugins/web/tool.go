package web

import (
	"errors"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// ToolName is the function the gateway offers the model.
const ToolName = "web_search"

// toolDefinition is the function tool OfferTool adds.
const toolDefinition = `{"type":"function","function":{"name":"web_search","description":"Search the web for current information. Returns numbered results with title, URL, date and snippet; cite them with markdown links.","parameters":{"type":"object","properties":{"query":{"type":"string","description":"The search query."}},"required":["query"]}}}`

// OfferTool adds the web_search function to a chat request's tools. It
// returns the body unchanged and false when the client defines a tool of
// that name itself (the client's tool is the client's to run).
func OfferTool(body []byte) ([]byte, bool, error) {
	tools := gjson.GetBytes(body, "tools")
	if tools.Exists() && tools.Type != gjson.Null && !tools.IsArray() {
		return nil, false, errors.New("web: tools is not an array")
	}
	for _, t := range tools.Array() {
		if t.Get("function.name").Str == ToolName {
			return body, false, nil
		}
	}
	out, err := sjson.SetRawBytes(append([]byte(nil), body...), "tools.-1", []byte(toolDefinition))
	if err != nil {
		return nil, false, err
	}
	if !tools.Exists() || tools.Type == gjson.Null {
		out, err = sjson.SetRawBytes(out, "tools", []byte("["+toolDefinition+"]"))
	}
	return out, err == nil, err
}

// Call is one call of the model to web_search.
type Call struct {
	ID        string
	Arguments string // as the model wrote them
	// Query is the arguments' query, empty when they do not parse.
	Query string
}

func newCall(id, args string) Call {
	return Call{ID: id, Arguments: args, Query: strings.TrimSpace(gjson.Get(args, "query").Str)}
}

// Turn is the model's turn that called the tool.
type Turn struct {
	Content string // the text the model wrote before its calls
	Calls   []Call
}

// Calls reads a whole chat.completion's first choice: the web_search
// calls and how many other tool calls it makes. The gateway continues the
// turn only when others is 0; a turn that also calls the client's tools
// goes back to the client (Without removes ours).
func Calls(answer []byte) (turn Turn, others int) {
	msg := gjson.GetBytes(answer, "choices.0.message")
	turn.Content = msg.Get("content").Str
	msg.Get("tool_calls").ForEach(func(_, tc gjson.Result) bool {
		if tc.Get("function.name").Str == ToolName {
			turn.Calls = append(turn.Calls, newCall(tc.Get("id").Str, tc.Get("function.arguments").Str))
		} else {
			others++
		}
		return true
	})
	return turn, others
}

// Without removes the web_search calls from a whole answer's first choice.
func Without(answer []byte) []byte {
	calls := gjson.GetBytes(answer, "choices.0.message.tool_calls")
	if !calls.IsArray() {
		return answer
	}
	var keep []string
	for _, tc := range calls.Array() {
		if tc.Get("function.name").Str != ToolName {
			keep = append(keep, tc.Raw)
		}
	}
	out, _ := sjson.SetRawBytes(append([]byte(nil), answer...), "choices.0.message.tool_calls", []byte("["+strings.Join(keep, ",")+"]"))
	return out
}

// ToolResult is what one search call gave.
type ToolResult struct {
	Call    Call
	Results []Result
	// Err, when set, is told to the model instead of results.
	Err string
}

// FollowUp builds the next round's request: the request as sent, plus
// the assistant's turn (its text and tool calls) and one tool message per
// call holding its results, numbered as in the plugin form's note. On the
// last round tool_choice becomes "none" so the model must answer; the
// tool definition stays, since providers want the tools a history uses
// defined.
func FollowUp(req []byte, turn Turn, results []ToolResult, last bool) ([]byte, error) {
	asst := []byte(`{"role":"assistant","content":null,"tool_calls":[]}`)
	if turn.Content != "" {
		asst, _ = sjson.SetBytes(asst, "content", turn.Content)
	}
	for _, c := range turn.Calls {
		tc := []byte(`{"id":"","type":"function","function":{"name":"web_search","arguments":""}}`)
		tc, _ = sjson.SetBytes(tc, "id", c.ID)
		tc, _ = sjson.SetBytes(tc, "function.arguments", c.Arguments)
		asst, _ = sjson.SetRawBytes(asst, "tool_calls.-1", tc)
	}
	out, err := sjson.SetRawBytes(append([]byte(nil), req...), "messages.-1", asst)
	if err != nil {
		return nil, err
	}
	for _, r := range results {
		content := r.Err
		if content == "" {
			content = renderResults(r.Results)
		}
		msg, _ := sjson.SetBytes([]byte(`{"role":"tool","tool_call_id":"","content":""}`), "tool_call_id", r.Call.ID)
		msg, _ = sjson.SetBytes(msg, "content", content)
		if out, err = sjson.SetRawBytes(out, "messages.-1", msg); err != nil {
			return nil, err
		}
	}
	if last {
		out, _ = sjson.SetBytes(out, "tool_choice", "none")
	}
	return out, nil
}

func renderResults(rs []Result) string {
	if len(rs) == 0 {
		return "No results."
	}
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = renderResult(i+1, r)
	}
	return strings.Join(parts, "\n\n")
}

// Rounds bounds the search rounds of one turn.
type Rounds struct {
	Max  int
	used int
}

// Next reports whether another round may run, and whether it is the last.
func (r *Rounds) Next() (ok, last bool) {
	if r.used >= r.Max {
		return false, false
	}
	r.used++
	return true, r.used == r.Max
}

// Used is the number of rounds run.
func (r *Rounds) Used() int { return r.used }

// CallStream finds web_search calls in a streamed answer (chat chunks of
// choice 0). Chunks pass to emit without our tool calls' deltas (other
// tool calls are renumbered to stay contiguous). When the model finishes
// with tool_calls and every call was ours, the finish chunk and everything
// after it (the usage chunk) are held: Continue then reports true, Turn is
// the turn to continue and Held the held chunks (the wiring sums their
// usage and ends the round without telling the client).
type CallStream struct {
	calls   []streamCall // by the model's tool call index
	content []byte
	others  int
	cont    bool
	held    [][]byte
}

type streamCall struct {
	id, name string
	args     []byte
	ours     bool
}

// maxArgBytes bounds what a stream keeps of tool call arguments and text.
const maxArgBytes = 64 << 10

// Chunk consumes one chat chunk.
func (s *CallStream) Chunk(chunk []byte, emit func([]byte)) {
	if s.cont {
		s.held = append(s.held, append([]byte(nil), chunk...))
		return
	}
	ch := gjson.GetBytes(chunk, "choices.0")
	if !ch.Exists() || ch.Get("index").Int() != 0 {
		emit(chunk)
		return
	}
	if t := ch.Get("delta.content"); t.Type == gjson.String && len(s.content) < maxArgBytes {
		s.content = append(s.content, t.Str...)
	}
	out := chunk
	if tcs := ch.Get("delta.tool_calls"); tcs.IsArray() {
		var keep []string
		changed := false
		for _, tc := range tcs.Array() {
			i := int(tc.Get("index").Int())
			if i < 0 || i > 128 {
				keep = append(keep, tc.Raw)
				continue
			}
			for len(s.calls) <= i {
				s.calls = append(s.calls, streamCall{})
			}
			c := &s.calls[i]
			if id := tc.Get("id").Str; id != "" {
				c.id = id
			}
			if name := tc.Get("function.name").Str; name != "" && c.name == "" {
				c.name, c.ours = name, name == ToolName
				if !c.ours {
					s.others++
				}
			}
			if c.ours {
				if len(c.args) < maxArgBytes {
					c.args = append(c.args, tc.Get("function.arguments").Str...)
				}
				changed = true
				continue
			}
			raw := tc.Raw
			if n := s.oursBefore(i); n > 0 {
				raw, _ = sjson.Set(raw, "index", i-n)
				changed = true
			}
			keep = append(keep, raw)
		}
		finishing := ch.Get("finish_reason").Type == gjson.String
		switch {
		case !changed:
			// Nothing of ours: the chunk passes as it is.
		case len(keep) == 0 && !finishing && len(ch.Get("delta").Map()) == 1:
			return // the chunk carried only our call
		case len(keep) == 0:
			out, _ = sjson.DeleteBytes(append([]byte(nil), chunk...), "choices.0.delta.tool_calls")
		default:
			out, _ = sjson.SetRawBytes(append([]byte(nil), chunk...), "choices.0.delta.tool_calls", []byte("["+strings.Join(keep, ",")+"]"))
		}
	}
	if fr := ch.Get("finish_reason").Str; fr == "tool_calls" && s.others == 0 && len(s.calls) > 0 {
		s.cont = true
		s.held = append(s.held, append([]byte(nil), out...))
		return
	}
	emit(out)
}

func (s *CallStream) oursBefore(i int) int {
	n := 0
	for _, c := range s.calls[:i] {
		if c.ours {
			n++
		}
	}
	return n
}

// Finish emits nothing: held chunks stay held for the wiring.
func (s *CallStream) Finish(func([]byte)) {}

// Continue reports whether the turn is to be continued with the searches.
func (s *CallStream) Continue() bool { return s.cont }

// Held returns the chunks held after the finish of a continued turn.
func (s *CallStream) Held() [][]byte { return s.held }

// Turn returns the text streamed so far and the web_search calls.
func (s *CallStream) Turn() Turn {
	t := Turn{Content: string(s.content)}
	for _, c := range s.calls {
		if c.ours {
			t.Calls = append(t.Calls, newCall(c.id, string(c.args)))
		}
	}
	return t
}

// String names the state, for test failures.
func (s *CallStream) String() string {
	return "calls=" + strconv.Itoa(len(s.calls)) + " others=" + strconv.Itoa(s.others) + " continue=" + strconv.FormatBool(s.cont)
}
