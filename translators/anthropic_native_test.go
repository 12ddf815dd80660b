package translators

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

func nativeExchange(t *testing.T, body string) *Exchange {
	t.Helper()
	api, _ := APIFor("/v1/messages")
	spec, _ := SpecFor(SchemaAnthropic)
	x, err := Begin(api, spec, []byte(body), Target{Model: "claude-up", PathPrefix: "/anthropic"}, "sk-ant-1", Facts{Provider: "p"})
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// A Messages body to an Anthropic-schema provider keeps every field the
// gateway does not own, in order, with only the model swapped.
func TestAnthropicNativeRequest(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"unknown fields kept", `{"model":"m","max_tokens":5,"thinking":{"type":"adaptive"},"context_management":{"edits":[]},"output_config":{"effort":"high"},"messages":[{"role":"user","content":"hi"},{"role":"system","content":"r"}]}`,
			`{"model":"claude-up","max_tokens":5,"thinking":{"type":"adaptive"},"context_management":{"edits":[]},"output_config":{"effort":"high"},"messages":[{"role":"user","content":"hi"},{"role":"system","content":"r"}]}`},
		{"gateway fields removed", `{"model":"m","provider":{"sort":"price"},"models":["a"],"messages":[],"session_id":"s"}`, `{"model":"claude-up","messages":[]}`},
		{"server tools kept", `{"model":"m","tools":[{"type":"web_search_20250305","name":"web_search"}],"messages":[]}`, `{"model":"claude-up","tools":[{"type":"web_search_20250305","name":"web_search"}],"messages":[]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			x := nativeExchange(t, tc.in)
			if string(x.Upstream.Body) != tc.want {
				t.Errorf("body\n%s\nwant\n%s", x.Upstream.Body, tc.want)
			}
			if string(in) != tc.in {
				t.Error("input modified")
			}
			if x.Upstream.Path != "/anthropic/v1/messages" || !equalHeaders(x.Upstream.Headers, []Header{{"content-type", "application/json"}, {"anthropic-version", "2023-06-01"}, {"x-api-key", "sk-ant-1"}}) {
				t.Errorf("path %s headers %v", x.Upstream.Path, x.Upstream.Headers)
			}
		})
	}
	if _, err := Begin(apis[1], &specs[2], []byte(`[1]`), Target{Model: "x"}, "", Facts{}); err == nil {
		t.Error("a non-object body passed")
	}
}

// Answers pass byte for byte; usage is read on the way; a stream cut
// before message_stop ends with Anthropic's error event.
func TestAnthropicNativeAnswers(t *testing.T) {
	x := nativeExchange(t, `{"model":"m","stream":true,"messages":[]}`)
	sse := transcriptBody(t, "text_stream")
	st := x.NewStream()
	var out []byte
	for i := 0; i < len(sse); i += 37 {
		out = st.Translate(out, sse[i:min(i+37, len(sse))])
	}
	out = st.Finish(out)
	if !bytes.Equal(out, sse) {
		t.Errorf("stream changed:\n%s", out)
	}
	if u := st.Usage(); u.PromptTokens == 0 || u.CompletionTokens == 0 {
		t.Errorf("usage %+v", u)
	}
	cut := x.NewStream()
	out = cut.Finish(cut.Translate(nil, sse[:len(sse)/2]))
	if tail := string(out[len(sse)/2:]); !strings.HasPrefix(tail, "event: error\ndata: ") || !strings.Contains(tail, `"type":"api_error"`) {
		t.Errorf("cut stream ends %q", out[len(sse)/2:])
	}
	whole := transcriptBody(t, "text")
	got, u, err := x.Answer(whole)
	if err != nil || !bytes.Equal(got, whole) || u.CompletionTokens == 0 {
		t.Errorf("answer %s usage %+v err %v", got, u, err)
	}
	if _, _, err := x.Answer([]byte(`{"type":"error","error":{"type":"overloaded_error","message":"x"}}`)); err == nil {
		t.Error("an error object under 200 passed as an answer")
	}
	if e := x.Error(529, "", nil, []byte(`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)); gjson.GetBytes(x.ErrorBody(e), "error.type").Str != "overloaded_error" {
		t.Errorf("error body %s", x.ErrorBody(e))
	}
}

