package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	aoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

// fakeSearXNG answers SearXNG's JSON search API with two results and
// records the queries it got.
func fakeSearXNG(t *testing.T) (*httptest.Server, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/search" || r.URL.Query().Get("format") != "json" {
			http.Error(w, "not found", 404)
			return
		}
		mu.Lock()
		queries = append(queries, r.URL.Query().Get("q"))
		mu.Unlock()
		w.Header().Set("content-type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"results": []map[string]any{
			{"title": "Go 1.26 is released", "url": "https://go.dev/blog/go1.26", "content": "Go 1.26 brings the green tea garbage collector.", "publishedDate": "2026-02-10T00:00:00"},
			{"title": "Go 1.26 release notes", "url": "https://go.dev/doc/go1.26", "content": "The release notes for Go 1.26."},
		}})
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), queries...)
	}
}

// webGateway is a gateway with the web plugin on a fake SearXNG, in front
// of one OpenAI-schema model, gpt-test.
func webGateway(t *testing.T) (gw *gateway, up *fakeprovider.Server, search *httptest.Server, queries func() []string) {
	t.Helper()
	search, queries = fakeSearXNG(t)
	up = fakeprovider.New(t)
	gw = startGateway(t, fmt.Sprintf(`providers:
  - name: up
    schema: openai
    base_url: %s/v1
models:
  - name: gpt-test
    providers: [{provider: up, model: gpt-4.1-mini}]
plugins:
  web: {backend: searxng, base_url: %s, max_results: 5}
`, up.URL(), search.URL))
	return gw, up, search, queries
}

// TestWebPlugin: "plugins": [{"id": "web"}] (or the :online suffix) makes
// the gateway search (a SearXNG backend), put the results before the last
// user message, and cite them on the answer as url_citation annotations,
// whole and streamed, on chat and on /v1/messages.
func TestWebPlugin(t *testing.T) {
	gw, up, _, queries := webGateway(t)
	sentNote := func(t *testing.T) {
		t.Helper()
		msgs := gjson.GetBytes(lastRequest(t, up).Body, "messages").Array()
		if len(msgs) < 2 || msgs[len(msgs)-1].Get("role").Str != "user" {
			t.Fatalf("provider got messages %v", msgs)
		}
		note := msgs[len(msgs)-2]
		if note.Get("role").Str != "system" || !strings.Contains(note.Get("content").String(), "https://go.dev/blog/go1.26") {
			t.Errorf("no search results before the last user message: %s", note.Raw)
		}
		if b := lastRequest(t, up).Body; gjson.GetBytes(b, "plugins").Exists() || strings.Contains(gjson.GetBytes(b, "model").Str, ":online") {
			t.Errorf("the plugin syntax reached the provider: %s", b)
		}
	}

	t.Run("chat, whole", func(t *testing.T) {
		up.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat"))})
		resp, out := gw.post(t, "/v1/chat/completions", []byte(`{"model":"gpt-test","plugins":[{"id":"web","max_results":2}],"messages":[{"role":"user","content":"What is new in Go 1.26?"}]}`))
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, out)
		}
		sentNote(t)
		ann := gjson.GetBytes(out, "choices.0.message.annotations")
		if len(ann.Array()) != 2 || ann.Get("0.type").Str != "url_citation" || ann.Get("0.url_citation.url").Str != "https://go.dev/blog/go1.26" {
			t.Errorf("annotations %s", ann.Raw)
		}
		if n := gjson.GetBytes(out, "usage.server_tool_use.web_search_requests").Int(); n != 1 {
			t.Errorf("usage.server_tool_use.web_search_requests = %d: %s", n, out)
		}
		if q := queries(); len(q) == 0 || !strings.Contains(q[len(q)-1], "Go 1.26") {
			t.Errorf("search queries %q", q)
		}
	})

	t.Run("chat, streamed, :online", func(t *testing.T) {
		up.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat_stream"))})
		resp, out := gw.post(t, "/v1/chat/completions", []byte(`{"model":"gpt-test:online","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"What is new in Go 1.26?"}]}`))
		if resp.StatusCode != 200 || !strings.HasSuffix(strings.TrimSpace(string(out)), "data: [DONE]") {
			t.Fatalf("%d %s", resp.StatusCode, out)
		}
		sentNote(t)
		if !strings.Contains(string(out), `"url_citation"`) || !strings.Contains(string(out), "https://go.dev/doc/go1.26") {
			t.Errorf("no url_citation in the stream:\n%s", out)
		}
		// The search is counted in the usage chunk, as on whole answers.
		if !strings.Contains(string(out), `"server_tool_use":{"web_search_requests":1}`) {
			t.Errorf("no server_tool_use in the stream's usage:\n%s", out)
		}
	})

	t.Run("/v1/messages", func(t *testing.T) {
		up.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat"))})
		resp, out := gw.post(t, "/v1/messages", []byte(`{"model":"gpt-test:online","max_tokens":50,"messages":[{"role":"user","content":"What is new in Go 1.26?"}]}`), "anthropic-version", "2023-06-01")
		if resp.StatusCode != 200 || gjson.GetBytes(out, "type").Str != "message" {
			t.Fatalf("%d %s", resp.StatusCode, out)
		}
		sentNote(t)
	})

	t.Run("an unknown plugin is a 400", func(t *testing.T) {
		resp, out := gw.post(t, "/v1/chat/completions", []byte(`{"model":"gpt-test","plugins":[{"id":"nope"}],"messages":[{"role":"user","content":"hi"}]}`))
		if resp.StatusCode != 400 {
			t.Errorf("%d %s", resp.StatusCode, out)
		}
	})
}

