package extproc

import (
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/xds"
)

func TestRouterRoutes(t *testing.T) {
	h := newHarness(t, mustLoad(t, testYAML))
	tests := []struct {
		name         string
		extra        []string // request headers besides the usual ones
		body         []byte
		wantProvider string
		wantModel    string
		wantRemove   []string
	}{
		{
			name:         "openai model",
			body:         chatBody("gpt-4o", false),
			wantProvider: "openai",
			wantModel:    "gpt-4o",
		},
		{
			name:         "anthropic model streamed",
			body:         chatBody("claude-sonnet", true),
			wantProvider: "anthropic",
			wantModel:    "claude-sonnet",
		},
		{
			name:         "client-sent internal headers are removed",
			extra:        []string{"x-switchboard-provider", "anthropic", "x-switchboard-model", "claude-sonnet", "x-switchboard-debug", "1"},
			body:         chatBody("gpt-4o", false),
			wantProvider: "openai",
			wantModel:    "gpt-4o",
			wantRemove:   []string{"x-switchboard-provider", "x-switchboard-model", "x-switchboard-debug"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := h.open(t, xds.HopRouter)
			if c := continued(t, s.send(postHeaders(tc.extra...))); c.GetHeaderMutation() != nil || c.GetClearRouteCache() {
				t.Errorf("request headers: want plain continue, got %v", c)
			}
			c := continued(t, s.send(requestBody(tc.body)))
			if !c.GetClearRouteCache() {
				t.Error("clear_route_cache = false, want true: Envoy must route again on the new header")
			}
			if c.GetBodyMutation() != nil {
				t.Errorf("router hop changed the body: %v", c.GetBodyMutation())
			}
			m := readMutation(c.GetHeaderMutation())
			if got := m.set[xds.ProviderHeader]; got != tc.wantProvider {
				t.Errorf("%s = %q, want %q", xds.ProviderHeader, got, tc.wantProvider)
			}
			if got := m.set[ModelHeader]; got != tc.wantModel {
				t.Errorf("%s = %q, want %q", ModelHeader, got, tc.wantModel)
			}
			if len(m.remove) != len(tc.wantRemove) {
				t.Errorf("remove_headers = %q, want %q", m.remove, tc.wantRemove)
			}
			for _, r := range tc.wantRemove {
				if !m.removes(r) {
					t.Errorf("remove_headers = %q, want %q in it", m.remove, r)
				}
			}
			s.close()
			if err := h.waitEnded(t); err != nil {
				t.Errorf("Process returned %v", err)
			}
		})
	}
}

func TestRouterRejects(t *testing.T) {
	h := newHarness(t, mustLoad(t, testYAML))
	// Nothing of the config may leak into a reply to an unknown caller.
	configWords := []string{"openai", "anthropic", "example.test", "gpt-4o", "claude", "tiered", "sk-"}
	tests := []struct {
		name       string
		headers    []string // full request headers; nil is a chat POST
		eos        bool     // request headers end the stream (no body)
		body       string   // sent when the headers do not answer
		wantStatus int
		wantCode   string
		wantMsg    string // substring of error.message
	}{
		{
			name:       "GET is not allowed",
			headers:    []string{":method", "GET", ":path", "/v1/chat/completions?x=1", ":authority", "gw.example.test"},
			eos:        true,
			wantStatus: 405,
			wantCode:   "method_not_allowed",
			wantMsg:    "GET is not allowed on /v1/chat/completions; use POST",
		},
		{
			name:       "POST without a body",
			eos:        true,
			wantStatus: 400,
			wantCode:   "missing_body",
			wantMsg:    "request body is required",
		},
		{
			name:       "malformed JSON",
			body:       `{"model":"gpt-4o","messages":[`,
			wantStatus: 400,
			wantCode:   "invalid_json",
			wantMsg:    "not valid JSON",
		},
		{
			name:       "body is not an object",
			body:       `["gpt-4o"]`,
			wantStatus: 400,
			wantCode:   "invalid_request",
			wantMsg:    "must be a JSON object",
		},
		{
			name:       "empty messages",
			body:       `{"model":"gpt-4o","messages":[]}`,
			wantStatus: 400,
			wantCode:   "invalid_messages",
			wantMsg:    "'messages' must be a non-empty array",
		},
		{
			name:       "messages missing",
			body:       `{"model":"gpt-4o"}`,
			wantStatus: 400,
			wantCode:   "invalid_messages",
			wantMsg:    "'messages' must be a non-empty array",
		},
		{
			name:       "unknown model",
			body:       `{"model":"gpt-5","messages":[{"role":"user","content":"hi"}]}`,
			wantStatus: 404,
			wantCode:   "model_not_found",
			wantMsg:    `model "gpt-5" is not served by this gateway`,
		},
		{
			name:       "missing model",
			body:       `{"messages":[{"role":"user","content":"hi"}]}`,
			wantStatus: 404,
			wantCode:   "model_not_found",
			wantMsg:    "request has no 'model'",
		},
		{
			name:       "model is not a string",
			body:       `{"model":4,"messages":[{"role":"user","content":"hi"}]}`,
			wantStatus: 404,
			wantCode:   "model_not_found",
			wantMsg:    "request has no 'model'",
		},
		{
			name:       "huge unknown model name is cut short",
			body:       `{"model":"` + strings.Repeat("m", 5000) + `","messages":[{"role":"user","content":"hi"}]}`,
			wantStatus: 404,
			wantCode:   "model_not_found",
			wantMsg:    strings.Repeat("m", 100) + `..."`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := h.open(t, xds.HopRouter)
			headers := postHeaders()
			if tc.headers != nil {
				headers = requestHeaders(tc.eos, tc.headers...)
			}
			headers.GetRequestHeaders().EndOfStream = tc.eos
			resp := s.send(headers)
			if !tc.eos {
				continued(t, resp)
				resp = s.send(requestBody([]byte(tc.body)))
			}
			e := checkImmediate(t, resp, tc.wantStatus, tc.wantCode)
			if !strings.Contains(e.Error.Message, tc.wantMsg) {
				t.Errorf("message = %q, want it to contain %q", e.Error.Message, tc.wantMsg)
			}
			if len(e.Error.Message) > 300 {
				t.Errorf("message is %d bytes long", len(e.Error.Message))
			}
			for _, w := range configWords {
				if strings.Contains(e.Error.Message, w) {
					t.Errorf("message %q reveals config (%q)", e.Error.Message, w)
				}
			}
			s.close()
			if err := h.waitEnded(t); err != nil {
				t.Errorf("Process returned %v", err)
			}
		})
	}
}

// TestRouterPriority routes a model whose priority-1 provider has 1000
// times the weight of its priority-0 one: weight only splits within a
// level, so every request must go to priority 0.
func TestRouterPriority(t *testing.T) {
	h := newHarness(t, mustLoad(t, testYAML))
	for range 200 {
		s := h.open(t, xds.HopRouter)
		continued(t, s.send(postHeaders()))
		got := readMutation(continued(t, s.send(requestBody(chatBody("tiered", false)))).GetHeaderMutation()).set[xds.ProviderHeader]
		if got != "openai" {
			t.Fatalf("picked %q, want the priority-0 provider openai", got)
		}
		s.close()
	}
}
