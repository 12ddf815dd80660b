package translators

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

var openAITarget = Target{Model: "gpt-4.1-mini-2025-04-14", PathPrefix: "/v1"}

func TestOpenAIRequestGolden(t *testing.T) {
	tests := []struct {
		name             string
		host             string
		model            string
		wantStream       bool
		wantIncludeUsage bool
		wantDropped      []string
	}{
		{name: "chat"},
		{name: "chat_stream", wantStream: true, wantIncludeUsage: true},
		{name: "tool_calls_stream", wantStream: true},
		{
			name: "openai_reasoning_model", host: "api.openai.com", model: "o4-mini-2025-04-16",
			wantDropped: []string{"top_k", "temperature"},
		},
		{
			name: "openai_plain_model_effort", host: "api.openai.com", model: "gpt-4.1-2025-04-14", wantStream: true,
			wantDropped: []string{"reasoning_effort"},
		},
		{
			name: "deepseek_reasoner_history", host: "api.deepseek.com", model: "deepseek-reasoner",
			wantStream: true, wantIncludeUsage: true, wantDropped: []string{"temperature", "top_p"},
		},
		{
			name: "mistral_strict", host: "api.mistral.ai", model: "mistral-small-latest", wantStream: true, wantIncludeUsage: true,
			wantDropped: []string{"logprobs", "top_logprobs", "user", "messages[].name"},
		},
		{
			name: "groq_unsupported", host: "api.groq.com", model: "openai/gpt-oss-20b", wantStream: true,
			wantDropped: []string{"logit_bias", "n", "reasoning.max_tokens", "messages[].name"},
		},
		{name: "openrouter_passthrough", host: "openrouter.ai", model: "anthropic/claude-sonnet-4.5"},
		{
			name: "local_vllm", host: "127.0.0.1", model: "Qwen/Qwen3-8B", wantStream: true,
			wantDropped: []string{"reasoning.max_tokens"},
		},
		{name: "passthrough_features", host: "api.openai.com", model: "gpt-4.1-2025-04-14"},
		{
			name: "xai_reasoning_model", host: "api.x.ai", model: "grok-4-0709",
			wantDropped: []string{"presence_penalty", "stop"},
		},
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
			target := openAITarget
			if tc.host != "" {
				target.Host, target.Model = tc.host, tc.model
			}
			req, err := openAIToOpenAI{}.Request(in, target)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(in, orig) {
				t.Fatal("Request modified its input")
			}
			if req.Path != "/v1/chat/completions" {
				t.Errorf("path %q", req.Path)
			}
			wantHeaders := []Header{{"content-type", "application/json"}}
			if !equalHeaders(req.Headers, wantHeaders) {
				t.Errorf("headers %v, want %v", req.Headers, wantHeaders)
			}
			if req.Stream != tc.wantStream || req.IncludeUsage != tc.wantIncludeUsage {
				t.Errorf("stream %v include usage %v, want %v %v", req.Stream, req.IncludeUsage, tc.wantStream, tc.wantIncludeUsage)
			}
			if strings.Join(req.Dropped, ",") != strings.Join(tc.wantDropped, ",") {
				t.Errorf("dropped %q, want %q", req.Dropped, tc.wantDropped)
			}
			checkGolden(t, filepath.Join(dir, tc.name+".out.json"), prettyJSON(t, req.Body))
		})
	}
}

func TestOpenAIResponse(t *testing.T) {
	tests := []struct {
		transcript string
		wantUsage  Usage
		wantReason string // reasoning text of choices[0]
	}{
		{transcript: "chat", wantUsage: Usage{PromptTokens: 24, CompletionTokens: 8}},
		{
			transcript: "deepseek_reasoner", wantUsage: Usage{PromptTokens: 19, CompletionTokens: 176, ReasoningTokens: 160},
			wantReason: "Compare 9.11 and 9.8. Both have 9 as the integer part. Decimal parts: 0.11 versus 0.80. Since 0.80 > 0.11, 9.8 is greater.\nDouble-check: 9.8 = 9.80, and 80 > 11.",
		},
		{transcript: "o4_mini_reasoning", wantUsage: Usage{PromptTokens: 1920, CompletionTokens: 412, CachedTokens: 1792, ReasoningTokens: 384}},
		{transcript: "tool_calls", wantUsage: Usage{PromptTokens: 58, CompletionTokens: 46}},
		{transcript: "openrouter_cache", wantUsage: Usage{PromptTokens: 2214, CompletionTokens: 19, CachedTokens: 1840, CacheWriteTokens: 312}},
	}
	for _, tc := range tests {
		t.Run(tc.transcript, func(t *testing.T) {
			out := translateGolden(t, openAIToOpenAI{}, "openai", tc.transcript, tc.wantUsage)
			msg := gjson.GetBytes(out, "choices.0.message")
			if want := strings.ReplaceAll(tc.wantReason, `\n`, "\n"); msg.Get("reasoning").Str != want {
				t.Errorf("reasoning %q, want %q", msg.Get("reasoning").Str, want)
			}
			if tc.wantReason != "" && (msg.Get("reasoning_details.0.type").Str != "reasoning.text" || msg.Get("reasoning_details.0.text").Str != msg.Get("reasoning").Str) {
				t.Errorf("reasoning_details %s", msg.Get("reasoning_details").Raw)
			}
			if msg.Get("reasoning_content").Exists() {
				t.Errorf("reasoning_content left in %s", msg.Raw)
			}
			checkGolden(t, filepath.Join(testdata, "openai_openai", tc.transcript+".resp.json"), prettyJSON(t, out))
		})
	}
	if _, _, err := (openAIToOpenAI{}).Response([]byte("<html>")); err == nil || !strings.Contains(err.Error(), "not JSON") {
		t.Errorf("non-JSON body: err %v", err)
	}
}

