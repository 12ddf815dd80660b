package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

const (
	openAIKey    = "sk-e2e-openai-secret"
	anthropicKey = "sk-ant-e2e-secret"
	clientKey    = "client-key-not-for-providers"
)

// chatSetup is one gateway in front of a fake OpenAI and a fake Anthropic.
type chatSetup struct {
	gw        *gateway
	openai    *fakeprovider.Server
	anthropic *fakeprovider.Server
	client    openai.Client
}

func newChatSetup(t *testing.T) *chatSetup {
	s := &chatSetup{openai: fakeprovider.New(t), anthropic: fakeprovider.New(t)}
	s.gw = startGateway(t, fmt.Sprintf(`providers:
  - name: fake-openai
    schema: openai
    base_url: %s/v1
    api_key: {env: E2E_OPENAI_KEY}
  - name: fake-anthropic
    schema: anthropic
    base_url: %s
    api_key: {env: E2E_ANTHROPIC_KEY}
models:
  - name: gpt-test
    providers: [{provider: fake-openai, model: gpt-4.1-mini-2025-04-14}]
  - name: claude-test
    providers: [{provider: fake-anthropic, model: claude-sonnet-4-5-20250929}]
`, s.openai.URL(), s.anthropic.URL()), "E2E_OPENAI_KEY="+openAIKey, "E2E_ANTHROPIC_KEY="+anthropicKey)
	s.client = openai.NewClient(option.WithBaseURL(s.gw.url("/v1/")), option.WithAPIKey(clientKey), option.WithMaxRetries(0))
	return s
}

func userParams(model, text string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model:    model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(text)},
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// lastRequest is what the fake provider received last.
func lastRequest(t *testing.T, s *fakeprovider.Server) fakeprovider.Recorded {
	t.Helper()
	rs := s.Requests()
	if len(rs) == 0 {
		t.Fatal("provider received no request")
	}
	return rs[len(rs)-1]
}

// transcriptText concatenates what a transcript says, per schema.
func transcriptText(t *testing.T, tr *fakeprovider.Transcript, schema string) string {
	t.Helper()
	if !tr.IsSSE() {
		if schema == "anthropic" {
			return gjson.GetBytes(tr.Body, "content.#(type==\"text\").text").Str
		}
		return gjson.GetBytes(tr.Body, "choices.0.message.content").Str
	}
	var b strings.Builder
	for _, d := range sseData(tr.Body) {
		if schema == "anthropic" {
			b.WriteString(gjson.Get(d, "delta.text").Str)
		} else {
			b.WriteString(gjson.Get(d, "choices.0.delta.content").Str)
		}
	}
	return b.String()
}

