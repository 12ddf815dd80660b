package translators

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

var azureTarget = Target{Model: "gpt-4o-mini", APIVersion: "2024-10-21", Host: "switchboard-test.openai.azure.com"}

func TestAzureRequestGolden(t *testing.T) {
	tests := []struct {
		name        string
		deployment  string
		version     string
		wantStream  bool
		wantUsage   bool
		wantDropped []string
	}{
		{name: "chat", deployment: "gpt-4o-mini"},
		{name: "chat_stream", deployment: "gpt-4o-mini", wantStream: true, wantUsage: true, wantDropped: []string{"top_k"}},
		{name: "tool_calls_stream", deployment: "gpt-4o-mini", wantStream: true},
		{name: "passthrough_features", deployment: "gpt-4.1-prod"},
		{name: "reasoning_deployment", deployment: "o4-mini", version: "2025-04-01-preview", wantDropped: []string{"temperature"}},
	}
	if n := len(goldenCases(t, "openai_azure")); n != len(tests) {
		t.Fatalf("%d golden inputs in testdata/openai_azure, %d cases here", n, len(tests))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(testdata, "openai_azure")
			in, err := os.ReadFile(filepath.Join(dir, tc.name+".in.json"))
			if err != nil {
				t.Fatal(err)
			}
			orig := bytes.Clone(in)
			target := azureTarget
			target.Model = tc.deployment
			if tc.version != "" {
				target.APIVersion = tc.version
			}
			req, err := openAIToAzure{}.Request(in, target)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(in, orig) {
				t.Fatal("Request modified its input")
			}
			if want := "/openai/deployments/" + tc.deployment + "/chat/completions?api-version=" + target.APIVersion; req.Path != want {
				t.Errorf("path %q, want %q", req.Path, want)
			}
			if req.Stream != tc.wantStream || req.IncludeUsage != tc.wantUsage {
				t.Errorf("stream %v include usage %v, want %v %v", req.Stream, req.IncludeUsage, tc.wantStream, tc.wantUsage)
			}
			if strings.Join(req.Dropped, ",") != strings.Join(tc.wantDropped, ",") {
				t.Errorf("dropped %q, want %q", req.Dropped, tc.wantDropped)
			}
			if gjson.GetBytes(req.Body, "model").Exists() {
				t.Error("model sent to Azure: the deployment names it")
			}
			checkGolden(t, filepath.Join(dir, tc.name+".out.json"), prettyJSON(t, req.Body))
		})
	}
}

func TestAzureRequestFields(t *testing.T) {
	const body = `{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":5}`
	tests := []struct {
		name        string
		target      Target
		body        string
		wantPath    string
		wantHeaders []Header
		wantBody    map[string]string
		wantErr     string
	}{
		{
			name: "api key", target: Target{Model: "gpt-4o", APIVersion: "2024-10-21"}, body: body,
			wantPath:    "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
			wantHeaders: []Header{{"content-type", "application/json"}},
			wantBody:    map[string]string{"max_completion_tokens": "5", "max_tokens": ""},
		},
		{
			name: "Entra ID token", target: Target{Model: "gpt-4o", APIVersion: "2025-04-01-preview"}, body: body,
			wantPath:    "/openai/deployments/gpt-4o/chat/completions?api-version=2025-04-01-preview",
			wantHeaders: []Header{{"content-type", "application/json"}},
		},
		{
			name: "older api-version keeps max_tokens", target: Target{Model: "gpt-4", APIVersion: "2024-06-01"}, body: body,
			wantPath:    "/openai/deployments/gpt-4/chat/completions?api-version=2024-06-01",
			wantHeaders: []Header{{"content-type", "application/json"}},
			wantBody:    map[string]string{"max_tokens": "5", "max_completion_tokens": ""},
		},
		{
			name: "older api-version: no stream_options, effort or developer role", target: Target{Model: "o1", APIVersion: "2024-06-01"},
			body:        `{"model":"m","messages":[{"role":"developer","content":"terse"},{"role":"user","content":"hi"}],"stream":true,"reasoning_effort":"low"}`,
			wantPath:    "/openai/deployments/o1/chat/completions?api-version=2024-06-01",
			wantHeaders: []Header{{"content-type", "application/json"}},
			wantBody:    map[string]string{"stream_options": "", "reasoning_effort": "", "messages.0.role": `"system"`},
		},
		{
			name: "GA api-version has no reasoning_effort", target: Target{Model: "o4-mini", APIVersion: "2024-10-21"},
			body:        `{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,"reasoning":{"effort":"high"}}`,
			wantPath:    "/openai/deployments/o4-mini/chat/completions?api-version=2024-10-21",
			wantHeaders: []Header{{"content-type", "application/json"}},
			wantBody:    map[string]string{"stream_options.include_usage": "true", "reasoning_effort": "", "reasoning": ""},
		},
		{
			name: "default api-version, prefix and escaping", target: Target{Model: "team a/chat", PathPrefix: "/proxy"}, body: body,
			wantPath:    "/proxy/openai/deployments/team%20a%2Fchat/chat/completions?api-version=2024-10-21",
			wantHeaders: []Header{{"content-type", "application/json"}},
		},
		{
			name: "require_parameters", target: Target{Model: "gpt-4o"},
			body:    `{"model":"m","messages":[{"role":"user","content":"hi"}],"top_k":3,"provider":{"require_parameters":true}}`,
			wantErr: "400 invalid_request_error: provider schema azure-openai cannot honour: top_k (provider.require_parameters is set)",
		},
		{
			name: "not an object", target: Target{Model: "gpt-4o"}, body: `[1]`,
			wantErr: "400 invalid_request_error: request body must be a JSON object",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := openAIToAzure{}.Request([]byte(tc.body), tc.target)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if req.Path != tc.wantPath {
				t.Errorf("path %q, want %q", req.Path, tc.wantPath)
			}
			if len(req.Headers) != len(tc.wantHeaders) {
				t.Fatalf("headers %v, want %v", req.Headers, tc.wantHeaders)
			}
			for i := range req.Headers {
				if req.Headers[i] != tc.wantHeaders[i] {
					t.Errorf("headers %v, want %v", req.Headers, tc.wantHeaders)
				}
			}
			for path, want := range tc.wantBody {
				if got := gjson.GetBytes(req.Body, path).Raw; got != want {
					t.Errorf("%s = %s, want %s", path, got, want)
				}
			}
		})
	}
}