// transcriptBody is the body of a recorded Anthropic transcript.
func transcriptBody(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/transcripts/anthropic/" + name + ".http")
	if err != nil {
		t.Fatal(err)
	}
	_, body, ok := bytes.Cut(b, []byte("\r\n\r\n"))
	if !ok {
		_, body, ok = bytes.Cut(b, []byte("\n\n"))
	}
	if !ok {
		t.Fatalf("%s: no body", name)
	}
	return body
}

// Claude on Vertex: the client's Messages body and betas in Vertex's
// form (no model, anthropic_version and anthropic_beta in the body), at
// rawPredict or streamRawPredict; vertex_event is not the client's.
func TestVertexAnthropicNative(t *testing.T) {
	api, _ := APIFor("/v1/messages")
	spec, _ := SpecFor(SchemaVertexAI)
	target := Target{Model: "claude-sonnet-4-5@20250929", Project: "p", Region: "us-east5", AnthropicBeta: "context-1m-2025-08-07,effort-2025-11-24"}
	x, err := Begin(api, spec, []byte(`{"model":"m","stream":true,"thinking":{"type":"adaptive"},"messages":[{"role":"user","content":"hi"}]}`), target, "", Facts{})
	if err != nil {
		t.Fatal(err)
	}
	b := gjson.ParseBytes(x.Upstream.Body)
	if !x.Native || !strings.HasSuffix(x.Upstream.Path, "/publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict") ||
		b.Get("model").Exists() || b.Get("anthropic_version").Str != "vertex-2023-10-16" || b.Get("thinking.type").Str != "adaptive" ||
		b.Get("anthropic_beta").Raw != `["context-1m-2025-08-07","effort-2025-11-24"]` {
		t.Fatalf("native %v path %s body %s", x.Native, x.Upstream.Path, x.Upstream.Body)
	}
	for _, h := range x.Upstream.Headers {
		if h.Key == "anthropic-beta" || h.Key == "anthropic-version" || h.Key == "x-api-key" {
			t.Errorf("header %s sent to Vertex", h.Key)
		}
	}
	st := x.NewStream()
	out := st.Translate(nil, []byte("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":3}}}\n\nevent: vertex_event\ndata: {\"type\":\"vertex_event\"}\n\n"))
	if strings.Contains(string(out), "vertex_event") || !strings.Contains(string(out), "message_start") {
		t.Errorf("stream %q", out)
	}
	gem := Target{Model: "gemini-2.5-pro", Project: "p", Region: "us-east5"}
	if x, err := Begin(api, spec, []byte(`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`), gem, "", Facts{}); err != nil || x.Native {
		t.Errorf("gemini on vertex taken as native: %v %v", x, err)
	}
}

// FuzzNativeStreams: the pass-through streams (Anthropic, Claude on Vertex
// re-framed, Responses) never panic, pass Anthropic bytes through as
// split, and end a stream that has no terminal event with one.
func FuzzNativeStreams(f *testing.F) {
	f.Add([]byte("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":3}}}\n\nevent: vertex_event\ndata: {\"type\":\"vertex_event\"}\n\n"), 7)
	f.Add([]byte("event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":9,\"response\":{\"usage\":{\"output_tokens\":2}}}\n\n"), 3)
	f.Add([]byte("data: {\ndata: }\n\n: comment\n\n"), 1)
	f.Fuzz(func(t *testing.T, data []byte, split int) {
		split = max(1, split%64+1)
		for _, st := range []StreamTranslator{newNativeAnthropicStream(), &nativeAnthropicStream{vertex: true}, &nativeResponsesStream{}} {
			var out []byte
			for i := 0; i < len(data); i += split {
				out = st.Translate(out, data[i:min(i+split, len(data))])
			}
			out = st.Finish(out)
			if a, ok := st.(*nativeAnthropicStream); ok && !a.vertex && !bytes.HasPrefix(out, data) {
				t.Fatalf("pass-through changed the bytes")
			}
			_ = st.Usage()
		}
	})
}
