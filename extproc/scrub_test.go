package extproc

import (
	"strings"
	"testing"
)

// TestUpstreamErrorScrubsCredentials: a provider error that quotes the
// request's credentials reaches the client with them cut out, whatever
// the status (401 and 403 are replaced whole elsewhere).
func TestUpstreamErrorScrubsCredentials(t *testing.T) {
	h := newHarness(t, mustLoad(t, testYAML))
	tests := []struct {
		name, provider, model, status, body string
		secrets                             []string
	}{
		{
			name: "openai 400 quoting the authorization header", provider: "openai", model: "gpt-4o", status: "400",
			body:    `{"error":{"message":"Invalid header 'authorization: Bearer ` + openAIKey + `' in request","type":"invalid_request_error","code":null}}`,
			secrets: []string{openAIKey},
		},
		{
			name: "anthropic 429 quoting x-api-key", provider: "anthropic", model: "claude-sonnet", status: "429",
			body:    `{"type":"error","error":{"type":"rate_limit_error","message":"too many requests for x-api-key ` + anthropicKey + `"}}`,
			secrets: []string{anthropicKey},
		},
		{
			name: "openai 500 quoting keys it was never sent", provider: "openai", model: "gpt-4o", status: "500",
			body:    `{"error":{"message":"upstream said: api_key=abcdefghijklmnop, token Bearer eyJhbGciOiJIUzI1NiJ9.e30.x, key AKIAIOSFODNN7EXAMPLE and sk-proj-AAAABBBBCCCCDDDD","type":"server_error"}}`,
			secrets: []string{"abcdefghijklmnop", "eyJhbGciOiJIUzI1NiJ9", "AKIAIOSFODNN7EXAMPLE", "sk-proj-AAAABBBBCCCCDDDD"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := h.startUpstream(t, tc.provider, tc.model, chatBody(tc.model, false))
			answers := s.respond(responseHeaders(false, ":status", tc.status, "content-type", "application/json"), responseBody([]byte(tc.body), true))
			body := continued(t, answers[len(answers)-1]).GetBodyMutation().GetBody()
			e := decodeError(t, body)
			for _, sec := range tc.secrets {
				if strings.Contains(string(body), sec) {
					t.Errorf("client error shows %q: %s", sec, body)
				}
			}
			if !strings.Contains(e.Error.Message, redacted) {
				t.Errorf("message %q says nothing was redacted", e.Error.Message)
			}
			s.close()
			if err := h.waitEnded(t); err != nil {
				t.Errorf("Process returned %v", err)
			}
			for _, entry := range h.logs.All() {
				for _, f := range entry.Context {
					for _, sec := range tc.secrets {
						if strings.Contains(f.String, sec) {
							t.Errorf("log %q field %s shows %q", entry.Message, f.Key, sec)
						}
					}
				}
			}
		})
	}
}

func TestScrubber(t *testing.T) {
	var s scrubber
	s.add("Bearer live-token-123456")
	s.add("short")
	for in, want := range map[string]string{
		"got live-token-123456 back":            "got [redacted] back",
		"short words stay":                      "short words stay",
		`"authorization": "Basic dXNlcjpwYXNz"`: `"authorization": "Basic [redacted]"`,
		"BEARER abc.def-ghi_jkl":                "Bearer [redacted]",
		"nothing secret here":                   "nothing secret here",
	} {
		if got := s.scrub(in); got != want {
			t.Errorf("scrub(%q) = %q, want %q", in, got, want)
		}
	}
}
