package extproc

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/translators"
	"github.com/switchboard-gw/switchboard/xds"
)

// upstreamHeaders are the request headers the upstream hop sees: the
// client's, plus what the router hop set.
func upstreamHeaders(provider, model string) *extprocv3.ProcessingRequest {
	return postHeaders(
		"authorization", "Bearer client-gateway-key",
		"x-api-key", "client-gateway-key",
		"accept-encoding", "gzip, br",
		xds.ProviderHeader, provider,
		ModelHeader, model,
	)
}

// startUpstream opens an upstream-hop stream on provider's cluster and
// sends the request phases, checking they continue.
func (h *harness) startUpstream(t *testing.T, provider, model string, body []byte) *envoyStream {
	t.Helper()
	s := h.open(t, xds.HopUpstream)
	continued(t, s.send(onCluster(upstreamHeaders(provider, model), provider)))
	continued(t, s.send(requestBody(body)))
	return s
}

func TestUpstreamRequest(t *testing.T) {
	tests := []struct {
		name      string
		provider  string
		model     string
		stream    bool
		wantPath  string
		wantSet   map[string]string
		wantUnset []string // headers that must not be set
		wantModel string   // "model" in the upstream body
	}{
		{
			name:      "openai",
			provider:  "openai",
			model:     "gpt-4o",
			wantPath:  "/openai/v1/chat/completions",
			wantSet:   map[string]string{"authorization": "Bearer " + openAIKey, "content-type": "application/json"},
			wantUnset: []string{"x-api-key"},
			wantModel: "gpt-4o-2024-08-06",
		},
		{
			name:      "openai streamed asks for usage",
			provider:  "openai",
			model:     "gpt-4o",
			stream:    true,
			wantPath:  "/openai/v1/chat/completions",
			wantSet:   map[string]string{"authorization": "Bearer " + openAIKey},
			wantUnset: []string{"x-api-key"},
			wantModel: "gpt-4o-2024-08-06",
		},
		{
			name:      "anthropic",
			provider:  "anthropic",
			model:     "claude-sonnet",
			wantPath:  "/v1/messages",
			wantSet:   map[string]string{"x-api-key": anthropicKey, "anthropic-version": "2023-06-01", "content-type": "application/json"},
			wantUnset: []string{"authorization"},
			wantModel: "claude-sonnet-4-5-20250929",
		},
		{
			name:      "second priority level",
			provider:  "anthropic",
			model:     "tiered",
			wantPath:  "/v1/messages",
			wantSet:   map[string]string{"x-api-key": anthropicKey},
			wantUnset: []string{"authorization"},
			wantModel: "claude-haiku-4-5",
		},
	}
	h := newHarness(t, mustLoad(t, testYAML))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := h.open(t, xds.HopUpstream)
			if c := continued(t, s.send(onCluster(upstreamHeaders(tc.provider, tc.model), tc.provider))); c.GetHeaderMutation() != nil {
				t.Errorf("request headers: want plain continue, got %v", c)
			}
			sent := chatBody(tc.model, tc.stream)
			c := continued(t, s.send(requestBody(sent)))
			body := bodyOut(sent, c)
			m := readMutation(c.GetHeaderMutation())
			if m.set[":path"] != tc.wantPath {
				t.Errorf(":path = %q, want %q", m.set[":path"], tc.wantPath)
			}
			if got, want := m.set["content-length"], strconv.Itoa(len(body)); got != want {
				t.Errorf("content-length = %q, body is %d bytes", got, len(body))
			}
			for k, v := range tc.wantSet {
				if m.set[k] != v {
					t.Errorf("%s = %q, want %q", k, m.set[k], v)
				}
			}
			for _, k := range tc.wantUnset {
				if v, ok := m.set[k]; ok {
					t.Errorf("%s set to %q, want unset", k, v)
				}
			}
			for _, k := range []string{"authorization", "x-api-key", "accept-encoding", xds.ProviderHeader, ModelHeader} {
				if !m.removes(k) {
					t.Errorf("remove_headers = %q, want %q in it", m.remove, k)
				}
			}
			if got := gjson.GetBytes(body, "model").Str; got != tc.wantModel {
				t.Errorf("upstream model = %q, want %q (body %s)", got, tc.wantModel, body)
			}
			if tc.stream && tc.provider == "openai" && !gjson.GetBytes(body, "stream_options.include_usage").Bool() {
				t.Errorf("streamed request does not ask for usage: %s", body)
			}
			s.close()
			if err := h.waitEnded(t); err != nil {
				t.Errorf("Process returned %v", err)
			}
		})
	}
	for _, e := range h.logs.All() {
		for _, f := range e.Context {
			if s := f.String + string(must(json.Marshal(f.Interface))); strings.Contains(s, openAIKey) || strings.Contains(s, anthropicKey) || strings.Contains(s, "haiku about") {
				t.Errorf("log %q field %s shows a credential or the prompt", e.Message, f.Key)
			}
		}
	}
}

