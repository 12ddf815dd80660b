package translators

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

const vertexClaude = "claude-sonnet-4-5@20250929"

// vertexTarget is the Target of a golden case: its own model, with the
// placeholder claude-vertex standing for a Claude model id.
func vertexTarget(in []byte) Target {
	model := gjson.GetBytes(in, "model").Str
	if model == "claude-vertex" {
		model = vertexClaude
	}
	return Target{Model: model, Project: "acme-prod", Region: "us-east5"}
}

func TestVertexRequestGolden(t *testing.T) {
	for _, name := range goldenCases(t, "openai_vertex") {
		t.Run(name, func(t *testing.T) {
			in := goldenIn(t, "openai_vertex", name)
			orig := bytes.Clone(in)
			req, err := openAIToVertex{}.Request(in, vertexTarget(in))
			if err != nil {
				t.Fatalf("Request: %v", err)
			}
			if !bytes.Equal(in, orig) {
				t.Fatal("Request modified its input")
			}
			checkGolden(t, filepath.Join(testdata, "openai_vertex", name+".out.json"), prettyJSON(t, req.Body))
		})
	}
}

func TestVertexRequestFields(t *testing.T) {
	const body = `{"messages":[{"role":"user","content":"hi"}]}`
	const stream = `{"stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`
	json := []Header{{"content-type", "application/json"}}
	tests := []struct {
		name        string
		body        string
		target      Target
		wantPath    string
		wantHeaders []Header
		wantStream  bool
		want        map[string]string
		wantDropped []string
	}{
		{
			name: "gemini", body: body,
			// A static key is never sent: Vertex AI takes the OAuth token.
			target:      Target{Model: "gemini-2.5-pro", Project: "acme-prod", Region: "us-central1"},
			wantPath:    "/v1/projects/acme-prod/locations/us-central1/publishers/google/models/gemini-2.5-pro:generateContent",
			wantHeaders: json,
			want:        map[string]string{"contents": `[{"role":"user","parts":[{"text":"hi"}]}]`, "model": ""},
		},
		{
			name: "gemini streamed in the global region behind a versioned base URL", body: stream,
			target:      Target{Model: "gemini-2.5-flash", Project: "acme-prod", Region: "global", PathPrefix: "/v1"},
			wantPath:    "/v1/projects/acme-prod/locations/global/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
			wantHeaders: json, wantStream: true,
		},
		{
			name: "claude", body: body,
			target:      Target{Model: vertexClaude, Project: "acme-prod", Region: "us-east5"},
			wantPath:    "/v1/projects/acme-prod/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict",
			wantHeaders: json,
			want:        map[string]string{"anthropic_version": `"vertex-2023-10-16"`, "model": "", "max_tokens": "4096", "stream": ""},
		},
		{
			name: "claude streamed", body: stream,
			target:      Target{Model: "claude-haiku-4-5", Project: "p", Region: "europe-west1", PathPrefix: "/proxy"},
			wantPath:    "/proxy/v1/projects/p/locations/europe-west1/publishers/anthropic/models/claude-haiku-4-5:streamRawPredict",
			wantHeaders: json, wantStream: true,
			want: map[string]string{"stream": "true", "anthropic_version": `"vertex-2023-10-16"`},
		},
		{
			name:        "gemini names and unsupported parameters dropped",
			body:        `{"logit_bias":{"5":1},"parallel_tool_calls":false,"messages":[{"role":"user","name":"alice","content":"hi"}]}`,
			target:      Target{Model: "gemini-2.5-flash", Project: "acme-prod", Region: "us-central1"},
			wantPath:    "/v1/projects/acme-prod/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent",
			wantHeaders: json,
			want:        map[string]string{"contents": `[{"role":"user","parts":[{"text":"hi"}]}]`, "logit_bias": ""},
			wantDropped: []string{"logit_bias", "parallel_tool_calls", "messages[].name"},
		},
		{
			name:        "claude names and unsupported parameters dropped",
			body:        `{"seed":1,"temperature":1.5,"messages":[{"role":"user","name":"alice","content":"hi"}]}`,
			target:      Target{Model: vertexClaude, Project: "acme-prod", Region: "us-east5"},
			wantPath:    "/v1/projects/acme-prod/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict",
			wantHeaders: json,
			want:        map[string]string{"messages": `[{"role":"user","content":"hi"}]`, "temperature": "1", "seed": ""},
			wantDropped: []string{"temperature", "seed", "messages[].name"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := openAIToVertex{}.Request([]byte(tc.body), tc.target)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(req.Dropped, ",") != strings.Join(tc.wantDropped, ",") {
				t.Errorf("dropped %q, want %q", req.Dropped, tc.wantDropped)
			}
			if req.Path != tc.wantPath {
				t.Errorf("path %q, want %q", req.Path, tc.wantPath)
			}
			if !geminiEqualHeaders(req.Headers, tc.wantHeaders) {
				t.Errorf("headers %v, want %v", req.Headers, tc.wantHeaders)
			}
			if req.Stream != tc.wantStream || req.IncludeUsage != tc.wantStream {
				t.Errorf("stream %v include usage %v, want %v", req.Stream, req.IncludeUsage, tc.wantStream)
			}
			geminiCheckPaths(t, req.Body, tc.want)
		})
	}
}

