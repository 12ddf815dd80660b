package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

const (
	bedrockModelID = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
	bedrockKeyed   = "anthropic.claude-3-5-haiku-20241022-v1:0"
	bedrockAPIKey  = "ABSKQmVkcm9ja0FQSUtleS1lMmUtc2VjcmV0"
	awsSecret      = "e2e/SECRET/wJalrXUtnFEMIK7MDENG"
	awsToken       = "IQoJb3JpZ2luX2VjE2e2eTOKEN"
)

// bedrockSetup is one gateway in front of two fake Bedrock runtimes: one
// reached with SigV4 from the AWS credential chain, one with a Bedrock
// API key.
type bedrockSetup struct {
	gw     *gateway
	signed *fakeprovider.Server
	keyed  *fakeprovider.Server
	client openai.Client
}

func newBedrockSetup(t *testing.T) *bedrockSetup {
	s := &bedrockSetup{signed: fakeprovider.New(t), keyed: fakeprovider.New(t)}
	none := filepath.Join(t.TempDir(), "none")
	s.gw = startGateway(t, fmt.Sprintf(`providers:
  - name: fake-bedrock
    schema: bedrock
    base_url: %s
    region: us-east-1
  - name: fake-bedrock-key
    schema: bedrock
    base_url: %s/proxy
    region: eu-west-1
    api_key: {env: E2E_BEDROCK_KEY}
models:
  - name: claude-bedrock
    providers: [{provider: fake-bedrock, model: "%s"}]
  - name: haiku-bedrock
    providers: [{provider: fake-bedrock-key, model: "%s"}]
`, s.signed.URL(), s.keyed.URL(), bedrockModelID, bedrockKeyed),
		"AWS_ACCESS_KEY_ID=AKID", "AWS_SECRET_ACCESS_KEY="+awsSecret, "AWS_SESSION_TOKEN="+awsToken,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PROFILE=", "AWS_CONFIG_FILE="+none, "AWS_SHARED_CREDENTIALS_FILE="+none,
		"E2E_BEDROCK_KEY="+bedrockAPIKey)
	s.client = openai.NewClient(option.WithBaseURL(s.gw.url("/v1/")), option.WithAPIKey(clientKey), option.WithMaxRetries(0))
	return s
}

// bedrockPath is the path the fake sees (decoded); the wire has the model
// id escaped, %3A for its ':'.
func bedrockPath(op string) string { return "/model/" + bedrockModelID + "/" + op }

func (s *bedrockSetup) reply(t *testing.T, op, name string) *fakeprovider.Transcript {
	t.Helper()
	tr := fakeprovider.MustLoad(t, transcript("bedrock", name))
	s.signed.Handle("POST", bedrockPath(op), fakeprovider.Reply{Transcript: tr})
	return tr
}

// sent checks the last request the SigV4 fake received was a Converse call
// signed for what it carries, and returns its body.
func (s *bedrockSetup) sent(t *testing.T, op string) gjson.Result {
	t.Helper()
	rec := lastRequest(t, s.signed)
	if rec.Path != bedrockPath(op) {
		t.Fatalf("provider got path %s, want %s", rec.Path, bedrockPath(op))
	}
	auth := rec.Header.Get("authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKID/") || !strings.Contains(auth, "/us-east-1/bedrock/aws4_request, SignedHeaders=") {
		t.Fatalf("provider got authorization %q", auth)
	}
	sum := sha256.Sum256(rec.Body)
	if rec.Header.Get("x-amz-content-sha256") != hex.EncodeToString(sum[:]) || rec.Header.Get("x-amz-security-token") != awsToken {
		t.Fatalf("provider got x-amz headers %v", rec.Header)
	}
	// SigV4 signs the Host header: it must be the provider's, as AWS sees it.
	if want := strings.TrimPrefix(s.signed.URL(), "http://"); rec.Host != want {
		t.Fatalf("provider got Host %q, want its own authority %q", rec.Host, want)
	}
	if got := resign(t, rec, op); got != auth {
		t.Fatalf("signature does not verify:\n got  %s\n want %s", auth, got)
	}
	if strings.Contains(string(rec.Body), clientKey) || strings.Contains(auth, clientKey) {
		t.Fatal("client credential forwarded to the provider")
	}
	body := gjson.ParseBytes(rec.Body)
	if body.Get("model").Exists() || body.Get("stream").Exists() || !body.Get("messages.0.content").IsArray() {
		t.Fatalf("provider got body %s", rec.Body)
	}
	return body
}

