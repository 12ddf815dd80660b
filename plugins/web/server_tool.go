package web

import (
	"crypto/rand"
	"encoding/hex"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/switchboard-gw/switchboard/middleware"
	"github.com/switchboard-gw/switchboard/translators"
)

// Anthropic's web_search server tool on any provider. The router hop
// turns a /v1/messages request that declares the tool into the web
// plugin with the tool as its "server_tool" option. The plugin searches
// before the model is called, as the plugin form does (the query is the
// user's last turn, which is what Claude Code's WebSearch sends: "Perform
// a web search for the query: ..."), keeps the results the tool's domain
// lists allow, and answers with the blocks Anthropic's tool answers with:
// a server_tool_use and a web_search_tool_result before the model's text
// (translators.ServerBlocksField carries them through the chat form).

// serverToolOf reads the "server_tool" option: the tool as the request
// declared it.
func serverToolOf(block []byte) (ServerTool, bool) {
	raw := gjson.GetBytes(block, "server_tool")
	if !raw.IsObject() {
		return ServerTool{}, false
	}
	return AnthropicServerTool([]byte(`{"tools":[` + raw.Raw + `]}`))
}

// claudeCodePrefix starts the one message Claude Code's WebSearch sends
// ("Perform a web search for the query: " + query).
const claudeCodePrefix = "Perform a web search for the query: "

// serverToolQuery is the search query of a server tool request: the
// query itself when the user's turn is Claude Code's wrapper.
func serverToolQuery(q string) string {
	if rest, ok := strings.CutPrefix(q, claudeCodePrefix); ok && strings.TrimSpace(rest) != "" {
		return strings.TrimSpace(rest)
	}
	return q
}

// newServerToolID is a server_tool_use id in Anthropic's shape.
func newServerToolID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on Linux
	return "srvtoolu_" + hex.EncodeToString(b[:])
}

// serverBlocks are the two blocks of one search; failed is Anthropic's
// error content ("unavailable") when the search failed.
func serverBlocks(query string, rs []Result, failed bool) []byte {
	use, result := AnthropicBlocks(Call{ID: newServerToolID(), Query: query}, rs)
	if failed {
		result, _ = sjson.SetRawBytes(result, "content", []byte(`{"type":"web_search_tool_result_error","error_code":"unavailable"}`))
	}
	return append(append(append(append([]byte{'['}, use...), ','), result...), ']')
}

// serverToolAfter adds the blocks to the answer, and the citations when
// there are results.
type serverToolAfter struct {
	blocks []byte
	cite   *Citations // nil when there is nothing to cite
}

func (a *serverToolAfter) Answer(body []byte) ([]byte, error) {
	out := body
	if a.cite != nil {
		var err error
		if out, err = a.cite.Answer(body); err != nil {
			return nil, err
		}
	}
	return sjson.SetRawBytes(append([]byte(nil), out...), "choices.0.message."+translators.ServerBlocksField, a.blocks)
}

func (a *serverToolAfter) NewStream() middleware.StreamTransformer {
	st := &serverToolStream{blocks: a.blocks}
	if a.cite != nil {
		st.next = a.cite.NewStream()
	}
	return st
}

// serverToolStream sends the blocks in a chunk of their own, before the
// first chunk of choice 0, then passes the stream on.
type serverToolStream struct {
	blocks []byte
	sent   bool
	next   middleware.StreamTransformer
}

func (s *serverToolStream) Chunk(chunk []byte, emit func([]byte)) {
	if !s.sent && gjson.GetBytes(chunk, "choices.0").Exists() {
		s.sent = true
		if c, err := sjson.SetRawBytes(append([]byte(nil), chunk...), "choices.0.delta", []byte(`{"`+translators.ServerBlocksField+`":`+string(s.blocks)+`}`)); err == nil {
			c, _ = sjson.SetRawBytes(c, "choices.0.finish_reason", []byte("null"))
			emit(c)
		}
	}
	if s.next != nil {
		s.next.Chunk(chunk, emit)
		return
	}
	emit(chunk)
}

func (s *serverToolStream) Finish(emit func([]byte)) {
	if s.next != nil {
		s.next.Finish(emit)
	}
}