func must[T any](v T, _ error) T { return v }

var createdRE = regexp.MustCompile(`"created":[0-9]+`)

func withoutCreated(b []byte) []byte { return createdRE.ReplaceAll(b, []byte(`"created":0`)) }

func TestUpstreamProviderResolution(t *testing.T) {
	h := newHarness(t, mustLoad(t, testYAML))
	tests := []struct {
		name     string
		metadata string // cluster metadata provider; "" sends no metadata
		header   string // x-switchboard-provider
		wantPath string // "" when an immediate 503 is expected
	}{
		{name: "metadata names the provider", metadata: "anthropic", header: "anthropic", wantPath: "/v1/messages"},
		{name: "metadata wins over the header", metadata: "openai", header: "anthropic", wantPath: "/openai/v1/chat/completions"},
		{name: "no metadata falls back to the header", header: "anthropic", wantPath: "/v1/messages"},
		{name: "unknown provider in metadata", metadata: "gemini", header: "openai"},
		{name: "unknown provider in the header", header: "gemini"},
		{name: "no provider at all"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := h.open(t, xds.HopUpstream)
			req := postHeaders(ModelHeader, "tiered")
			if tc.header != "" {
				req = postHeaders(ModelHeader, "tiered", xds.ProviderHeader, tc.header)
			}
			if tc.metadata != "" {
				req = onCluster(req, tc.metadata)
			}
			resp := s.send(req)
			if tc.wantPath == "" {
				e := checkImmediate(t, resp, 503, "provider_unavailable")
				if strings.Contains(e.Error.Message, "example.test") {
					t.Errorf("message %q reveals config", e.Error.Message)
				}
			} else {
				continued(t, resp)
				m := readMutation(continued(t, s.send(requestBody(chatBody("tiered", false)))).GetHeaderMutation())
				if m.set[":path"] != tc.wantPath {
					t.Errorf(":path = %q, want %q", m.set[":path"], tc.wantPath)
				}
			}
			s.close()
			if err := h.waitEnded(t); err != nil {
				t.Errorf("Process returned %v", err)
			}
		})
	}
}

func TestUpstreamRequestRejected(t *testing.T) {
	h := newHarness(t, mustLoad(t, testYAML))
	tests := []struct {
		name       string
		provider   string
		model      string
		body       string
		wantStatus int
		wantCode   string
	}{
		{
			name:       "provider does not serve the model",
			provider:   "anthropic",
			model:      "gpt-4o",
			body:       string(chatBody("gpt-4o", false)),
			wantStatus: 503,
			wantCode:   "provider_unavailable",
		},
		{
			name:       "parameter the provider cannot honour",
			provider:   "anthropic",
			model:      "claude-sonnet",
			body:       `{"model":"claude-sonnet","n":3,"messages":[{"role":"user","content":"hi"}]}`,
			wantStatus: 400,
			wantCode:   "unsupported_parameter",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := h.open(t, xds.HopUpstream)
			continued(t, s.send(onCluster(upstreamHeaders(tc.provider, tc.model), tc.provider)))
			checkImmediate(t, s.send(requestBody([]byte(tc.body))), tc.wantStatus, tc.wantCode)
			s.close()
			if err := h.waitEnded(t); err != nil {
				t.Errorf("Process returned %v", err)
			}
		})
	}
}

