package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Claude Code's default model and the model its "sonnet" alias names
// (Claude Code 2.1.332, see testdata/clients/claude-code).
const (
	claudeCodeDefaultModel = "claude-opus-5-5"
	claudeCodeSonnetModel  = "claude-sonnet-5-5"
)

// claudeCodeToolTask sets up a working directory with a file for Claude
// Code's Read tool and returns the directory and the file.
func claudeCodeToolTask(t *testing.T) (dir, file string) {
	t.Helper()
	dir = t.TempDir()
	file = filepath.Join(dir, "hello.txt")
	if err := os.WriteFile(file, []byte("switchboard-tool-ok-5678\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, file
}

// roles lists the roles of a messages array.
func roles(msgs []any) []string {
	var out []string
	for _, m := range msgs {
		r, _ := m.(map[string]any)["role"].(string)
		out = append(out, r)
	}
	return out
}

// TestClaudeCodeAnthropicPassThrough: Claude Code (-p) through the
// gateway to an Anthropic-schema provider, with its default model and its
// sonnet alias. The provider gets Claude Code's request as sent (its
// betas, adaptive thinking with display omitted, output_config,
// context_management, the mid-conversation system message, its tools
// with defer_loading) with only the model swapped; a Read tool_use is
// run by Claude Code, whose second request carries the tool_result; the
// final text is what Claude Code prints.
func TestClaudeCodeAnthropicPassThrough(t *testing.T) {
	c := startClientsGateway(t, "anthropic", claudeCodeDefaultModel, claudeCodeSonnetModel)
	for _, tc := range []struct{ name, flag, model string }{
		{"default model", "", claudeCodeDefaultModel},
		{"sonnet alias", "sonnet", claudeCodeSonnetModel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, file := claudeCodeToolTask(t)
			upstream := "upstream-" + tc.model
			c.enqueue(t,
				anthropicToolSSE(upstream, "toolu_fake_1", "Read", map[string]any{"file_path": file}),
				anthropicTextSSE(upstream, "final answer: the file says switchboard-tool-ok-5678"))
			before, answers := len(c.fake.Requests()), len(c.proxy.headers())
			out := runClaudeCodeIn(t, dir, nil, c.proxy.url, clientKey, tc.flag, "read hello.txt")
			if !strings.Contains(out, "final answer: the file says switchboard-tool-ok-5678") {
				t.Errorf("stdout %q", out)
			}
			reqs := c.fake.Requests()[before:]
			if len(reqs) != 2 {
				t.Fatalf("provider got %d requests, want 2 (tool_use, then the result)", len(reqs))
			}
			for i, r := range reqs {
				if r.Path != "/v1/messages" || r.Header.Get("x-api-key") != anthropicKey || r.Header.Get("anthropic-version") != "2023-06-01" {
					t.Errorf("request %d: path %s, headers %v", i, r.Path, r.Header)
				}
				betas := strings.Split(r.Header.Get("anthropic-beta"), ",")
				wantContains(t, "anthropic-beta", betas, "claude-code-20250219", "interleaved-thinking-2025-05-14", "context-management-2025-06-27", "effort-2025-11-24")
				b := fakeBody(t, r)
				if b["model"] != upstream || b["stream"] != true {
					t.Errorf("request %d: model %v stream %v", i, b["model"], b["stream"])
				}
				if got := jsonOf(b["thinking"]); got != `{"display":"omitted","type":"adaptive"}` {
					t.Errorf("request %d: thinking %s", i, got)
				}
				if oc, _ := b["output_config"].(map[string]any); oc["effort"] == nil {
					t.Errorf("request %d: output_config %v", i, b["output_config"])
				}
				if got := jsonOf(b["context_management"]); got != `{"edits":[{"keep":"all","type":"clear_thinking_20251015"}]}` {
					t.Errorf("request %d: context_management %s", i, got)
				}
				msgs, _ := b["messages"].([]any)
				if rs := roles(msgs); len(rs) < 2 || !slices.Contains(rs[1:], "system") {
					t.Errorf("request %d: roles %v, want Claude Code's mid-conversation system message", i, rs)
				}
				var names []string
				deferred := false
				for _, tl := range b["tools"].([]any) {
					m := tl.(map[string]any)
					names = append(names, m["name"].(string))
					if m["defer_loading"] == true {
						deferred = true
					}
				}
				wantContains(t, "tools", names, "Bash", "Read", "Edit", "Write")
				if !deferred {
					t.Errorf("request %d: no tool kept defer_loading", i)
				}
				if strings.Contains(string(r.Body), `"provider"`) {
					t.Errorf("request %d: gateway fields reached the provider", i)
				}
			}
			msgs, _ := fakeBody(t, reqs[1])["messages"].([]any)
			last := jsonOf(msgs[len(msgs)-2:])
			for _, want := range []string{`"type":"tool_use"`, `"id":"toolu_fake_1"`, `"tool_use_id":"toolu_fake_1"`, `"type":"tool_result"`, "switchboard-tool-ok-5678"} {
				if !strings.Contains(last, want) {
					t.Errorf("the second request's last two messages lack %s: %s", want, last)
				}
			}
			if d := c.proxy.dropped(answers); len(d) != 0 {
				t.Errorf("x-switchboard-dropped-params %v on a pass-through", d)
			}
		})
	}
}

// TestClaudeCodeOpenAITranslated: Claude Code (-p) through the gateway to
// an OpenAI-schema provider (translated to chat), default model and
// sonnet alias. The provider gets a valid chat request (system, user,
// assistant and tool roles only, function tools, the mid-conversation
// system message where it stood); what chat cannot carry is named in
// x-switchboard-dropped-params. A Read tool call round-trips: the second
// request carries the assistant's tool_calls and the tool message with
// the file's text; Claude Code prints the final text.
func TestClaudeCodeOpenAITranslated(t *testing.T) {
	c := startClientsGateway(t, "openai", claudeCodeDefaultModel, claudeCodeSonnetModel)
	for _, tc := range []struct{ name, flag, model string }{
		{"default model", "", claudeCodeDefaultModel},
		{"sonnet alias", "sonnet", claudeCodeSonnetModel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, file := claudeCodeToolTask(t)
			upstream := "upstream-" + tc.model
			c.enqueue(t,
				chatToolSSE(upstream, "call_fake_1", "Read", map[string]any{"file_path": file}),
				chatTextSSE(upstream, "final answer: the file says switchboard-tool-ok-5678"))
			before, answers := len(c.fake.Requests()), len(c.proxy.headers())
			out := runClaudeCodeIn(t, dir, nil, c.proxy.url, clientKey, tc.flag, "read hello.txt")
			if !strings.Contains(out, "final answer: the file says switchboard-tool-ok-5678") {
				t.Errorf("stdout %q", out)
			}
			reqs := c.fake.Requests()[before:]
			if len(reqs) != 2 {
				t.Fatalf("provider got %d requests, want 2 (tool call, then the result)", len(reqs))
			}
			for i, r := range reqs {
				if r.Path != "/v1/chat/completions" || r.Header.Get("authorization") != "Bearer "+openAIKey || r.Header.Get("anthropic-beta") != "" {
					t.Errorf("request %d: path %s, headers %v", i, r.Path, r.Header)
				}
				b := fakeBody(t, r)
				if b["model"] != upstream || b["stream"] != true {
					t.Errorf("request %d: model %v stream %v", i, b["model"], b["stream"])
				}
				msgs, _ := b["messages"].([]any)
				rs := roles(msgs)
				for _, role := range rs {
					if !slices.Contains([]string{"system", "user", "assistant", "tool"}, role) {
						t.Errorf("request %d: role %q in %v", i, role, rs)
					}
				}
				if first := slices.Index(rs, "user"); first < 0 || !slices.Contains(rs[first:], "system") {
					t.Errorf("request %d: roles %v, want the mid-conversation system message after the first user turn", i, rs)
				}
				var names []string
				for _, tl := range b["tools"].([]any) {
					m := tl.(map[string]any)
					fn, _ := m["function"].(map[string]any)
					if m["type"] != "function" || fn["name"] == nil || fn["parameters"] == nil {
						t.Errorf("request %d: tool %s", i, jsonOf(m))
						continue
					}
					names = append(names, fn["name"].(string))
				}
				wantContains(t, "tools", names, "Bash", "Read", "Edit", "Write")
				for _, f := range []string{"thinking", "output_config", "context_management", "system", "metadata"} {
					if _, ok := b[f]; ok {
						t.Errorf("request %d: Anthropic field %s reached a chat provider", i, f)
					}
				}
			}
			msgs, _ := fakeBody(t, reqs[1])["messages"].([]any)
			last := jsonOf(msgs[len(msgs)-2:])
			for _, want := range []string{`"tool_calls":[{`, `"id":"call_fake_1"`, `"tool_call_id":"call_fake_1"`, `"role":"tool"`, "switchboard-tool-ok-5678"} {
				if !strings.Contains(last, want) {
					t.Errorf("the second request's last two messages lack %s: %s", want, last)
				}
			}
			wantContains(t, "x-switchboard-dropped-params", c.proxy.dropped(answers), "context_management", "thinking.display", "tools[].defer_loading")
		})
	}
}

