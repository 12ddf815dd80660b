package extproc

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/switchboard-gw/switchboard/translators"
	"github.com/switchboard-gw/switchboard/xds"
)

func TestUpstreamRequest(t *testing.T) {
	tests := []struct {
		name      string
		provider  string
		model     string
		stream    bool
		wantPath  string
		wantHost  string
		wantSet   map[string]string
		wantUnset []string // headers that must not be set
		wantModel string   // "model" in the upstream body
	}{
		{
			name:      "openai",
			provider:  "openai",
			model:     "gpt-4o",
			wantPath:  "/openai/v1/chat/completions",
			wantHost:  "openai.example.test",
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
			wantHost:  "openai.example.test",
			wantSet:   map[string]string{"authorization": "Bearer " + openAIKey},
			wantUnset: []string{"x-api-key"},
			wantModel: "gpt-4o-2024-08-06",
		},
		{
			name:      "anthropic",
			provider:  "anthropic",
			model:     "claude-sonnet",
			wantPath:  "/v1/messages",
			wantHost:  "anthropic.example.test",
			wantSet:   map[string]string{"x-api-key": anthropicKey, "anthropic-version": "2023-06-01", "content-type": "application/json"},
			wantUnset: []string{"authorization"},
			wantModel: "claude-sonnet-4-5-20250929",
		},
		{
			name:      "second priority level",
			provider:  "anthropic",
			model:     "tiered",
			wantPath:  "/v1/messages",
			wantHost:  "anthropic.example.test",
			wantSet:   map[string]string{"x-api-key": anthropicKey},
			wantUnset: []string{"authorization"},
			wantModel: "claude-haiku-4-5",
		},
	}
	h := newHarness(t, mustLoad(t, testYAML))
	for _, tc := range tests {
		// The body comes in its own message, or with the headers as the
		// router hop's metadata (forward.go): the same translation.
		for _, forwarded := range []bool{false, true} {
			name := tc.name
			if forwarded {
				name += "/forwarded body"
			}
			t.Run(name, func(t *testing.T) {
				upstreamRequestCase(t, h, tc.provider, tc.model, tc.stream, forwarded, func(t *testing.T, m mutation, body []byte) {
					if m.set[":path"] != tc.wantPath {
						t.Errorf(":path = %q, want %q", m.set[":path"], tc.wantPath)
					}
					if m.set[":authority"] != tc.wantHost {
						t.Errorf(":authority = %q, want %q", m.set[":authority"], tc.wantHost)
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
					if got := gjson.GetBytes(body, "model").Str; got != tc.wantModel {
						t.Errorf("upstream model = %q, want %q (body %s)", got, tc.wantModel, body)
					}
					if tc.stream && tc.provider == "openai" && !gjson.GetBytes(body, "stream_options.include_usage").Bool() {
						t.Errorf("streamed request does not ask for usage: %s", body)
					}
				})
			})
		}
	}
	for _, e := range h.logs.All() {
		for _, f := range e.Context {
			if s := f.String + string(must(json.Marshal(f.Interface))); strings.Contains(s, openAIKey) || strings.Contains(s, anthropicKey) || strings.Contains(s, "haiku about") {
				t.Errorf("log %q field %s shows a credential or the prompt", e.Message, f.Key)
			}
		}
	}
}

// upstreamRequestCase runs one attempt's request phases on the upstream
// hop, the body in its own message or forwarded with the headers, and
// hands check the translated request.
func upstreamRequestCase(t *testing.T, h *harness, provider, model string, stream, forwarded bool, check func(*testing.T, mutation, []byte)) {
	t.Helper()
	s := h.open(t, xds.HopUpstream)
	sent := chatBody(model, stream)
	hs := upstreamHeaders(provider, model)
	var c *extprocv3.CommonResponse
	if forwarded {
		withBody(hs, sent)
		resp := s.send(hs)
		c = continued(t, resp)
		if _, ok := resp.GetResponse().(*extprocv3.ProcessingResponse_RequestHeaders); !ok {
			t.Fatalf("forwarded body: want the request headers answered, got %T", resp.GetResponse())
		}
		if c.GetStatus() != extprocv3.CommonResponse_CONTINUE_AND_REPLACE {
			t.Errorf("forwarded body: headers answered with %v, want CONTINUE_AND_REPLACE", c.GetStatus())
		}
		// Envoy drains the original body; one that still comes passes.
		if after := continued(t, s.send(requestBody(sent))); after.GetBodyMutation() != nil || after.GetHeaderMutation() != nil {
			t.Errorf("body after a forwarded one: want plain continue, got %v", after)
		}
	} else {
		if c := continued(t, s.send(hs)); c.GetHeaderMutation() != nil || c.GetBodyMutation() != nil {
			t.Errorf("request headers: want plain continue, got %v", c)
		}
		c = continued(t, s.send(requestBody(sent)))
	}
	body := bodyOut(sent, c)
	m := readMutation(c.GetHeaderMutation())
	if got, want := m.set["content-length"], strconv.Itoa(len(body)); got != want {
		t.Errorf("content-length = %q, body is %d bytes", got, len(body))
	}
	// The client's credentials, the gateway's control headers and
	// Envoy's attempt count never reach a provider.
	for _, k := range []string{"authorization", "x-api-key", "accept-encoding", "x-session-id", "x-envoy-attempt-count", xds.ModelHeader, xds.AttemptsHeader} {
		if !m.removes(k) {
			t.Errorf("remove_headers = %q, want %q in it", m.remove, k)
		}
	}
	check(t, m, body)
	s.close()
	if err := h.waitEnded(t); err != nil {
		t.Errorf("Process returned %v", err)
	}
}

func must[T any](v T, _ error) T { return v }

var createdRE = regexp.MustCompile(`"created":[0-9]+`)

func withoutCreated(b []byte) []byte { return createdRE.ReplaceAll(b, []byte(`"created":0`)) }

func TestUpstreamProviderResolution(t *testing.T) {
	h := newHarness(t, mustLoad(t, testYAML))
	tests := []struct {
		name     string
		attempt  attempt
		header   string // a stray x-switchboard-provider request header
		wantPath string // "" when an immediate 503 is expected
		wantHop  string // "headers" or "body": where the 503 comes
	}{
		{name: "cluster metadata names the provider", attempt: attempt{provider: "anthropic", model: "tiered"}, wantPath: "/v1/messages"},
		{name: "a header cannot name the provider", attempt: attempt{provider: "openai", model: "tiered"}, header: "anthropic", wantPath: "/openai/v1/chat/completions"},
		{name: "no cluster metadata", attempt: attempt{model: "tiered"}, header: "anthropic", wantHop: "headers"},
		{name: "unknown provider in the metadata", attempt: attempt{provider: "gemini", model: "tiered"}, wantHop: "headers"},
		{name: "no request metadata", attempt: attempt{provider: "openai"}, wantHop: "body"},
		{name: "request metadata for a model the provider does not serve", attempt: attempt{provider: "anthropic", model: "gpt-4o"}, wantHop: "body"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := h.open(t, xds.HopUpstream)
			var extra []string
			if tc.header != "" {
				extra = []string{xds.ProviderHeader, tc.header}
			}
			resp := s.send(tc.attempt.headers(extra...))
			if tc.wantHop == "headers" {
				e := checkImmediate(t, resp, 503, "provider_unavailable")
				if strings.Contains(e.Error.Message, "example.test") {
					t.Errorf("message %q reveals config", e.Error.Message)
				}
			} else {
				continued(t, resp)
				resp = s.send(requestBody(chatBody("tiered", false)))
				if tc.wantHop == "body" {
					checkImmediate(t, resp, 503, "provider_unavailable")
				} else if m := readMutation(continued(t, resp).GetHeaderMutation()); m.set[":path"] != tc.wantPath {
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

// TestUpstreamAttempts follows one request through the router hop and
// the upstream hop of each attempt of its plan: each attempt translates
// for the public model of its group, and its response says which attempt
// answered and which failed before it.
func TestUpstreamAttempts(t *testing.T) {
	h := newHarness(t, mustLoad(t, testYAML))
	body := []byte(`{"model":"tiered","models":["claude-sonnet","gpt-4o"],"messages":[{"role":"user","content":"hi"}]}`)
	r := h.route(t, body)
	if got, want := r.plan(), "openai|tiered;anthropic|tiered;anthropic|claude-sonnet"; got != want {
		t.Fatalf("plan = %q, want %q", got, want)
	}
	// This hop's own response phase: without the router hop's offer, it
	// answers the last attempt too (TestRouterAnswersLastAttempt has the
	// router hop answering it).
	delete(r.request.Fields, routerWholeField)
	tests := []struct {
		name          string
		provider      string // the cluster Envoy picked
		n             int    // x-envoy-attempt-count; 0 sends none
		wantModel     string // public model, x-switchboard-model
		wantUpstream  string // model in the upstream body
		wantAttempt   string
		wantFallbacks string // "" when absent
	}{
		{name: "first attempt", provider: "openai", n: 1, wantModel: "tiered", wantUpstream: "gpt-4o-mini", wantAttempt: "1"},
		{name: "no attempt count is the first", provider: "openai", wantModel: "tiered", wantUpstream: "gpt-4o-mini", wantAttempt: "1"},
		{name: "second attempt, next priority level", provider: "anthropic", n: 2, wantModel: "tiered", wantUpstream: "claude-haiku-4-5",
			wantAttempt: "2", wantFallbacks: "openai/tiered"},
		{name: "third attempt, the fallback model", provider: "anthropic", n: 3, wantModel: "claude-sonnet", wantUpstream: "claude-sonnet-4-5-20250929",
			wantAttempt: "3", wantFallbacks: "openai/tiered,anthropic/tiered"},
		{name: "past the end repeats the last group", provider: "anthropic", n: 4, wantModel: "claude-sonnet", wantUpstream: "claude-sonnet-4-5-20250929",
			wantAttempt: "4", wantFallbacks: "openai/tiered,anthropic/tiered,anthropic/claude-sonnet"},
		{name: "a cluster outside its group keeps the primary model", provider: "openai", n: 3, wantModel: "tiered", wantUpstream: "gpt-4o-mini",
			wantAttempt: "3", wantFallbacks: "openai/tiered,anthropic/tiered"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := h.open(t, xds.HopUpstream)
			hdrs := postHeaders()
			if tc.n > 0 {
				hdrs = postHeaders("x-envoy-attempt-count", strconv.Itoa(tc.n))
			}
			continued(t, s.send(withMetadata(hdrs, tc.provider, r.request)))
			sent := bodyOut(body, continued(t, s.send(requestBody(body))))
			if got := gjson.GetBytes(sent, "model").Str; got != tc.wantUpstream {
				t.Errorf("upstream model = %q, want %q", got, tc.wantUpstream)
			}
			tr := readTranscript(t, tc.provider, map[string]string{"openai": "chat", "anthropic": "text"}[tc.provider])
			// Sized past what this hop holds: the headers go on at once
			// (an unsized or small answer's wait for its body).
			hr := s.send(responseHeaders(false, append(tr.headers, "content-length", strconv.Itoa(maxHeldWhole+1))...))
			m := readMutation(continued(t, hr).GetHeaderMutation())
			want := map[string]string{xds.ProviderHeader: tc.provider, xds.ModelHeader: tc.wantModel, AttemptHeader: tc.wantAttempt}
			for k, v := range want {
				if m.set[k] != v {
					t.Errorf("%s = %q, want %q", k, m.set[k], v)
				}
			}
			if got, ok := m.set[FallbacksHeader]; got != tc.wantFallbacks || ok != (tc.wantFallbacks != "") {
				t.Errorf("%s = %q (set %v), want %q", FallbacksHeader, got, ok, tc.wantFallbacks)
			}
			// The router hop (whose plan this is) translates the body: the
			// hand-over names this attempt, and the hop's stream closes.
			a := hr.GetDynamicMetadata().GetFields()[xds.AttemptNamespace].GetStructValue().GetFields()
			if a["provider"].GetStringValue() != tc.provider || a["model"].GetStringValue() != tc.wantModel ||
				a["upstream_model"].GetStringValue() != tc.wantUpstream || a["attempt"].GetNumberValue() != float64(atoi(tc.wantAttempt)) {
				t.Errorf("hand-over = %v, want provider %s, model %s (%s), attempt %s", a, tc.provider, tc.wantModel, tc.wantUpstream, tc.wantAttempt)
			}
			if err := h.waitEnded(t); err != nil {
				t.Errorf("Process returned %v", err)
			}
		})
	}
}

// TestUpstreamRemovesEveryCredential: header changes persist from one
// attempt into the next, so each attempt removes every credential header
// any schema (or its authorizer) sets; a fallback must never carry the
// key of the provider tried before.
func TestUpstreamRemovesEveryCredential(t *testing.T) {
	h := newHarness(t, mustLoad(t, testYAML))
	s := h.open(t, xds.HopUpstream)
	continued(t, s.send(upstreamHeaders("anthropic", "claude-sonnet")))
	m := readMutation(continued(t, s.send(requestBody(chatBody("claude-sonnet", false)))).GetHeaderMutation())
	s.close()
	if err := h.waitEnded(t); err != nil {
		t.Errorf("Process returned %v", err)
	}
	credentials := map[translators.Schema][]string{
		translators.SchemaOpenAI:      {"authorization"},
		translators.SchemaAzureOpenAI: {"api-key", "authorization"},
		// anthropic-beta is the client's, forwarded to Anthropic itself
		// (translators.ForwardsRequestHeader); other schemas remove it.
		translators.SchemaAnthropic: {"x-api-key", "anthropic-version"},
		translators.SchemaGemini:    {"x-goog-api-key"},
		translators.SchemaVertexAI:  {"authorization"},                                                               // OAuth token
		translators.SchemaBedrock:   {"authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"}, // SigV4
	}
	for _, sc := range translators.Schemas {
		names, ok := credentials[sc]
		if !ok {
			t.Errorf("schema %s: no credential headers listed in this test", sc)
		}
		// And whatever the translator itself sets, but for the body's type.
		tl, _ := translators.New(sc)
		spec, _ := translators.SpecFor(sc)
		if req, err := tl.Request(chatBody("m", false), translators.Target{Model: "m", Region: "us-east-1", Project: "p", Host: "h.example.test"}); err == nil {
			for _, hv := range append(req.Headers, spec.Credentials("k")...) {
				if k := strings.ToLower(hv.Key); k != "content-type" && !slices.Contains(names, k) {
					names = append(names, k)
				}
			}
		}
		for _, k := range names {
			if !m.removes(k) {
				t.Errorf("schema %s sets %s, which remove_headers %q lacks", sc, k, m.remove)
			}
		}
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
			continued(t, s.send(upstreamHeaders(tc.provider, tc.model)))
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
			s.streamHeaders(responseHeaders(false, append(tr.headers, "content-length", "9999")...))
			chunks := split(tr.body, tc.sizes...)
			if tc.emptyLast {
				chunks = append(chunks, nil)
			}
			// The headers answer comes with the first chunk's.
			firstOut := bodyOut(chunks[0], continued(t, s.send(responseBody(chunks[0], len(chunks) == 1))))
			m := readMutation(continued(t, s.heldHeaders()).GetHeaderMutation())
			if m.set["content-type"] != "text/event-stream" {
				t.Errorf("content-type = %q, want text/event-stream", m.set["content-type"])
			}
			if m.set[xds.ProviderHeader] != tc.provider || m.set[AttemptHeader] != "1" || m.set[xds.ModelHeader] != tc.model {
				t.Errorf("%s, %s, %s = %q, %q, %q; want %q, 1, %q", xds.ProviderHeader, AttemptHeader, xds.ModelHeader,
					m.set[xds.ProviderHeader], m.set[AttemptHeader], m.set[xds.ModelHeader], tc.provider, tc.model)
			}
			if _, ok := m.set[FallbacksHeader]; ok {
				t.Errorf("%s set on a first attempt", FallbacksHeader)
			}
			if _, ok := m.set[":status"]; ok {
				t.Errorf(":status changed to %s on a 200", m.set[":status"])
			}
			if !m.removes("content-length") {
				t.Errorf("remove_headers = %q, want content-length in it", m.remove)
			}

			var out []byte
			for i, chunk := range chunks {
				last := i == len(chunks)-1
				got := firstOut
				if i > 0 {
					got = bodyOut(chunk, continued(t, s.send(responseBody(chunk, last))))
				}
				if last && !tc.emptyLast && !bytes.HasSuffix(got, []byte("data: [DONE]\n\n")) {
					t.Errorf("last chunk %q does not end with data: [DONE]", got)
				}
				out = append(out, got...)
			}
			// Every chunk says who served it, as OpenRouter's do; [DONE]
			// stays as it is.
			tag := []byte(`"provider":"` + tc.provider + `",`)
			for i, d := range sseData(t, out) {
				if d == "[DONE]" {
					continue
				}
				if got := gjson.Get(d, "provider").Str; got != tc.provider {
					t.Errorf("event %d has provider %q, want %q: %s", i, got, tc.provider, d)
				}
			}
			out = bytes.ReplaceAll(out, tag, nil)
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
			// A small answer with a size: the headers answer waits for the
			// body and comes with it.
			chunks := split(tr.body, 5, 111, 17)
			var reqs []*extprocv3.ProcessingRequest
			for i, chunk := range chunks {
				reqs = append(reqs, responseBody(chunk, i == len(chunks)-1))
			}
			answers := s.respond(responseHeaders(false, append(tr.headers, "content-length", strconv.Itoa(len(tr.body)))...), reqs...)
			m := readMutation(continued(t, answers[0]).GetHeaderMutation())
			if m.set["content-type"] != "application/json" {
				t.Errorf("content-type = %q, want application/json", m.set["content-type"])
			}
			if !m.removes("content-length") {
				t.Errorf("remove_headers = %q, want content-length in it", m.remove)
			}
			var got []byte
			for i := range chunks {
				last := i == len(chunks)-1
				c := continued(t, answers[1+i])
				if !last {
					if !c.GetBodyMutation().GetClearBody() {
						t.Fatalf("chunk %d: want clear_body, got %v", i, c.GetBodyMutation())
					}
					continue
				}
				got = c.GetBodyMutation().GetBody()
			}
			// Says who served it, as OpenRouter does; no cost without pricing.
			if p := gjson.GetBytes(got, "provider").Str; p != tc.provider {
				t.Errorf("provider = %q, want %q", p, tc.provider)
			}
			if gjson.GetBytes(got, "usage.cost").Exists() {
				t.Errorf("usage.cost set without pricing: %s", got)
			}
			got, _ = sjson.DeleteBytes(got, "provider")
			tl, _ := translators.New(translators.Schema(tc.provider))
			want, _, err := tl.Response(tr.body)
			if err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(got, want) {
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
			// The error body is read whole before the headers are
			// answered: the final status comes from the body, while Envoy
			// still holds the headers and decides on a fallback from it.
			// Half the body comes first, then the rest.
			half := len(tr.body) / 2
			answers := s.respond(responseHeaders(false, tr.headers...), responseBody(tr.body[:half], false), responseBody(tr.body[half:], true))
			m := readMutation(continued(t, answers[0]).GetHeaderMutation())
			if m.set[xds.ProviderHeader] != tc.provider || m.set[AttemptHeader] != "1" {
				t.Errorf("%s, %s = %q, %q; want %q, 1", xds.ProviderHeader, AttemptHeader, m.set[xds.ProviderHeader], m.set[AttemptHeader], tc.provider)
			}
			if c := continued(t, answers[1]); !c.GetBodyMutation().GetClearBody() {
				t.Errorf("first half: want clear_body, got %v", c.GetBodyMutation())
			}
			body := continued(t, answers[2]).GetBodyMutation().GetBody()
			if m.set[":status"] != tc.wantStatus {
				t.Errorf(":status = %q, want %q", m.set[":status"], tc.wantStatus)
			}
			if m.set["content-type"] != "application/json" {
				t.Errorf("content-type = %q, want application/json", m.set["content-type"])
			}
			if _, kept := m.set["retry-after"]; kept != tc.wantRetryAfter || m.removes("retry-after") == tc.wantRetryAfter {
				t.Errorf("set %v remove %q; want retry-after kept = %v", m.set, m.remove, tc.wantRetryAfter)
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
		// immediate: the chunk (index) past the limit ends the exchange
		// with an immediate 502 (the client had its headers: Envoy resets
		// both sides instead of reading on).
		immediate int
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
			name:      "whole response over the limit",
			headers:   []string{":status", "200", "content-type", "application/json"},
			chunks:    []int{maxWholeResponse / 2, maxWholeResponse/2 + 1, 1000, 10},
			wantCode:  "upstream_response_too_large",
			immediate: 1,
		},
	}
	h := newHarness(t, mustLoad(t, testYAML))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := h.startUpstream(t, "openai", "gpt-4o", chatBody("gpt-4o", false))
			var reqs []*extprocv3.ProcessingRequest
			for i, n := range tc.chunks {
				reqs = append(reqs, responseBody(bytes.Repeat([]byte("x"), n), i == len(tc.chunks)-1))
			}
			answers := s.respond(responseHeaders(false, tc.headers...), reqs...)
			continued(t, answers[0])
			if tc.immediate > 0 {
				checkImmediate(t, answers[1+tc.immediate], 502, tc.wantCode)
				s.close()
				_ = h.waitEnded(t)
				return
			}
			var out []byte
			for i, r := range reqs {
				out = append(out, bodyOut(r.GetResponseBody().GetBody(), continued(t, answers[1+i]))...)
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

// jsonEqual compares two JSON documents by value.
func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// pricedYAML prices some candidates, in USD per million tokens.
const pricedYAML = `providers:
  - {name: openai, schema: openai, base_url: "https://openai.example.test/v1", api_key: {env: OPENAI_KEY}}
  - {name: anthropic, schema: anthropic, base_url: "https://anthropic.example.test", api_key: {env: ANTHROPIC_KEY}}
models:
  - name: gpt-4o
    providers:
      - {provider: openai, model: gpt-4o-2024-08-06, pricing: {prompt: 2.5, completion: 10, request: 0.001}}
  - name: claude-cached
    providers:
      - {provider: anthropic, model: claude-sonnet-4-5-20250929, pricing: {prompt: 3, completion: 15, cached_prompt: 0.3}}
  - name: claude-list
    providers:
      - {provider: anthropic, model: claude-sonnet-4-5-20250929, pricing: {prompt: 3, completion: 15}}
  - name: free
    providers:
      - {provider: openai, model: gpt-4o-mini}
`

// TestUpstreamCost prices a whole answer's usage at its candidate's rates
// and reports it as usage.cost, as OpenRouter does, and in the log.
func TestUpstreamCost(t *testing.T) {
	tests := []struct {
		name       string
		provider   string
		model      string
		transcript string
		wantCost   float64 // < 0: no cost
	}{
		// 24 prompt, 8 completion tokens, plus the request fee.
		{name: "per token and per request", provider: "openai", model: "gpt-4o", transcript: "chat", wantCost: (24*2.5+8*10)/1e6 + 0.001},
		// 2166 prompt tokens of which 1840 cache reads, 22 completion.
		{name: "cache reads at the cached rate", provider: "anthropic", model: "claude-cached", transcript: "cache_usage", wantCost: (326*3 + 1840*0.3 + 22*15) / 1e6},
		{name: "cache reads at the prompt rate when none is set", provider: "anthropic", model: "claude-list", transcript: "cache_usage", wantCost: (2166*3 + 22*15) / 1e6},
		{name: "no pricing, no cost", provider: "openai", model: "free", transcript: "chat", wantCost: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, mustLoad(t, pricedYAML))
			tr := readTranscript(t, tc.provider, tc.transcript)
			s := h.startUpstream(t, tc.provider, tc.model, chatBody(tc.model, false))
			continued(t, s.send(responseHeaders(false, tr.headers...)))
			out := bodyOut(tr.body, continued(t, s.send(responseBody(tr.body, true))))
			s.close()
			if err := h.waitEnded(t); err != nil {
				t.Errorf("Process returned %v", err)
			}
			cost := gjson.GetBytes(out, "usage.cost")
			var logged []float64
			for _, e := range h.logs.FilterMessage("completion").All() {
				if v, ok := e.ContextMap()["cost_usd"]; ok {
					logged = append(logged, v.(float64))
				}
			}
			if tc.wantCost < 0 {
				if cost.Exists() || len(logged) != 0 {
					t.Errorf("usage.cost = %s, logged %v; want none without pricing", cost.Raw, logged)
				}
				return
			}
			if !cost.Exists() || math.Abs(cost.Float()-tc.wantCost) > 1e-12 {
				t.Errorf("usage.cost = %s, want %v (usage %s)", cost.Raw, tc.wantCost, gjson.GetBytes(out, "usage").Raw)
			}
			if len(logged) != 1 || math.Abs(logged[0]-tc.wantCost) > 1e-12 {
				t.Errorf("logged cost_usd = %v, want [%v]", logged, tc.wantCost)
			}
			if p := gjson.GetBytes(out, "provider").Str; p != tc.provider {
				t.Errorf("provider = %q, want %q", p, tc.provider)
			}
		})
	}
}

// TestUpstreamHeldWholeAnswer: a small answer with a size has its headers
// answered with its body, so an answer that turns out to be an error (an
// Anthropic error object under a 200) gets the error's status. Without a
// size the headers went on at once: the body still says what failed.
func TestUpstreamHeldWholeAnswer(t *testing.T) {
	errBody := []byte(`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)
	h := newHarness(t, mustLoad(t, testYAML))

	s := h.startUpstream(t, "anthropic", "claude-sonnet", chatBody("claude-sonnet", false))
	answers := s.respond(responseHeaders(false, ":status", "200", "content-type", "application/json", "content-length", strconv.Itoa(len(errBody))),
		responseBody(errBody, true))
	m := readMutation(continued(t, answers[0]).GetHeaderMutation())
	if m.set[":status"] != "503" || m.set["content-type"] != "application/json" {
		t.Errorf("held headers answer sets :status %q, content-type %q; want 503, application/json", m.set[":status"], m.set["content-type"])
	}
	if e := decodeError(t, continued(t, answers[1]).GetBodyMutation().GetBody()); e.code() != "provider_overloaded" {
		t.Errorf("error.code = %q, want provider_overloaded", e.code())
	}
	s.close()
	_ = h.waitEnded(t)

	s = h.startUpstream(t, "anthropic", "claude-sonnet", chatBody("claude-sonnet", false))
	m = readMutation(continued(t, s.send(responseHeaders(false, ":status", "200", "content-type", "application/json"))).GetHeaderMutation())
	if _, ok := m.set[":status"]; ok {
		t.Errorf("unsized answer: :status set to %q before the body", m.set[":status"])
	}
	if e := decodeError(t, continued(t, s.send(responseBody(errBody, true))).GetBodyMutation().GetBody()); e.code() != "provider_overloaded" {
		t.Errorf("unsized answer: error.code = %q, want provider_overloaded", e.code())
	}
	s.close()
	_ = h.waitEnded(t)
}

// TestUpstreamHeldUnsized: on an attempt with a fallback behind it and a
// router hop that takes over, an unsized whole answer's headers wait for
// its body (Envoy asked to wait past the per-try timeout), so a 200 that
// is no answer becomes a 502 Envoy can retry; past maxHeldUnsized the
// answer is handed to the router hop mid-body, every chunk unchanged.
func TestUpstreamHeldUnsized(t *testing.T) {
	h := newHarness(t, mustLoad(t, testYAML))
	r := h.route(t, []byte(`{"model":"tiered","messages":[{"role":"user","content":"hi"}]}`))
	delete(r.request.Fields, routerWholeField) // not the last attempt
	start := func() *envoyStream {
		s := h.open(t, xds.HopUpstream)
		continued(t, s.send(withMetadata(postHeaders("x-envoy-attempt-count", "1"), "openai", r.request)))
		continued(t, s.send(requestBody([]byte(`{"model":"tiered","messages":[{"role":"user","content":"hi"}]}`))))
		return s
	}
	unsized := responseHeaders(false, ":status", "200", "content-type", "application/json")

	s := start()
	if wait := s.streamHeaders(unsized); wait <= h.store.Current().Routing.PerTryTimeout.D() {
		t.Errorf("Envoy asked to wait %v, want past the per-try timeout %v", wait, h.store.Current().Routing.PerTryTimeout.D())
	}
	body := continued(t, s.send(responseBody([]byte(`{}`), true))).GetBodyMutation().GetBody()
	if m := readMutation(continued(t, s.heldHeaders()).GetHeaderMutation()); m.set[":status"] != "502" {
		t.Errorf("a 200 with {}: held headers set :status %q, want 502", m.set[":status"])
	}
	if e := decodeError(t, body); e.code() != "bad_upstream_response" {
		t.Errorf("a 200 with {}: error.code = %q, want bad_upstream_response", e.code())
	}
	s.close()
	_ = h.waitEnded(t)

	s = start()
	s.streamHeaders(unsized)
	s.awaiting = false
	chunk := bytes.Repeat([]byte("a"), maxHeldUnsized/2+1)
	for range 2 {
		if err := s.stream.Send(responseBody(chunk, false)); err != nil {
			t.Fatal(err)
		}
	}
	hr := s.recv(nil)
	a := hr.GetDynamicMetadata().GetFields()[xds.AttemptNamespace].GetStructValue().GetFields()
	if continued(t, hr) == nil || a["provider"].GetStringValue() != "openai" || a["mode"].GetStringValue() != "whole" {
		t.Fatalf("past maxHeldUnsized: first answer %v, want the headers with the hand-over", hr)
	}
	if _, ok := readMutation(hr.GetResponseHeaders().GetResponse().GetHeaderMutation()).set[":status"]; ok {
		t.Errorf("handed-over headers change the status")
	}
	for i := range 2 {
		if c := continued(t, s.recv(nil)); c.GetBodyMutation() != nil {
			t.Errorf("chunk %d answered with %v, want unchanged", i+1, c.GetBodyMutation())
		}
	}
	if err := h.waitEnded(t); err != nil {
		t.Errorf("Process returned %v", err)
	}
}

// TestUpstreamStreamCost: a priced stream's one usage chunk carries
// usage.cost, the same figure the completion log records; no other chunk
// does, and an unpriced stream has none.
func TestUpstreamStreamCost(t *testing.T) {
	tests := []struct {
		provider, model, transcript string
		priced                      bool
	}{
		{"openai", "gpt-4o", "chat_stream", true},
		{"anthropic", "claude-cached", "cache_usage_stream", true},
		{"openai", "free", "chat_stream", false},
	}
	for _, tc := range tests {
		t.Run(tc.model+"/"+tc.transcript, func(t *testing.T) {
			h := newHarness(t, mustLoad(t, pricedYAML))
			tr := readTranscript(t, tc.provider, tc.transcript)
			body, _ := sjson.SetBytes(chatBody(tc.model, true), "stream_options.include_usage", true)
			s := h.startUpstream(t, tc.provider, tc.model, body)
			s.streamHeaders(responseHeaders(false, tr.headers...))
			var out []byte
			for i, c := range split(tr.body, 7, 130) {
				out = append(out, bodyOut(c, continued(t, s.send(responseBody(c, i == len(split(tr.body, 7, 130))-1))))...)
			}
			s.close()
			_ = h.waitEnded(t)
			var costs []float64
			usageChunks := 0
			for _, line := range strings.Split(string(out), "\n") {
				data, ok := strings.CutPrefix(line, "data: ")
				if !ok || data == "[DONE]" {
					continue
				}
				if u := gjson.Get(data, "usage"); u.IsObject() {
					usageChunks++
				}
				if c := gjson.Get(data, "usage.cost"); c.Exists() {
					costs = append(costs, c.Float())
				}
			}
			if usageChunks != 1 {
				t.Fatalf("%d usage chunks, want 1:\n%s", usageChunks, out)
			}
			var logged []float64
			for _, e := range h.logs.FilterMessage("completion").All() {
				if v, ok := e.ContextMap()["cost_usd"]; ok {
					logged = append(logged, v.(float64))
				}
			}
			if !tc.priced {
				if len(costs) != 0 || len(logged) != 0 {
					t.Errorf("costs %v, logged %v; want none without pricing", costs, logged)
				}
				return
			}
			if len(costs) != 1 || len(logged) != 1 || costs[0] <= 0 || math.Abs(costs[0]-logged[0]) > 1e-12 {
				t.Errorf("usage.cost in chunks %v, logged %v; want one equal positive figure", costs, logged)
			}
		})
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
