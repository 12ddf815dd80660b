package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

const claudeModel = "claude-sonnet-4-5-20250929"

// anthropicSetup is one gateway in front of a fake Anthropic only.
type anthropicSetup struct {
	gw     *gateway
	fake   *fakeprovider.Server
	client openai.Client
}

func newAnthropicSetup(t *testing.T) *anthropicSetup {
	s := &anthropicSetup{fake: fakeprovider.New(t)}
	s.gw = startGateway(t, fmt.Sprintf(`providers:
  - name: fake-anthropic
    schema: anthropic
    base_url: %s
    api_key: {env: E2E_ANTHROPIC_KEY}
models:
  - name: claude
    providers: [{provider: fake-anthropic, model: %s}]
`, s.fake.URL(), claudeModel), "E2E_ANTHROPIC_KEY="+anthropicKey)
	s.client = openai.NewClient(option.WithBaseURL(s.gw.url("/v1/")), option.WithAPIKey(clientKey), option.WithMaxRetries(0))
	return s
}

// reply makes the fake answer /v1/messages with the named transcripts, one
// per request, in order.
func (s *anthropicSetup) reply(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		s.fake.Enqueue("POST", "/v1/messages", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("anthropic", n))})
	}
}

// sent is the body of the last request the fake received, after checking
// it was a Messages API call with the gateway's credentials.
func (s *anthropicSetup) sent(t *testing.T) gjson.Result {
	t.Helper()
	rec := lastRequest(t, s.fake)
	if rec.Path != "/v1/messages" || rec.Header.Get("x-api-key") != anthropicKey || rec.Header.Get("anthropic-version") != "2023-06-01" {
		t.Fatalf("provider got path %s headers %v", rec.Path, rec.Header)
	}
	if rec.Header.Get("authorization") != "" || strings.Contains(string(rec.Body), clientKey) {
		t.Fatal("client credential forwarded to the provider")
	}
	if m := gjson.GetBytes(rec.Body, "model").Str; m != claudeModel {
		t.Fatalf("provider got model %q", m)
	}
	return gjson.ParseBytes(rec.Body)
}

// thinkingOf returns the thinking text and signature of a transcript.
func thinkingOf(t *testing.T, name string) (text, signature string) {
	t.Helper()
	tr := fakeprovider.MustLoad(t, transcript("anthropic", name))
	if !tr.IsSSE() {
		b := gjson.GetBytes(tr.Body, `content.#(type=="thinking")`)
		return b.Get("thinking").Str, b.Get("signature").Str
	}
	for _, d := range sseData(tr.Body) {
		text += gjson.Get(d, "delta.thinking").Str
		signature += gjson.Get(d, "delta.signature").Str
	}
	return text, signature
}

// reasoningAcc merges streamed reasoning as an OpenRouter client does:
// delta.reasoning text, and reasoning_details pieces joined by index.
type reasoningAcc struct {
	text    strings.Builder
	details []map[string]any
}

func (a *reasoningAcc) add(t *testing.T, delta openai.ChatCompletionChunkChoiceDelta) {
	t.Helper()
	if f, ok := delta.JSON.ExtraFields["reasoning"]; ok {
		var s string
		if err := json.Unmarshal([]byte(f.Raw()), &s); err != nil {
			t.Fatalf("delta.reasoning %s: %v", f.Raw(), err)
		}
		a.text.WriteString(s)
	}
	f, ok := delta.JSON.ExtraFields["reasoning_details"]
	if !ok {
		return
	}
	var pieces []map[string]any
	if err := json.Unmarshal([]byte(f.Raw()), &pieces); err != nil {
		t.Fatalf("delta.reasoning_details %s: %v", f.Raw(), err)
	}
	for _, p := range pieces {
		i := int(p["index"].(float64))
		for len(a.details) <= i {
			a.details = append(a.details, map[string]any{})
		}
		d := a.details[i]
		for k, v := range p {
			if k == "text" {
				s, _ := d["text"].(string)
				d["text"] = s + v.(string)
			} else {
				d[k] = v
			}
		}
	}
}

