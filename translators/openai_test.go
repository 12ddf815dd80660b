package translators

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/tidwall/gjson"
)

var openAITarget = Target{Model: "gpt-4.1-mini-2025-04-14", PathPrefix: "/v1", APIKey: "sk-test"}

func TestOpenAIRequestGolden(t *testing.T) {
	tests := []struct {
		name             string
		wantStream       bool
		wantIncludeUsage bool
	}{
		{"chat", false, false},
		{"chat_stream", true, true},
		{"tool_calls_stream", true, false},
	}
	if n := len(goldenCases(t, "openai_openai")); n != len(tests) {
		t.Fatalf("%d golden inputs in testdata/openai_openai, %d cases here", n, len(tests))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(testdata, "openai_openai")
			in, err := os.ReadFile(filepath.Join(dir, tc.name+".in.json"))
			if err != nil {
				t.Fatal(err)
			}
			orig := bytes.Clone(in)
			req, err := openAIToOpenAI{}.Request(in, openAITarget)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(in, orig) {
				t.Fatal("Request modified its input")
			}
			if req.Path != "/v1/chat/completions" {
				t.Errorf("path %q", req.Path)
			}
			wantHeaders := []Header{{"content-type", "application/json"}, {"authorization", "Bearer sk-test"}}
			if len(req.Headers) != 2 || req.Headers[0] != wantHeaders[0] || req.Headers[1] != wantHeaders[1] {
				t.Errorf("headers %v, want %v", req.Headers, wantHeaders)
			}
			if req.Stream != tc.wantStream || req.IncludeUsage != tc.wantIncludeUsage {
				t.Errorf("stream %v include usage %v, want %v %v", req.Stream, req.IncludeUsage, tc.wantStream, tc.wantIncludeUsage)
			}
			checkGolden(t, filepath.Join(dir, tc.name+".out.json"), prettyJSON(t, req.Body))
		})
	}
}

func TestOpenAIResponse(t *testing.T) {
	tx := readTranscript(t, "openai", "chat")
	out, usage, err := openAIToOpenAI{}.Response(tx.body)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Usage{PromptTokens: 24, CompletionTokens: 8}); usage != want {
		t.Errorf("usage %+v, want %+v", usage, want)
	}
	checkGolden(t, filepath.Join(testdata, "openai_openai", "chat.resp.json"), prettyJSON(t, out))

	if _, _, err := (openAIToOpenAI{}).Response([]byte("<html>")); err == nil {
		t.Error("non-JSON body accepted")
	}
}