// TestHealingAndMiddleOut: response-healing repairs a model's almost-JSON
// answer (a fence, a trailing comma) before the client sees it, and the
// middle-out transform cuts a prompt over the model's context length
// from the middle, keeping the system prompt and the last message.
func TestHealingAndMiddleOut(t *testing.T) {
	up := fakeprovider.New(t)
	gw := startGateway(t, fmt.Sprintf(`providers:
  - name: up
    schema: openai
    base_url: %s/v1
models:
  - name: gpt-test
    context_length: 300
    providers: [{provider: up, model: gpt-4.1-mini}]
`, up.URL()))
	broken := `{"id":"chatcmpl-heal","object":"chat.completion","created":1,"model":"gpt-4.1-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Sure:\n` + "```json" + `\n{\"city\": \"Paris\", \"temp\": 21,}\n` + "```" + `"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":9,"total_tokens":19}}`
	up.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: &fakeprovider.Transcript{Status: 200,
		Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(broken)}})
	resp, out := gw.post(t, "/v1/chat/completions", []byte(`{"model":"gpt-test","response_format":{"type":"json_object"},"plugins":[{"id":"response-healing"}],"messages":[{"role":"user","content":"weather as JSON"}]}`))
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, out)
	}
	content := gjson.GetBytes(out, "choices.0.message.content").Str
	if !gjson.Valid(content) || gjson.Get(content, "city").Str != "Paris" || gjson.Get(content, "temp").Int() != 21 {
		t.Errorf("healed content %q", content)
	}

	up.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat"))})
	var msgs []string
	msgs = append(msgs, `{"role":"system","content":"Be brief."}`)
	for i := range 30 {
		msgs = append(msgs, fmt.Sprintf(`{"role":"%s","content":"message %d %s"}`, map[bool]string{true: "user", false: "assistant"}[i%2 == 0], i, strings.Repeat("words ", 20)))
	}
	msgs = append(msgs, `{"role":"user","content":"the last question"}`)
	body := `{"model":"gpt-test","max_tokens":20,"transforms":["middle-out"],"messages":[` + strings.Join(msgs, ",") + `]}`
	resp, out = gw.post(t, "/v1/chat/completions", []byte(body))
	if resp.StatusCode != 200 {
		t.Fatalf("middle-out: %d %s", resp.StatusCode, out)
	}
	sent := gjson.GetBytes(lastRequest(t, up).Body, "messages").Array()
	if len(sent) >= 32 || len(sent) < 2 || sent[0].Get("content").Str != "Be brief." || sent[len(sent)-1].Get("content").Str != "the last question" {
		t.Errorf("provider got %d messages (first %s, last %s), want fewer than 32 with the system prompt and the last one kept",
			len(sent), sent[0].Raw, sent[len(sent)-1].Raw)
	}
	if gjson.GetBytes(lastRequest(t, up).Body, "transforms").Exists() {
		t.Error("transforms reached the provider")
	}

	// Without the transform the same prompt is the client's error, told
	// before any provider is called.
	n := len(up.Requests())
	resp, out = gw.post(t, "/v1/chat/completions", []byte(strings.Replace(body, `"transforms":["middle-out"],`, "", 1)))
	assertOpenAIError(t, resp, out, 400, "context_length_exceeded")
	if !strings.Contains(string(out), "middle-out") || len(up.Requests()) != n {
		t.Errorf("%s; provider called %d times", out, len(up.Requests())-n)
	}
}

