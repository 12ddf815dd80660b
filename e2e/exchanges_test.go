package e2e

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3/option"
	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

// hopMessages sums Envoy's ext_proc message counters of one hop (its stat
// prefix) over every filter instance: Envoy -> switchboard, and back.
func hopMessages(t *testing.T, gw *gateway, hop string) (sent, received int) {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/stats?filter=%s", gw.adminPort, hop+`\.stream_msgs_`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, v, ok := strings.Cut(line, ": ")
		n, err := strconv.Atoi(v)
		if !ok || err != nil {
			continue
		}
		switch {
		case strings.HasSuffix(name, ".stream_msgs_sent"):
			sent += n
		case strings.HasSuffix(name, ".stream_msgs_received"):
			received += n
		}
	}
	return sent, received
}

// TestExchangesPerAnswer counts what a whole answer costs in ext_proc
// messages through real Envoy (issue 12): a plan of one attempt on one
// provider needs no upstream hop, so the router hop translates the
// request itself, sends it to the provider's direct cluster and answers
// the response (extproc/direct.go). One gRPC stream per answer, and the
// upstream hop takes no message.
func TestExchangesPerAnswer(t *testing.T) {
	s := newChatSetup(t)
	s.openai.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat"))})
	s.anthropic.Handle("POST", "/v1/messages", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("anthropic", "text"))})
	for _, model := range []string{"gpt-test", "claude-test"} {
		t.Run(model, func(t *testing.T) {
			upSent, upRecv := hopMessages(t, s.gw, "switchboard_upstream")
			rSent, rRecv := hopMessages(t, s.gw, "switchboard_router")
			const n = 3
			for range n {
				got, err := s.client.Chat.Completions.New(ctxT(t), userParams(model, "Say hello"))
				if err != nil {
					t.Fatal(err)
				}
				if len(got.Choices) == 0 || got.Choices[0].Message.Content == "" || got.Usage.TotalTokens == 0 {
					t.Fatalf("answer = %+v", got)
				}
			}
			upSent2, upRecv2 := hopMessages(t, s.gw, "switchboard_upstream")
			rSent2, rRecv2 := hopMessages(t, s.gw, "switchboard_router")
			if d, e := upSent2-upSent, upRecv2-upRecv; d != 0 || e != 0 {
				t.Errorf("upstream hop: %d messages to switchboard and %d back for %d answers, want none (a direct cluster)", d, e, n)
			}
			// Request headers, the body's chunks, response headers and
			// its body's chunks; Envoy's HTTP/1 codec may end a body
			// with an empty chunk, on either side.
			if d := rSent2 - rSent; d > 6*n || d < 4*n {
				t.Errorf("router hop: %d messages for %d answers, want 4 to 6 each", d, n)
			}
			// Back: the request headers' answer with the body
			// (extproc/joined.go) and the response headers' answer with
			// the translated body (held for it, with no message to wait
			// unless the body is slow; CONTINUE_AND_REPLACE, so no answer
			// per chunk): two.
			if e := rRecv2 - rRecv; e != 2*n {
				t.Errorf("router hop: %d answers for %d answers, want 2 each", e, n)
			}
			t.Logf("%s: router %d/%d, upstream %d/%d messages per answer", model, (rSent2-rSent)/n, (rRecv2-rRecv)/n, (upSent2-upSent)/n, (upRecv2-upRecv)/n)
		})
	}
}

// TestStreamExchanges: a stream on a one-provider plan takes the direct
// cluster too (no upstream hop message), its headers held for the first
// byte by the router hop.
func TestStreamExchanges(t *testing.T) {
	s := newChatSetup(t)
	s.anthropic.Handle("POST", "/v1/messages", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("anthropic", "text_stream"))})
	upSent, upRecv := hopMessages(t, s.gw, "switchboard_upstream")
	rSent, rRecv := hopMessages(t, s.gw, "switchboard_router")
	const n = 3
	for range n {
		st := s.client.Chat.Completions.NewStreaming(ctxT(t), userParams("claude-test", "Say hello"))
		var text string
		for st.Next() {
			if c := st.Current(); len(c.Choices) > 0 {
				text += c.Choices[0].Delta.Content
			}
		}
		if err := st.Err(); err != nil || text == "" {
			t.Fatalf("stream: %q, %v", text, err)
		}
	}
	upSent2, upRecv2 := hopMessages(t, s.gw, "switchboard_upstream")
	rSent2, rRecv2 := hopMessages(t, s.gw, "switchboard_router")
	if d, e := upSent2-upSent, upRecv2-upRecv; d != 0 || e != 0 {
		t.Errorf("upstream hop: %d messages to switchboard and %d back for %d streams, want none (a direct cluster)", d, e, n)
	}
	t.Logf("router %d/%d, upstream %d/%d messages per stream", (rSent2-rSent)/n, (rRecv2-rRecv)/n, (upSent2-upSent)/n, (upRecv2-upRecv)/n)
}

