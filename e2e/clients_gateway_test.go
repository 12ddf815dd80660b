package e2e

// The real clients through the real gateway (issue 11): Claude Code, the
// Codex CLI and the Python openai SDK talk to Envoy + switchboard, which
// serves them from fake providers in Anthropic's and OpenAI's wire format.
// Each test asserts what the fake provider received and what the client
// printed. A recording proxy between client and gateway keeps the
// gateway's response headers (x-switchboard-dropped-params), which the
// clients themselves never print.

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

// clientsGateway is a gateway whose models all map to one fake provider
// of schema ("anthropic" or "openai").
type clientsGateway struct {
	gw   *gateway
	fake *fakeprovider.Server
	// path is where the fake is asked: /v1/messages or /v1/chat/completions.
	path  string
	proxy *headerProxy
}

// startClientsGateway maps each public model name in models to the
// upstream id "upstream-"+name on one fake provider of schema.
func startClientsGateway(t *testing.T, schema string, models ...string) *clientsGateway {
	t.Helper()
	return startClientsGatewayWith(t, schema, "", models...)
}

// startClientsGatewayWith is startClientsGateway with more config (top
// level YAML, such as a plugins block).
func startClientsGatewayWith(t *testing.T, schema, extra string, models ...string) *clientsGateway {
	t.Helper()
	c := &clientsGateway{fake: fakeprovider.New(t)}
	base, key := c.fake.URL(), anthropicKey
	c.path = "/v1/messages"
	if schema == "openai" {
		base, key, c.path = c.fake.URL()+"/v1", openAIKey, "/v1/chat/completions"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "providers:\n  - name: fake-%s\n    schema: %s\n    base_url: %s\n    api_key: {env: E2E_CLIENTS_KEY}\nmodels:\n", schema, schema, base)
	for _, m := range models {
		fmt.Fprintf(&b, "  - name: %s\n    providers: [{provider: fake-%s, model: upstream-%s}]\n", m, schema, m)
	}
	b.WriteString(extra)
	c.gw = startGateway(t, b.String(), "E2E_CLIENTS_KEY="+key)
	c.proxy = startHeaderProxy(t, c.gw.url(""))
	return c
}

// enqueue queues SSE answers, one per provider request, in order.
func (c *clientsGateway) enqueue(t *testing.T, bodies ...string) {
	t.Helper()
	for _, b := range bodies {
		tr, err := fakeprovider.ParseTranscript("inline", []byte("HTTP/1.1 200 OK\ncontent-type: text/event-stream\n\n"+b))
		if err != nil {
			t.Fatal(err)
		}
		c.fake.Enqueue("POST", c.path, fakeprovider.Reply{Transcript: tr})
	}
}

// headerProxy passes requests to the gateway unchanged, streaming, and
// keeps the response headers of each.
type headerProxy struct {
	url string
	mu  sync.Mutex
	got []http.Header
}

func startHeaderProxy(t *testing.T, target string) *headerProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &headerProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1
	rp.ModifyResponse = func(r *http.Response) error {
		p.mu.Lock()
		p.got = append(p.got, r.Header.Clone())
		p.mu.Unlock()
		return nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: rp}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	p.url = "http://" + l.Addr().String()
	return p
}

func (p *headerProxy) headers() []http.Header {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]http.Header(nil), p.got...)
}

// dropped is every x-switchboard-dropped-params value the gateway sent
// from the from-th answer on (0: all).
func (p *headerProxy) dropped(from int) []string {
	set := map[string]bool{}
	var out []string
	for _, h := range p.headers()[from:] {
		for _, v := range strings.Split(h.Get("x-switchboard-dropped-params"), ",") {
			if v = strings.TrimSpace(v); v != "" && !set[v] {
				set[v] = true
				out = append(out, v)
			}
		}
	}
	return out
}

// Anthropic Messages SSE answers.

func anthropicEvents(model, stop string, block, delta map[string]any) string {
	var b strings.Builder
	ev := func(typ string, data map[string]any) {
		data["type"] = typ
		j, _ := json.Marshal(data)
		fmt.Fprintf(&b, "event: %s\ndata: %s\n\n", typ, j)
	}
	ev("message_start", map[string]any{"message": map[string]any{"id": "msg_fake_1", "type": "message", "role": "assistant", "model": model,
		"content": []any{}, "stop_reason": nil, "stop_sequence": nil, "usage": map[string]any{"input_tokens": 30, "output_tokens": 1}}})
	ev("content_block_start", map[string]any{"index": 0, "content_block": block})
	ev("ping", map[string]any{})
	ev("content_block_delta", map[string]any{"index": 0, "delta": delta})
	ev("content_block_stop", map[string]any{"index": 0})
	ev("message_delta", map[string]any{"delta": map[string]any{"stop_reason": stop, "stop_sequence": nil}, "usage": map[string]any{"output_tokens": 7}})
	ev("message_stop", map[string]any{})
	return b.String()
}

func anthropicTextSSE(model, text string) string {
	return anthropicEvents(model, "end_turn", map[string]any{"type": "text", "text": ""}, map[string]any{"type": "text_delta", "text": text})
}

func anthropicToolSSE(model, id, name string, input map[string]any) string {
	args, _ := json.Marshal(input)
	return anthropicEvents(model, "tool_use", map[string]any{"type": "tool_use", "id": id, "name": name, "input": map[string]any{}},
		map[string]any{"type": "input_json_delta", "partial_json": string(args)})
}

// OpenAI chat SSE answers.

func chatChunks(model string, deltas []map[string]any, finish string) string {
	var b strings.Builder
	chunk := func(choices []any, usage any) {
		m := map[string]any{"id": "chatcmpl-fake1", "object": "chat.completion.chunk", "created": 1767225600, "model": model, "choices": choices}
		if usage != nil {
			m["usage"] = usage
		}
		j, _ := json.Marshal(m)
		fmt.Fprintf(&b, "data: %s\n\n", j)
	}
	for i, d := range deltas {
		if i == 0 {
			d["role"] = "assistant"
		}
		chunk([]any{map[string]any{"index": 0, "delta": d, "finish_reason": nil}}, nil)
	}
	chunk([]any{map[string]any{"index": 0, "delta": map[string]any{}, "finish_reason": finish}}, nil)
	chunk([]any{}, map[string]any{"prompt_tokens": 30, "completion_tokens": 7, "total_tokens": 37})
	b.WriteString("data: [DONE]\n\n")
	return b.String()
}

func chatTextSSE(model, text string) string {
	return chatChunks(model, []map[string]any{{"content": ""}, {"content": text}}, "stop")
}

func chatToolSSE(model, id, name string, args map[string]any) string {
	a, _ := json.Marshal(args)
	return chatChunks(model, []map[string]any{
		{"content": nil, "tool_calls": []any{map[string]any{"index": 0, "id": id, "type": "function", "function": map[string]any{"name": name, "arguments": ""}}}},
		{"tool_calls": []any{map[string]any{"index": 0, "function": map[string]any{"arguments": string(a)}}}},
	}, "tool_calls")
}

// fakeBody decodes a request the fake provider received.
func fakeBody(t *testing.T, r fakeprovider.Recorded) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("%s %s: body: %v\n%s", r.Method, r.Path, err, r.Body)
	}
	return m
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