// TestPluginPolicy: plugin policies of tenants and keys, through Envoy.
// team-a may not use web (403 naming the rule, in the client's shape);
// team-h has response-healing forced, so a fenced JSON answer is healed
// without the request asking; team-h's key h2 narrows its tenant by
// denying web, which h1 may use.
func TestPluginPolicy(t *testing.T) {
	search, queries := fakeSearXNG(t)
	up := fakeprovider.New(t)
	gw := startGateway(t, fmt.Sprintf(`providers:
  - name: up
    schema: openai
    base_url: %s/v1
models:
  - name: gpt-test
    providers: [{provider: up, model: gpt-4.1-mini}]
plugins:
  web: {backend: searxng, base_url: %s}
governance:
  tenants:
    - {name: team-a, plugins: {deny: [web]}}
    - name: team-h
      plugins:
        force: [{id: response-healing}]
  keys:
    - {id: a1, tenant: team-a, hash: "%s"}
    - {id: h1, tenant: team-h, hash: "%s"}
    - {id: h2, tenant: team-h, hash: "%s", plugins: {deny: [web]}}
`, up.URL(), search.URL, keyHash(keyA), keyHash(keyB), keyHash(keyC)))
	fenced := `{"id":"chatcmpl-heal","object":"chat.completion","created":1,"model":"gpt-4.1-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Sure:\n` + "```json" + `\n{\"city\": \"Paris\", \"temp\": 21,}\n` + "```" + `"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":9,"total_tokens":19}}`
	up.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: &fakeprovider.Transcript{Status: 200,
		Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(fenced)}})
	const webChat = `{"model":"gpt-test","plugins":[{"id":"web"}],"messages":[{"role":"user","content":"What is new in Go 1.26?"}]}`
	const jsonChat = `{"model":"gpt-test","response_format":{"type":"json_object"},"messages":[{"role":"user","content":"weather as JSON"}]}`

	for _, tc := range []struct {
		name, path, body, key string
		msg                   string // the 403's message
	}{
		{"tenant denied web", "/v1/chat/completions", webChat, keyA, `plugin "web" (plugins[0]) is not allowed for tenant "team-a" (plugins.deny)`},
		{":online on /v1/messages", "/v1/messages", `{"model":"gpt-test:online","max_tokens":20,"messages":[{"role":"user","content":"hi"}]}`, keyA,
			`plugin "web" (model) is not allowed for tenant "team-a" (plugins.deny)`},
		{"key narrowing its tenant", "/v1/chat/completions", webChat, keyC, `plugin "web" (plugins[0]) is not allowed for key "h2" (plugins.deny)`},
		{"the web_search server tool", "/v1/messages", `{"model":"gpt-test","max_tokens":20,"tools":[{"type":"web_search_20250305","name":"web_search"}],"messages":[{"role":"user","content":"hi"}]}`, keyA,
			`plugin "web" (tools) is not allowed for tenant "team-a" (plugins.deny)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, searched := len(up.Requests()), len(queries())
			resp, out := gw.post(t, tc.path, []byte(tc.body), "authorization", "Bearer "+tc.key, "anthropic-version", "2023-06-01")
			if resp.StatusCode != 403 {
				t.Fatalf("%d %s", resp.StatusCode, out)
			}
			if tc.path == "/v1/messages" {
				if gjson.GetBytes(out, "type").Str != "error" || gjson.GetBytes(out, "error.type").Str != "permission_error" {
					t.Errorf("not Anthropic's error shape: %s", out)
				}
			} else if code := gjson.GetBytes(out, "error.code").Str; code != "plugin_forbidden" {
				t.Errorf("code %q: %s", code, out)
			}
			if m := gjson.GetBytes(out, "error.message").Str; m != tc.msg {
				t.Errorf("message %q, want %q", m, tc.msg)
			}
			if len(up.Requests()) != before || len(queries()) != searched {
				t.Error("a refused request reached the provider or the search backend")
			}
		})
	}

	t.Run("forced healing, unasked", func(t *testing.T) {
		for _, key := range []string{keyB, keyC} { // h2's deny leaves its tenant's forced plugin on
			resp, out := gw.post(t, "/v1/chat/completions", []byte(jsonChat), "authorization", "Bearer "+key)
			if resp.StatusCode != 200 {
				t.Fatalf("%d %s", resp.StatusCode, out)
			}
			content := gjson.GetBytes(out, "choices.0.message.content").Str
			if !gjson.Valid(content) || gjson.Get(content, "city").Str != "Paris" || gjson.Get(content, "temp").Int() != 21 {
				t.Errorf("key %s…: content %q, want the healed JSON", key[:10], content)
			}
		}
		// team-a has nothing forced: the same answer reaches it as sent.
		resp, out := gw.post(t, "/v1/chat/completions", []byte(jsonChat), "authorization", "Bearer "+keyA)
		if c := gjson.GetBytes(out, "choices.0.message.content").Str; resp.StatusCode != 200 || !strings.Contains(c, "```json") {
			t.Errorf("team-a: %d, content %q, want the fenced answer untouched", resp.StatusCode, c)
		}
	})

	t.Run("the tenant's other key may use web", func(t *testing.T) {
		resp, out := gw.post(t, "/v1/chat/completions", []byte(webChat), "authorization", "Bearer "+keyB)
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, out)
		}
		if q := queries(); len(q) == 0 || !strings.Contains(q[len(q)-1], "Go 1.26") {
			t.Errorf("search queries %q", q)
		}
	})
}