func TestAzureStreamGolden(t *testing.T) {
	tests := []struct {
		name, transcript string
		usage            bool
		wantUsage        Usage
		wantFinish       string
		wantErrMsg       string
	}{
		{name: "chat_stream", transcript: "chat_stream", usage: true, wantUsage: Usage{PromptTokens: 19, CompletionTokens: 9}, wantFinish: "stop"},
		{name: "chat_stream.no_usage", transcript: "chat_stream", wantUsage: Usage{PromptTokens: 19, CompletionTokens: 9}, wantFinish: "stop"},
		{name: "tool_calls_stream", transcript: "tool_calls_stream", usage: true, wantUsage: Usage{PromptTokens: 84, CompletionTokens: 49, CachedTokens: 64}, wantFinish: "tool_calls"},
		{name: "stream_content_filter", transcript: "stream_content_filter", usage: true, wantUsage: Usage{PromptTokens: 31, CompletionTokens: 5}, wantFinish: "content_filter"},
		{name: "stream_truncated", transcript: "stream_truncated", usage: true, wantFinish: "error", wantErrMsg: "provider stream ended before the response was complete"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := readTranscript(t, "azure", tc.transcript).body
			golden := filepath.Join(testdata, "openai_azure", tc.name+".resp.sse")
			out, usage := checkStreamGolden(t, openAIToAzure{}, StreamOptions{IncludeUsage: tc.usage}, body, golden)
			if usage != tc.wantUsage {
				t.Errorf("usage %+v, want %+v", usage, tc.wantUsage)
			}
			if got := streamErrorOf(out).Get("message").Str; got != tc.wantErrMsg {
				t.Errorf("error %q, want %q", got, tc.wantErrMsg)
			}
			usageChunks, finish := 0, ""
			for _, ev := range bytes.Split(out, []byte("\n\n")) {
				data, ok := bytes.CutPrefix(ev, []byte("data: "))
				if !ok || string(data) == "[DONE]" {
					continue
				}
				// The prompt_filter_results frame has no id, no model and
				// no choices; it must not reach the client.
				if gjson.GetBytes(data, "id").Str == "" || gjson.GetBytes(data, "prompt_filter_results").Exists() {
					t.Errorf("annotation frame passed through: %s", data)
				}
				if gjson.GetBytes(data, "usage").IsObject() {
					usageChunks++
				}
				if f := gjson.GetBytes(data, "choices.0.finish_reason").Str; f != "" {
					finish = f
				}
			}
			if want := tc.usage && tc.wantErrMsg == ""; (usageChunks == 1) != want || usageChunks > 1 {
				t.Errorf("%d usage chunks, client asked %v", usageChunks, tc.usage)
			}
			if finish != tc.wantFinish {
				t.Errorf("finish_reason %q, want %q", finish, tc.wantFinish)
			}
		})
	}
}

