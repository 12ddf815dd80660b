package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	aoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

// ingressSent checks the request a provider got from a /v1/messages
// client, in the provider's own wire format: the system prompt, the user
// turn and the output limit each where that schema wants them.
func ingressSent(t *testing.T, schema string, b gjson.Result) {
	t.Helper()
	var system, user string
	var limit int64
	switch schema {
	case "azure-openai":
		system, user, limit = b.Get("messages.0.content").String(), b.Get("messages.1.content").String(), b.Get("max_completion_tokens").Int()
		if b.Get("messages.0.role").Str != "system" || b.Get("model").Exists() {
			t.Errorf("provider got %s", b.Raw)
		}
	case "gemini", "vertex-ai gemini":
		system, user, limit = b.Get("systemInstruction.parts.0.text").Str, b.Get("contents.0.parts.0.text").Str, b.Get("generationConfig.maxOutputTokens").Int()
	case "vertex-ai claude":
		system, user, limit = b.Get("system").String(), b.Get("messages.0.content").String(), b.Get("max_tokens").Int()
		if b.Get("anthropic_version").Str != "vertex-2023-10-16" || b.Get("model").Exists() {
			t.Errorf("provider got %s", b.Raw)
		}
	case "bedrock claude": // InvokeModel: bedrock_native_test.go
		system, user, limit = b.Get("system").String(), b.Get("messages.0.content").String(), b.Get("max_tokens").Int()
		if b.Get("anthropic_version").Str != "bedrock-2023-05-31" || b.Get("model").Exists() || b.Get("stream").Exists() {
			t.Errorf("provider got %s", b.Raw)
		}
	case "bedrock":
		system, user, limit = b.Get("system.0.text").Str, b.Get("messages.0.content.0.text").Str, b.Get("inferenceConfig.maxTokens").Int()
	}
	// Content may arrive as a string or as one text part.
	if pt := gjson.Get(system, "0.text"); pt.Exists() {
		system = pt.Str
	}
	if pt := gjson.Get(user, "0.text"); pt.Exists() {
		user = pt.Str
	}
	if system != "Be brief." || user != "Say hello" || limit != 256 {
		t.Errorf("provider got system %q user %q limit %d: %s", system, user, limit, b.Raw)
	}
}

// anthropicCalls renders the tool_use blocks of a message as
// canonicalCall does.
func anthropicCalls(m *anthropic.Message) (text string, calls []string) {
	for _, c := range m.Content {
		switch c.Type {
		case "text":
			text += c.Text
		case "tool_use":
			calls = append(calls, canonicalCall(c.Name, string(c.Input)))
		}
	}
	return text, calls
}