// TestWebServerTool: Anthropic's web_search server tool on an
// OpenAI-schema provider, in the tool form. The model gets a web_search
// function; when it calls it, the gateway's loop searches (a SearXNG
// backend) and sends the model a second round with the results, through
// Envoy again; the client gets one message with server_tool_use and
// web_search_tool_result blocks before the model's answer, whole and
// streamed (anthropic-sdk-go's accumulator).
func TestWebServerTool(t *testing.T) {
	gw, up, search, queries := webGateway(t)
	const query = "Perform a web search for the query: Go 1.26 release"
	body := func(stream bool, tool string) []byte {
		// As Claude Code's WebSearch sends it: the tool forced.
		return []byte(fmt.Sprintf(`{"model":"gpt-test","max_tokens":200,"stream":%v,"tools":[%s],"tool_choice":{"type":"tool","name":"web_search"},"messages":[{"role":"user","content":%q}]}`, stream, tool, query))
	}
	const tool = `{"type":"web_search_20250305","name":"web_search","max_uses":8}`
	rounds := func(t *testing.T, stream bool) {
		t.Helper()
		call, answer := "web_search_call", "chat"
		if stream {
			call, answer = call+"_stream", answer+"_stream"
		}
		up.Enqueue("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", call))})
		up.Enqueue("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", answer))})
	}

	t.Run("whole", func(t *testing.T) {
		before := len(up.Requests())
		rounds(t, false)
		resp, out := gw.post(t, "/v1/messages", body(false, tool), "anthropic-version", "2023-06-01")
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, out)
		}
		content := gjson.GetBytes(out, "content").Array()
		if len(content) < 3 || content[0].Get("type").Str != "server_tool_use" || content[1].Get("type").Str != "web_search_tool_result" || content[2].Get("type").Str != "text" {
			t.Fatalf("content %s", gjson.GetBytes(out, "content").Raw)
		}
		if content[0].Get("input.query").Str != "Go 1.26 release" || content[1].Get("tool_use_id").Str != content[0].Get("id").Str ||
			!strings.HasPrefix(content[0].Get("id").Str, "srvtoolu_") {
			t.Errorf("blocks %s %s", content[0].Raw, content[1].Raw)
		}
		if r := content[1].Get("content").Array(); len(r) != 2 || r[0].Get("url").Str != "https://go.dev/blog/go1.26" || r[0].Get("type").Str != "web_search_result" {
			t.Errorf("results %s", content[1].Get("content").Raw)
		}
		// Both rounds' tokens (61+18 and the answer's), one search.
		if u := gjson.GetBytes(out, "usage"); u.Get("server_tool_use.web_search_requests").Int() != 1 || u.Get("input_tokens").Int() <= 61 || u.Get("output_tokens").Int() <= 18 {
			t.Errorf("usage %s", u.Raw)
		}
		if gjson.GetBytes(out, "stop_reason").Str != "end_turn" {
			t.Errorf("stop_reason %s", out)
		}
		sent := up.Requests()[before:]
		if len(sent) != 2 {
			t.Fatalf("the provider got %d rounds", len(sent))
		}
		first, second := sent[0].Body, sent[1].Body
		if tools := gjson.GetBytes(first, "tools").Raw; strings.Contains(tools, "web_search_20250305") || gjson.GetBytes(first, "tools.0.function.name").Str != "web_search" {
			t.Errorf("round 1 tools %s", tools)
		}
		if gjson.GetBytes(first, "tool_choice.function.name").Str != "web_search" || gjson.GetBytes(second, "tool_choice").Str != "auto" {
			t.Errorf("tool_choice %s then %s", gjson.GetBytes(first, "tool_choice").Raw, gjson.GetBytes(second, "tool_choice").Raw)
		}
		msgs := gjson.GetBytes(second, "messages").Array()
		if len(msgs) != 3 || msgs[1].Get("tool_calls.0.function.name").Str != "web_search" || msgs[2].Get("role").Str != "tool" ||
			!strings.Contains(msgs[2].Get("content").String(), "https://go.dev/blog/go1.26") {
			t.Errorf("round 2 messages %s", gjson.GetBytes(second, "messages").Raw)
		}
		if q := queries(); len(q) == 0 || q[len(q)-1] != "Go 1.26 release" {
			t.Errorf("queries %q", q)
		}
	})

	t.Run("streamed, through the SDK", func(t *testing.T) {
		rounds(t, true)
		client := anthropic.NewClient(aoption.WithBaseURL(gw.url("/")), aoption.WithAPIKey(clientKey), aoption.WithMaxRetries(0))
		stream := client.Messages.NewStreaming(ctxT(t), anthropic.MessageNewParams{
			Model: "gpt-test", MaxTokens: 200,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(query))},
			Tools:    []anthropic.ToolUnionParam{{OfWebSearchTool20250305: &anthropic.WebSearchTool20250305Param{MaxUses: anthropic.Int(8), AllowedDomains: []string{"go.dev"}}}},
		})
		var msg anthropic.Message
		for stream.Next() {
			if err := msg.Accumulate(stream.Current()); err != nil {
				t.Fatal(err)
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if len(msg.Content) < 3 {
			t.Fatalf("content %s", msg.RawJSON())
		}
		use, res := msg.Content[0].AsServerToolUse(), msg.Content[1].AsWebSearchToolResult()
		in, _ := json.Marshal(use.Input)
		if msg.Content[0].Type != "server_tool_use" || gjson.GetBytes(in, "query").Str != "Go 1.26 release" || res.ToolUseID != use.ID ||
			len(res.Content.OfWebSearchResultBlockArray) != 2 || res.Content.OfWebSearchResultBlockArray[1].URL != "https://go.dev/doc/go1.26" {
			t.Fatalf("blocks: %s / %s", msg.Content[0].RawJSON(), msg.Content[1].RawJSON())
		}
		if msg.Content[2].Type != "text" || msg.Content[2].Text == "" || msg.Usage.ServerToolUse.WebSearchRequests != 1 || msg.StopReason != "end_turn" {
			t.Fatalf("text %q usage %s stop %s", msg.Content[2].Text, msg.Usage.RawJSON(), msg.StopReason)
		}
	})

	t.Run("a model that answers without searching", func(t *testing.T) {
		up.Enqueue("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat"))})
		n := len(queries())
		resp, out := gw.post(t, "/v1/messages", []byte(`{"model":"gpt-test","max_tokens":200,"tools":[`+tool+`],"messages":[{"role":"user","content":"Say hi"}]}`), "anthropic-version", "2023-06-01")
		if resp.StatusCode != 200 || gjson.GetBytes(out, "content.0.type").Str != "text" || gjson.GetBytes(out, "usage.server_tool_use").Exists() || len(queries()) != n {
			t.Fatalf("%d %s; searches %q", resp.StatusCode, out, queries()[n:])
		}
	})

	t.Run("blocked domains filter results", func(t *testing.T) {
		rounds(t, false)
		resp, out := gw.post(t, "/v1/messages", body(false, `{"type":"web_search_20250305","name":"web_search","blocked_domains":["go.dev"]}`), "anthropic-version", "2023-06-01")
		if resp.StatusCode != 200 || gjson.GetBytes(out, "content.1.type").Str != "web_search_tool_result" || gjson.GetBytes(out, "content.1.content.#").Int() != 0 {
			t.Fatalf("%d %s", resp.StatusCode, out)
		}
	})

	t.Run("a round's error reaches the client in Anthropic's shape", func(t *testing.T) {
		up.Enqueue("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "error_429"))})
		resp, out := gw.post(t, "/v1/messages", body(false, tool), "anthropic-version", "2023-06-01")
		if resp.StatusCode != 429 || gjson.GetBytes(out, "type").Str != "error" || gjson.GetBytes(out, "error.type").Str != "rate_limit_error" {
			t.Fatalf("%d %s", resp.StatusCode, out)
		}
	})

	t.Run("a failed search is an unavailable result", func(t *testing.T) {
		search.Close()
		rounds(t, false)
		resp, out := gw.post(t, "/v1/messages", body(false, tool), "anthropic-version", "2023-06-01")
		if resp.StatusCode != 200 || gjson.GetBytes(out, "content.1.content.error_code").Str != "unavailable" || gjson.GetBytes(out, "content.2.type").Str != "text" {
			t.Fatalf("%d %s", resp.StatusCode, out)
		}
	})
}

