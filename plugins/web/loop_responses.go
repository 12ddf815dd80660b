package web

import (
	"cmp"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/switchboard-gw/switchboard/translators"
)

// The Responses API's web_search tool in the tool form: as for
// Anthropic's server tool (loop_messages.go), each round is a
// /v1/responses request back through the gateway with the tool replaced
// by a web_search function, and the client gets one response whose
// output has a web_search_call item where the model searched. The
// model's web_search function calls never reach the client.

// ResponsesPath is OpenAI's Responses API path.
const ResponsesPath = "/v1/responses"

// ResponsesToolFunction is the function tool a Responses round declares
// in place of the web_search tool.
const ResponsesToolFunction = `{"type":"function","name":"web_search","description":"Search the web for current information. Returns numbered results with title, URL, date and snippet; cite them with markdown links.","parameters":{"type":"object","properties":{"query":{"type":"string","description":"The search query."}},"required":["query"],"additionalProperties":false},"strict":false}`

// ResponsesWebTool finds the web_search tool of a /v1/responses body;
// its filters.allowed_domains narrow the results.
func ResponsesWebTool(body []byte) (ServerTool, bool) {
	var st ServerTool
	found := false
	gjson.GetBytes(body, "tools").ForEach(func(_, t gjson.Result) bool {
		if !translators.IsResponsesWebSearchTool(t.Get("type").Str) {
			return true
		}
		found = true
		st = ServerTool{Type: t.Get("type").Str, MaxUses: DefaultMaxUses}
		for _, d := range t.Get("filters.allowed_domains").Array() {
			st.AllowedDomains = append(st.AllowedDomains, strings.ToLower(d.Str))
		}
		return false
	})
	return st, found
}

// responsesTurn is one client request's state across its rounds.
type responsesTurn struct {
	searchBudget
	body   []byte // the next round's request
	stream bool
	rounds int
	usage  responsesUsage
}

func newResponsesTurn(body []byte, maxRounds int) (*responsesTurn, error) {
	tool, ok := ResponsesWebTool(body)
	if !ok {
		return nil, errors.New("the request declares no web_search tool")
	}
	out := []byte{'['}
	declared := false
	for _, t := range gjson.GetBytes(body, "tools").Array() {
		switch {
		case translators.IsResponsesWebSearchTool(t.Get("type").Str):
			if declared {
				continue
			}
			declared = true
			out = append(out, ResponsesToolFunction...)
		case t.Get("name").Str == ToolName:
			return nil, errors.New("tools: a tool named web_search conflicts with the web_search tool")
		default:
			out = append(out, t.Raw...)
		}
		out = append(out, ',')
	}
	out[len(out)-1] = ']'
	b, err := sjson.SetRawBytes(append([]byte(nil), body...), "tools", out)
	if in := gjson.GetBytes(b, "input"); err == nil && in.IsArray() && strings.Contains(in.Raw, `"web_search_call"`) {
		// The searches of earlier turns, as the client resends them: ours,
		// which no provider knows, so the rounds go without them (the
		// answers that used them stay).
		kept := []byte{'['}
		in.ForEach(func(_, it gjson.Result) bool {
			if it.Get("type").Str != "web_search_call" {
				if len(kept) > 1 {
					kept = append(kept, ',')
				}
				kept = append(kept, it.Raw...)
			}
			return true
		})
		b, err = sjson.SetRawBytes(b, "input", append(kept, ']'))
	}
	if err == nil && translators.IsResponsesWebSearchTool(gjson.GetBytes(b, "tool_choice.type").Str) {
		b, err = sjson.SetRawBytes(b, "tool_choice", []byte(`{"type":"function","name":"web_search"}`))
	}
	if err != nil {
		return nil, err
	}
	return &responsesTurn{body: b, stream: gjson.GetBytes(body, "stream").Bool(), searchBudget: searchBudget{tool: tool, max: min(tool.MaxUses, maxRounds)}}, nil
}

// next prepares the round about to be sent: after the first, a forced
// tool choice becomes auto, and once the searches are used up no tool.
func (t *responsesTurn) next() {
	t.rounds++
	if t.rounds == 1 {
		return
	}
	tc := gjson.GetBytes(t.body, "tool_choice")
	switch {
	case t.searches >= t.max:
		t.body, _ = sjson.SetBytes(t.body, "tool_choice", "none")
	case tc.Str == "required" || tc.Get("type").Str == "function":
		t.body, _ = sjson.SetBytes(t.body, "tool_choice", "auto")
	}
}

// followUp adds a round's output items and its calls' results to the
// next round's input.
func (t *responsesTurn) followUp(items []string, results []ToolResult) error {
	input := gjson.GetBytes(t.body, "input")
	var b []byte
	var err error
	if input.Type == gjson.String {
		msg, _ := sjson.SetBytes([]byte(`{"role":"user","content":""}`), "content", input.Str)
		b, err = sjson.SetRawBytes(t.body, "input", append(append([]byte{'['}, msg...), ']'))
	} else {
		b = t.body
	}
	for _, it := range items {
		if err == nil {
			b, err = sjson.SetRawBytes(b, "input.-1", []byte(it))
		}
	}
	for _, r := range results {
		out, _ := sjson.SetBytes([]byte(`{"type":"function_call_output","call_id":"","output":""}`), "call_id", r.Call.ID)
		if r.Err != "" {
			out, _ = sjson.SetBytes(out, "output", r.Err)
		} else {
			out, _ = sjson.SetBytes(out, "output", renderResults(r.Results))
		}
		if err == nil {
			b, err = sjson.SetRawBytes(b, "input.-1", out)
		}
	}
	if err != nil {
		return err
	}
	t.body = b
	return nil
}

