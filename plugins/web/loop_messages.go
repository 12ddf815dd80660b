package web

import (
	"errors"
	"strconv"
	"strings"
	"sync"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/switchboard-gw/switchboard/translators"
)

// ServerToolFunction is the custom tool a round declares in place of
// Anthropic's web_search server tool: the model calls it like any tool.
const ServerToolFunction = `{"name":"web_search","description":"Search the web for current information. Returns numbered results with title, URL, date and snippet; cite them with markdown links.","input_schema":{"type":"object","properties":{"query":{"type":"string","description":"The search query."}},"required":["query"]}}`

// messagesTurn is the state of one client request across its rounds.
type messagesTurn struct {
	searchBudget
	body   []byte // the next round's request
	stream bool
	rounds int // rounds sent
	usage  usageSum
}

// searchBudget is a turn's searches: the tool's filters, how many may
// run and have, and those no round has reported yet.
type searchBudget struct {
	tool     ServerTool
	max      int // searches allowed
	searches int // searches run
	// unbilled are the searches run since the last round was sent: the
	// next round reports them to the router hop, which charges them.
	unbilled billing
}

// billing is searches and the results they returned.
type billing struct{ calls, results int }

// newMessagesTurn reads the client's request and builds its first round:
// the server tool replaced by ServerToolFunction.
func newMessagesTurn(body []byte, maxRounds int) (*messagesTurn, error) {
	tool, ok := AnthropicServerTool(body)
	if !ok {
		return nil, errors.New("the request declares no web_search server tool")
	}
	tools := gjson.GetBytes(body, "tools")
	out := make([]byte, 0, len(tools.Raw)+len(ServerToolFunction))
	out = append(out, '[')
	for _, t := range tools.Array() {
		switch {
		case translators.IsWebSearchTool(t.Get("type").Str):
			out = append(out, ServerToolFunction...)
		case t.Get("name").Str == ToolName:
			return nil, errors.New("tools: a tool named web_search conflicts with the web_search server tool")
		default:
			out = append(out, t.Raw...)
		}
		out = append(out, ',')
	}
	out[len(out)-1] = ']'
	b, err := sjson.SetRawBytes(append([]byte(nil), body...), "tools", out)
	if err != nil {
		return nil, err
	}
	return &messagesTurn{body: b, stream: gjson.GetBytes(body, "stream").Bool(), searchBudget: searchBudget{tool: tool, max: min(tool.MaxUses, maxRounds)}}, nil
}

// next prepares the request for the round about to be sent: after the
// first round a forced tool choice becomes auto (it was met), and once
// the searches are used up the model may call no tool.
func (t *messagesTurn) next() {
	t.rounds++
	if t.rounds == 1 {
		return
	}
	tc := gjson.GetBytes(t.body, "tool_choice.type").Str
	switch {
	case t.searches >= t.max:
		t.body, _ = sjson.SetRawBytes(t.body, "tool_choice", []byte(`{"type":"none"}`))
	case tc == "any" || tc == "tool":
		t.body, _ = sjson.SetRawBytes(t.body, "tool_choice", []byte(`{"type":"auto"}`))
	}
}

// canSearch reports whether a round's calls are run.
func (t *searchBudget) canSearch(calls []Call) bool { return len(calls) > 0 && t.searches < t.max }

// followUp adds a round's assistant turn and the results of its calls to
// the next round's request.
func (t *messagesTurn) followUp(assistant []byte, results []ToolResult) error {
	user := []byte(`{"role":"user","content":[]}`)
	for _, r := range results {
		b, _ := sjson.SetBytes([]byte(`{"type":"tool_result","tool_use_id":"","content":""}`), "tool_use_id", r.Call.ID)
		if r.Err != "" {
			b, _ = sjson.SetBytes(b, "content", r.Err)
			b, _ = sjson.SetBytes(b, "is_error", true)
		} else {
			b, _ = sjson.SetBytes(b, "content", renderResults(r.Results))
		}
		user, _ = sjson.SetRawBytes(user, "content.-1", b)
	}
	a, _ := sjson.SetRawBytes([]byte(`{"role":"assistant","content":null}`), "content", assistant)
	out, err := sjson.SetRawBytes(t.body, "messages.-1", a)
	if err != nil {
		return err
	}
	t.body, err = sjson.SetRawBytes(out, "messages.-1", user)
	return err
}

// serverBlocksFor renders a call's search as the two blocks the client
// gets; failed is a search that did not answer.
func serverBlocksFor(c Call, rs []Result, failed bool) (use, result []byte) {
	use, result = AnthropicBlocks(c, rs)
	if failed {
		result, _ = sjson.SetRawBytes(result, "content", []byte(`{"type":"web_search_tool_result_error","error_code":"unavailable"}`))
	}
	return use, result
}

// usageSum adds up the rounds' usage objects.
type usageSum struct{ input, cacheWrite, cacheRead, output int64 }

func (u *usageSum) add(usage gjson.Result) {
	u.input += usage.Get("input_tokens").Int()
	u.cacheWrite += usage.Get("cache_creation_input_tokens").Int()
	u.cacheRead += usage.Get("cache_read_input_tokens").Int()
	u.output += usage.Get("output_tokens").Int()
}