// TestWebResponsesTool: the Responses API's web_search tool on a model
// served through the chat form (an OpenAI-compatible host), through
// openai-go, whole and streamed: the model calls the search, the gateway
// runs it and continues; the client gets a web_search_call item and the
// answer, and the provider never sees the hosted tool.
func TestWebResponsesTool(t *testing.T) {
	gw, up, _, queries := webGateway(t)
	client := openai.NewClient(option.WithBaseURL(gw.url("/v1/")), option.WithAPIKey(clientKey), option.WithMaxRetries(0))
	params := responses.ResponseNewParams{Model: "gpt-test", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Search the web: Go 1.26 release")},
		Tools: []responses.ToolUnionParam{{OfWebSearch: &responses.WebSearchToolParam{Type: responses.WebSearchToolTypeWebSearch}}}}
	rounds := func(t *testing.T, stream bool) int {
		t.Helper()
		call, answer := "web_search_call", "chat"
		if stream {
			call, answer = call+"_stream", answer+"_stream"
		}
		up.Enqueue("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", call))})
		up.Enqueue("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", answer))})
		return len(up.Requests())
	}
	check := func(t *testing.T, before int, out []responses.ResponseOutputItemUnion) {
		t.Helper()
		var types []string
		var ws responses.ResponseOutputItemUnion
		for _, it := range out {
			types = append(types, it.Type)
			if it.Type == "web_search_call" {
				ws = it
			}
		}
		if ws.Type == "" || types[len(types)-1] != "message" || ws.Status != "completed" || ws.Action.Query != "Go 1.26 release" ||
			len(ws.Action.Sources) != 2 || ws.Action.Sources[0].URL != "https://go.dev/blog/go1.26" {
			t.Fatalf("output %v: web_search_call %s", types, ws.RawJSON())
		}
		sent := up.Requests()[before:]
		if len(sent) != 2 {
			t.Fatalf("the provider got %d rounds", len(sent))
		}
		if tools := gjson.GetBytes(sent[0].Body, "tools"); gjson.Get(tools.Raw, "0.function.name").Str != "web_search" || strings.Contains(tools.Raw, `"web_search_preview"`) {
			t.Errorf("round 1 tools %s", tools.Raw)
		}
		msgs := gjson.GetBytes(sent[1].Body, "messages").Array()
		if len(msgs) < 3 || msgs[len(msgs)-1].Get("role").Str != "tool" || !strings.Contains(msgs[len(msgs)-1].Get("content").String(), "https://go.dev/blog/go1.26") {
			t.Errorf("round 2 messages %s", gjson.GetBytes(sent[1].Body, "messages").Raw)
		}
		if q := queries(); len(q) == 0 || q[len(q)-1] != "Go 1.26 release" {
			t.Errorf("queries %q", q)
		}
	}
	t.Run("whole", func(t *testing.T) {
		before := rounds(t, false)
		r, err := client.Responses.New(ctxT(t), params)
		if err != nil {
			t.Fatal(err)
		}
		check(t, before, r.Output)
		if r.Usage.InputTokens <= 61 || r.OutputText() == "" {
			t.Errorf("usage %+v text %q", r.Usage, r.OutputText())
		}
	})
	t.Run("streamed", func(t *testing.T) {
		before := rounds(t, true)
		stream := client.Responses.NewStreaming(ctxT(t), params)
		var done *responses.Response
		var seq int64 = -1
		searching := false
		for stream.Next() {
			ev := stream.Current()
			if ev.SequenceNumber != seq+1 {
				t.Fatalf("sequence_number %d after %d", ev.SequenceNumber, seq)
			}
			seq = ev.SequenceNumber
			searching = searching || ev.Type == "response.web_search_call.searching"
			if ev.Type == "response.completed" {
				r := ev.Response
				done = &r
			}
		}
		if err := stream.Err(); err != nil || done == nil || !searching {
			t.Fatalf("stream: %v (completed %v, searching event %v)", err, done != nil, searching)
		}
		check(t, before, done.Output)
	})
}