// TestDirectRequestHeaders: what a provider gets from a direct cluster is
// what it gets through the upstream hop (a plan with a fallback takes
// that path): the provider's path, host and key, and none of the
// client's credentials, SDK headers or the gateway's and Envoy's own.
func TestDirectRequestHeaders(t *testing.T) {
	s := newChatSetup(t)
	s.anthropic.Handle("POST", "/v1/messages", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("anthropic", "text"))})
	extra := []option.RequestOption{option.WithHeader("x-custom-client", "c"), option.WithHeader("x-switchboard-provider", "forged"),
		option.WithHeader("x-envoy-retry-on", "5xx"), option.WithHeader("cookie", "session=1")}
	upSent, _ := hopMessages(t, s.gw, "switchboard_upstream")
	if _, err := s.client.Chat.Completions.New(ctxT(t), userParams("claude-test", "Say hello"), extra...); err != nil {
		t.Fatal(err)
	}
	if n, _ := hopMessages(t, s.gw, "switchboard_upstream"); n != upSent {
		t.Fatalf("the whole answer took the upstream hop (%d messages)", n-upSent)
	}
	// A fallback model after the first: the first attempt, on the same
	// provider, goes through the upstream hop.
	withFallback := append(extra, option.WithJSONSet("models", []string{"claude-test", "gpt-test"}))
	if _, err := s.client.Chat.Completions.New(ctxT(t), userParams("claude-test", "Say hello"), withFallback...); err != nil {
		t.Fatal(err)
	}
	if n, _ := hopMessages(t, s.gw, "switchboard_upstream"); n == upSent {
		t.Fatal("the plan with a fallback did not take the upstream hop")
	}
	recs := s.anthropic.Requests()
	if len(recs) != 2 {
		t.Fatalf("provider got %d requests, want 2", len(recs))
	}
	direct, hooked := recs[0], recs[1]
	names := func(h http.Header) []string {
		var out []string
		for k := range h {
			if k := strings.ToLower(k); k != "content-length" && k != "transfer-encoding" {
				out = append(out, k)
			}
		}
		slices.Sort(out)
		return out
	}
	if d, u := names(direct.Header), names(hooked.Header); !slices.Equal(d, u) {
		t.Errorf("direct request headers %q, through the upstream hop %q", d, u)
	}
	for _, k := range names(direct.Header) {
		if strings.HasPrefix(k, "x-envoy-") || strings.HasPrefix(k, "x-switchboard-") || strings.HasPrefix(k, "x-forwarded-") ||
			strings.HasPrefix(k, "x-stainless") || k == "x-request-id" || k == "x-custom-client" || k == "cookie" || k == "authorization" || k == "user-agent" {
			t.Errorf("provider got %s: %q", k, direct.Header.Values(k))
		}
	}
	if direct.Path != "/v1/messages" || direct.Header.Get("x-api-key") != anthropicKey || direct.Host != hooked.Host {
		t.Errorf("direct request: path %s, key %q, host %q (through the upstream hop: %q)", direct.Path, direct.Header.Get("x-api-key"), direct.Host, hooked.Host)
	}
	if gjson.GetBytes(direct.Body, "model").Str != "claude-sonnet-4-5-20250929" || !gjson.GetBytes(direct.Body, "messages").IsArray() {
		t.Errorf("direct body = %s", direct.Body)
	}
	if strings.Contains(string(direct.Body), clientKey) {
		t.Error("client key in the provider body")
	}
}