// TestUpstreamStream feeds recorded provider streams cut at odd offsets,
// as Envoy's STREAMED mode hands them over, and checks the client gets the
// same OpenAI stream as from the whole body at once, ending in [DONE].
func TestUpstreamStream(t *testing.T) {
	tests := []struct {
		name       string
		provider   string
		model      string
		transcript string
		sizes      []int
		emptyLast  bool   // Envoy ends the body with an empty end_of_stream chunk
		wantText   string // the concatenated content deltas
		wantError  bool   // the stream ends with an error chunk
	}{
		{
			name:       "openai",
			provider:   "openai",
			model:      "gpt-4o",
			transcript: "chat_stream",
			sizes:      []int{7, 131, 3, 61},
		},
		{
			name:       "openai truncated",
			provider:   "openai",
			model:      "gpt-4o",
			transcript: "stream_truncated",
			sizes:      []int{97},
			wantError:  true,
		},
		{
			name:       "anthropic text",
			provider:   "anthropic",
			model:      "claude-sonnet",
			transcript: "text_stream",
			sizes:      []int{1, 13, 257, 5},
			wantText:   "Requests flow through—\none door, many rivers met,\ntokens find their way. 🌊",
		},
		{
			name:       "anthropic text, empty last chunk",
			provider:   "anthropic",
			model:      "claude-sonnet",
			transcript: "text_stream",
			sizes:      []int{33},
			emptyLast:  true,
			wantText:   "Requests flow through—\none door, many rivers met,\ntokens find their way. 🌊",
		},
		{
			name:       "anthropic tool use",
			provider:   "anthropic",
			model:      "claude-sonnet",
			transcript: "tool_use_stream",
			sizes:      []int{11, 3},
		},
		{
			name:       "anthropic truncated",
			provider:   "anthropic",
			model:      "claude-sonnet",
			transcript: "stream_truncated",
			sizes:      []int{29},
			wantError:  true,
		},
		{
			name:       "anthropic overloaded mid-stream",
			provider:   "anthropic",
			model:      "claude-sonnet",
			transcript: "stream_overloaded",
			sizes:      []int{41},
			wantError:  true,
		},
	}
	h := newHarness(t, mustLoad(t, testYAML))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := readTranscript(t, tc.provider, tc.transcript)
			s := h.startUpstream(t, tc.provider, tc.model, chatBody(tc.model, true))
			m := readMutation(continued(t, s.send(responseHeaders(false, append(tr.headers, "content-length", "9999")...))).GetHeaderMutation())
			if m.set["content-type"] != "text/event-stream" {
				t.Errorf("content-type = %q, want text/event-stream", m.set["content-type"])
			}
			if m.set[xds.ProviderHeader] != tc.provider {
				t.Errorf("%s = %q, want %q", xds.ProviderHeader, m.set[xds.ProviderHeader], tc.provider)
			}
			if _, ok := m.set[":status"]; ok {
				t.Errorf(":status changed to %s on a 200", m.set[":status"])
			}
			if !m.removes("content-length") {
				t.Errorf("remove_headers = %q, want content-length in it", m.remove)
			}

			chunks := split(tr.body, tc.sizes...)
			if tc.emptyLast {
				chunks = append(chunks, nil)
			}
			var out []byte
			for i, chunk := range chunks {
				last := i == len(chunks)-1
				got := bodyOut(chunk, continued(t, s.send(responseBody(chunk, last))))
				if last && !tc.emptyLast && !bytes.HasSuffix(got, []byte("data: [DONE]\n\n")) {
					t.Errorf("last chunk %q does not end with data: [DONE]", got)
				}
				out = append(out, got...)
			}
			// Anthropic's message_stop ends the client stream before Envoy's
			// end_of_stream; nothing may follow [DONE].
			if n := bytes.Count(out, []byte("[DONE]")); n != 1 || !bytes.HasSuffix(out, []byte("data: [DONE]\n\n")) {
				t.Errorf("stream has %d [DONE], want exactly one at the end", n)
			}

			tl, _ := translators.New(translators.Schema(tc.provider))
			st := tl.NewStream(translators.StreamOptions{})
			// Chunks carry the time they were made: compare without it.
			if want := st.Finish(st.Translate(nil, tr.body)); !bytes.Equal(withoutCreated(out), withoutCreated(want)) {
				t.Errorf("chunked translation differs from the whole-body one:\n got %s\nwant %s", out, want)
			}
			data := sseData(t, out)
			var text strings.Builder
			for i, d := range data[:len(data)-1] {
				c := gjson.Parse(d)
				if !gjson.Valid(d) || c.Get("object").Str != "chat.completion.chunk" {
					t.Fatalf("event %d is not a chat.completion.chunk: %s", i, d)
				}
				text.WriteString(c.Get("choices.0.delta.content").Str)
			}
			if tc.wantText != "" && text.String() != tc.wantText {
				t.Errorf("content = %q, want %q", text.String(), tc.wantText)
			}
			if hasErr := gjson.Get(data[len(data)-2], "error").Exists(); hasErr != tc.wantError {
				t.Errorf("last chunk before [DONE] has error = %v, want %v: %s", hasErr, tc.wantError, data[len(data)-2])
			}
			s.close()
			if err := h.waitEnded(t); err != nil {
				t.Errorf("Process returned %v", err)
			}
		})
	}
}

