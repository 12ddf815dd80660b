package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// codexModel is the model the Codex runs ask for.
const codexModel = "gpt-5.5"

// TestCodexThroughGateway: `codex exec` through /v1/responses, translated
// for a chat provider (the fake OpenAI at 127.0.0.1 is an
// OpenAI-compatible host, not api.openai.com) and for an Anthropic one.
// The fake asks for exec_command `cat hello.txt`; Codex runs it in its
// sandbox and sends the function_call_output, which reaches the fake as
// a tool result; the fake's final text is what Codex prints.
func TestCodexThroughGateway(t *testing.T) {
	for _, schema := range []string{"openai", "anthropic"} {
		t.Run(schema, func(t *testing.T) {
			c := startClientsGateway(t, schema, codexModel)
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("switchboard-tool-ok-9012\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			upstream := "upstream-" + codexModel
			final := "final answer: hello.txt says switchboard-tool-ok-9012"
			args := map[string]any{"cmd": "cat hello.txt"}
			if schema == "openai" {
				c.enqueue(t, chatToolSSE(upstream, "call_fake_1", "exec_command", args), chatTextSSE(upstream, final))
			} else {
				c.enqueue(t, anthropicToolSSE(upstream, "toolu_fake_1", "exec_command", args), anthropicTextSSE(upstream, final))
			}
			answers := len(c.proxy.headers())
			out := runCodexIn(t, dir, nil, c.proxy.url, clientKey, codexModel, "cat hello.txt")
			if !strings.Contains(out, final) {
				t.Errorf("stdout %q", out)
			}
			reqs := c.fake.Requests()
			if len(reqs) != 2 {
				t.Fatalf("provider got %d requests, want 2 (tool call, then the result)", len(reqs))
			}
			callID := map[string]string{"openai": "call_fake_1", "anthropic": "toolu_fake_1"}[schema]
			for i, r := range reqs {
				if r.Path != c.path {
					t.Errorf("request %d: path %s", i, r.Path)
				}
				b := fakeBody(t, r)
				if b["model"] != upstream || b["stream"] != true {
					t.Errorf("request %d: model %v stream %v", i, b["model"], b["stream"])
				}
				var names []string
				for _, tl := range b["tools"].([]any) {
					m := tl.(map[string]any)
					if schema == "openai" {
						fn, _ := m["function"].(map[string]any)
						if m["type"] != "function" {
							t.Errorf("request %d: tool %s", i, jsonOf(m))
						}
						names = append(names, fn["name"].(string))
					} else {
						names = append(names, m["name"].(string))
					}
				}
				// apply_patch is a custom (freeform) tool: a function of
				// one string through chat and Anthropic.
				wantContains(t, "tools", names, "exec_command", "apply_patch")
				// Codex's instructions travel as developer messages: the
				// system role of chat and Anthropic's system prompt.
				body := string(r.Body)
				if schema == "openai" && !strings.Contains(body, `"role":"system"`) || schema == "anthropic" && b["system"] == nil {
					t.Errorf("request %d: no system prompt from Codex's developer messages", i)
				}
				if !strings.Contains(body, "cat hello.txt") {
					t.Errorf("request %d: the prompt is not in the body", i)
				}
			}
			second := string(reqs[1].Body)
			var wants []string
			if schema == "openai" {
				wants = []string{`"tool_calls":[{`, `"id":"call_fake_1"`, `"role":"tool"`, `"tool_call_id":"call_fake_1"`, "switchboard-tool-ok-9012"}
			} else {
				wants = []string{`"type":"tool_use"`, `"id":"toolu_fake_1"`, `"type":"tool_result"`, `"tool_use_id":"toolu_fake_1"`, "switchboard-tool-ok-9012"}
			}
			for _, w := range wants {
				if !strings.Contains(second, w) {
					t.Errorf("the second request lacks %s (call %s)", w, callID)
				}
			}
			// What neither chat nor Messages has: Codex's hosted tools
			// and its cache key. Nothing it needs to run a task.
			dropped := c.proxy.dropped(answers)
			wantContains(t, "x-switchboard-dropped-params", dropped, "tools[].web_search", "tools[].tool_search", "prompt_cache_key")
			if slices.Contains(dropped, "tools[].custom") {
				t.Errorf("x-switchboard-dropped-params %v: Codex's apply_patch was dropped", dropped)
			}
		})
	}
}

// TestCodexWebSearch: Codex's web search (web_search = "live") on a model
// served through the chat form: Codex declares the Responses web_search
// tool, the gateway's loop offers the model a web_search function, runs
// the search and continues; Codex gets a web_search_call item and the
// final answer.
func TestCodexWebSearch(t *testing.T) {
	search, queries := fakeSearXNG(t)
	c := startClientsGatewayWith(t, "openai", fmt.Sprintf("plugins:\n  web: {backend: searxng, base_url: %q}\n", search.URL), codexModel)
	upstream := "upstream-" + codexModel
	final := "final answer: Go 1.26 is out, see https://go.dev/blog/go1.26"
	c.enqueue(t, chatToolSSE(upstream, "call_ws_1", "web_search", map[string]any{"query": "Go 1.26 release"}), chatTextSSE(upstream, final))
	out := runCodexIn(t, t.TempDir(), []string{"-c", `web_search="live"`}, c.proxy.url, clientKey, codexModel, "what is new in Go 1.26? search the web")
	if !strings.Contains(out, final) {
		t.Errorf("stdout %q", out)
	}
	reqs := c.fake.Requests()
	if len(reqs) != 2 {
		t.Fatalf("provider got %d requests, want 2 (the search call, the answer)", len(reqs))
	}
	if q := queries(); len(q) != 1 || q[0] != "Go 1.26 release" {
		t.Errorf("search backend got %q", q)
	}
	if tools := jsonOf(fakeBody(t, reqs[0])["tools"]); !strings.Contains(tools, `"name":"web_search"`) {
		t.Errorf("round 1 tools %s", tools)
	}
	if msgs := jsonOf(fakeBody(t, reqs[1])["messages"]); !strings.Contains(msgs, `"tool_call_id":"call_ws_1"`) || !strings.Contains(msgs, "https://go.dev/blog/go1.26") {
		t.Errorf("round 2 messages %s", msgs)
	}
}