// TestClaudeCodeWebSearch: Claude Code's WebSearch on an OpenAI-schema
// model. The model calls WebSearch; Claude Code asks the gateway with
// Anthropic's web_search server tool; the gateway's loop offers the model
// a web_search function, the model calls it, the gateway searches a fake
// SearXNG and gives the model the results in a second round, and answers
// Claude Code with server_tool_use and web_search_tool_result blocks,
// which Claude Code turns into its tool result; the model's final text
// cites the search.
func TestClaudeCodeWebSearch(t *testing.T) {
	search, queries := fakeSearXNG(t)
	c := startClientsGatewayWith(t, "openai", fmt.Sprintf("plugins:\n  web: {backend: searxng, base_url: %q}\n", search.URL), claudeCodeDefaultModel)
	upstream := "upstream-" + claudeCodeDefaultModel
	c.enqueue(t,
		chatToolSSE(upstream, "call_ws_1", "WebSearch", map[string]any{"query": "Go 1.26 release"}),
		chatToolSSE(upstream, "call_search_1", "web_search", map[string]any{"query": "Go 1.26 release notes"}),
		chatTextSSE(upstream, "Go 1.26 brings the green tea garbage collector."),
		chatTextSSE(upstream, "final answer: Go 1.26 is out, see https://go.dev/blog/go1.26"))
	before := len(c.fake.Requests())
	out := runClaudeCodeIn(t, t.TempDir(), []string{"--allowedTools", "WebSearch"}, c.proxy.url, clientKey, "", "what is new in Go 1.26? search the web")
	if !strings.Contains(out, "final answer: Go 1.26 is out") {
		t.Errorf("stdout %q", out)
	}
	reqs := c.fake.Requests()[before:]
	if len(reqs) != 4 {
		t.Fatalf("provider got %d requests, want 4 (the WebSearch call, the search's two rounds, the final answer)", len(reqs))
	}
	if q := queries(); len(q) != 1 || q[0] != "Go 1.26 release notes" {
		t.Errorf("search backend got %q", q)
	}
	// The search's first round: a web_search function in place of the
	// server tool.
	r1 := fakeBody(t, reqs[1])
	if tools := jsonOf(r1["tools"]); strings.Contains(tools, "web_search_20250305") || !strings.Contains(tools, `"name":"web_search"`) {
		t.Errorf("the search's first round sent tools %s", tools)
	}
	// The second: the model's call and its results, the choice free.
	r2 := jsonOf(fakeBody(t, reqs[2])["messages"])
	for _, want := range []string{`"tool_call_id":"call_search_1"`, "https://go.dev/blog/go1.26"} {
		if !strings.Contains(r2, want) {
			t.Errorf("the search's second round lacks %s: %.3000s", want, r2)
		}
	}
	// Claude Code's tool result for the main loop holds the links.
	last := jsonOf(fakeBody(t, reqs[3])["messages"])
	for _, want := range []string{`"tool_call_id":"call_ws_1"`, "https://go.dev/blog/go1.26", "Go 1.26 is released"} {
		if !strings.Contains(last, want) {
			t.Errorf("the final request lacks %s: %.3000s", want, last)
		}
	}
}
