package extproc

import (
	"strconv"
	"strings"
	"testing"
)

// TestUpstreamGarbageUnder200: a 2xx whose body is not an answer of the
// expected shape is an upstream failure: 502 with a code (so Envoy falls
// back while the headers are still held), and it counts against the
// provider's health. Before, it went out as a 200 decorated with
// "provider".
func TestUpstreamGarbageUnder200(t *testing.T) {
	tests := []struct {
		name, provider, model, contentType, body string
		wantMsg                                  string
	}{
		{name: "openai error object", provider: "openai", model: "gpt-4o", contentType: "application/json",
			body: `{"error":{"message":"quota exhausted","type":"insufficient_quota"}}`, wantMsg: "quota exhausted"},
		{name: "openai empty object", provider: "openai", model: "gpt-4o", contentType: "application/json", body: `{}`},
		{name: "openai empty choices", provider: "openai", model: "gpt-4o", contentType: "application/json", body: `{"id":"x","choices":[]}`},
		{name: "openai SSE to a whole request", provider: "openai", model: "gpt-4o", contentType: "text/event-stream",
			body: "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n"},
		{name: "anthropic empty object", provider: "anthropic", model: "claude-sonnet", contentType: "application/json", body: `{}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, mustLoad(t, testYAML))
			s := h.startUpstream(t, tc.provider, tc.model, chatBody(tc.model, false))
			answers := s.respond(responseHeaders(false, ":status", "200", "content-type", tc.contentType, "content-length", strconv.Itoa(len(tc.body))),
				responseBody([]byte(tc.body), true))
			m := readMutation(continued(t, answers[0]).GetHeaderMutation())
			if m.set[":status"] != "502" {
				t.Errorf(":status = %q, want 502", m.set[":status"])
			}
			e := decodeError(t, continued(t, answers[1]).GetBodyMutation().GetBody())
			if e.code() != "bad_upstream_response" {
				t.Errorf("error.code = %q, want bad_upstream_response", e.code())
			}
			if tc.wantMsg != "" && !strings.Contains(e.Error.Message, tc.wantMsg) {
				t.Errorf("message %q lacks the provider's %q", e.Error.Message, tc.wantMsg)
			}
			s.close()
			_ = h.waitEnded(t)
			rows := h.srv.Stats().Snapshot()
			if len(rows) != 1 || rows[0].Failed != 1 || rows[0].OK != 0 {
				t.Errorf("health rows = %+v, want one failure", rows)
			}
		})
	}
}