// TestUpstreamWhole checks a non-streamed answer: held back chunk by chunk,
// translated whole with the last one.
func TestUpstreamWhole(t *testing.T) {
	tests := []struct {
		name       string
		provider   string
		model      string
		transcript string
		stream     bool // the client asked for a stream but got JSON
		wantText   string
	}{
		{name: "openai", provider: "openai", model: "gpt-4o", transcript: "chat", wantText: "Paris"},
		{name: "anthropic", provider: "anthropic", model: "claude-sonnet", transcript: "text", wantText: "The capital of France is Paris."},
		{name: "anthropic tool use", provider: "anthropic", model: "claude-sonnet", transcript: "tool_use"},
		{name: "stream asked, JSON answered", provider: "anthropic", model: "claude-sonnet", transcript: "text", stream: true, wantText: "The capital of France is Paris."},
	}
	h := newHarness(t, mustLoad(t, testYAML))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := readTranscript(t, tc.provider, tc.transcript)
			s := h.startUpstream(t, tc.provider, tc.model, chatBody(tc.model, tc.stream))
			m := readMutation(continued(t, s.send(responseHeaders(false, append(tr.headers, "content-length", strconv.Itoa(len(tr.body)))...))).GetHeaderMutation())
			if m.set["content-type"] != "application/json" {
				t.Errorf("content-type = %q, want application/json", m.set["content-type"])
			}
			if !m.removes("content-length") {
				t.Errorf("remove_headers = %q, want content-length in it", m.remove)
			}
			chunks := split(tr.body, 5, 111, 17)
			var got []byte
			for i, chunk := range chunks {
				last := i == len(chunks)-1
				c := continued(t, s.send(responseBody(chunk, last)))
				if !last {
					if !c.GetBodyMutation().GetClearBody() {
						t.Fatalf("chunk %d: want clear_body, got %v", i, c.GetBodyMutation())
					}
					continue
				}
				got = c.GetBodyMutation().GetBody()
			}
			tl, _ := translators.New(translators.Schema(tc.provider))
			want, _, err := tl.Response(tr.body)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("body = %s, want %s", got, want)
			}
			if obj := gjson.GetBytes(got, "object").Str; obj != "chat.completion" {
				t.Errorf("object = %q, want chat.completion", obj)
			}
			if c := gjson.GetBytes(got, "choices.0.message.content").Str; !strings.Contains(c, tc.wantText) {
				t.Errorf("content = %q, want it to contain %q", c, tc.wantText)
			}
			s.close()
			if err := h.waitEnded(t); err != nil {
				t.Errorf("Process returned %v", err)
			}
		})
	}
}

