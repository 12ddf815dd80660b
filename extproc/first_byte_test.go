package extproc

import (
	"testing"

	"github.com/switchboard-gw/switchboard/xds"
)

// TestUpstreamStreamWaitsForFirstByte: a stream's response headers are
// answered only with its first body chunk, so Envoy's router sees no
// headers, and the per-try timeout still runs, until the provider has sent
// a byte of the answer. The hop asks Envoy to wait for that long enough.
func TestUpstreamStreamWaitsForFirstByte(t *testing.T) {
	cfg := mustLoad(t, testYAML)
	h := newHarness(t, cfg)
	tr := readTranscript(t, "anthropic", "text_stream")
	s := h.startUpstream(t, "anthropic", "claude-sonnet", chatBody("claude-sonnet", true))
	if got, want := s.streamHeaders(responseHeaders(false, tr.headers...)), xds.FirstByteWait(cfg.Routing.PerTryTimeout.D()); got != want {
		t.Errorf("override_message_timeout = %v, want %v", got, want)
	}
	chunks := split(tr.body, 40)
	first := bodyOut(chunks[0], continued(t, s.send(responseBody(chunks[0], false))))
	m := readMutation(continued(t, s.heldHeaders()).GetHeaderMutation())
	if m.set["content-type"] != "text/event-stream" || m.set[xds.ProviderHeader] != "anthropic" {
		t.Errorf("held headers answer sets %v, want the stream's headers", m.set)
	}
	rest := bodyOut(chunks[1], continued(t, s.send(responseBody(chunks[1], true))))
	if len(sseData(t, append(first, rest...))) < 2 {
		t.Errorf("stream translated to %q", append(first, rest...))
	}
	s.close()
	if err := h.waitEnded(t); err != nil {
		t.Errorf("Process returned %v", err)
	}
}