func TestChat(t *testing.T) {
	s := newChatSetup(t)

	t.Run("models list", func(t *testing.T) {
		page, err := s.client.Models.List(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range page.Data {
			ids = append(ids, m.ID)
		}
		if got := strings.Join(ids, ","); got != "gpt-test,claude-test" {
			t.Fatalf("models = %s", got)
		}
	})

	t.Run("openai non-streamed", func(t *testing.T) {
		tr := fakeprovider.MustLoad(t, transcript("openai", "chat"))
		s.openai.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: tr})
		var raw *http.Response
		got, err := s.client.Chat.Completions.New(ctxT(t), userParams("gpt-test", "Say hello"), option.WithResponseInto(&raw))
		if err != nil {
			t.Fatal(err)
		}
		if want := transcriptText(t, tr, "openai"); got.Choices[0].Message.Content != want || want == "" {
			t.Fatalf("content = %q, want %q", got.Choices[0].Message.Content, want)
		}
		if got.Usage.PromptTokens != gjson.GetBytes(tr.Body, "usage.prompt_tokens").Int() || got.Usage.TotalTokens == 0 {
			t.Fatalf("usage = %+v", got.Usage)
		}
		// The client learns who served it and that Envoy carried it.
		if raw.Header.Get("x-switchboard-provider") != "fake-openai" || raw.Header.Get("server") != "envoy" {
			t.Fatalf("headers = %v", raw.Header)
		}
		rec := lastRequest(t, s.openai)
		if rec.Path != "/v1/chat/completions" || rec.Header.Get("authorization") != "Bearer "+openAIKey {
			t.Fatalf("provider got path %s auth %q", rec.Path, rec.Header.Get("authorization"))
		}
		if m := gjson.GetBytes(rec.Body, "model").Str; m != "gpt-4.1-mini-2025-04-14" {
			t.Fatalf("provider got model %q", m)
		}
		for k := range rec.Header {
			if strings.HasPrefix(strings.ToLower(k), "x-switchboard") {
				t.Fatalf("internal header %s leaked to the provider", k)
			}
		}
	})

	t.Run("openai streamed with usage", func(t *testing.T) {
		tr := fakeprovider.MustLoad(t, transcript("openai", "chat_stream"))
		s.openai.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: tr})
		p := userParams("gpt-test", "Explain flow control")
		p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		stream := s.client.Chat.Completions.NewStreaming(ctxT(t), p)
		var acc openai.ChatCompletionAccumulator
		usageChunks := 0
		for stream.Next() {
			c := stream.Current()
			acc.AddChunk(c)
			if c.Usage.TotalTokens > 0 {
				usageChunks++
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if want := transcriptText(t, tr, "openai"); acc.Choices[0].Message.Content != want {
			t.Fatalf("content = %q, want %q", acc.Choices[0].Message.Content, want)
		}
		if usageChunks != 1 || acc.Usage.CompletionTokens == 0 {
			t.Fatalf("usage chunks = %d, usage = %+v", usageChunks, acc.Usage)
		}
		if !gjson.GetBytes(lastRequest(t, s.openai).Body, "stream_options.include_usage").Bool() {
			t.Fatal("gateway did not ask the provider for usage")
		}
	})

	t.Run("openai streamed without usage", func(t *testing.T) {
		s.openai.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat_stream"))})
		resp, body := s.gw.post(t, "/v1/chat/completions", []byte(`{"model":"gpt-test","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("content-type"), "text/event-stream") {
			t.Fatalf("status %d type %s", resp.StatusCode, resp.Header.Get("content-type"))
		}
		data := sseData(body)
		if data[len(data)-1] != "[DONE]" {
			t.Fatalf("stream does not end with [DONE]: %q", data[len(data)-1])
		}
		for _, d := range data {
			if gjson.Get(d, "usage").Exists() {
				t.Fatalf("client did not ask for usage but got %s", d)
			}
		}
	})

	t.Run("anthropic non-streamed", func(t *testing.T) {
		tr := fakeprovider.MustLoad(t, transcript("anthropic", "text"))
		s.anthropic.Handle("POST", "/v1/messages", fakeprovider.Reply{Transcript: tr})
		got, err := s.client.Chat.Completions.New(ctxT(t), userParams("claude-test", "Say hello"))
		if err != nil {
			t.Fatal(err)
		}
		if want := transcriptText(t, tr, "anthropic"); got.Choices[0].Message.Content != want || want == "" {
			t.Fatalf("content = %q, want %q", got.Choices[0].Message.Content, want)
		}
		if got.Choices[0].FinishReason != "stop" || got.Usage.PromptTokens != gjson.GetBytes(tr.Body, "usage.input_tokens").Int() {
			t.Fatalf("finish %q usage %+v", got.Choices[0].FinishReason, got.Usage)
		}
		rec := lastRequest(t, s.anthropic)
		if rec.Path != "/v1/messages" || rec.Header.Get("x-api-key") != anthropicKey || rec.Header.Get("anthropic-version") == "" {
			t.Fatalf("provider got path %s headers %v", rec.Path, rec.Header)
		}
		if rec.Header.Get("authorization") != "" {
			t.Fatal("client credential forwarded to the provider")
		}
		if m := gjson.GetBytes(rec.Body, "model").Str; m != "claude-sonnet-4-5-20250929" || !gjson.GetBytes(rec.Body, "max_tokens").Exists() {
			t.Fatalf("provider got body %s", rec.Body)
		}
	})

	t.Run("anthropic streamed with usage", func(t *testing.T) {
		tr := fakeprovider.MustLoad(t, transcript("anthropic", "text_stream"))
		s.anthropic.Handle("POST", "/v1/messages", fakeprovider.Reply{Transcript: tr})
		p := userParams("claude-test", "Explain flow control")
		p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		stream := s.client.Chat.Completions.NewStreaming(ctxT(t), p)
		var acc openai.ChatCompletionAccumulator
		chunks := 0
		for stream.Next() {
			acc.AddChunk(stream.Current())
			chunks++
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if want := transcriptText(t, tr, "anthropic"); acc.Choices[0].Message.Content != want || want == "" {
			t.Fatalf("content = %q, want %q", acc.Choices[0].Message.Content, want)
		}
		if chunks < 3 || acc.Choices[0].FinishReason != "stop" || acc.Usage.CompletionTokens == 0 || acc.Usage.PromptTokens == 0 {
			t.Fatalf("chunks %d finish %q usage %+v", chunks, acc.Choices[0].FinishReason, acc.Usage)
		}
		if !gjson.GetBytes(lastRequest(t, s.anthropic).Body, "stream").Bool() {
			t.Fatal("provider was not asked to stream")
		}
	})

	t.Run("anthropic streamed tool call", func(t *testing.T) {
		tr := fakeprovider.MustLoad(t, transcript("anthropic", "tool_use_stream"))
		s.anthropic.Handle("POST", "/v1/messages", fakeprovider.Reply{Transcript: tr})
		p := userParams("claude-test", "Weather in Paris?")
		p.Tools = []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
			Name:       "get_weather",
			Parameters: openai.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}},
		})}
		stream := s.client.Chat.Completions.NewStreaming(ctxT(t), p)
		var acc openai.ChatCompletionAccumulator
		for stream.Next() {
			acc.AddChunk(stream.Current())
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		calls := acc.Choices[0].Message.ToolCalls
		if len(calls) == 0 || calls[0].Function.Name == "" || !gjson.Valid(calls[0].Function.Arguments) || acc.Choices[0].FinishReason != "tool_calls" {
			t.Fatalf("tool calls %+v finish %q", calls, acc.Choices[0].FinishReason)
		}
		if !gjson.GetBytes(lastRequest(t, s.anthropic).Body, "tools.0.input_schema").Exists() {
			t.Fatal("tools not translated for the provider")
		}
	})

	t.Run("request errors", func(t *testing.T) {
		for _, tc := range []struct {
			name, body string
			status     int
			code       string
		}{
			{"malformed JSON", `{"model":"gpt-test","messages":[`, 400, "invalid_json"},
			{"unknown model", `{"model":"gpt-nope","messages":[{"role":"user","content":"hi"}]}`, 404, "model_not_found"},
			{"missing model", `{"messages":[{"role":"user","content":"hi"}]}`, 404, "model_not_found"},
			{"no messages", `{"model":"gpt-test","messages":[]}`, 400, "invalid_messages"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp, body := s.gw.post(t, "/v1/chat/completions", []byte(tc.body))
				assertOpenAIError(t, resp, body, tc.status, tc.code)
			})
		}
	})

	t.Run("unknown model via SDK", func(t *testing.T) {
		_, err := s.client.Chat.Completions.New(ctxT(t), userParams("no-such-model", "hi"))
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Code != "model_not_found" {
			t.Fatalf("err = %v", err)
		}
		if strings.Contains(apiErr.Message, "fake-openai") || strings.Contains(apiErr.Message, "claude-test") {
			t.Fatalf("error lists configuration: %s", apiErr.Message)
		}
	})

	t.Run("unknown path", func(t *testing.T) {
		resp, body := s.gw.post(t, "/v1/nothing", []byte(`{}`))
		assertOpenAIError(t, resp, body, 404, "unknown_url")
	})

	t.Run("provider errors", func(t *testing.T) {
		for _, tc := range []struct {
			name, provider, file, model string
			status                      int // override of the transcript status
			want                        int
			code, retryAfter            string
		}{
			{"openai 401 is the gateway's credential", "openai", "error_401", "gpt-test", 0, 502, "provider_auth_failed", ""},
			{"openai 429 keeps Retry-After", "openai", "error_429", "gpt-test", 0, 429, "rate_limit_exceeded", "1"},
			{"openai 500", "openai", "error_401", "gpt-test", 500, 502, "upstream_error", ""},
			{"anthropic 401", "anthropic", "error_401", "claude-test", 0, 502, "provider_auth_failed", ""},
			{"anthropic 429", "anthropic", "error_429", "claude-test", 0, 429, "rate_limit_exceeded", "*"},
			{"anthropic 529 overloaded", "anthropic", "error_529", "claude-test", 0, 503, "provider_overloaded", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				srv, path := s.openai, "/v1/chat/completions"
				if tc.provider == "anthropic" {
					srv, path = s.anthropic, "/v1/messages"
				}
				srv.Handle("POST", path, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript(tc.provider, tc.file)), Status: tc.status})
				resp, body := s.gw.post(t, "/v1/chat/completions", []byte(`{"model":"`+tc.model+`","messages":[{"role":"user","content":"hi"}]}`))
				assertOpenAIError(t, resp, body, tc.want, tc.code)
				ra := resp.Header.Get("retry-after")
				if (tc.retryAfter == "*" && ra == "") || (tc.retryAfter != "*" && ra != tc.retryAfter) {
					t.Fatalf("retry-after = %q, want %q", ra, tc.retryAfter)
				}
				if strings.Contains(string(body), openAIKey) || strings.Contains(string(body), anthropicKey) {
					t.Fatal("error body leaks a provider key")
				}
			})
		}
	})

	t.Run("broken streams end with an error chunk", func(t *testing.T) {
		for _, tc := range []struct {
			name, provider, file string
			reply                fakeprovider.Reply
		}{
			{"anthropic truncated", "anthropic", "stream_truncated", fakeprovider.Reply{}},
			{"anthropic overloaded mid-stream", "anthropic", "stream_overloaded", fakeprovider.Reply{}},
			{"anthropic closed after 4 events", "anthropic", "text_stream", fakeprovider.Reply{CloseCleanlyAfterEvents: 4}},
			{"openai truncated", "openai", "stream_truncated", fakeprovider.Reply{}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				srv, path, model := s.openai, "/v1/chat/completions", "gpt-test"
				if tc.provider == "anthropic" {
					srv, path, model = s.anthropic, "/v1/messages", "claude-test"
				}
				rep := tc.reply
				rep.Transcript = fakeprovider.MustLoad(t, transcript(tc.provider, tc.file))
				srv.Handle("POST", path, rep)
				resp, body := s.gw.post(t, "/v1/chat/completions", []byte(`{"model":"`+model+`","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
				if resp.StatusCode != 200 {
					t.Fatalf("status %d: %s", resp.StatusCode, body)
				}
				data := sseData(body)
				if len(data) < 2 || data[len(data)-1] != "[DONE]" {
					t.Fatalf("stream does not end with [DONE]: %q", body)
				}
				last := data[len(data)-2]
				if gjson.Get(last, "choices.0.finish_reason").Str != "error" || gjson.Get(last, "error.message").Str == "" {
					t.Fatalf("last chunk is not an error chunk: %s", last)
				}
			})
		}
	})

	t.Run("20 MB request passes", func(t *testing.T) {
		s.openai.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat"))})
		big := strings.Repeat("a", 20<<20)
		got, err := s.client.Chat.Completions.New(ctxT(t), userParams("gpt-test", big))
		if err != nil {
			t.Fatal(err)
		}
		if got.Choices[0].Message.Content == "" {
			t.Fatal("empty answer")
		}
		if n := len(gjson.GetBytes(lastRequest(t, s.openai).Body, "messages.0.content").Str); n != len(big) {
			t.Fatalf("provider got %d bytes of content, want %d", n, len(big))
		}
	})

	t.Run("body over the limit is 413", func(t *testing.T) {
		body := []byte(`{"model":"gpt-test","messages":[{"role":"user","content":"` + strings.Repeat("a", 31<<20) + `"}]}`)
		resp, out := s.gw.post(t, "/v1/chat/completions", body)
		assertOpenAIError(t, resp, out, 413, "request_too_large")
	})
}

func assertOpenAIError(t *testing.T, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, status, body)
	}
	if !strings.HasPrefix(resp.Header.Get("content-type"), "application/json") {
		t.Fatalf("content-type = %q; body %s", resp.Header.Get("content-type"), body)
	}
	e := gjson.GetBytes(body, "error")
	if !e.IsObject() || e.Get("message").Str == "" || e.Get("type").Str == "" || e.Get("code").Str != code {
		t.Fatalf("not an OpenAI error with code %q: %s", code, body)
	}
}