func TestAzureError(t *testing.T) {
	tests := []struct {
		name       string
		transcript string
		status     int
		noHeader   bool // drop the retry-after header: the message hint remains
		body       string
		want       APIError
	}{
		{
			name: "rate limited", transcript: "error_429",
			want: APIError{Status: 429, Type: TypeRateLimit, Code: "rate_limit_exceeded", RetryAfter: "20",
				Message: "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 20 seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit."},
		},
		{
			name: "rate limited, hint only in the message", transcript: "error_429", noHeader: true,
			want: APIError{Status: 429, Type: TypeRateLimit, Code: "rate_limit_exceeded", RetryAfter: "20",
				Message: "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 20 seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit."},
		},
		{
			name: "content filter", transcript: "error_content_filter",
			want: APIError{Status: 400, Type: TypeInvalidRequest, Code: "content_filter", Param: "prompt",
				Message: "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766"},
		},
		{
			name: "context length", transcript: "error_context_length",
			want: APIError{Status: 400, Type: TypeInvalidRequest, Code: "context_length_exceeded", Param: "messages",
				Message: "This model's maximum context length is 128000 tokens. However, your messages resulted in 131245 tokens. Please reduce the length of the messages."},
		},
		{
			name: "bad key", transcript: "error_401",
			want: APIError{Status: 502, Type: TypeUpstream, Code: "provider_auth_failed", Message: "the gateway's credential for the provider was rejected (upstream status 401)"},
		},
		{
			name: "deployment not found", transcript: "error_404_deployment",
			want: APIError{Status: 502, Type: TypeUpstream, Code: "upstream_not_found",
				Message: "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again."},
		},
		{
			name: "overloaded", status: 503, body: `{"error":{"code":"ServiceUnavailable","message":"The service is temporarily unable to process your request. Please try again later."}}`,
			want: APIError{Status: 503, Type: TypeUpstream, Code: "provider_overloaded", Message: "The service is temporarily unable to process your request. Please try again later."},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, retryAfter, body := tc.status, "", []byte(tc.body)
			if tc.transcript != "" {
				tx := readTranscript(t, "azure", tc.transcript)
				status, body = tx.status, tx.body
				if !tc.noHeader {
					retryAfter = tx.header.Get("Retry-After")
				}
			}
			if got := (openAIToAzure{}).Error(status, retryAfter, body); *got != tc.want {
				t.Errorf("got  %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}

func TestRetryHint(t *testing.T) {
	tests := []struct{ msg, want string }{
		{"Please retry after 20 seconds.", "20"},
		{"Please try again in 187ms. Visit", "1"},
		{"Please try again in 1.5s.", "2"},
		{"Rate limit reached, retry after 3 sec", "3"},
		{"no hint here", ""},
	}
	for _, tc := range tests {
		t.Run(tc.msg, func(t *testing.T) {
			if got := retryHint(tc.msg); got != tc.want {
				t.Errorf("retryHint = %q, want %q", got, tc.want)
			}
		})
	}
}

func FuzzAzureStream(f *testing.F) {
	for i, b := range transcriptBodies(f, "azure") {
		f.Add(b, uint64(i), i%2 == 0)
	}
	f.Add([]byte("data: {\"choices\":[],\"id\":\"\",\"prompt_filter_results\":[]}\n\ndata: {\"choices\":[{\"delta\":{\"reasoning_content\":\"a\",\"reasoning\":null}}],\"usage\":{\"prompt_tokens\":1}}\n\n"), uint64(5), true)
	f.Fuzz(func(t *testing.T, body []byte, seed uint64, usage bool) {
		opts := StreamOptions{IncludeUsage: usage}
		out, u := runStream(openAIToAzure{}, opts, body, whole)
		out = normalize(out)
		checkSSE(t, out)
		split, su := runStream(openAIToAzure{}, opts, body, randomSplits(seed, 32))
		if !bytes.Equal(normalize(split), out) || su != u {
			t.Fatalf("split output differs:\n%s\n---\n%s", split, out)
		}
	})
}

func FuzzAzureResponse(f *testing.F) {
	for _, b := range transcriptBodies(f, "azure") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := bytes.Clone(body)
		out, _, err := openAIToAzure{}.Response(body)
		if !bytes.Equal(body, orig) {
			t.Fatal("Response modified its input")
		}
		if err == nil && !gjson.ValidBytes(out) {
			t.Fatalf("output is not JSON: %s", out)
		}
	})
}

func BenchmarkAzureRequest(b *testing.B) {
	benchRequest(b, openAIToAzure{}, goldenIn(b, "openai_azure", "tool_calls_stream"), azureTarget)
}

func BenchmarkAzureResponse(b *testing.B) {
	benchResponse(b, openAIToAzure{}, "azure", "chat")
}

// BenchmarkAzureStreamChunk measures the steady state: one content chunk
// with its content_filter_results in, the same chunk out.
func BenchmarkAzureStreamChunk(b *testing.B) {
	body := readTranscript(b, "azure", "chat_stream").body
	events := bytes.SplitAfter(body, []byte("\n\n"))
	st := openAIToAzure{}.NewStream(StreamOptions{IncludeUsage: true})
	dst := st.Translate(nil, bytes.Join(events[:2], nil))
	ev := events[3]
	b.ReportAllocs()
	b.SetBytes(int64(len(ev)))
	for b.Loop() {
		dst = st.Translate(dst[:0], ev)
	}
	if !bytes.Contains(dst, []byte(`"content":" enter"`)) {
		b.Fatalf("unexpected chunk %s", dst)
	}
}