// responsesUsage adds up the rounds' usage objects.
type responsesUsage struct{ input, cached, output, reasoning int64 }

func (u *responsesUsage) add(usage gjson.Result) {
	u.input += usage.Get("input_tokens").Int()
	u.cached += usage.Get("input_tokens_details.cached_tokens").Int()
	u.output += usage.Get("output_tokens").Int()
	u.reasoning += usage.Get("output_tokens_details.reasoning_tokens").Int()
}

func (u responsesUsage) json() []byte {
	b := []byte(`{"input_tokens":`)
	b = strconv.AppendInt(b, u.input, 10)
	b = append(b, `,"input_tokens_details":{"cached_tokens":`...)
	b = strconv.AppendInt(b, u.cached, 10)
	b = append(b, `},"output_tokens":`...)
	b = strconv.AppendInt(b, u.output, 10)
	b = append(b, `,"output_tokens_details":{"reasoning_tokens":`...)
	b = strconv.AppendInt(b, u.reasoning, 10)
	b = append(b, `},"total_tokens":`...)
	b = strconv.AppendInt(b, u.input+u.output, 10)
	return append(b, '}')
}

// ourCall reads an output item: a web_search function call of ours.
func ourCall(item gjson.Result) (Call, bool) {
	if item.Get("type").Str != "function_call" || item.Get("name").Str != ToolName {
		return Call{}, false
	}
	return newCall(item.Get("call_id").Str, item.Get("arguments").Str), true
}

// otherCall reports whether an output item is a call the client runs.
func otherCall(item gjson.Result) bool {
	typ := item.Get("type").Str
	return (typ == "function_call" || typ == "custom_tool_call") && item.Get("name").Str != ToolName
}

// webSearchCall renders a search as OpenAI's web_search_call item.
func webSearchCall(r ToolResult) []byte {
	b, _ := sjson.SetBytes([]byte(`{"type":"web_search_call","id":"","status":"completed","action":{"type":"search","query":"","sources":[]}}`), "id", "ws_"+strings.TrimPrefix(r.Call.ID, "call_"))
	b, _ = sjson.SetBytes(b, "action.query", r.Call.Query)
	if r.Err != "" {
		b, _ = sjson.SetBytes(b, "status", "failed")
	}
	for _, res := range r.Results {
		src, _ := sjson.SetBytes([]byte(`{"type":"url","url":""}`), "url", res.URL)
		b, _ = sjson.SetRawBytes(b, "action.sources.-1", src)
	}
	return b
}

// responses serves a /v1/responses request.
func (rt *loopRun) responses(body []byte) {
	t, err := newResponsesTurn(body, rt.l.maxRounds())
	if err != nil {
		openAILoopError(rt.w, http.StatusBadRequest, "invalid_request_error", err.Error())
		return
	}
	if t.stream {
		rt.responsesStream(t) // loop_responses_stream.go
		return
	}
	var items [][]byte // the client's output
	for {
		t.next()
		msg, ok := rt.wholeRound(ResponsesPath, t.body, &t.unbilled, t.rounds == 1, func(status int, m string) { openAILoopError(rt.w, status, "server_error", m) })
		if !ok {
			return
		}
		root := gjson.ParseBytes(msg)
		t.usage.add(root.Get("usage"))
		var calls []Call
		var all []string
		others := 0
		root.Get("output").ForEach(func(_, it gjson.Result) bool {
			all = append(all, it.Raw)
			if c, ok := ourCall(it); ok {
				calls = append(calls, c)
			} else if otherCall(it) {
				others++
			}
			return true
		})
		search := t.canSearch(calls)
		var results []ToolResult
		if search {
			results = rt.runSearches(&t.searchBudget, calls)
		}
		byID := map[string]ToolResult{}
		for _, r := range results {
			byID[r.Call.ID] = r
		}
		root.Get("output").ForEach(func(_, it gjson.Result) bool {
			if c, ok := ourCall(it); ok {
				if r, ok := byID[c.ID]; ok {
					items = append(items, webSearchCall(r))
				}
				return true
			}
			items = append(items, []byte(it.Raw))
			return true
		})
		if search && others == 0 && root.Get("status").Str == "completed" {
			if err := t.followUp(all, results); err != nil {
				openAILoopError(rt.w, 500, "server_error", "web search: building the next round: "+errText(err))
				return
			}
			continue
		}
		rt.w.Header().Set("Content-Type", "application/json")
		rt.w.WriteHeader(200)
		_, _ = rt.w.Write(finalResponse([]byte(root.Raw), items, t.usage))
		return
	}
}

// finalResponse is the last round's response object with the turn's
// output and usage.
func finalResponse(last []byte, items [][]byte, u responsesUsage) []byte {
	out := make([]byte, 0, 64)
	out = append(out, '[')
	for i, it := range items {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, it...)
	}
	out = append(out, ']')
	b, _ := sjson.SetRawBytes(append([]byte(nil), last...), "output", out)
	b, _ = sjson.SetRawBytes(b, "usage", u.json())
	return b
}

// openAILoopError answers in OpenAI's error shape.
func openAILoopError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := sjson.SetBytes([]byte(`{"error":{"message":"","type":"","param":null,"code":null}}`), "error.message", msg)
	b, _ = sjson.SetBytes(b, "error.type", cmp.Or(typ, "server_error"))
	_, _ = w.Write(b)
}