// TestVertexToolChoice: each tool_choice reaches both model families on
// Vertex AI in their own wire format.
func TestVertexToolChoice(t *testing.T) {
	const tools = `"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}},{"type":"function","function":{"name":"get_time"}}]`
	tests := []struct {
		name, choice, model, path, want string
	}{
		{"gemini auto", `"auto"`, "gemini-2.5-flash", "toolConfig.functionCallingConfig", `{"mode":"AUTO"}`},
		{"gemini none", `"none"`, "gemini-2.5-flash", "toolConfig.functionCallingConfig", `{"mode":"NONE"}`},
		{"gemini required", `"required"`, "gemini-2.5-flash", "toolConfig.functionCallingConfig", `{"mode":"ANY"}`},
		{"gemini named", `{"type":"function","function":{"name":"get_weather"}}`, "gemini-2.5-flash", "toolConfig.functionCallingConfig", `{"mode":"ANY","allowedFunctionNames":["get_weather"]}`},
		{"claude auto", `"auto"`, vertexClaude, "tool_choice", `{"type":"auto"}`},
		{"claude none", `"none"`, vertexClaude, "tool_choice", `{"type":"none"}`},
		{"claude required", `"required"`, vertexClaude, "tool_choice", `{"type":"any"}`},
		{"claude named", `{"type":"function","function":{"name":"get_weather"}}`, vertexClaude, "tool_choice", `{"type":"tool","name":"get_weather"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"messages":[{"role":"user","content":"Weather in Paris?"}],` + tools + `,"tool_choice":` + tc.choice + `}`
			req, err := openAIToVertex{}.Request([]byte(body), Target{Model: tc.model, Project: "p", Region: "us-east5"})
			if err != nil {
				t.Fatal(err)
			}
			if got := geminiCompact(gjson.GetBytes(req.Body, tc.path).Raw); got != tc.want {
				t.Errorf("%s = %s, want %s", tc.path, got, tc.want)
			}
		})
	}
}

func TestVertexAnthropicBetaHeader(t *testing.T) {
	in := Request{
		Path:    "/v1/messages",
		Headers: []Header{{"content-type", "application/json"}, {"x-api-key", "k"}, {"anthropic-version", "2023-06-01"}, {"anthropic-beta", "interleaved-thinking-2025-05-14, context-1m-2025-08-07"}},
		Body:    []byte(`{"model":"claude","max_tokens":10,"messages":[]}`),
	}
	out, err := vertexAnthropicAdjust(in, "/v1/projects/p/locations/r/publishers/anthropic/models/claude")
	if err != nil {
		t.Fatal(err)
	}
	if !geminiEqualHeaders(out.Headers, []Header{{"content-type", "application/json"}}) {
		t.Errorf("headers %v", out.Headers)
	}
	geminiCheckPaths(t, out.Body, map[string]string{
		"anthropic_beta":    `["interleaved-thinking-2025-05-14","context-1m-2025-08-07"]`,
		"anthropic_version": `"vertex-2023-10-16"`,
		"model":             "",
	})
	if out.Path != "/v1/projects/p/locations/r/publishers/anthropic/models/claude:rawPredict" {
		t.Errorf("path %q", out.Path)
	}
}

