package e2e

import (
	"errors"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	aoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

// TestMessagesIngress: Claude-native clients (the official Anthropic Go
// SDK) call /v1/messages and are served by any provider: an OpenAI-schema
// one (translated both ways) or an Anthropic one.
func TestMessagesIngress(t *testing.T) {
	s := newChatSetup(t)
	client := anthropic.NewClient(aoption.WithBaseURL(s.gw.url("/")), aoption.WithAPIKey(clientKey), aoption.WithMaxRetries(0))
	params := func(model string) anthropic.MessageNewParams {
		return anthropic.MessageNewParams{
			Model:     anthropic.Model(model),
			MaxTokens: 256,
			System:    []anthropic.TextBlockParam{{Text: "Be brief."}},
			Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Say hello"))},
		}
	}
	text := func(m *anthropic.Message) string {
		var b strings.Builder
		for _, c := range m.Content {
			b.WriteString(c.Text)
		}
		return b.String()
	}

	t.Run("served by an OpenAI-schema provider", func(t *testing.T) {
		tr := fakeprovider.MustLoad(t, transcript("openai", "chat"))
		s.openai.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: tr})
		msg, err := client.Messages.New(ctxT(t), params("gpt-test"))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := text(msg), transcriptText(t, tr, "openai"); got != want || msg.StopReason != "end_turn" || msg.Usage.OutputTokens == 0 {
			t.Fatalf("text %q (want %q) stop %q usage %+v", got, want, msg.StopReason, msg.Usage)
		}
		rec := lastRequest(t, s.openai)
		if rec.Path != "/v1/chat/completions" || gjson.GetBytes(rec.Body, "messages.0.role").Str != "system" ||
			rec.Header.Get("authorization") != "Bearer "+openAIKey {
			t.Fatalf("provider got %s %s", rec.Path, rec.Body)
		}
	})

	t.Run("streamed from an OpenAI-schema provider", func(t *testing.T) {
		tr := fakeprovider.MustLoad(t, transcript("openai", "chat_stream"))
		s.openai.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: tr})
		stream := client.Messages.NewStreaming(ctxT(t), params("gpt-test"))
		var msg anthropic.Message
		events := 0
		for stream.Next() {
			if err := msg.Accumulate(stream.Current()); err != nil {
				t.Fatal(err)
			}
			events++
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if got, want := text(&msg), transcriptText(t, tr, "openai"); got != want || events < 5 || msg.StopReason != "end_turn" || msg.Usage.OutputTokens == 0 {
			t.Fatalf("text %q (want %q) events %d stop %q usage %+v", got, want, events, msg.StopReason, msg.Usage)
		}
	})

	t.Run("streamed from an Anthropic provider", func(t *testing.T) {
		tr := fakeprovider.MustLoad(t, transcript("anthropic", "text_stream"))
		s.anthropic.Handle("POST", "/v1/messages", fakeprovider.Reply{Transcript: tr})
		stream := client.Messages.NewStreaming(ctxT(t), params("claude-test"))
		var msg anthropic.Message
		startInput := int64(-1)
		for stream.Next() {
			if ev := stream.Current(); ev.Type == "message_start" {
				startInput = ev.Message.Usage.InputTokens
			}
			if err := msg.Accumulate(stream.Current()); err != nil {
				t.Fatal(err)
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if got, want := text(&msg), transcriptText(t, tr, "anthropic"); got != want {
			t.Fatalf("text %q, want %q", got, want)
		}
		// Anthropic states input tokens in message_start; so does the
		// gateway, as clients read them there.
		if startInput != 18 {
			t.Errorf("message_start input_tokens = %d, want the provider's 18", startInput)
		}
		if rec := lastRequest(t, s.anthropic); rec.Header.Get("x-api-key") != anthropicKey || gjson.GetBytes(rec.Body, "system").Raw == "" {
			t.Fatalf("provider got %s", rec.Body)
		}
	})

	t.Run("errors come in Anthropic's shape", func(t *testing.T) {
		_, err := client.Messages.New(ctxT(t), params("no-such-model"))
		var apiErr *anthropic.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 {
			t.Fatalf("err = %v", err)
		}
		if raw := apiErr.RawJSON(); gjson.Get(raw, "type").Str != "error" || gjson.Get(raw, "error.type").Str != "not_found_error" {
			t.Fatalf("body = %s", raw)
		}
		s.anthropic.Handle("POST", "/v1/messages", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("anthropic", "error_529"))})
		_, err = client.Messages.New(ctxT(t), params("claude-test"))
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 503 || gjson.Get(apiErr.RawJSON(), "error.type").Str != "overloaded_error" {
			t.Fatalf("overloaded: err = %v", err)
		}
	})
}
