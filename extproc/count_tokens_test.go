package extproc

import (
	"strconv"
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchboard-gw/switchboard/translators"
	"github.com/switchboard-gw/switchboard/xds"
)

// countAttempt opens an upstream-hop stream for a count_tokens attempt.
func countAttempt(t *testing.T, h *harness, provider, model string) (*envoyStream, *extprocv3.ProcessingResponse) {
	t.Helper()
	req := attempt{provider: provider, model: model, n: 1}.headers()
	req.GetMetadataContext().GetFilterMetadata()[xds.RequestNamespace].Fields["endpoint"] = structpb.NewStringValue("/v1/messages/count_tokens")
	s := h.open(t, xds.HopUpstream)
	continued(t, s.send(req))
	return s, s.send(requestBody([]byte(`{"model":"` + model + `","messages":[{"role":"user","content":"hello world"}]}`)))
}

// A native count is answered as the provider counted, and recorded as a
// healthy attempt with no latency figure and no tokens: it is no
// completion.
func TestUpstreamCountTokensNative(t *testing.T) {
	h := newHarness(t, mustLoad(t, testYAML))
	s, r := countAttempt(t, h, "anthropic", "claude-sonnet")
	if m := readMutation(continued(t, r).GetHeaderMutation()); m.set[":path"] != "/v1/messages/count_tokens" {
		t.Fatalf(":path = %q", m.set[":path"])
	}
	body := `{"input_tokens":42}`
	answers := s.respond(responseHeaders(false, ":status", "200", "content-type", "application/json", "content-length", strconv.Itoa(len(body))),
		responseBody([]byte(body), true))
	if got := string(continued(t, answers[1]).GetBodyMutation().GetBody()); got != body {
		t.Errorf("body %s", got)
	}
	s.close()
	_ = h.waitEnded(t)
	rows := h.srv.Stats().Snapshot()
	if len(rows) != 1 || rows[0].OK != 1 || rows[0].TTFTSeconds != 0 {
		t.Errorf("stats %+v, want one healthy attempt without a TTFT", rows)
	}
	if h.logs.FilterMessage("completion").Len() != 0 || h.logs.FilterMessage("token count").Len() != 1 {
		t.Errorf("logged %v", h.logs.All())
	}
}

// A provider with no counting API gets no request: the hop answers a
// marked estimate itself.
func TestUpstreamCountTokensEstimate(t *testing.T) {
	h := newHarness(t, mustLoad(t, testYAML))
	_, r := countAttempt(t, h, "openai", "gpt-4o")
	ir := r.GetImmediateResponse()
	if ir == nil || ir.GetStatus().GetCode() != 200 || string(ir.GetBody()) != `{"input_tokens":6}` { // "hello world": 2 tokens, 4 for the message
		t.Fatalf("answer %v", r)
	}
	if m := readMutation(ir.GetHeaders()); m.set[translators.TokenCountHeader] != "estimate" {
		t.Errorf("headers %v", m.set)
	}
	if rows := h.srv.Stats().Snapshot(); len(rows) != 0 {
		t.Errorf("an estimate was recorded as an attempt: %+v", rows)
	}
}
