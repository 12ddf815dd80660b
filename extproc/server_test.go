package extproc

import (
	"errors"
	"io"
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/tidwall/gjson"
	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/switchboard-gw/switchboard/xds"
)

// TestMain fails the package if any test leaves a goroutine behind: no
// stream handler, gRPC server or connection may outlive its test.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestConfigSwap changes the Store between two streams: the second one
// must see the new config without a restart; the first keeps its own.
func TestConfigSwap(t *testing.T) {
	h := newHarness(t, mustLoad(t, testYAML))
	// route returns the plan the router hop makes for gpt-4o.
	route := func(s *envoyStream) string {
		t.Helper()
		continued(t, s.send(postHeaders()))
		resp := s.send(requestBody(chatBody("gpt-4o", false)))
		continued(t, resp)
		return resp.GetDynamicMetadata().GetFields()[xds.RequestNamespace].GetStructValue().GetFields()["plan"].GetStringValue()
	}

	before := h.open(t, xds.HopRouter)
	inFlight := h.startUpstream(t, "openai", "gpt-4o", chatBody("gpt-4o", false))
	if got := route(before); got != "openai|gpt-4o" {
		t.Fatalf("before the swap: plan = %q, want openai|gpt-4o", got)
	}
	h.store.Set(mustLoad(t, swappedYAML))

	if got := route(h.open(t, xds.HopRouter)); got != "anthropic|gpt-4o" {
		t.Errorf("after the swap: plan = %q, want anthropic|gpt-4o", got)
	}
	// An attempt sent to the removed provider's cluster is refused.
	s := h.open(t, xds.HopUpstream)
	checkImmediate(t, s.send(upstreamHeaders("openai", "gpt-4o")), 503, "provider_unavailable")
	// An attempt on the new provider gets the new upstream model.
	s = h.open(t, xds.HopUpstream)
	continued(t, s.send(upstreamHeaders("anthropic", "gpt-4o")))
	sent := chatBody("gpt-4o", false)
	if got := gjson.GetBytes(bodyOut(sent, continued(t, s.send(requestBody(sent)))), "model").Str; got != "claude-opus-4-1" {
		t.Errorf("after the swap: upstream model = %q, want claude-opus-4-1", got)
	}
	// The stream started before the swap finishes on the old config.
	chat := readTranscript(t, "openai", "chat")
	continued(t, inFlight.send(responseHeaders(false, chat.headers...)))
	if c := continued(t, inFlight.send(responseBody(chat.body, true))); len(c.GetBodyMutation().GetBody()) == 0 {
		t.Error("in-flight stream lost its answer after the swap")
	}
}

// TestCanceledStream cancels streams mid-way, as Envoy does when the client
// goes away: Process must return nil and leave nothing running.
func TestCanceledStream(t *testing.T) {
	tests := []struct {
		name      string
		hop       string
		drive     func(t *testing.T, h *harness, s *envoyStream)
		wantAbort bool // the upstream hop logs the aborted completion
	}{
		{
			name: "router hop after the headers",
			hop:  xds.HopRouter,
			drive: func(t *testing.T, _ *harness, s *envoyStream) {
				continued(t, s.send(postHeaders()))
			},
		},
		{
			name: "upstream hop mid-stream",
			hop:  xds.HopUpstream,
			drive: func(t *testing.T, _ *harness, s *envoyStream) {
				tr := readTranscript(t, "anthropic", "text_stream")
				continued(t, s.send(upstreamHeaders("anthropic", "claude-sonnet")))
				continued(t, s.send(requestBody(chatBody("claude-sonnet", true))))
				s.streamHeaders(responseHeaders(false, tr.headers...))
				continued(t, s.send(responseBody(tr.body[:len(tr.body)/2], false)))
				continued(t, s.heldHeaders())
			},
			wantAbort: true,
		},
		{
			name:  "before any message",
			hop:   xds.HopUpstream,
			drive: func(*testing.T, *harness, *envoyStream) {},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, mustLoad(t, testYAML))
			s := h.open(t, tc.hop)
			tc.drive(t, h, s)
			s.cancel()
			if err := h.waitEnded(t); err != nil {
				t.Errorf("Process returned %v, want nil", err)
			}
			if got := h.logs.FilterMessage("completion aborted").Len(); (got == 1) != tc.wantAbort {
				t.Errorf("%d 'completion aborted' logs, want aborted = %v", got, tc.wantAbort)
			}
		})
	}
}

// TestPassThrough covers streams with no hop metadata: every phase
// continues unchanged.
func TestPassThrough(t *testing.T) {
	h := newHarness(t, mustLoad(t, testYAML))
	s := h.open(t, "")
	for _, req := range []*extprocv3.ProcessingRequest{
		postHeaders("x-switchboard-provider", "openai"),
		requestBody([]byte("not json")),
		responseHeaders(false, ":status", "500"),
		responseBody([]byte("raw"), true),
	} {
		c := continued(t, s.send(req))
		if c.GetHeaderMutation() != nil || c.GetBodyMutation() != nil || c.GetClearRouteCache() {
			t.Errorf("%T: want an unchanged continue, got %v", req.GetRequest(), c)
		}
	}
	s.close()
	if err := h.waitEnded(t); err != nil {
		t.Errorf("Process returned %v", err)
	}
}

// TestNoConfig: before the first config is loaded, streams fail with
// Unavailable so Envoy applies status_on_error.
func TestNoConfig(t *testing.T) {
	h := newHarness(t, nil)
	s := h.open(t, xds.HopRouter)
	// The server may end the stream before reading: Send then sees io.EOF
	// and Recv the status.
	if err := s.stream.Send(postHeaders()); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	if _, err := s.stream.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("Recv error = %v, want code Unavailable", err)
	}
	if err := h.waitEnded(t); status.Code(err) != codes.Unavailable {
		t.Errorf("Process returned %v, want code Unavailable", err)
	}
}