// resign computes, with the AWS SDK's signer, the Authorization AWS would
// expect for the request the fake received, dated as it was sent.
func resign(t *testing.T, rec fakeprovider.Recorded, op string) string {
	t.Helper()
	at, err := time.Parse("20060102T150405Z", rec.Header.Get("x-amz-date"))
	if err != nil {
		t.Fatalf("x-amz-date: %v", err)
	}
	escaped := "/model/" + strings.ReplaceAll(bedrockModelID, ":", "%3A") + "/" + op
	u, err := url.Parse("http://" + rec.Host + escaped)
	if err != nil {
		t.Fatal(err)
	}
	req := &http.Request{Method: "POST", URL: u, Host: rec.Host, Header: http.Header{}}
	// Sign what the gateway says it signed, with the values that arrived.
	_, list, _ := strings.Cut(rec.Header.Get("authorization"), "SignedHeaders=")
	list, _, _ = strings.Cut(list, ",")
	for _, k := range strings.Split(list, ";") {
		if k != "host" {
			req.Header.Set(k, rec.Header.Get(k))
		}
	}
	creds := aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: awsSecret, SessionToken: awsToken}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, rec.Header.Get("x-amz-content-sha256"), "bedrock", "us-east-1", at); err != nil {
		t.Fatal(err)
	}
	return req.Header.Get("Authorization")
}

