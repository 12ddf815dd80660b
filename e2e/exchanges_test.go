package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

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
// messages through real Envoy (issue 12): the router hop forwards a small
// body to the upstream hop, which translates it with the request headers,
// and on the plan's last attempt leaves the response to the router hop.
// So the upstream hop takes one message and answers one; a stream's
// upstream hop keeps its response (it holds the first byte for the
// per-try timeout).
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
			if d, e := upSent2-upSent, upRecv2-upRecv; d != n || e != n {
				t.Errorf("upstream hop: %d messages to switchboard and %d back for %d answers, want %d each (the request headers only)", d, e, n, n)
			}
			// Request headers, body, response headers and its body's
			// chunks (Envoy's HTTP/1 codec may end it with an empty one).
			if d := rSent2 - rSent; d > 5*n || d < 4*n {
				t.Errorf("router hop: %d messages for %d answers, want 4 to 5 each", d, n)
			}
			t.Logf("%s: router %d/%d, upstream %d/%d messages per answer", model, (rSent2-rSent)/n, (rRecv2-rRecv)/n, (upSent2-upSent)/n, (upRecv2-upRecv)/n)
		})
	}
}