// TestWebSearchBilling: searches cost cost_per_result for each result
// used, charged to the caller's key and recorded, in the plugin form and
// in the tool form (where each round reports the searches run before it).
func TestWebSearchBilling(t *testing.T) {
	search, _ := fakeSearXNG(t)
	up := fakeprovider.New(t)
	// An upstream model without a price: what the key spends is the
	// searches alone.
	gw := startGateway(t, fmt.Sprintf(`providers:
  - name: up
    schema: openai
    base_url: %s/v1
models:
  - name: gpt-test
    providers: [{provider: up, model: unpriced-model}]
plugins:
  web: {backend: searxng, base_url: %s, cost_per_result: 0.01}
governance:
  tenants: [{name: team}]
  keys:
    - {id: k1, tenant: team, hash: "%s"}
`, up.URL(), search.URL, keyHash(keyA)))
	spent := func(t *testing.T, want float64) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, b := gwGet(t, gw, "/api/v1/key", keyA)
			got := gjson.GetBytes(b, "data.usage").Float()
			if math.Abs(got-want) < 1e-9 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("key usage %v, want %v: %s", got, want, b)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	t.Run("plugin form", func(t *testing.T) {
		up.Enqueue("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat"))})
		resp, out := gw.post(t, "/v1/chat/completions", []byte(`{"model":"gpt-test","plugins":[{"id":"web"}],"messages":[{"role":"user","content":"What is new in Go 1.26?"}]}`), "authorization", "Bearer "+keyA)
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, out)
		}
		if c := gjson.GetBytes(out, "usage.cost").Float(); math.Abs(c-0.02) > 1e-9 {
			t.Errorf("usage.cost %v, want two results at 0.01: %s", c, gjson.GetBytes(out, "usage").Raw)
		}
		rec := waitGeneration(t, gw, gjson.GetBytes(out, "id").Str, keyA)
		if rec.Get("num_web_searches").Int() != 1 || rec.Get("num_search_results").Int() != 2 || math.Abs(rec.Get("total_cost").Float()-0.02) > 1e-9 {
			t.Errorf("record %s", rec.Raw)
		}
		spent(t, 0.02)
	})

	t.Run("tool form", func(t *testing.T) {
		up.Enqueue("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "web_search_call"))})
		up.Enqueue("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat"))})
		body := `{"model":"gpt-test","max_tokens":200,"tools":[{"type":"web_search_20250305","name":"web_search"}],"messages":[{"role":"user","content":"Search: Go 1.26 release"}]}`
		resp, out := gw.post(t, "/v1/messages", []byte(body), "anthropic-version", "2023-06-01", "x-api-key", keyA)
		if resp.StatusCode != 200 || gjson.GetBytes(out, "usage.server_tool_use.web_search_requests").Int() != 1 {
			t.Fatalf("%d %s", resp.StatusCode, out)
		}
		spent(t, 0.04)
		// A round cannot report searches that do not parse.
		resp, out = gw.post(t, "/v1/chat/completions", []byte(`{"model":"gpt-test","messages":[{"role":"user","content":"hi"}]}`),
			"authorization", "Bearer "+keyA, "x-switchboard-web-searches", "searches=-1;results=5")
		if resp.StatusCode != 400 || !strings.Contains(gjson.GetBytes(out, "error.message").Str, "x-switchboard-web-searches") {
			t.Errorf("%d %s", resp.StatusCode, out)
		}
	})
}