// json is Anthropic's usage object, with the searches run.
func (u usageSum) json(searches int) []byte {
	b := make([]byte, 0, 160)
	b = append(b, `{"input_tokens":`...)
	b = strconv.AppendInt(b, u.input, 10)
	b = append(b, `,"cache_creation_input_tokens":`...)
	b = strconv.AppendInt(b, u.cacheWrite, 10)
	b = append(b, `,"cache_read_input_tokens":`...)
	b = strconv.AppendInt(b, u.cacheRead, 10)
	b = append(b, `,"output_tokens":`...)
	b = strconv.AppendInt(b, u.output, 10)
	if searches > 0 {
		b = append(b, `,"server_tool_use":{"web_search_requests":`...)
		b = strconv.AppendInt(b, int64(searches), 10)
		b = append(b, '}')
	}
	return append(b, '}')
}

// messageCalls reads a whole message's content: our calls and how many
// other tool calls it makes.
func messageCalls(content gjson.Result) (calls []Call, others int) {
	content.ForEach(func(_, b gjson.Result) bool {
		if b.Get("type").Str == "tool_use" {
			if b.Get("name").Str == ToolName {
				calls = append(calls, Call{ID: b.Get("id").Str, Arguments: b.Get("input").Raw, Query: strings.TrimSpace(b.Get("input.query").Str)})
			} else {
				others++
			}
		}
		return true
	})
	return calls, others
}

// runSearches runs a round's calls at once (a model may ask for several
// in one turn); results keep the calls' order.
func (rt *loopRun) runSearches(t *searchBudget, calls []Call) []ToolResult {
	out := make([]ToolResult, len(calls))
	var wg sync.WaitGroup
	for i, c := range calls {
		out[i].Call = c
		wg.Add(1)
		go func() {
			defer wg.Done()
			rs, err := rt.search(t.tool, c)
			if err != nil {
				out[i].Err = "The search failed: " + errText(err)
			}
			out[i].Results = rs
		}()
	}
	wg.Wait()
	t.searches += len(calls)
	t.unbilled.calls += len(calls)
	for _, r := range out {
		t.unbilled.results += len(r.Results)
	}
	return out
}

// errText is an error for the model: short, one line.
func errText(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	return cut(s, 200, true)
}

// whole serves a request without a stream.
func (rt *loopRun) whole(t *messagesTurn) {
	var content [][]byte
	var first gjson.Result
	for {
		t.next()
		msg, ok := rt.wholeRound(MessagesPath, t.body, &t.unbilled, t.rounds == 1, func(status int, m string) { loopError(rt.w, status, "api_error", m) })
		if !ok {
			return
		}
		root := gjson.ParseBytes(msg)
		if t.rounds == 1 {
			first = root
		}
		t.usage.add(root.Get("usage"))
		calls, others := messageCalls(root.Get("content"))
		search := t.canSearch(calls)
		var results []ToolResult
		if search {
			results = rt.runSearches(&t.searchBudget, calls)
		}
		byID := map[string]ToolResult{}
		for _, r := range results {
			byID[r.Call.ID] = r
		}
		root.Get("content").ForEach(func(_, b gjson.Result) bool {
			if b.Get("type").Str == "tool_use" && b.Get("name").Str == ToolName {
				if r, ok := byID[b.Get("id").Str]; ok {
					use, res := serverBlocksFor(r.Call, r.Results, r.Err != "")
					content = append(content, use, res)
				}
				return true
			}
			content = append(content, []byte(b.Raw))
			return true
		})
		stop := root.Get("stop_reason").Str
		if search && others == 0 && stop == "tool_use" {
			if err := t.followUp([]byte(root.Get("content").Raw), results); err != nil {
				loopError(rt.w, 500, "api_error", "web search: building the next round: "+errText(err))
				return
			}
			continue
		}
		if stop == "tool_use" && others == 0 {
			stop = "end_turn" // only our calls, and no searches left
		}
		rt.w.Header().Set("Content-Type", "application/json")
		rt.w.WriteHeader(200)
		_, _ = rt.w.Write(wholeMessage(first, root, content, stop, t))
		return
	}
}

// wholeMessage is the client's answer: the first round's id and model,
// every round's content, the last round's stop.
func wholeMessage(first, last gjson.Result, content [][]byte, stop string, t *messagesTurn) []byte {
	out := []byte(first.Raw)
	var blocks []byte
	blocks = append(blocks, '[')
	for i, c := range content {
		if i > 0 {
			blocks = append(blocks, ',')
		}
		blocks = append(blocks, c...)
	}
	blocks = append(blocks, ']')
	out, _ = sjson.SetRawBytes(out, "content", blocks)
	out, _ = sjson.SetBytes(out, "stop_reason", stop)
	out, _ = sjson.SetRawBytes(out, "stop_sequence", []byte(orNull(last.Get("stop_sequence").Raw)))
	out, _ = sjson.SetRawBytes(out, "usage", t.usage.json(t.searches))
	return out
}

func orNull(raw string) string {
	if raw == "" {
		return "null"
	}
	return raw
}