func TestOpenAIError(t *testing.T) {
	tests := []struct {
		name       string
		transcript string
		status     int
		body       string
		want       APIError
	}{
		{
			name: "rate limited", transcript: "error_429",
			want: APIError{Status: 429, Type: TypeRateLimit, Code: "rate_limit_exceeded", RetryAfter: "1",
				Message: "Rate limit reached for gpt-4.1-mini in organization org-Zx81LmQ2pR7tY4uW on tokens per min (TPM): Limit 200000, Used 199412, Requested 1211. Please try again in 187ms. Visit https://platform.openai.com/account/rate-limits to learn more."},
		},
		{
			name: "bad key", transcript: "error_401",
			want: APIError{Status: 502, Type: TypeUpstream, Code: "provider_auth_failed",
				Message: "the gateway's credential for the provider was rejected (upstream status 401)"},
		},
		{
			name: "context length", status: 400,
			body: `{"error":{"message":"This model's maximum context length is 128000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}`,
			want: APIError{Status: 400, Type: TypeInvalidRequest, Code: "context_length_exceeded", Message: "This model's maximum context length is 128000 tokens."},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, retryAfter, body := tc.status, "", []byte(tc.body)
			if tc.transcript != "" {
				tx := readTranscript(t, "openai", tc.transcript)
				status, retryAfter, body = tx.status, tx.header.Get("Retry-After"), tx.body
			}
			if got := (openAIToOpenAI{}).Error(status, retryAfter, body); *got != tc.want {
				t.Errorf("got  %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}

func TestOpenAIStreamGolden(t *testing.T) {
	tests := []struct {
		name       string
		transcript string
		body       string // used when transcript is empty
		usage      bool
		wantUsage  Usage
		wantErrMsg string
	}{
		{name: "chat_stream", transcript: "chat_stream", usage: true, wantUsage: Usage{PromptTokens: 19, CompletionTokens: 9}},
		{name: "chat_stream.no_usage", transcript: "chat_stream", wantUsage: Usage{PromptTokens: 19, CompletionTokens: 9}},
		{name: "tool_calls_stream", transcript: "tool_calls_stream", wantUsage: Usage{PromptTokens: 88, CompletionTokens: 52}},
		{
			name: "stream_truncated", transcript: "stream_truncated", usage: true,
			wantErrMsg: "provider stream ended before the response was complete",
		},
		{
			name:       "stream_garbage",
			body:       "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\ndata: not json\n\n",
			wantErrMsg: "provider sent a stream event that is not JSON",
		},
		{
			name:       "stream_error_event",
			body:       "data: {\"error\":{\"message\":\"The server had an error while processing your request.\",\"type\":\"server_error\"}}\n\n",
			wantErrMsg: "The server had an error while processing your request.",
		},
		{
			name: "stream_multiline_no_done",
			body: "data: {\"id\":\"c2\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\n" +
				"data:  \"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}]}\r\n\r\n" +
				"data: {\"id\":\"c2\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1,\"total_tokens\":6}}\n\n",
			wantUsage: Usage{PromptTokens: 5, CompletionTokens: 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(tc.body)
			if tc.transcript != "" {
				body = readTranscript(t, "openai", tc.transcript).body
			}
			golden := filepath.Join(testdata, "openai_openai", tc.name+".resp.sse")
			out, usage := checkStreamGolden(t, openAIToOpenAI{}, StreamOptions{IncludeUsage: tc.usage}, body, golden)
			if usage != tc.wantUsage {
				t.Errorf("usage %+v, want %+v", usage, tc.wantUsage)
			}
			if got := streamErrorOf(out).Get("message").Str; got != tc.wantErrMsg {
				t.Errorf("error message %q, want %q", got, tc.wantErrMsg)
			}
			hasUsage := bytes.Contains(out, []byte(`"usage":{`))
			if want := tc.usage && tc.wantErrMsg == "" && tc.wantUsage != (Usage{}); hasUsage != want {
				t.Errorf("usage present %v, want %v", hasUsage, want)
			}
		})
	}
}

func TestOpenAIStreamUsageStripped(t *testing.T) {
	body := readTranscript(t, "openai", "chat_stream").body
	out, _ := runStream(openAIToOpenAI{}, StreamOptions{}, body, whole)
	for _, ev := range bytes.Split(out, []byte("\n\n")) {
		data, _ := bytes.CutPrefix(ev, []byte("data: "))
		if gjson.GetBytes(data, "usage").Exists() {
			t.Errorf("client did not ask for usage, got %s", data)
		}
	}
}

func FuzzOpenAIStream(f *testing.F) {
	for i, b := range transcriptBodies(f, "openai") {
		f.Add(b, uint64(i), i%2 == 0)
	}
	f.Add([]byte("data: {\"a\":\ndata: 1}\n\ndata: [1]\n\n"), uint64(3), false)
	f.Fuzz(func(t *testing.T, body []byte, seed uint64, usage bool) {
		opts := StreamOptions{IncludeUsage: usage}
		out, u := runStream(openAIToOpenAI{}, opts, body, whole)
		out = normalize(out)
		checkSSE(t, out)
		split, su := runStream(openAIToOpenAI{}, opts, body, randomSplits(seed, 32))
		if !bytes.Equal(normalize(split), out) || su != u {
			t.Fatalf("split output differs:\n%s\n---\n%s", split, out)
		}
	})
}

func BenchmarkOpenAIStreamTranscript(b *testing.B) {
	body := readTranscript(b, "openai", "chat_stream").body
	var dst []byte
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		st := openAIToOpenAI{}.NewStream(StreamOptions{IncludeUsage: true})
		dst = st.Finish(st.Translate(dst[:0], body))
	}
}