// TestWebServerToolAnthropicProvider: the tool form on an Anthropic-
// schema provider (prefer_native off): the provider gets a custom
// web_search tool, never the server tool, and its tool_use call is run
// by the gateway.
func TestWebServerToolAnthropicProvider(t *testing.T) {
	search, queries := fakeSearXNG(t)
	claude := fakeprovider.New(t)
	gw := startGateway(t, fmt.Sprintf(`providers:
  - {name: claude, schema: anthropic, base_url: "%s", api_key: {env: E2E_ANTHROPIC_KEY}}
models:
  - name: claude-test
    providers: [{provider: claude, model: claude-sonnet-4-5}]
plugins:
  web: {backend: searxng, base_url: %s}
`, claude.URL(), search.URL), "E2E_ANTHROPIC_KEY="+anthropicKey)
	claude.Enqueue("POST", "/v1/messages", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("anthropic", "web_search_call"))},
		fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("anthropic", "text"))})
	resp, out := gw.post(t, "/v1/messages", []byte(`{"model":"claude-test","max_tokens":100,"tools":[{"type":"web_search_20250305","name":"web_search","max_uses":3}],"messages":[{"role":"user","content":"Go 1.26 news"}]}`), "anthropic-version", "2023-06-01")
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, out)
	}
	var types []string
	for _, c := range gjson.GetBytes(out, "content").Array() {
		types = append(types, c.Get("type").Str)
	}
	if strings.Join(types, ",") != "text,server_tool_use,web_search_tool_result,text" || gjson.GetBytes(out, "usage.server_tool_use.web_search_requests").Int() != 1 {
		t.Fatalf("content %v: %s", types, out)
	}
	reqs := claude.Requests()
	if len(reqs) != 2 || len(queries()) != 1 || queries()[0] != "Go 1.26 release" {
		t.Fatalf("%d provider requests, searches %q", len(reqs), queries())
	}
	for i, r := range reqs {
		if tools := gjson.GetBytes(r.Body, "tools").Raw; strings.Contains(tools, "web_search_20250305") || gjson.GetBytes(r.Body, "tools.0.name").Str != "web_search" {
			t.Errorf("round %d tools %s", i+1, tools)
		}
	}
	msgs := gjson.GetBytes(reqs[1].Body, "messages").Array()
	if len(msgs) != 3 || msgs[2].Get("content.0.type").Str != "tool_result" || !strings.Contains(msgs[2].Get("content.0.content").String(), "https://go.dev/blog/go1.26") {
		t.Errorf("round 2 messages %s", gjson.GetBytes(reqs[1].Body, "messages").Raw)
	}
}

// TestWebServerToolPreferNative: with plugins.web.prefer_native, a model
// served only by Anthropic-schema providers gets the server tool itself
// (Anthropic searches); any other model still gets the gateway's search.
func TestWebServerToolPreferNative(t *testing.T) {
	search, queries := fakeSearXNG(t)
	claude, gpt := fakeprovider.New(t), fakeprovider.New(t)
	gw := startGateway(t, fmt.Sprintf(`providers:
  - {name: claude, schema: anthropic, base_url: "%s", api_key: {env: E2E_ANTHROPIC_KEY}}
  - {name: gpt, schema: openai, base_url: "%s/v1"}
models:
  - name: claude-test
    providers: [{provider: claude, model: claude-sonnet-4-5}]
  - name: gpt-test
    providers: [{provider: gpt, model: gpt-4.1-mini}]
plugins:
  web: {backend: searxng, base_url: %s, prefer_native: true}
`, claude.URL(), gpt.URL(), search.URL), "E2E_ANTHROPIC_KEY="+anthropicKey)
	claude.Handle("POST", "/v1/messages", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("anthropic", "text"))})
	gpt.Enqueue("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "web_search_call"))},
		fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat"))})
	body := func(model string) []byte {
		return []byte(`{"model":"` + model + `","max_tokens":100,"tools":[{"type":"web_search_20250305","name":"web_search","max_uses":3}],"messages":[{"role":"user","content":"Go 1.26 news"}]}`)
	}
	resp, out := gw.post(t, "/v1/messages", body("claude-test"), "anthropic-version", "2023-06-01")
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, out)
	}
	if tools := gjson.GetBytes(lastRequest(t, claude).Body, "tools").Raw; !strings.Contains(tools, `"web_search_20250305"`) || len(queries()) != 0 {
		t.Fatalf("native: provider tools %s, gateway searches %q", tools, queries())
	}
	resp, out = gw.post(t, "/v1/messages", body("gpt-test"), "anthropic-version", "2023-06-01")
	if resp.StatusCode != 200 || gjson.GetBytes(out, "content.0.type").Str != "server_tool_use" || len(queries()) != 1 {
		t.Fatalf("gateway search: %d %s; searches %q", resp.StatusCode, out, queries())
	}
}