// TestUpstreamErrors checks provider errors: the status is settled from the
// headers, the body rewritten to the OpenAI error shape at the end.
func TestUpstreamErrors(t *testing.T) {
	tests := []struct {
		name           string
		provider       string
		model          string
		transcript     string
		stream         bool
		wantStatus     string
		wantRetryAfter bool // the provider's retry-after reaches the client
		wantType       string
		wantCode       string
		wantMsg        string
		notInMsg       string
	}{
		{
			name: "openai 429", provider: "openai", model: "gpt-4o", transcript: "error_429",
			wantStatus: "429", wantRetryAfter: true, wantType: "rate_limit_error", wantCode: "rate_limit_exceeded",
			wantMsg: "Rate limit reached",
		},
		{
			name: "openai 429 streamed", provider: "openai", model: "gpt-4o", transcript: "error_429", stream: true,
			wantStatus: "429", wantRetryAfter: true, wantType: "rate_limit_error", wantCode: "rate_limit_exceeded",
			wantMsg: "Rate limit reached",
		},
		{
			name: "openai 401", provider: "openai", model: "gpt-4o", transcript: "error_401",
			wantStatus: "502", wantType: "upstream_error", wantCode: "provider_auth_failed",
			wantMsg: "credential for the provider was rejected", notInMsg: "sk-proj",
		},
		{
			name: "anthropic 429", provider: "anthropic", model: "claude-sonnet", transcript: "error_429",
			wantStatus: "429", wantRetryAfter: true, wantType: "rate_limit_error", wantCode: "rate_limit_exceeded",
			wantMsg: "rate limit",
		},
		{
			name: "anthropic 401", provider: "anthropic", model: "claude-sonnet", transcript: "error_401", stream: true,
			wantStatus: "502", wantType: "upstream_error", wantCode: "provider_auth_failed",
			wantMsg: "credential for the provider was rejected",
		},
		{
			name: "anthropic 529", provider: "anthropic", model: "claude-sonnet", transcript: "error_529",
			wantStatus: "503", wantType: "upstream_error", wantCode: "provider_overloaded",
		},
	}
	h := newHarness(t, mustLoad(t, testYAML))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := readTranscript(t, tc.provider, tc.transcript)
			s := h.startUpstream(t, tc.provider, tc.model, chatBody(tc.model, tc.stream))
			m := readMutation(continued(t, s.send(responseHeaders(false, tr.headers...))).GetHeaderMutation())
			if m.set[":status"] != tc.wantStatus {
				t.Errorf(":status = %q, want %q", m.set[":status"], tc.wantStatus)
			}
			if m.set["content-type"] != "application/json" {
				t.Errorf("content-type = %q, want application/json", m.set["content-type"])
			}
			if m.removes("retry-after") == tc.wantRetryAfter {
				t.Errorf("remove_headers = %q; want retry-after kept = %v", m.remove, tc.wantRetryAfter)
			}
			if m.set[xds.ProviderHeader] != tc.provider {
				t.Errorf("%s = %q, want %q", xds.ProviderHeader, m.set[xds.ProviderHeader], tc.provider)
			}
			chunks := split(tr.body, 9, 40)
			var body []byte
			for i, chunk := range chunks {
				last := i == len(chunks)-1
				c := continued(t, s.send(responseBody(chunk, last)))
				if !last {
					if !c.GetBodyMutation().GetClearBody() {
						t.Fatalf("chunk %d: want clear_body, got %v", i, c.GetBodyMutation())
					}
					continue
				}
				body = c.GetBodyMutation().GetBody()
			}
			e := decodeError(t, body)
			if e.Error.Type != tc.wantType || e.code() != tc.wantCode {
				t.Errorf("error type, code = %q, %q; want %q, %q", e.Error.Type, e.code(), tc.wantType, tc.wantCode)
			}
			if !strings.Contains(e.Error.Message, tc.wantMsg) {
				t.Errorf("message = %q, want it to contain %q", e.Error.Message, tc.wantMsg)
			}
			if tc.notInMsg != "" && strings.Contains(e.Error.Message, tc.notInMsg) {
				t.Errorf("message = %q shows %q", e.Error.Message, tc.notInMsg)
			}
			s.close()
			if err := h.waitEnded(t); err != nil {
				t.Errorf("Process returned %v", err)
			}
		})
	}
}