func TestVertexRequestErrors(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		target     Target
		wantStatus int
		wantCode   string
		wantMsg    string
	}{
		{"no project", `{"messages":[{"role":"user","content":"hi"}]}`, Target{Model: "gemini-2.5-pro", Region: "us-central1"}, 500, "provider_misconfigured", "needs a project and a region"},
		{"gemini request error", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"http://x/y.png"}}]}]}`, Target{Model: "gemini-2.5-pro", Project: "p", Region: "r"}, 400, "invalid_value", "Gemini only fetches https:// and gs:// URLs"},
		{"claude request error", `{"n":3,"messages":[{"role":"user","content":"hi"}]}`, Target{Model: vertexClaude, Project: "p", Region: "r"}, 400, "unsupported_parameter", "'n' other than 1 is not supported"},
		{"claude require_parameters", `{"messages":[{"role":"user","name":"alice","content":"hi"}],"provider":{"require_parameters":true}}`, Target{Model: vertexClaude, Project: "p", Region: "r"}, 400, "unsupported_parameter", "provider schema anthropic cannot honour: messages[].name"},
		{"gemini require_parameters", `{"logit_bias":{"1":1},"provider":{"require_parameters":true},"messages":[{"role":"user","content":"hi"}]}`, Target{Model: "gemini-2.5-pro", Project: "p", Region: "r"}, 400, "unsupported_parameter", "cannot honour: logit_bias"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := openAIToVertex{}.Request([]byte(tc.body), tc.target)
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v, want *APIError", err)
			}
			if ae.Status != tc.wantStatus || ae.Code != tc.wantCode || !strings.Contains(ae.Message, tc.wantMsg) {
				t.Errorf("got %d %s %q, want %d %s containing %q", ae.Status, ae.Code, ae.Message, tc.wantStatus, tc.wantCode, tc.wantMsg)
			}
		})
	}
}

func TestVertexResponseGolden(t *testing.T) {
	tests := []struct {
		name       string
		wantUsage  Usage
		wantFinish string
		wantCalls  int
	}{
		{"gemini_text", Usage{PromptTokens: 12, CompletionTokens: 30 + 368, ReasoningTokens: 368}, "stop", 0},
		{"gemini_tool_calls", Usage{PromptTokens: 1136, CompletionTokens: 24 + 102, CachedTokens: 1024, ReasoningTokens: 102}, "tool_calls", 2},
		{"gemini_safety", Usage{PromptTokens: 18}, "content_filter", 0},
		{"claude_text", Usage{PromptTokens: 21, CompletionTokens: 35}, "stop", 0},
		{"claude_tool_calls", Usage{PromptTokens: 38 + 412 + 2048, CompletionTokens: 143, CachedTokens: 2048, CacheWriteTokens: 412}, "tool_calls", 2},
		{"claude_max_tokens", Usage{PromptTokens: 19, CompletionTokens: 16}, "length", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := translateGolden(t, openAIToVertex{}, "vertex", tc.name, tc.wantUsage)
			c := gjson.GetBytes(out, "choices.0")
			if c.Get("finish_reason").Str != tc.wantFinish || len(c.Get("message.tool_calls").Array()) != tc.wantCalls {
				t.Errorf("finish_reason %q with %d tool calls, want %q with %d", c.Get("finish_reason").Str, len(c.Get("message.tool_calls").Array()), tc.wantFinish, tc.wantCalls)
			}
			checkGolden(t, filepath.Join(testdata, "openai_vertex", tc.name+".resp.json"), prettyJSON(t, normalize(out)))
		})
	}
}

func TestVertexError(t *testing.T) {
	tests := []struct {
		name       string
		transcript string
		status     int
		body       string
		want       APIError
	}{
		{
			name: "quota without a retry hint", transcript: "error_429",
			want: APIError{Status: 429, Type: TypeRateLimit, Code: "rate_limit_exceeded",
				Message: "Resource exhausted. Please try again later. Please refer to https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details."},
		},
		{
			name: "bad token", transcript: "error_401",
			want: APIError{Status: 502, Type: TypeUpstream, Code: "provider_auth_failed", Message: "the gateway's credential for the provider was rejected (upstream status 401)"},
		},
		{
			name: "claude overloaded", transcript: "claude_error_529",
			want: APIError{Status: 503, Type: TypeUpstream, Code: "provider_overloaded", Message: "Overloaded"},
		},
		{
			name: "gemini overloaded", transcript: "gemini_error_503",
			want: APIError{Status: 503, Type: TypeUpstream, Code: "provider_overloaded", Message: "The model is overloaded. Please try again later."},
		},
		{
			name: "claude prompt too long", status: 400,
			body: `{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 215843 tokens > 200000 maximum"}}`,
			want: APIError{Status: 400, Type: TypeInvalidRequest, Code: "context_length_exceeded", Message: "prompt is too long: 215843 tokens > 200000 maximum"},
		},
		{
			name: "gemini prompt too long", status: 400,
			body: `{"error":{"code":400,"message":"The input token count (1100000) exceeds the maximum number of tokens allowed (1048576).","status":"INVALID_ARGUMENT"}}`,
			want: APIError{Status: 400, Type: TypeInvalidRequest, Code: "context_length_exceeded", Message: "The input token count (1100000) exceeds the maximum number of tokens allowed (1048576)."},
		},
		{
			name: "model not enabled", status: 403,
			body: `{"error":{"code":403,"message":"Permission 'aiplatform.endpoints.predict' denied on resource","status":"PERMISSION_DENIED"}}`,
			want: APIError{Status: 502, Type: TypeUpstream, Code: "provider_auth_failed", Message: "the gateway's credential for the provider was rejected (upstream status 403)"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, retryAfter, body := tc.status, "", []byte(tc.body)
			if tc.transcript != "" {
				tx := readTranscript(t, "vertex", tc.transcript)
				status, retryAfter, body = tx.status, tx.header.Get("Retry-After"), tx.body
			}
			if got := (openAIToVertex{}).Error(status, retryAfter, body); *got != tc.want {
				t.Errorf("got  %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}

func TestVertexStreamGolden(t *testing.T) {
	tests := []struct {
		name       string
		transcript string
		body       string
		wantUsage  Usage
		wantErr    string
		wantFinish string // checked when set
	}{
		{name: "gemini_tool_stream", transcript: "gemini_tool_stream", wantUsage: Usage{PromptTokens: 74, CompletionTokens: 18 + 59, ReasoningTokens: 59}, wantFinish: "tool_calls"},
		{name: "gemini_max_tokens_stream", transcript: "gemini_max_tokens_stream", wantUsage: Usage{PromptTokens: 15, CompletionTokens: 16}, wantFinish: "length"},
		{name: "claude_tool_stream", transcript: "claude_tool_stream", wantUsage: Usage{PromptTokens: 402, CompletionTokens: 61}, wantFinish: "tool_calls"},
		{name: "claude_thinking_stream", transcript: "claude_thinking_stream", wantUsage: Usage{PromptTokens: 46, CompletionTokens: 109}, wantFinish: "stop"},
		{name: "claude_refusal_stream", transcript: "claude_refusal_stream", wantUsage: Usage{PromptTokens: 44, CompletionTokens: 7}, wantFinish: "content_filter"},
		{name: "claude_stream_truncated", transcript: "claude_stream_truncated", wantUsage: Usage{PromptTokens: 27, CompletionTokens: 1}, wantErr: "upstream_stream_error"},
		{
			name:      "stream_comment_before_anthropic",
			body:      ": ok\r\n\r\nevent: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_vrtx_1\",\"model\":\"claude\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
			wantUsage: Usage{PromptTokens: 3, CompletionTokens: 1},
		},
		{name: "stream_short_line", body: "ev\n", wantErr: "upstream_stream_error"},
		{name: "stream_empty_body", wantErr: "upstream_stream_error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(tc.body)
			if tc.transcript != "" {
				body = readTranscript(t, "vertex", tc.transcript).body
			}
			golden := filepath.Join(testdata, "openai_vertex", tc.name+".resp.sse")
			out, usage := checkStreamGolden(t, openAIToVertex{}, StreamOptions{IncludeUsage: true}, body, golden)
			if usage != tc.wantUsage {
				t.Errorf("usage %+v, want %+v", usage, tc.wantUsage)
			}
			if e := streamErrorOf(out); e.Get("code").Str != tc.wantErr {
				t.Errorf("error chunk %s, want code %q", e.Raw, tc.wantErr)
			}
			if got := streamFinishReason(out); tc.wantFinish != "" && got != tc.wantFinish {
				t.Errorf("finish_reason %q, want %q", got, tc.wantFinish)
			}
		})
	}
}

func TestSniffVertexStream(t *testing.T) {
	tests := []struct {
		in                  string
		anthropic, resolved bool
	}{
		{"", false, false},
		{"ev", false, false},
		{"event", false, false},
		{"event:", true, true},
		{"data: {", false, true},
		{"d", false, true},
		{": comment", false, false},
		{": comment\n", false, false},
		{": comment\r\n\r\nevent: x", true, true},
		{"\n\ndata", false, true},
		{"ev\n", false, true},
		{": c\r\n\r", false, false},
		{": c\r\n\r\ne", false, false},
		{": c\r\n\rx", false, true},
	}
	for _, tc := range tests {
		a, r := sniffVertexStream([]byte(tc.in))
		if a != tc.anthropic || r != tc.resolved {
			t.Errorf("sniff(%q) = %v %v, want %v %v", tc.in, a, r, tc.anthropic, tc.resolved)
		}
	}
}

func FuzzVertexStream(f *testing.F) {
	for i, b := range transcriptBodies(f, "vertex") {
		f.Add(b, uint64(i))
	}
	f.Add([]byte(": x\n\nevent: message_start\ndata: {}\n\n"), uint64(3))
	f.Fuzz(func(t *testing.T, body []byte, seed uint64) {
		opts := StreamOptions{IncludeUsage: true}
		out, u := runStream(openAIToVertex{}, opts, body, whole)
		out = normalize(out)
		checkSSE(t, out)
		split, su := runStream(openAIToVertex{}, opts, body, randomSplits(seed, 16))
		if !bytes.Equal(normalize(split), out) || su != u {
			t.Fatalf("split output differs:\n%s\n---\n%s", split, out)
		}
	})
}

func FuzzVertexResponse(f *testing.F) {
	for _, b := range transcriptBodies(f, "vertex") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		out, usage, err := openAIToVertex{}.Response(body)
		if err != nil {
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status < 400 {
				t.Fatalf("error %v is not an APIError", err)
			}
			return
		}
		if !gjson.ValidBytes(out) || gjson.GetBytes(out, "usage.total_tokens").Int() != usage.Total() {
			t.Fatalf("bad output %s for usage %+v", out, usage)
		}
		if e := (openAIToVertex{}).Error(500, "", body); e == nil || e.Status < 400 {
			t.Fatalf("Error mapped to %+v", e)
		}
	})
}

func BenchmarkVertexRequestClaude(b *testing.B) {
	in := goldenIn(b, "openai_vertex", "claude_tools")
	benchRequest(b, openAIToVertex{}, in, vertexTarget(in))
}

// BenchmarkVertexStreamTextDelta is the steady state behind the sniffing
// wrapper: one Gemini text event in, one chunk out.
func BenchmarkVertexStreamTextDelta(b *testing.B) {
	benchmarkVertexTextDelta(b, openAIToVertex{})
}

// BenchmarkVertexStreamTextDeltaPublished is the same chunk when the
// exchange names the publisher: no wrapper.
func BenchmarkVertexStreamTextDeltaPublished(b *testing.B) {
	benchmarkVertexTextDelta(b, vertexPublished{})
}

func benchmarkVertexTextDelta(b *testing.B, tr Translator) {
	st := tr.NewStream(StreamOptions{IncludeUsage: true})
	ev := []byte("data: {\"candidates\": [{\"content\": {\"role\": \"model\",\"parts\": [{\"text\": \" zones are isolated failure domains\"}]}}],\"usageMetadata\": {\"trafficType\": \"ON_DEMAND\"},\"modelVersion\": \"gemini-2.5-flash\",\"createTime\": \"2025-11-18T12:04:13.661048Z\",\"responseId\": \"7VgcabWhKYuc2PgP0rLJsQ4\"}\r\n\r\n")
	dst := st.Translate(nil, ev)
	b.ReportAllocs()
	b.SetBytes(int64(len(ev)))
	for b.Loop() {
		dst = st.Translate(dst[:0], ev)
	}
	if !bytes.Contains(dst, []byte(`"content":" zones`)) {
		b.Fatalf("unexpected chunk %s", dst)
	}
}

// TestVertexRetryAfter: Vertex's 429s carry no retry hint, so the client
// gets no Retry-After; one that a proxy or a future Vertex adds is passed
// on, for either model family, and none is invented.
func TestVertexRetryAfter(t *testing.T) {
	quota := readTranscript(t, "vertex", "error_429").body
	claude := []byte(`{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`)
	for _, tc := range []struct {
		name, header, want string
		body               []byte
	}{
		{"gemini-shaped quota without a header", "", "", quota},
		{"gemini-shaped quota with a header", "7", "7", quota},
		{"claude-shaped rate limit without a header", "", "", claude},
		{"claude-shaped rate limit with a header", "7", "7", claude},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := openAIToVertex{}.Error(429, tc.header, tc.body)
			if got.Status != 429 || got.Code != "rate_limit_exceeded" || got.RetryAfter != tc.want {
				t.Errorf("got %+v, want a 429 rate_limit_exceeded with Retry-After %q", *got, tc.want)
			}
		})
	}
}

