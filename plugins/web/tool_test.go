package web

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

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