// TestUpstreamHeadersOnly covers responses with no body: an empty 200 must
// not reach the client as a success.
func TestUpstreamHeadersOnly(t *testing.T) {
	tests := []struct {
		name           string
		headers        []string
		wantStatus     int
		wantCode       string
		wantRetryAfter string
	}{
		{name: "200 without a body", headers: []string{":status", "200", "content-type", "application/json"}, wantStatus: 502, wantCode: "empty_upstream_response"},
		{name: "200 stream without a body", headers: []string{":status", "200", "content-type", "text/event-stream"}, wantStatus: 502, wantCode: "empty_upstream_response"},
		{name: "401 without a body", headers: []string{":status", "401"}, wantStatus: 502, wantCode: "provider_auth_failed"},
		{name: "429 without a body", headers: []string{":status", "429", "retry-after", "7"}, wantStatus: 429, wantCode: "rate_limit_exceeded", wantRetryAfter: "7"},
	}
	h := newHarness(t, mustLoad(t, testYAML))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := h.startUpstream(t, "openai", "gpt-4o", chatBody("gpt-4o", true))
			resp := s.send(responseHeaders(true, tc.headers...))
			checkImmediate(t, resp, tc.wantStatus, tc.wantCode)
			if got := readMutation(resp.GetImmediateResponse().GetHeaders()).set["retry-after"]; got != tc.wantRetryAfter {
				t.Errorf("retry-after = %q, want %q", got, tc.wantRetryAfter)
			}
			s.close()
			if err := h.waitEnded(t); err != nil {
				t.Errorf("Process returned %v", err)
			}
		})
	}
}

// TestUpstreamOversized checks the bounds on what one response holds.
func TestUpstreamOversized(t *testing.T) {
	tests := []struct {
		name     string
		headers  []string
		chunks   []int // chunk sizes; the last ends the stream
		wantCode string
	}{
		{
			// A small first chunk then one past the limit once sliced the
			// held body beyond its capacity and crashed the server.
			name:     "error body over the limit",
			headers:  []string{":status", "500", "content-type", "text/plain"},
			chunks:   []int{100, maxErrorBody, 10},
			wantCode: "upstream_error",
		},
		{
			name:     "whole response over the limit",
			headers:  []string{":status", "200", "content-type", "application/json"},
			chunks:   []int{maxWholeResponse / 2, maxWholeResponse/2 + 1, 1000, 10},
			wantCode: "upstream_response_too_large",
		},
	}
	h := newHarness(t, mustLoad(t, testYAML))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := h.startUpstream(t, "openai", "gpt-4o", chatBody("gpt-4o", false))
			continued(t, s.send(responseHeaders(false, tc.headers...)))
			var out []byte
			for i, n := range tc.chunks {
				chunk := bytes.Repeat([]byte("x"), n)
				out = append(out, bodyOut(chunk, continued(t, s.send(responseBody(chunk, i == len(tc.chunks)-1))))...)
			}
			if e := decodeError(t, out); e.code() != tc.wantCode {
				t.Errorf("error.code = %q, want %q", e.code(), tc.wantCode)
			}
			s.close()
			if err := h.waitEnded(t); err != nil {
				t.Errorf("Process returned %v", err)
			}
		})
	}
}
