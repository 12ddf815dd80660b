package e2e

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

const azureKey = "azure-e2e-secret-key"

// TestAzure runs the azure-openai schema through a real Envoy: the
// deployment path with its api-version, the api-key header, streamed and
// whole answers with Azure's content-filter annotations, and its errors.
func TestAzure(t *testing.T) {
	fake := fakeprovider.New(t)
	gw := startGateway(t, fmt.Sprintf(`providers:
  - name: fake-azure
    schema: azure-openai
    base_url: %s
    api_key: {env: E2E_AZURE_KEY}
models:
  - name: azure-mini
    providers: [{provider: fake-azure, model: gpt-4o-mini}]
`, fake.URL()), "E2E_AZURE_KEY="+azureKey)
	client := openai.NewClient(option.WithBaseURL(gw.url("/v1/")), option.WithAPIKey(clientKey), option.WithMaxRetries(0))
	const path = "/openai/deployments/gpt-4o-mini/chat/completions"

	t.Run("non-streamed", func(t *testing.T) {
		tr := fakeprovider.MustLoad(t, transcript("azure", "chat"))
		fake.Handle("POST", path, fakeprovider.Reply{Transcript: tr})
		p := userParams("azure-mini", "What is the capital of France?")
		p.MaxTokens = openai.Int(100)
		p.Temperature = openai.Float(0.2)
		var raw *http.Response
		got, err := client.Chat.Completions.New(ctxT(t), p, option.WithResponseInto(&raw))
		if err != nil {
			t.Fatal(err)
		}
		if got.Choices[0].Message.Content != "The capital of France is Paris." || got.Choices[0].FinishReason != "stop" {
			t.Fatalf("answer %+v", got.Choices[0])
		}
		if got.Usage.PromptTokens != 24 || got.Usage.CompletionTokens != 8 || raw.Header.Get("x-switchboard-provider") != "fake-azure" {
			t.Fatalf("usage %+v headers %v", got.Usage, raw.Header)
		}
		rec := lastRequest(t, fake)
		if rec.Path != path || rec.RawQuery != "api-version=2024-10-21" {
			t.Fatalf("provider got %s?%s", rec.Path, rec.RawQuery)
		}
		if rec.Header.Get("api-key") != azureKey || rec.Header.Get("authorization") != "" {
			t.Fatalf("provider got api-key %q authorization %q", rec.Header.Get("api-key"), rec.Header.Get("authorization"))
		}
		body := gjson.ParseBytes(rec.Body)
		if body.Get("model").Exists() || body.Get("max_tokens").Exists() || body.Get("max_completion_tokens").Int() != 100 ||
			body.Get("temperature").Float() != 0.2 {
			t.Fatalf("provider got body %s", rec.Body)
		}
	})

	t.Run("streamed with usage", func(t *testing.T) {
		tr := fakeprovider.MustLoad(t, transcript("azure", "chat_stream"))
		fake.Handle("POST", path, fakeprovider.Reply{Transcript: tr})
		p := userParams("azure-mini", "Write one line about gateways.")
		p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		stream := client.Chat.Completions.NewStreaming(ctxT(t), p)
		var acc openai.ChatCompletionAccumulator
		usageChunks := 0
		for stream.Next() {
			c := stream.Current()
			if c.ID == "" || c.Object != "chat.completion.chunk" {
				t.Fatalf("Azure's prompt_filter_results frame reached the client: %s", c.RawJSON())
			}
			acc.AddChunk(c)
			if c.Usage.TotalTokens > 0 {
				usageChunks++
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if want := transcriptText(t, tr, "openai"); acc.Choices[0].Message.Content != want || want == "" {
			t.Fatalf("content %q, want %q", acc.Choices[0].Message.Content, want)
		}
		if usageChunks != 1 || acc.Usage.PromptTokens != 19 || acc.Usage.CompletionTokens != 9 {
			t.Fatalf("usage chunks %d usage %+v", usageChunks, acc.Usage)
		}
		rec := lastRequest(t, fake)
		if !gjson.GetBytes(rec.Body, "stream_options.include_usage").Bool() || rec.RawQuery != "api-version=2024-10-21" {
			t.Fatalf("provider got %s?%s %s", rec.Path, rec.RawQuery, rec.Body)
		}
	})

	t.Run("streamed tool calls", func(t *testing.T) {
		fake.Handle("POST", path, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("azure", "tool_calls_stream"))})
		p := userParams("azure-mini", "Weather in Paris and Tokyo?")
		p.Tools = []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
			Name:       "get_weather",
			Parameters: openai.FunctionParameters{"type": "object", "properties": map[string]any{"location": map[string]any{"type": "string"}}},
		})}
		stream := client.Chat.Completions.NewStreaming(ctxT(t), p)
		var acc openai.ChatCompletionAccumulator
		for stream.Next() {
			acc.AddChunk(stream.Current())
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		calls := acc.Choices[0].Message.ToolCalls
		if len(calls) != 2 || acc.Choices[0].FinishReason != "tool_calls" {
			t.Fatalf("tool calls %+v finish %q", calls, acc.Choices[0].FinishReason)
		}
		want := map[string]string{"call_Xa81bQ2mZ9rT4yU6iO8pL3sD": `{"location": "Paris, France"}`, "call_Kp42nW7eR1tY5uI9oA3sD6fG": `{"location": "Tokyo, Japan"}`}
		for _, c := range calls {
			if want[c.ID] != c.Function.Arguments || c.Function.Name != "get_weather" {
				t.Errorf("tool call %s %s(%s)", c.ID, c.Function.Name, c.Function.Arguments)
			}
		}
		if !gjson.GetBytes(lastRequest(t, fake).Body, "tools.0.function.name").Exists() {
			t.Fatal("tools not sent to the provider")
		}
	})

	t.Run("output filtered mid-stream", func(t *testing.T) {
		fake.Handle("POST", path, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("azure", "stream_content_filter"))})
		stream := client.Chat.Completions.NewStreaming(ctxT(t), userParams("azure-mini", "Describe the duel."))
		var acc openai.ChatCompletionAccumulator
		for stream.Next() {
			acc.AddChunk(stream.Current())
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if acc.Choices[0].FinishReason != "content_filter" || acc.Choices[0].Message.Content != "The duel ended when" {
			t.Fatalf("finish %q content %q", acc.Choices[0].FinishReason, acc.Choices[0].Message.Content)
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			name, file       string
			status           int
			code, retryAfter string
		}{
			{"429 keeps Retry-After", "error_429", 429, "rate_limit_exceeded", "20"},
			{"prompt content filter", "error_content_filter", 400, "content_filter", ""},
			{"context length", "error_context_length", 400, "context_length_exceeded", ""},
			{"401 is the gateway's credential", "error_401", 502, "provider_auth_failed", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				fake.Handle("POST", path, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("azure", tc.file))})
				resp, body := gw.post(t, "/v1/chat/completions", []byte(`{"model":"azure-mini","messages":[{"role":"user","content":"hi"}]}`))
				assertOpenAIError(t, resp, body, tc.status, tc.code)
				if got := resp.Header.Get("retry-after"); got != tc.retryAfter {
					t.Fatalf("retry-after %q, want %q", got, tc.retryAfter)
				}
				if strings.Contains(string(body), azureKey) {
					t.Fatal("error body leaks the provider key")
				}
			})
		}
		fake.Handle("POST", path, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("azure", "error_429"))})
		_, err := client.Chat.Completions.New(ctxT(t), userParams("azure-mini", "hi"))
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Response.Header.Get("retry-after") != "20" {
			t.Fatalf("SDK error %v", err)
		}
	})

	t.Run("dropped parameters are reported", func(t *testing.T) {
		fake.Handle("POST", path, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("azure", "chat"))})
		resp, body := gw.post(t, "/v1/chat/completions", []byte(`{"model":"azure-mini","messages":[{"role":"user","content":"hi"}],"top_k":40,"min_p":0.1}`))
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if got := resp.Header.Get("x-switchboard-dropped-params"); got != "top_k,min_p" {
			t.Fatalf("x-switchboard-dropped-params %q", got)
		}
		if b := lastRequest(t, fake).Body; gjson.GetBytes(b, "top_k").Exists() || gjson.GetBytes(b, "min_p").Exists() {
			t.Fatalf("provider got %s", b)
		}
	})
}
