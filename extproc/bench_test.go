package extproc

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"go.uber.org/zap"

	"github.com/switchboard-gw/switchboard/config"
)

// The benchmarks call the processors directly: the cost of one phase
// without gRPC.

func benchServer(b *testing.B) (*Server, *config.Store) {
	b.Helper()
	st := &config.Store{}
	st.Set(mustLoad(b, testYAML))
	s, err := NewServer(zap.NewNop(), st)
	if err != nil {
		b.Fatal(err)
	}
	return s, st
}

// typicalChat is a ~2 KB chat request: a system prompt, a few turns and
// sampling parameters.
func typicalChat(b *testing.B, model string, stream bool) []byte {
	b.Helper()
	body := conversation(b, model, stream, 4)
	if len(body) < 1800 || len(body) > 2300 {
		b.Fatalf("typical request is %d bytes, want about 2 KB", len(body))
	}
	return body
}

// longChat is a ~100 KB conversation, as agents and coding assistants
// send: the work per request must grow with the body once, not once per
// field read.
func longChat(b *testing.B, model string, stream bool) []byte {
	b.Helper()
	body := conversation(b, model, stream, 340)
	if len(body) < 90_000 || len(body) > 120_000 {
		b.Fatalf("long request is %d bytes, want about 100 KB", len(body))
	}
	return body
}

// conversation is a chat request with a system prompt, turns earlier
// turns and sampling parameters.
func conversation(b *testing.B, model string, stream bool, turns int) []byte {
	b.Helper()
	turn := strings.Repeat("The gateway routes each request to a provider. ", 6)
	msgs := []map[string]string{{"role": "system", "content": "You are a helpful assistant. Answer briefly and cite sources when you can."}}
	for i := range turns {
		msgs = append(msgs, map[string]string{"role": []string{"user", "assistant"}[i%2], "content": turn})
	}
	msgs = append(msgs, map[string]string{"role": "user", "content": turn + "Summarize the above in one sentence."})
	body, err := json.Marshal(map[string]any{
		"model": model, "stream": stream, "temperature": 0.7, "max_tokens": 512, "user": "user-1234", "messages": msgs,
	})
	if err != nil {
		b.Fatal(err)
	}
	return body
}

func BenchmarkRouterRequestBody(b *testing.B) {
	for _, size := range []struct {
		name string
		body func(*testing.B, string, bool) []byte
	}{{"2KB", typicalChat}, {"100KB", longChat}} {
		// direct: the router hop also translates the request for the
		// provider's direct cluster (direct.go), here Anthropic's.
		for _, direct := range []bool{false, true} {
			name, model := size.name, "gpt-4o"
			if direct {
				name, model = size.name+"/direct", "claude-sonnet"
			}
			b.Run(name, func(b *testing.B) {
				s, st := benchServer(b)
				ctx := context.Background()
				hdrs := postHeaders("x-switchboard-provider", "anthropic").GetRequestHeaders()
				body := &extprocv3.HttpBody{Body: size.body(b, model, false), EndOfStream: true}
				b.SetBytes(int64(len(body.Body)))
				b.ReportAllocs()
				for b.Loop() {
					p := &routerProcessor{s: s, cfg: st.Current(), directOK: direct}
					p.requestHeaders(ctx, hdrs, nil)
					r := p.requestBody(ctx, body)
					if r.GetRequestBody() == nil || p.direct != direct {
						b.Fatalf("unexpected response %v (direct %v)", r, p.direct)
					}
				}
			})
		}
	}
}

func BenchmarkUpstreamRequestBody(b *testing.B) {
	for _, bc := range []struct {
		name, provider, model string
		body                  func(*testing.B, string, bool) []byte
	}{
		{"openai", "openai", "gpt-4o", typicalChat},
		{"anthropic", "anthropic", "claude-sonnet", typicalChat},
		{"openai_100KB", "openai", "gpt-4o", longChat},
		{"anthropic_100KB", "anthropic", "claude-sonnet", longChat},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, st := benchServer(b)
			ctx := context.Background()
			req := upstreamHeaders(bc.provider, bc.model)
			body := &extprocv3.HttpBody{Body: bc.body(b, bc.model, true), EndOfStream: true}
			b.SetBytes(int64(len(body.Body)))
			b.ReportAllocs()
			for b.Loop() {
				p := &upstreamProcessor{s: s, cfg: st.Current()}
				p.requestHeaders(ctx, req.GetRequestHeaders(), req.GetMetadataContext())
				if r := p.requestBody(ctx, body); r.GetRequestBody() == nil {
					b.Fatalf("unexpected response %v", r)
				}
			}
		})
	}
}

// BenchmarkUpstreamStreamChunk is the steady state of a streamed Anthropic
// answer: one text_delta event per response body chunk.
func BenchmarkUpstreamStreamChunk(b *testing.B) {
	s, st := benchServer(b)
	ctx := context.Background()
	p := &upstreamProcessor{s: s, cfg: st.Current()}
	req := upstreamHeaders("anthropic", "claude-sonnet")
	p.requestHeaders(ctx, req.GetRequestHeaders(), req.GetMetadataContext())
	p.requestBody(ctx, &extprocv3.HttpBody{Body: chatBody("claude-sonnet", true), EndOfStream: true})
	p.responseHeaders(ctx, httpHeaders(false, []string{":status", "200", "content-type", "text/event-stream; charset=utf-8"}), nil)
	start := &extprocv3.HttpBody{Body: []byte("event: message_start\n" +
		`data: {"type":"message_start","message":{"model":"claude-sonnet-4-5-20250929","id":"msg_01HCcX4Ahx1hUoUbbVyJBrfq","type":"message","role":"assistant","content":[],"stop_reason":null,"usage":{"input_tokens":18,"output_tokens":1}}}` + "\n\n" +
		"event: content_block_start\n" + `data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}` + "\n\n")}
	p.responseBody(ctx, start)
	delta := &extprocv3.HttpBody{Body: []byte("event: content_block_delta\n" +
		`data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" flow through, one door"}}` + "\n\n")}
	if out := p.responseBody(ctx, delta).GetResponseBody().GetResponse().GetBodyMutation().GetBody(); !strings.Contains(string(out), "one door") {
		b.Fatalf("text_delta translated to %q", out)
	}
	b.SetBytes(int64(len(delta.Body)))
	b.ReportAllocs()
	for b.Loop() {
		p.responseBody(ctx, delta)
	}
}