func TestAnthropic(t *testing.T) {
	s := newAnthropicSetup(t)

	t.Run("reasoning non-streamed", func(t *testing.T) {
		s.reply(t, "thinking")
		got, err := s.client.Chat.Completions.New(ctxT(t), openai.ChatCompletionNewParams{
			Model:           "claude",
			Messages:        []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What is 17 × 24?")},
			ReasoningEffort: shared.ReasoningEffortHigh,
		})
		if err != nil {
			t.Fatal(err)
		}
		msg := got.Choices[0].Message
		wantText, wantSig := thinkingOf(t, "thinking")
		if r := gjson.Get(msg.JSON.ExtraFields["reasoning"].Raw(), "@this").Str; r != wantText {
			t.Fatalf("reasoning %q, want %q", r, wantText)
		}
		d := gjson.Get(msg.JSON.ExtraFields["reasoning_details"].Raw(), "0")
		if d.Get("type").Str != "reasoning.text" || d.Get("text").Str != wantText || d.Get("signature").Str != wantSig || d.Get("format").Str != "anthropic-claude-v1" {
			t.Fatalf("reasoning_details %s", d.Raw)
		}
		if msg.Content != "17 × 24 = **408**." || got.Usage.CompletionTokens != 112 {
			t.Fatalf("content %q usage %+v", msg.Content, got.Usage)
		}
		body := s.sent(t)
		if body.Get("thinking.type").Str != "enabled" || body.Get("thinking.budget_tokens").Int() != 16384 || body.Get("max_tokens").Int() != 16384+4096 {
			t.Fatalf("provider got thinking %s max_tokens %s", body.Get("thinking").Raw, body.Get("max_tokens").Raw)
		}
	})

	t.Run("reasoning streamed", func(t *testing.T) {
		s.reply(t, "thinking_stream")
		var raw *http.Response
		stream := s.client.Chat.Completions.NewStreaming(ctxT(t), openai.ChatCompletionNewParams{
			Model:           "claude",
			Messages:        []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What is 17 × 24?")},
			ReasoningEffort: shared.ReasoningEffortLow,
			Temperature:     openai.Float(0.3),
			StreamOptions:   openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
		}, option.WithResponseInto(&raw))
		var acc openai.ChatCompletionAccumulator
		var r reasoningAcc
		for stream.Next() {
			c := stream.Current()
			acc.AddChunk(c)
			if len(c.Choices) > 0 {
				r.add(t, c.Choices[0].Delta)
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		wantText, wantSig := thinkingOf(t, "thinking_stream")
		if r.text.String() != wantText || len(r.details) != 1 || r.details[0]["text"] != wantText || r.details[0]["signature"] != wantSig {
			t.Fatalf("reasoning %q details %v, want %q signed %q", r.text.String(), r.details, wantText, wantSig)
		}
		if acc.Choices[0].Message.Content != "17 × 24 = **408**." || acc.Usage.CompletionTokens != 109 {
			t.Fatalf("content %q usage %+v", acc.Choices[0].Message.Content, acc.Usage)
		}
		// Extended thinking takes no temperature: it is left out and the client told.
		if h := raw.Header.Get("x-switchboard-dropped-params"); h != "temperature" {
			t.Fatalf("dropped params header %q, want temperature", h)
		}
		body := s.sent(t)
		if !body.Get("stream").Bool() || body.Get("thinking.budget_tokens").Int() != 2048 || body.Get("temperature").Exists() {
			t.Fatalf("provider got %s", body.Raw)
		}
	})

	weatherTool := openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
		Name:        "get_weather",
		Description: openai.String("Current weather for a location"),
		Parameters: openai.FunctionParameters{"type": "object", "properties": map[string]any{
			"location": map[string]any{"type": "string"}, "unit": map[string]any{"type": "string"},
		}, "required": []string{"location"}},
	})
	// secondTurn sends the assistant's tool call back with its
	// reasoning_details and the tool result, and checks the fake got the
	// thinking block, signature included, ahead of the tool_use block.
	secondTurn := func(t *testing.T, asst openai.ChatCompletionAssistantMessageParam, details any, wantText, wantSig string) {
		t.Helper()
		asst.SetExtraFields(map[string]any{"reasoning_details": details})
		callID := asst.ToolCalls[0].OfFunction.ID
		got, err := s.client.Chat.Completions.New(ctxT(t), openai.ChatCompletionNewParams{
			Model: "claude",
			Messages: []openai.ChatCompletionMessageParamUnion{
				openai.UserMessage("What's the weather in Paris right now?"),
				{OfAssistant: &asst},
				openai.ToolMessage(`{"temp_c": 18, "conditions": "partly cloudy"}`, callID),
			},
			Tools: []openai.ChatCompletionToolUnionParam{weatherTool},
		}, option.WithJSONSet("reasoning", map[string]any{"effort": "medium"}))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(got.Choices[0].Message.Content, "18°C") || got.Choices[0].FinishReason != "stop" {
			t.Fatalf("answer %q finish %q", got.Choices[0].Message.Content, got.Choices[0].FinishReason)
		}
		body := s.sent(t)
		blocks := body.Get("messages.1.content").Array()
		if body.Get("messages.1.role").Str != "assistant" || len(blocks) < 2 {
			t.Fatalf("assistant turn %s", body.Get("messages.1").Raw)
		}
		if blocks[0].Get("type").Str != "thinking" || blocks[0].Get("thinking").Str != wantText || blocks[0].Get("signature").Str != wantSig {
			t.Fatalf("first block %s, want thinking %q signed %q", blocks[0].Raw, wantText, wantSig)
		}
		last := blocks[len(blocks)-1]
		if last.Get("type").Str != "tool_use" || last.Get("id").Str != callID {
			t.Fatalf("last block %s, want the tool_use %s", last.Raw, callID)
		}
		if r := body.Get("messages.2.content.0"); r.Get("type").Str != "tool_result" || r.Get("tool_use_id").Str != callID {
			t.Fatalf("tool result %s", r.Raw)
		}
		if body.Get("thinking.type").Str != "enabled" || body.Get("thinking.budget_tokens").Int() != 8192 {
			t.Fatalf("thinking %s", body.Get("thinking").Raw)
		}
	}

	t.Run("tools with thinking, two turns", func(t *testing.T) {
		s.reply(t, "thinking_tool_use", "thinking_tool_result")
		got, err := s.client.Chat.Completions.New(ctxT(t), openai.ChatCompletionNewParams{
			Model:    "claude",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What's the weather in Paris right now?")},
			Tools:    []openai.ChatCompletionToolUnionParam{weatherTool},
		}, option.WithJSONSet("reasoning", map[string]any{"effort": "medium"}))
		if err != nil {
			t.Fatal(err)
		}
		msg := got.Choices[0].Message
		if got.Choices[0].FinishReason != "tool_calls" || len(msg.ToolCalls) != 1 || msg.ToolCalls[0].Function.Arguments != `{"location":"Paris, France","unit":"celsius"}` {
			t.Fatalf("finish %q tool calls %+v", got.Choices[0].FinishReason, msg.ToolCalls)
		}
		if body := s.sent(t); body.Get("tools.0.name").Str != "get_weather" || body.Get("thinking.budget_tokens").Int() != 8192 {
			t.Fatalf("first request %s", body.Raw)
		}
		wantText, wantSig := thinkingOf(t, "thinking_tool_use")
		secondTurn(t, msg.ToAssistantMessageParam(), json.RawMessage(msg.JSON.ExtraFields["reasoning_details"].Raw()), wantText, wantSig)
	})

	t.Run("streamed tools with thinking, two turns", func(t *testing.T) {
		s.reply(t, "thinking_tool_use_stream", "thinking_tool_result")
		stream := s.client.Chat.Completions.NewStreaming(ctxT(t), openai.ChatCompletionNewParams{
			Model:    "claude",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What's the weather in Paris right now?")},
			Tools:    []openai.ChatCompletionToolUnionParam{weatherTool},
		}, option.WithJSONSet("reasoning", map[string]any{"effort": "medium"}))
		var acc openai.ChatCompletionAccumulator
		var r reasoningAcc
		for stream.Next() {
			c := stream.Current()
			acc.AddChunk(c)
			if len(c.Choices) > 0 {
				r.add(t, c.Choices[0].Delta)
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		msg := acc.Choices[0].Message
		if acc.Choices[0].FinishReason != "tool_calls" || len(msg.ToolCalls) != 1 || !gjson.Valid(msg.ToolCalls[0].Function.Arguments) {
			t.Fatalf("finish %q tool calls %+v", acc.Choices[0].FinishReason, msg.ToolCalls)
		}
		wantText, wantSig := thinkingOf(t, "thinking_tool_use_stream")
		secondTurn(t, msg.ToAssistantMessageParam(), r.details, wantText, wantSig)
	})

	contactSchema := map[string]any{
		"type": "object",
		"properties": map[string]any{
			"name": map[string]any{"type": "string"}, "email": map[string]any{"type": "string"},
			"plan_interest": map[string]any{"type": "string"}, "demo_requested": map[string]any{"type": "boolean"},
		},
		"required":             []string{"name", "email", "plan_interest", "demo_requested"},
		"additionalProperties": false,
	}
	structured := openai.ChatCompletionNewParams{
		Model:    "claude",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Extract the contact: John Smith (john@example.com) wants an Enterprise demo.")},
		ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
			JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "contact_info", Strict: openai.Bool(true), Schema: contactSchema},
		}},
	}
	checkContact := func(t *testing.T, content string) {
		t.Helper()
		var c struct {
			Name          string `json:"name"`
			DemoRequested bool   `json:"demo_requested"`
		}
		if err := json.Unmarshal([]byte(content), &c); err != nil || c.Name != "John Smith" || !c.DemoRequested {
			t.Fatalf("content %q: %v", content, err)
		}
		body := s.sent(t)
		if f := body.Get("output_config.format"); f.Get("type").Str != "json_schema" || f.Get("schema.required.#").Int() != 4 || f.Get("schema.additionalProperties").Type != gjson.False {
			t.Fatalf("provider got output_config %s", body.Get("output_config").Raw)
		}
	}

	t.Run("structured output", func(t *testing.T) {
		s.reply(t, "structured_output")
		got, err := s.client.Chat.Completions.New(ctxT(t), structured)
		if err != nil {
			t.Fatal(err)
		}
		if got.Choices[0].FinishReason != "stop" {
			t.Fatalf("finish %q", got.Choices[0].FinishReason)
		}
		checkContact(t, got.Choices[0].Message.Content)
	})

	t.Run("structured output streamed", func(t *testing.T) {
		s.reply(t, "structured_output_stream")
		stream := s.client.Chat.Completions.NewStreaming(ctxT(t), structured)
		var acc openai.ChatCompletionAccumulator
		for stream.Next() {
			acc.AddChunk(stream.Current())
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		checkContact(t, acc.Choices[0].Message.Content)
	})

	// A request with cache breakpoints on a system part, an image and a tool.
	cached := []byte(`{"model":"claude","messages":[
		{"role":"system","content":[{"type":"text","text":"You are a contracts analyst."},{"type":"text","text":"CONTRACT ... 4.2 Either party may terminate with 30 days' written notice.","cache_control":{"type":"ephemeral"}}]},
		{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/contract-p1.png"},"cache_control":{"type":"ephemeral","ttl":"1h"}},{"type":"text","text":"Summarise the termination clause."}]}],
		"tools":[{"type":"function","function":{"name":"lookup_clause","parameters":{"type":"object","properties":{"number":{"type":"string"}}}},"cache_control":{"type":"ephemeral"}}]`)

	t.Run("prompt caching", func(t *testing.T) {
		s.reply(t, "cache_usage")
		resp, out := s.gw.post(t, "/v1/chat/completions", append(cached[:len(cached):len(cached)], '}'))
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, out)
		}
		var got openai.ChatCompletion
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		u := got.Usage
		if u.PromptTokens != 14+1840+312 || u.PromptTokensDetails.CachedTokens != 1840 || u.PromptTokensDetails.CacheWriteTokens != 312 || u.TotalTokens != 14+1840+312+22 {
			t.Fatalf("usage %s", gjson.GetBytes(out, "usage").Raw)
		}
		body := s.sent(t)
		if body.Get("system.1.cache_control.type").Str != "ephemeral" || body.Get("messages.0.content.0.cache_control.ttl").Str != "1h" ||
			body.Get("messages.0.content.0.source.url").Str == "" || body.Get("tools.0.cache_control.type").Str != "ephemeral" {
			t.Fatalf("cache breakpoints not passed through: %s", body.Raw)
		}
	})

	t.Run("prompt caching streamed", func(t *testing.T) {
		s.reply(t, "cache_usage_stream")
		resp, out := s.gw.post(t, "/v1/chat/completions", append(cached[:len(cached):len(cached)], `,"stream":true,"stream_options":{"include_usage":true}}`...))
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, out)
		}
		var usage []string
		for _, d := range sseData(out) {
			if u := gjson.Get(d, "usage"); u.IsObject() {
				usage = append(usage, u.Raw)
			}
		}
		if len(usage) != 1 {
			t.Fatalf("%d usage chunks: %s", len(usage), out)
		}
		u := gjson.Parse(usage[0])
		if u.Get("prompt_tokens").Int() != 2166 || u.Get("prompt_tokens_details.cached_tokens").Int() != 1840 || u.Get("prompt_tokens_details.cache_write_tokens").Int() != 312 {
			t.Fatalf("usage %s", usage[0])
		}
	})

	t.Run("dropped parameters are reported", func(t *testing.T) {
		s.reply(t, "text")
		resp, out := s.gw.post(t, "/v1/chat/completions", []byte(`{"model":"claude","messages":[{"role":"user","content":"hi"}],"seed":7,"frequency_penalty":0.4,"temperature":1.5}`))
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, out)
		}
		if h := resp.Header.Get("x-switchboard-dropped-params"); h != "temperature,frequency_penalty,seed" {
			t.Fatalf("dropped params header %q", h)
		}
		body := s.sent(t)
		if body.Get("seed").Exists() || body.Get("frequency_penalty").Exists() || body.Get("temperature").Raw != "1" {
			t.Fatalf("provider got %s", body.Raw)
		}
	})

	t.Run("require_parameters rejects what would be dropped", func(t *testing.T) {
		before := len(s.fake.Requests())
		resp, out := s.gw.post(t, "/v1/chat/completions", []byte(`{"model":"claude","messages":[{"role":"user","content":"hi"}],"seed":7,"provider":{"require_parameters":true}}`))
		assertOpenAIError(t, resp, out, 400, "unsupported_parameter")
		if msg := gjson.GetBytes(out, "error.message").Str; !strings.Contains(msg, "cannot honour: seed") {
			t.Fatalf("message %q", msg)
		}
		if n := len(s.fake.Requests()); n != before {
			t.Fatalf("provider received %d requests, want none", n-before)
		}
	})

	t.Run("prompt too long", func(t *testing.T) {
		s.reply(t, "error_400_prompt_too_long")
		_, err := s.client.Chat.Completions.New(ctxT(t), userParams("claude", "a very long prompt"))
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Code != "context_length_exceeded" || !strings.Contains(apiErr.Message, "prompt is too long") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("forced tool with reasoning is refused", func(t *testing.T) {
		before := len(s.fake.Requests())
		p := userParams("claude", "Weather in Paris?")
		p.Tools = []openai.ChatCompletionToolUnionParam{weatherTool}
		p.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("required")}
		p.ReasoningEffort = shared.ReasoningEffortLow
		_, err := s.client.Chat.Completions.New(ctxT(t), p)
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Code != "unsupported_parameter" {
			t.Fatalf("err = %v", err)
		}
		if n := len(s.fake.Requests()); n != before {
			t.Fatalf("provider received %d requests, want none", n-before)
		}
	})
}