// TestWebNativeSearch: the web plugin leaves the search to Gemini when
// asked (engine "native") or when plugins.web.prefer_native is set and
// every provider of the model searches itself: the request gets Google
// Search grounding, the backend is not called, and the grounding sources
// come back as url_citation annotations, whole and streamed. A model on
// another schema still gets the gateway's search.
func TestWebNativeSearch(t *testing.T) {
	search, queries := fakeSearXNG(t)
	gem, gpt, claude := fakeprovider.New(t), fakeprovider.New(t), fakeprovider.New(t)
	gw := startGateway(t, fmt.Sprintf(`providers:
  - {name: gem, schema: gemini, base_url: "%s", api_key: {env: E2E_GEMINI_KEY}}
  - {name: gpt, schema: openai, base_url: "%s/v1"}
  - {name: claude, schema: anthropic, base_url: "%s", api_key: {env: E2E_ANTHROPIC_KEY}}
models:
  - name: gemini-test
    providers: [{provider: gem, model: gemini-2.5-flash}]
  - name: gpt-test
    providers: [{provider: gpt, model: gpt-4.1-mini}]
  - name: claude-test
    providers: [{provider: claude, model: claude-sonnet-4-5}]
plugins:
  web: {backend: searxng, base_url: %s, prefer_native: true}
`, gem.URL(), gpt.URL(), claude.URL(), search.URL), "E2E_GEMINI_KEY="+geminiKey, "E2E_ANTHROPIC_KEY="+anthropicKey)
	const generate = "/v1beta/models/gemini-2.5-flash:generateContent"
	const streamPath = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
	grounded := func(t *testing.T) {
		t.Helper()
		if tools := gjson.GetBytes(lastRequest(t, gem).Body, "tools").Raw; tools != `[{"googleSearch":{}}]` || len(queries()) != 0 {
			t.Fatalf("provider tools %s, gateway searches %q", tools, queries())
		}
	}
	t.Run("prefer_native, whole", func(t *testing.T) {
		gem.Handle("POST", generate, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("gemini", "grounding"))})
		resp, out := gw.post(t, "/v1/chat/completions", []byte(`{"model":"gemini-test","plugins":[{"id":"web"}],"messages":[{"role":"user","content":"What is new in Go 1.26?"}]}`))
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, out)
		}
		grounded(t)
		ann := gjson.GetBytes(out, "choices.0.message.annotations").Array()
		if len(ann) != 2 || ann[0].Get("type").Str != "url_citation" || !strings.Contains(ann[0].Get("url_citation.url").Str, "grounding-api-redirect") {
			t.Fatalf("annotations %s", gjson.GetBytes(out, "choices.0.message.annotations").Raw)
		}
	})
	t.Run(":online, prefer_native, streamed", func(t *testing.T) {
		gem.Handle("POST", streamPath, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("gemini", "grounding_stream"))})
		resp, out := gw.post(t, "/v1/chat/completions", []byte(`{"model":"gemini-test:online","stream":true,"messages":[{"role":"user","content":"What is new in Go 1.26?"}]}`))
		if resp.StatusCode != 200 || !strings.Contains(string(out), `"url_citation"`) || !strings.HasSuffix(strings.TrimSpace(string(out)), "data: [DONE]") {
			t.Fatalf("%d %s", resp.StatusCode, out)
		}
		grounded(t)
	})
	t.Run("engine native on Claude, chat", func(t *testing.T) {
		claude.Handle("POST", "/v1/messages", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("anthropic", "web_search"))})
		resp, out := gw.post(t, "/v1/chat/completions", []byte(`{"model":"claude-test","plugins":[{"id":"web","engine":"native"}],"messages":[{"role":"user","content":"What is new in Go 1.26?"}]}`))
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, out)
		}
		if tools := gjson.GetBytes(lastRequest(t, claude).Body, "tools").Raw; !strings.Contains(tools, `"web_search_20250305"`) || len(queries()) != 0 {
			t.Fatalf("provider tools %s, gateway searches %q", tools, queries())
		}
		msg := gjson.GetBytes(out, "choices.0.message")
		if msg.Get("annotations.0.url_citation.url").Str != "https://go.dev/blog/go1.26" || msg.Get("tool_calls").Exists() ||
			gjson.GetBytes(out, "usage.server_tool_use.web_search_requests").Int() != 1 {
			t.Fatalf("answer %s", out)
		}
	})
	t.Run("another schema gets the gateway's search", func(t *testing.T) {
		gpt.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat"))})
		resp, out := gw.post(t, "/v1/chat/completions", []byte(`{"model":"gpt-test","plugins":[{"id":"web"}],"messages":[{"role":"user","content":"What is new in Go 1.26?"}]}`))
		if resp.StatusCode != 200 || len(queries()) != 1 || gjson.GetBytes(lastRequest(t, gpt).Body, "web_search_options").Exists() {
			t.Fatalf("%d %s; searches %q", resp.StatusCode, out, queries())
		}
	})
}
