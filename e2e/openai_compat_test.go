package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

// TestOpenAICompatible runs an OpenAI-compatible host on a loopback
// base_url (the quirks of vLLM and Ollama): the output limit renamed to
// max_tokens, the reasoning object mapped to reasoning_effort, what cannot
// be honoured dropped and reported, and host reasoning fields returned in
// OpenRouter's shape.
func TestOpenAICompatible(t *testing.T) {
	fake := fakeprovider.New(t)
	gw := startGateway(t, fmt.Sprintf(`providers:
  - name: local-vllm
    schema: openai
    base_url: %s/v1
models:
  - name: local-reasoner
    providers: [{provider: local-vllm, model: deepseek-ai/DeepSeek-R1-Distill-Qwen-7B}]
`, fake.URL()))
	client := openai.NewClient(option.WithBaseURL(gw.url("/v1/")), option.WithAPIKey(clientKey), option.WithMaxRetries(0))
	const path = "/v1/chat/completions"

	t.Run("token limit renamed and dropped parameters reported", func(t *testing.T) {
		fake.Handle("POST", path, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat"))})
		resp, body := gw.post(t, path, []byte(`{"model":"local-reasoner","messages":[{"role":"user","content":"hi"}],
			"max_completion_tokens":64,"top_k":20,"reasoning":{"effort":"low","max_tokens":256,"exclude":true},"provider":{"sort":"price"}}`))
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if got := resp.Header.Get("x-switchboard-dropped-params"); got != "reasoning.max_tokens" {
			t.Fatalf("x-switchboard-dropped-params %q", got)
		}
		rec := lastRequest(t, fake)
		got := gjson.ParseBytes(rec.Body)
		if got.Get("max_tokens").Int() != 64 || got.Get("max_completion_tokens").Exists() || got.Get("reasoning_effort").Str != "low" ||
			got.Get("reasoning").Exists() || got.Get("provider").Exists() || got.Get("top_k").Int() != 20 ||
			got.Get("model").Str != "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B" {
			t.Fatalf("provider got %s", rec.Body)
		}
		if rec.Header.Get("authorization") != "" {
			t.Fatal("client credential forwarded to a keyless provider")
		}
	})

	t.Run("nothing dropped, no header", func(t *testing.T) {
		fake.Handle("POST", path, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat"))})
		var raw *http.Response
		p := userParams("local-reasoner", "hi")
		p.MaxTokens = openai.Int(32)
		if _, err := client.Chat.Completions.New(ctxT(t), p, option.WithResponseInto(&raw)); err != nil {
			t.Fatal(err)
		}
		if h := raw.Header.Values("x-switchboard-dropped-params"); len(h) != 0 {
			t.Fatalf("x-switchboard-dropped-params %q", h)
		}
		if gjson.GetBytes(lastRequest(t, fake).Body, "max_tokens").Int() != 32 {
			t.Fatalf("provider got %s", lastRequest(t, fake).Body)
		}
	})

	t.Run("require_parameters refuses a drop", func(t *testing.T) {
		before := len(fake.Requests())
		resp, body := gw.post(t, path, []byte(`{"model":"local-reasoner","messages":[{"role":"user","content":"hi"}],
			"reasoning":{"max_tokens":256},"provider":{"require_parameters":true}}`))
		assertOpenAIError(t, resp, body, 400, "unsupported_parameter")
		if msg := gjson.GetBytes(body, "error.message").Str; !strings.Contains(msg, "reasoning.max_tokens") {
			t.Fatalf("message %q does not name the parameter", msg)
		}
		if n := len(fake.Requests()); n != before {
			t.Fatalf("provider was called %d times", n-before)
		}
	})

	t.Run("reasoning_content streamed as reasoning", func(t *testing.T) {
		fake.Handle("POST", path, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "deepseek_reasoner_stream"))})
		p := userParams("local-reasoner", "9.11 or 9.8?")
		p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		stream := client.Chat.Completions.NewStreaming(ctxT(t), p)
		var acc openai.ChatCompletionAccumulator
		var reasoning, details strings.Builder
		for stream.Next() {
			c := stream.Current()
			acc.AddChunk(c)
			delta := gjson.Get(c.RawJSON(), "choices.0.delta")
			if delta.Get("reasoning_content").Exists() {
				t.Fatalf("reasoning_content reached the client: %s", c.RawJSON())
			}
			reasoning.WriteString(delta.Get("reasoning").Str)
			details.WriteString(delta.Get("reasoning_details.0.text").Str)
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		const want = "Compare 9.11 and 9.8. 0.80 > 0.11."
		if reasoning.String() != want || details.String() != want || acc.Choices[0].Message.Content != "9.8 is greater." {
			t.Fatalf("reasoning %q details %q content %q", reasoning.String(), details.String(), acc.Choices[0].Message.Content)
		}
		if acc.Usage.CompletionTokens != 64 || acc.Usage.CompletionTokensDetails.ReasoningTokens != 52 {
			t.Fatalf("usage %+v", acc.Usage)
		}
	})

	t.Run("reasoning_content whole as reasoning", func(t *testing.T) {
		fake.Handle("POST", path, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "deepseek_reasoner"))})
		got, err := client.Chat.Completions.New(ctxT(t), userParams("local-reasoner", "9.11 or 9.8?"))
		if err != nil {
			t.Fatal(err)
		}
		msg := gjson.Get(got.Choices[0].Message.RawJSON(), "@this")
		if !strings.HasPrefix(msg.Get("reasoning").Str, "Compare 9.11 and 9.8.") || msg.Get("reasoning_details.0.type").Str != "reasoning.text" {
			t.Fatalf("message %s", msg.Raw)
		}
		if got.Usage.CompletionTokensDetails.ReasoningTokens != 160 {
			t.Fatalf("usage %+v", got.Usage)
		}
	})

	t.Run("usage on the last content chunk becomes one usage chunk", func(t *testing.T) {
		fake.Handle("POST", path, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "mistral_stream"))})
		resp, body := gw.post(t, path, []byte(`{"model":"local-reasoner","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`))
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		data := sseData(body)
		var usage []string
		for _, d := range data {
			if u := gjson.Get(d, "usage"); u.IsObject() {
				if n := len(gjson.Get(d, "choices").Array()); n != 0 {
					t.Fatalf("usage rides on a chunk with %d choices: %s", n, d)
				}
				usage = append(usage, u.Raw)
			}
		}
		if len(usage) != 1 || gjson.Get(usage[0], "prompt_tokens").Int() != 9 || gjson.Get(usage[0], "completion_tokens").Int() != 12 {
			t.Fatalf("usage chunks %q", usage)
		}
		if data[len(data)-1] != "[DONE]" {
			t.Fatalf("stream ends with %q", data[len(data)-1])
		}
	})

	t.Run("context length without a code", func(t *testing.T) {
		fake.Handle("POST", path, fakeprovider.Reply{Transcript: &fakeprovider.Transcript{
			Status: 400, Header: http.Header{"Content-Type": {"application/json"}},
			Body: []byte(`{"object":"error","message":"This model's maximum context length is 32768 tokens. However, you requested 40960 tokens (40000 in the messages, 960 in the completion). Please reduce the length of the messages or completion.","type":"BadRequestError","param":null,"code":400}`),
		}})
		resp, body := gw.post(t, path, []byte(`{"model":"local-reasoner","messages":[{"role":"user","content":"hi"}]}`))
		assertOpenAIError(t, resp, body, 400, "context_length_exceeded")
	})
}