// TestMessagesIngressProviders: an Anthropic client (anthropic-sdk-go) on
// /v1/messages, served by the providers TestMessagesIngress does not
// cover. Each answer comes back in Anthropic's shape: content blocks,
// stop_reason and usage, whether streamed or not.
func TestMessagesIngressProviders(t *testing.T) {
	s := newSchemasSetup(t)
	client := anthropic.NewClient(aoption.WithBaseURL(s.gw.url("/")), aoption.WithAPIKey(clientKey), aoption.WithMaxRetries(0))
	params := func(model string, tools bool) anthropic.MessageNewParams {
		p := anthropic.MessageNewParams{
			Model:     anthropic.Model(model),
			MaxTokens: 256,
			System:    []anthropic.TextBlockParam{{Text: "Be brief."}},
			Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Say hello"))},
		}
		if tools {
			for _, name := range []string{"get_weather", "lookup_order"} {
				p.Tools = append(p.Tools, anthropic.ToolUnionParam{OfTool: &anthropic.ToolParam{
					Name:        name,
					InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"city": map[string]any{"type": "string"}}},
				}})
			}
		}
		return p
	}
	check := func(t *testing.T, m *anthropic.Message, a answer) {
		t.Helper()
		stop := anthropic.StopReasonEndTurn
		if len(a.calls) > 0 {
			stop = anthropic.StopReasonToolUse
		}
		text, calls := anthropicCalls(m)
		if text != a.text || strings.Join(calls, " ") != strings.Join(a.calls, " ") {
			t.Errorf("text %q calls %v, want %q %v", text, calls, a.text, a.calls)
		}
		if m.Type != "message" || m.Role != "assistant" || !strings.HasPrefix(m.ID, "msg_") || m.StopReason != stop {
			t.Errorf("message type %q role %q id %q stop %q, want stop %q", m.Type, m.Role, m.ID, m.StopReason, stop)
		}
		// Anthropic's input_tokens leave out cache reads and writes.
		u := m.Usage
		if u.InputTokens != a.usage.prompt-a.usage.cached || u.OutputTokens != a.usage.completion || u.CacheReadInputTokens != a.usage.cached {
			t.Errorf("usage %+v, want %+v", u, a.usage)
		}
		for _, c := range m.Content {
			if c.Type == "tool_use" && (!strings.HasPrefix(c.ID, "toolu_") && !strings.HasPrefix(c.ID, "call_") && !strings.HasPrefix(c.ID, "tooluse_")) {
				t.Errorf("tool_use id %q", c.ID)
			}
		}
	}
	whole := func(t *testing.T, c schemaCase, a answer, tools bool) {
		fake := c.fake(s)
		dir, name, _ := strings.Cut(a.transcript, "/")
		fake.Handle("POST", c.path, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript(dir, name))})
		before := len(fake.Requests())
		var raw *http.Response
		m, err := client.Messages.New(ctxT(t), params(c.model, tools), aoption.WithResponseInto(&raw))
		if err != nil {
			t.Fatal(err)
		}
		rec := onlyRequest(t, fake, before)
		checkSent(t, c, rec, false)
		ingressSent(t, c.schema, gjson.ParseBytes(rec.Body))
		check(t, m, a)
		if raw.Header.Get("x-switchboard-provider") != c.provider {
			t.Errorf("headers %v", raw.Header)
		}
		// Anthropic's shape: no OpenAI members leak into the message.
		if b := gjson.Parse(m.RawJSON()); b.Get("choices").Exists() || b.Get("object").Exists() || b.Get("usage.prompt_tokens").Exists() {
			t.Errorf("message %s", b.Raw)
		}
	}
	streamed := func(t *testing.T, c schemaCase, a answer, tools bool) {
		fake := c.fake(s)
		dir, name, _ := strings.Cut(a.transcript, "/")
		fake.Handle("POST", c.streamPath, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript(dir, name))})
		before := len(fake.Requests())
		stream := client.Messages.NewStreaming(ctxT(t), params(c.model, tools))
		var m anthropic.Message
		var types []string
		for stream.Next() {
			ev := stream.Current()
			types = append(types, ev.Type)
			if err := m.Accumulate(ev); err != nil {
				t.Fatal(err)
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		rec := onlyRequest(t, fake, before)
		checkSent(t, c, rec, true)
		body := gjson.ParseBytes(rec.Body)
		ingressSent(t, c.schema, body)
		if c.schema == "azure-openai" && !body.Get("stream_options.include_usage").Bool() {
			t.Errorf("provider not asked for usage: %s", body.Raw)
		}
		check(t, &m, a)
		// message_start, the blocks, then one message_delta and message_stop.
		n := len(types)
		if n < 4 || types[0] != "message_start" || types[n-2] != "message_delta" || types[n-1] != "message_stop" ||
			strings.Count(strings.Join(types, " "), "message_delta") != 1 {
			t.Errorf("events %v", types)
		}
	}

	for _, c := range schemaCases() {
		switch c.schema {
		case "openai", "anthropic": // TestMessagesIngress
			continue
		case "bedrock": // Claude on Bedrock takes the Messages body natively
			c = bedrockMessagesCase(c)
		}
		t.Run(c.schema, func(t *testing.T) {
			t.Run("non-streamed", func(t *testing.T) { whole(t, c, c.text, false) })
			t.Run("streamed", func(t *testing.T) { streamed(t, c, c.stream, false) })
			if c.tool.transcript != "" {
				t.Run("non-streamed tool use", func(t *testing.T) { whole(t, c, c.tool, true) })
			}
			t.Run("streamed tool use", func(t *testing.T) { streamed(t, c, c.toolStream, true) })
		})
	}
}