func TestBedrock(t *testing.T) {
	s := newBedrockSetup(t)

	t.Run("non-streamed, signed with SigV4", func(t *testing.T) {
		s.reply(t, "converse", "text")
		var raw *http.Response
		p := userParams("claude-bedrock", "Hello! Who are you?")
		p.MaxTokens = openai.Int(512)
		p.Seed = openai.Int(7)
		got, err := s.client.Chat.Completions.New(ctxT(t), p, option.WithResponseInto(&raw))
		if err != nil {
			t.Fatal(err)
		}
		c := got.Choices[0]
		if c.Message.Content != "Hello! I'm Claude, an AI assistant. How can I help you today?" || c.FinishReason != "stop" {
			t.Fatalf("content %q finish %q", c.Message.Content, c.FinishReason)
		}
		if got.Usage.PromptTokens != 12 || got.Usage.CompletionTokens != 21 || got.Usage.TotalTokens != 33 {
			t.Fatalf("usage %+v", got.Usage)
		}
		if raw.Header.Get("x-switchboard-provider") != "fake-bedrock" || raw.Header.Get("x-switchboard-dropped-params") != "seed" {
			t.Fatalf("headers %v", raw.Header)
		}
		body := s.sent(t, "converse")
		if body.Get("messages.0.content.0.text").Str != "Hello! Who are you?" || body.Get("inferenceConfig.maxTokens").Int() != 512 || body.Get("seed").Exists() {
			t.Fatalf("provider got %s", body.Raw)
		}
	})

	t.Run("streamed with usage", func(t *testing.T) {
		s.reply(t, "converse-stream", "text_stream")
		p := userParams("claude-bedrock", "Explain flow control")
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
		want := "Flow control keeps a fast sender from overwhelming a slow receiver. In HTTP/2 each stream, and the connection as a whole, has a window:" +
			" the receiver advertises how many bytes it can take, the sender stops when the window is spent—and \"WINDOW_UPDATE\" frames reopen it as the receiver drains its buffers."
		if acc.Choices[0].Message.Content != want || acc.Choices[0].FinishReason != "stop" {
			t.Fatalf("content %q finish %q", acc.Choices[0].Message.Content, acc.Choices[0].FinishReason)
		}
		if usageChunks != 1 || acc.Usage.PromptTokens != 19 || acc.Usage.CompletionTokens != 71 {
			t.Fatalf("usage chunks %d usage %+v", usageChunks, acc.Usage)
		}
		s.sent(t, "converse-stream")
	})

	weather := openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
		Name:        "get_weather",
		Description: openai.String("Get the current weather for a city."),
		Parameters: openai.FunctionParameters{"type": "object", "properties": map[string]any{
			"city": map[string]any{"type": "string"}, "unit": map[string]any{"type": "string"},
		}, "required": []string{"city"}},
	})

	t.Run("tool calls non-streamed", func(t *testing.T) {
		s.reply(t, "converse", "tool_use")
		p := userParams("claude-bedrock", "What's the weather in Paris and Tokyo?")
		p.Tools = []openai.ChatCompletionToolUnionParam{weather}
		p.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("required")}
		got, err := s.client.Chat.Completions.New(ctxT(t), p)
		if err != nil {
			t.Fatal(err)
		}
		calls := got.Choices[0].Message.ToolCalls
		if len(calls) != 2 || calls[1].ID != "tooluse_Wc3xTq0pS8u1Vv9aZbLm4A" || calls[1].Function.Arguments != `{"city":"Tokyo","unit":"celsius"}` || got.Choices[0].FinishReason != "tool_calls" {
			t.Fatalf("tool calls %+v finish %q", calls, got.Choices[0].FinishReason)
		}
		body := s.sent(t, "converse")
		if body.Get("toolConfig.tools.0.toolSpec.name").Str != "get_weather" || body.Get("toolConfig.toolChoice.any").Raw != "{}" ||
			body.Get("toolConfig.tools.0.toolSpec.inputSchema.json.required.0").Str != "city" {
			t.Fatalf("provider got toolConfig %s", body.Get("toolConfig").Raw)
		}
	})

	t.Run("tool calls streamed, then the results", func(t *testing.T) {
		s.reply(t, "converse-stream", "tool_use_stream")
		p := userParams("claude-bedrock", "What's the weather in Paris and Tokyo?")
		p.Tools = []openai.ChatCompletionToolUnionParam{weather}
		stream := s.client.Chat.Completions.NewStreaming(ctxT(t), p)
		var acc openai.ChatCompletionAccumulator
		for stream.Next() {
			acc.AddChunk(stream.Current())
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		msg := acc.Choices[0].Message
		if len(msg.ToolCalls) != 2 || msg.ToolCalls[0].Function.Arguments != `{"city": "Paris", "unit": "celsius"}` ||
			msg.ToolCalls[1].Function.Arguments != `{"city": "Tokyo", "unit": "celsius"}` || acc.Choices[0].FinishReason != "tool_calls" {
			t.Fatalf("tool calls %+v finish %q", msg.ToolCalls, acc.Choices[0].FinishReason)
		}
		s.sent(t, "converse-stream")

		// The next turn carries the calls and their results back.
		s.reply(t, "converse", "text")
		p.Messages = append(p.Messages, msg.ToParam(),
			openai.ToolMessage("18°C, light rain", msg.ToolCalls[0].ID),
			openai.ToolMessage("24°C, clear", msg.ToolCalls[1].ID))
		if _, err := s.client.Chat.Completions.New(ctxT(t), p); err != nil {
			t.Fatal(err)
		}
		body := s.sent(t, "converse")
		turns := body.Get("messages").Array()
		if len(turns) != 3 || turns[1].Get("content.1.toolUse.toolUseId").Str != "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q" ||
			turns[2].Get("content.1.toolResult.content.0.text").Str != "24°C, clear" {
			t.Fatalf("provider got messages %s", body.Get("messages").Raw)
		}
	})

	t.Run("reasoning streamed", func(t *testing.T) {
		s.reply(t, "converse-stream", "reasoning_stream")
		p := userParams("claude-bedrock", "What is 17 × 23?")
		p.ReasoningEffort = shared.ReasoningEffortLow
		p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		stream := s.client.Chat.Completions.NewStreaming(ctxT(t), p)
		var acc openai.ChatCompletionAccumulator
		var reasoning, signature string
		for stream.Next() {
			c := stream.Current()
			acc.AddChunk(c)
			if len(c.Choices) == 0 {
				continue
			}
			extra := c.Choices[0].Delta.JSON.ExtraFields
			reasoning += gjson.Get(extra["reasoning"].Raw(), "@this").Str
			for _, d := range gjson.Get(extra["reasoning_details"].Raw(), "@this").Array() {
				signature += d.Get("signature").Str
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if reasoning != "The user wants 17 × 23. 17 × 20 = 340, 17 × 3 = 51, so 391." || !strings.HasPrefix(signature, "EqoBCkgIBxABGAIiQLm") {
			t.Fatalf("reasoning %q signature %q", reasoning, signature)
		}
		if acc.Choices[0].Message.Content != "17 × 23 = **391**." || acc.Usage.PromptTokens != 1867 || acc.Usage.PromptTokensDetails.CachedTokens != 1843 {
			t.Fatalf("content %q usage %+v", acc.Choices[0].Message.Content, acc.Usage)
		}
		body := s.sent(t, "converse-stream")
		if body.Get("additionalModelRequestFields.thinking").Raw != `{"type":"enabled","budget_tokens":2048}` || body.Get("inferenceConfig.maxTokens").Int() != 2048+4096 {
			t.Fatalf("provider got %s", body.Raw)
		}
	})

	t.Run("structured output", func(t *testing.T) {
		s.reply(t, "converse", "structured_output")
		p := userParams("claude-bedrock", "Weather report for Paris, as JSON.")
		p.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
			JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "weather_report", Schema: map[string]any{
				"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}},
			}},
		}}
		got, err := s.client.Chat.Completions.New(ctxT(t), p)
		if err != nil {
			t.Fatal(err)
		}
		if c := got.Choices[0]; c.Message.Content != `{"city":"Paris","temperature_c":18,"conditions":"light rain"}` || c.FinishReason != "stop" || len(c.Message.ToolCalls) != 0 {
			t.Fatalf("content %q finish %q calls %v", c.Message.Content, c.FinishReason, c.Message.ToolCalls)
		}
		body := s.sent(t, "converse")
		if body.Get("toolConfig.toolChoice.tool.name").Str != "structured_output_weather_report" {
			t.Fatalf("provider got toolConfig %s", body.Get("toolConfig").Raw)
		}
	})

	t.Run("bearer API key", func(t *testing.T) {
		path := "/proxy/model/" + bedrockKeyed + "/converse"
		s.keyed.Handle("POST", path, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("bedrock", "text"))})
		if _, err := s.client.Chat.Completions.New(ctxT(t), userParams("haiku-bedrock", "hi")); err != nil {
			t.Fatal(err)
		}
		rec := lastRequest(t, s.keyed)
		if rec.Path != path || rec.Header.Get("authorization") != "Bearer "+bedrockAPIKey || rec.Header.Get("x-amz-date") != "" {
			t.Fatalf("provider got path %s headers %v", rec.Path, rec.Header)
		}
	})

	t.Run("provider errors", func(t *testing.T) {
		for _, tc := range []struct {
			file   string
			stream bool
			status int
			code   string
		}{
			{"error_throttling", false, 429, "rate_limit_exceeded"},
			{"error_too_long", false, 400, "context_length_exceeded"},
			{"error_access_denied", false, 502, "provider_auth_failed"},
			{"error_unavailable", true, 503, "provider_overloaded"},
		} {
			t.Run(tc.file, func(t *testing.T) {
				op := "converse"
				if tc.stream {
					op = "converse-stream"
				}
				s.reply(t, op, tc.file)
				resp, body := s.gw.post(t, "/v1/chat/completions", []byte(fmt.Sprintf(`{"model":"claude-bedrock","stream":%v,"messages":[{"role":"user","content":"hi"}]}`, tc.stream)))
				assertOpenAIError(t, resp, body, tc.status, tc.code)
				if strings.Contains(string(body), awsSecret) || strings.Contains(string(body), "AKID") {
					t.Fatal("error body leaks a credential")
				}
			})
		}
	})

	t.Run("image URL is refused", func(t *testing.T) {
		resp, body := s.gw.post(t, "/v1/chat/completions", []byte(`{"model":"claude-bedrock","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]}]}`))
		assertOpenAIError(t, resp, body, 400, "unsupported_parameter")
		if !strings.Contains(gjson.GetBytes(body, "error.message").Str, "image URLs are not supported by Bedrock") {
			t.Fatalf("body %s", body)
		}
	})

	t.Run("broken streams end with an error chunk", func(t *testing.T) {
		for _, tc := range []struct{ file, code string }{
			{"stream_throttling", "rate_limit_exceeded"},
			{"stream_model_error", "provider_overloaded"},
			{"stream_bad_crc", "upstream_stream_error"},
			{"stream_truncated", "upstream_stream_error"},
		} {
			t.Run(tc.file, func(t *testing.T) {
				s.reply(t, "converse-stream", tc.file)
				resp, body := s.gw.post(t, "/v1/chat/completions", []byte(`{"model":"claude-bedrock","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
				if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("content-type"), "text/event-stream") {
					t.Fatalf("status %d type %s: %s", resp.StatusCode, resp.Header.Get("content-type"), body)
				}
				data := sseData(body)
				if len(data) < 2 || data[len(data)-1] != "[DONE]" {
					t.Fatalf("stream does not end with [DONE]: %q", body)
				}
				last := data[len(data)-2]
				if gjson.Get(last, "choices.0.finish_reason").Str != "error" || gjson.Get(last, "error.code").Str != tc.code {
					t.Fatalf("last chunk is not a %s error chunk: %s", tc.code, last)
				}
			})
		}
	})
}