// TestVertexPublisherFact: the request side names the publisher from the
// model, the fact rebuilds the same translator in the router hop, and
// answers are read as that publisher's, the same as the shape-sniffing
// translator reads them. Without the fact (an older upstream hop) or with
// a publisher this version does not know, the answer's shape decides.
func TestVertexPublisherFact(t *testing.T) {
	spec, _ := SpecFor(SchemaVertexAI)
	body := []byte(`{"messages":[{"role":"user","content":"hi"}]}`)
	for _, tc := range []struct{ model, want string }{{vertexClaude, publisherAnthropic}, {"gemini-2.5-flash", publisherGoogle}} {
		t.Run("begin "+tc.model, func(t *testing.T) {
			x, err := Begin(chatAPI, spec, body, Target{Model: tc.model, Project: "p", Region: "r"}, "", Facts{Provider: "v"})
			if err != nil {
				t.Fatal(err)
			}
			if x.Publisher != tc.want || !strings.Contains(x.Upstream.Path, "/publishers/"+tc.want+"/") {
				t.Errorf("publisher %q, path %s; want %q", x.Publisher, x.Upstream.Path, tc.want)
			}
			r, ok := Resume(x.Facts, ClientContext{})
			if !ok || r.tr != x.tr || r.tr != (vertexPublished{claude: tc.want == publisherAnthropic}) {
				t.Errorf("Resume translator %#v, Begin's %#v", r.tr, x.tr)
			}
		})
	}
	for _, tc := range []struct{ name, publisher string }{
		{"claude_tool_stream", publisherAnthropic}, {"claude_stream_truncated", publisherAnthropic},
		{"gemini_tool_stream", publisherGoogle}, {"gemini_max_tokens_stream", publisherGoogle},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := readTranscript(t, "vertex", tc.name).body
			opts := StreamOptions{IncludeUsage: true}
			want, wantUsage := runStream(openAIToVertex{}, opts, body, whole)
			for _, p := range []string{tc.publisher, "", "meta"} {
				got, u := runStream(spec.translatorFor(p), opts, body, randomSplits(7, 16))
				if !bytes.Equal(normalize(got), normalize(want)) || u != wantUsage {
					t.Errorf("publisher %q:\n%s\nwant\n%s", p, got, want)
				}
			}
		})
	}
	t.Run("the fact wins over the shape", func(t *testing.T) {
		// A Gemini stream that opens with an event: line would be sniffed
		// as Claude's.
		body := append([]byte("event: ping\n\n"), readTranscript(t, "vertex", "gemini_tool_stream").body...)
		out, _ := runStream(spec.translatorFor(publisherGoogle), StreamOptions{}, body, whole)
		if !bytes.Contains(out, []byte(`"name":"lookup_order"`)) {
			t.Errorf("Gemini's tool call not translated:\n%s", out)
		}
		whole := readTranscript(t, "vertex", "claude_text").body
		if _, _, err := spec.translatorFor(publisherAnthropic).Response(whole); err != nil {
			t.Errorf("Claude answer: %v", err)
		}
	})
}
