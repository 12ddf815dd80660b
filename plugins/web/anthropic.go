package web

import (
	"encoding/base64"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/switchboard-gw/switchboard/translators"
)

// ServerTool is Anthropic's web search server tool as a /v1/messages
// request declares it (Claude Code's WebSearch):
//
//	{"type":"web_search_20250305","name":"web_search","max_uses":5,
//	 "allowed_domains":["go.dev"],"blocked_domains":[...],"user_location":{...}}
//
// The gateway serves it on any provider with the tool form (Loop): at
// most MaxUses searches, results filtered by the domains, the answer
// carrying AnthropicBlocks. user_location is not used.
type ServerTool struct {
	Type           string
	MaxUses        int // default DefaultMaxUses
	AllowedDomains []string
	BlockedDomains []string
}

// DefaultMaxUses bounds the rounds when the tool sets no max_uses.
const DefaultMaxUses = 5

// AnthropicServerTool finds the web search server tool in a /v1/messages
// body (any web_search_YYYYMMDD version).
func AnthropicServerTool(body []byte) (ServerTool, bool) {
	var st ServerTool
	found := false
	gjson.GetBytes(body, "tools").ForEach(func(_, t gjson.Result) bool {
		typ := t.Get("type").Str
		if !translators.IsWebSearchTool(typ) {
			return true
		}
		found = true
		st = ServerTool{Type: typ, MaxUses: int(t.Get("max_uses").Int())}
		if st.MaxUses <= 0 {
			st.MaxUses = DefaultMaxUses
		}
		for _, d := range t.Get("allowed_domains").Array() {
			st.AllowedDomains = append(st.AllowedDomains, strings.ToLower(d.Str))
		}
		for _, d := range t.Get("blocked_domains").Array() {
			st.BlockedDomains = append(st.BlockedDomains, strings.ToLower(d.Str))
		}
		return false
	})
	return st, found
}

// Filter keeps the results the tool's domain lists allow. A domain
// matches its subdomains too.
func (t ServerTool) Filter(rs []Result) []Result {
	if len(t.AllowedDomains) == 0 && len(t.BlockedDomains) == 0 {
		return rs
	}
	var out []Result
	for _, r := range rs {
		u, err := url.Parse(r.URL)
		if err != nil {
			continue
		}
		host := strings.ToLower(u.Hostname())
		match := func(d string) bool { return host == d || strings.HasSuffix(host, "."+d) }
		if slices.ContainsFunc(t.BlockedDomains, match) {
			continue
		}
		if len(t.AllowedDomains) > 0 && !slices.ContainsFunc(t.AllowedDomains, match) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// AnthropicBlocks renders one search as the content blocks Anthropic's
// server tool answers with:
//
//	{"type":"server_tool_use","id":"srvtoolu_...","name":"web_search","input":{"query":"..."}}
//	{"type":"web_search_tool_result","tool_use_id":"srvtoolu_...","content":[
//	  {"type":"web_search_result","url","title","encrypted_content","page_age"}]}
//
// encrypted_content is opaque to clients, which send it back in later
// turns: here it is the base64 of the snippet, so the ingress can give a
// later request's history back to the model as text. The id is the
// model's call id with Anthropic's srvtoolu_ prefix.
func AnthropicBlocks(c Call, rs []Result) (use, result []byte) {
	id := "srvtoolu_" + strings.TrimPrefix(c.ID, "srvtoolu_")
	use, _ = sjson.SetBytes([]byte(`{"type":"server_tool_use","id":"","name":"web_search","input":{"query":""}}`), "id", id)
	use, _ = sjson.SetBytes(use, "input.query", c.Query)
	result, _ = sjson.SetBytes([]byte(`{"type":"web_search_tool_result","tool_use_id":"","content":[]}`), "tool_use_id", id)
	for i, r := range rs {
		b := []byte(`{"type":"web_search_result","url":"","title":"","encrypted_content":""}`)
		b, _ = sjson.SetBytes(b, "url", r.URL)
		b, _ = sjson.SetBytes(b, "title", r.Title)
		b, _ = sjson.SetBytes(b, "encrypted_content", base64.StdEncoding.EncodeToString([]byte(r.Snippet)))
		if r.Published != "" {
			b, _ = sjson.SetBytes(b, "page_age", r.Published)
		}
		result, _ = sjson.SetRawBytes(result, "content."+strconv.Itoa(i), b)
	}
	return use, result
}