func TestOpenAIResponseReasoningShapes(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{
			name: "reasoning only (Groq, Ollama)",
			body: `{"choices":[{"index":0,"message":{"role":"assistant","content":"hi","reasoning":"think"}}]}`,
			want: `{"choices":[{"index":0,"message":{"role":"assistant","content":"hi","reasoning":"think","reasoning_details":[{"type":"reasoning.text","text":"think","index":0}]}}]}`,
		},
		{
			name: "both names, reasoning null",
			body: `{"choices":[{"message":{"reasoning":null, "reasoning_content":"a\"b"}}]}`,
			want: `{"choices":[{"message":{ "reasoning":"a\"b","reasoning_details":[{"type":"reasoning.text","text":"a\"b","index":0}]}}]}`,
		},
		{
			name: "both names, reasoning text",
			body: `{"choices":[{"message":{"reasoning_content":"x", "reasoning":"x"}}]}`,
			want: `{"choices":[{"message":{ "reasoning":"x","reasoning_details":[{"type":"reasoning.text","text":"x","index":0}]}}]}`,
		},
		{
			name: "OpenRouter shape untouched",
			body: `{"choices":[{"message":{"reasoning":"x","reasoning_details":[{"type":"reasoning.encrypted","data":"gAAA"}]}}]}`,
			want: `{"choices":[{"message":{"reasoning":"x","reasoning_details":[{"type":"reasoning.encrypted","data":"gAAA"}]}}]}`,
		},
		{
			name: "null reasoning_content renamed",
			body: `{"choices":[{"message":{"content":"a","reasoning_content":null}},{"message":{"reasoning_content":""}}]}`,
			want: `{"choices":[{"message":{"content":"a","reasoning":null}},{"message":{"reasoning":""}}]}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := openAIToOpenAI{}.Response([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.want {
				t.Errorf("got  %s\nwant %s", out, tc.want)
			}
		})
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
			want: APIError{Status: 400, Type: TypeInvalidRequest, Code: "context_length_exceeded", Param: "messages", Message: "This model's maximum context length is 128000 tokens."},
		},
		{
			name: "overloaded", transcript: "error_503",
			want: APIError{Status: 503, Type: TypeUpstream, Code: "provider_overloaded", Message: "The engine is currently overloaded, please try again later."},
		},
		{
			// A host's own content filter keeps its code, even when the
			// message mentions the context length.
			name: "content filter", status: 400,
			body: `{"error":{"message":"The prompt was filtered by the content policy; shorten the context length or rephrase.","type":"invalid_request_error","param":"messages","code":"content_filter"}}`,
			want: APIError{Status: 400, Type: TypeInvalidRequest, Code: "content_filter", Param: "messages", Message: "The prompt was filtered by the content policy; shorten the context length or rephrase."},
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
		{name: "deepseek_reasoner_stream", transcript: "deepseek_reasoner_stream", usage: true, wantUsage: Usage{PromptTokens: 18, CompletionTokens: 64, ReasoningTokens: 52}},
		{name: "groq_reasoning_stream", transcript: "groq_reasoning_stream", usage: true, wantUsage: Usage{PromptTokens: 77, CompletionTokens: 21}},
		{name: "mistral_stream", transcript: "mistral_stream", usage: true, wantUsage: Usage{PromptTokens: 9, CompletionTokens: 12}},
		{name: "mistral_stream.no_usage", transcript: "mistral_stream", wantUsage: Usage{PromptTokens: 9, CompletionTokens: 12}},
		{name: "openrouter_reasoning_stream", transcript: "openrouter_reasoning_stream", usage: true, wantUsage: Usage{PromptTokens: 41, CompletionTokens: 38, ReasoningTokens: 24}},
		{name: "openrouter_cache_stream", transcript: "openrouter_cache_stream", usage: true, wantUsage: Usage{PromptTokens: 2214, CompletionTokens: 21, CachedTokens: 2152}},
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
		opts := StreamOptions{IncludeUsage: usage, ExcludeReasoning: seed%3 == 0}
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

// TestOpenAIStreamReasoning checks that every host's reasoning arrives as
// OpenRouter's delta.reasoning and delta.reasoning_details, whole.
func TestOpenAIStreamReasoning(t *testing.T) {
	tests := []struct {
		transcript, want string
	}{
		{"deepseek_reasoner_stream", "Compare 9.11 and 9.8. 0.80 > 0.11."},
		{"groq_reasoning_stream", "User asks for a greeting."},
		{"openrouter_reasoning_stream", "The user wants a haiku."},
	}
	for _, tc := range tests {
		t.Run(tc.transcript, func(t *testing.T) {
			out, _ := runStream(openAIToOpenAI{}, StreamOptions{}, readTranscript(t, "openai", tc.transcript).body, byteByByte)
			var reasoning, details strings.Builder
			for _, ev := range bytes.Split(out, []byte("\n\n")) {
				data, _ := bytes.CutPrefix(ev, []byte("data: "))
				delta := gjson.GetBytes(data, "choices.0.delta")
				if delta.Get("reasoning_content").Exists() {
					t.Fatalf("reasoning_content reached the client: %s", data)
				}
				reasoning.WriteString(delta.Get("reasoning").Str)
				delta.Get("reasoning_details").ForEach(func(_, d gjson.Result) bool {
					details.WriteString(d.Get("text").Str)
					return true
				})
			}
			if reasoning.String() != tc.want || details.String() != tc.want {
				t.Errorf("reasoning %q, details %q, want %q", reasoning.String(), details.String(), tc.want)
			}
		})
	}
}

func TestOpenAIStreamExcludeReasoning(t *testing.T) {
	for _, transcript := range []string{"deepseek_reasoner_stream", "groq_reasoning_stream", "openrouter_reasoning_stream"} {
		t.Run(transcript, func(t *testing.T) {
			body := readTranscript(t, "openai", transcript).body
			golden := filepath.Join(testdata, "openai_openai", transcript+".exclude.resp.sse")
			out, _ := checkStreamGolden(t, openAIToOpenAI{}, StreamOptions{IncludeUsage: true, ExcludeReasoning: true}, body, golden)
			if bytes.Contains(out, []byte(`"reasoning":`)) || bytes.Contains(out, []byte(`"reasoning_details":`)) || bytes.Contains(out, []byte(`"reasoning_content":`)) {
				t.Errorf("reasoning reached a client that excluded it:\n%s", out)
			}
		})
	}
}

func FuzzOpenAIResponse(f *testing.F) {
	for _, b := range transcriptBodies(f, "openai") {
		f.Add(b)
	}
	f.Add([]byte(`{"choices":[{"message":{"reasoning_content":"a","reasoning":null,"reasoning_details":1}},{"message":{"reasoning":"\u00e9"}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := bytes.Clone(body)
		out, _, err := openAIToOpenAI{}.Response(body)
		if !bytes.Equal(body, orig) {
			t.Fatal("Response modified its input")
		}
		if err == nil && !gjson.ValidBytes(out) {
			t.Fatalf("output is not JSON:\n%s\nfrom\n%s", out, body)
		}
	})
}

func BenchmarkOpenAIResponse(b *testing.B) {
	benchResponse(b, openAIToOpenAI{}, "openai", "deepseek_reasoner")
}

// benchStreamChunk feeds the head of a transcript, then one event of it
// over and over: the steady state of a long stream.
func benchStreamChunk(b *testing.B, transcript string, event int, opts StreamOptions, want string) {
	body := readTranscript(b, "openai", transcript).body
	events := bytes.SplitAfter(body, []byte("\n\n"))
	st := openAIToOpenAI{}.NewStream(opts)
	dst := st.Translate(nil, bytes.Join(events[:event], nil))
	ev := events[event]
	b.ReportAllocs()
	b.SetBytes(int64(len(ev)))
	for b.Loop() {
		dst = st.Translate(dst[:0], ev)
	}
	if !bytes.Contains(dst, []byte(want)) {
		b.Fatalf("unexpected chunk %s", dst)
	}
}

// BenchmarkOpenAIStreamChunk is OpenAI's own content chunk, passed through.
func BenchmarkOpenAIStreamChunk(b *testing.B) {
	benchStreamChunk(b, "chat_stream", 2, StreamOptions{IncludeUsage: true}, `"content":" flow through"`)
}

// BenchmarkOpenAIStreamChunkStripUsage removes "usage":null from each chunk
// for a client that did not ask for usage.
func BenchmarkOpenAIStreamChunkStripUsage(b *testing.B) {
	benchStreamChunk(b, "chat_stream", 2, StreamOptions{}, `"content":" flow through"`)
}

// BenchmarkOpenAIStreamReasoningChunk renames DeepSeek's reasoning_content
// and adds reasoning_details.
func BenchmarkOpenAIStreamReasoningChunk(b *testing.B) {
	benchStreamChunk(b, "deepseek_reasoner_stream", 3, StreamOptions{IncludeUsage: true}, `"reasoning_details":[{"type":"reasoning.text","text":" and 9.8"`)
}
