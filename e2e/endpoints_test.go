package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	aoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/openai/openai-go/v3"
	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

// TestLegacyCompletions: openai-go's Completions client, native to an
// OpenAI-schema host and translated through chat to Anthropic, whole and
// streamed, through real Envoy.
func TestLegacyCompletions(t *testing.T) {
	s := newChatSetup(t)
	params := func(model string) openai.CompletionNewParams {
		return openai.CompletionNewParams{
			Model:     openai.CompletionNewParamsModel(model),
			Prompt:    openai.CompletionNewParamsPromptUnion{OfString: openai.String("Say hello")},
			MaxTokens: openai.Int(32),
		}
	}
	for _, tc := range []struct {
		name, model, dir, path, whole, streamed string
		srv                                     *fakeprovider.Server
	}{
		{"openai native", "gpt-test", "openai", "/v1/completions", "completions", "completions_stream", s.openai},
		{"anthropic translated", "claude-test", "anthropic", "/v1/messages", "text", "text_stream", s.anthropic},
	} {
		t.Run(tc.name+"/whole", func(t *testing.T) {
			tr := fakeprovider.MustLoad(t, transcript(tc.dir, tc.whole))
			tc.srv.Handle("POST", tc.path, fakeprovider.Reply{Transcript: tr})
			resp, err := s.client.Completions.New(ctxT(t), params(tc.model))
			if err != nil {
				t.Fatal(err)
			}
			want := gjson.GetBytes(tr.Body, "choices.0.text").Str
			if tc.dir == "anthropic" {
				want = transcriptText(t, tr, "anthropic")
			}
			if resp.Object != "text_completion" || len(resp.Choices) != 1 || resp.Choices[0].Text != want ||
				resp.Choices[0].FinishReason != "stop" || resp.Usage.CompletionTokens == 0 {
				t.Fatalf("answer %+v", resp)
			}
			rec := lastRequest(t, tc.srv)
			if rec.Path != tc.path {
				t.Fatalf("provider got %s", rec.Path)
			}
			if tc.dir == "openai" && (gjson.GetBytes(rec.Body, "prompt").Str != "Say hello" || gjson.GetBytes(rec.Body, "model").Str != "gpt-4.1-mini-2025-04-14") {
				t.Errorf("native body %s", rec.Body)
			}
			if tc.dir == "anthropic" && (gjson.GetBytes(rec.Body, "messages.0.content").String() == "" || gjson.GetBytes(rec.Body, "max_tokens").Int() != 32) {
				t.Errorf("translated body %s", rec.Body)
			}
		})
		t.Run(tc.name+"/stream", func(t *testing.T) {
			tr := fakeprovider.MustLoad(t, transcript(tc.dir, tc.streamed))
			tc.srv.Handle("POST", tc.path, fakeprovider.Reply{Transcript: tr})
			p := params(tc.model)
			p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
			stream := s.client.Completions.NewStreaming(ctxT(t), p)
			var text strings.Builder
			var usage int64
			chunks := 0
			for stream.Next() {
				c := stream.Current()
				chunks++
				if c.Object != "text_completion" {
					t.Fatalf("chunk %+v", c)
				}
				for _, ch := range c.Choices {
					text.WriteString(ch.Text)
				}
				usage += c.Usage.CompletionTokens
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			want := "\n\nHello there!"
			if tc.dir == "anthropic" {
				want = transcriptText(t, tr, "anthropic")
			}
			if text.String() != want || usage == 0 || chunks < 3 {
				t.Errorf("text %q (want %q), %d chunks, usage %d", text.String(), want, chunks, usage)
			}
		})
	}
}

// TestCountTokens: anthropic-sdk-go's Messages.CountTokens, native to an
// Anthropic fake (which is sent the client's body, model swapped) and
// estimated by the gateway for a model on an OpenAI fake (which is sent
// nothing).
func TestCountTokens(t *testing.T) {
	s := newChatSetup(t)
	client := anthropic.NewClient(aoption.WithBaseURL(s.gw.url("/")), aoption.WithAPIKey(clientKey), aoption.WithMaxRetries(0))
	params := func(model string) anthropic.MessageCountTokensParams {
		return anthropic.MessageCountTokensParams{
			Model:    anthropic.Model(model),
			System:   anthropic.MessageCountTokensParamsSystemUnion{OfString: anthropic.String("Be brief.")},
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Say hello"))},
		}
	}
	t.Run("anthropic native", func(t *testing.T) {
		s.anthropic.Handle("POST", "/v1/messages/count_tokens", fakeprovider.Reply{Transcript: &fakeprovider.Transcript{
			Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"input_tokens":17}`)}})
		var raw *http.Response
		got, err := client.Messages.CountTokens(ctxT(t), params("claude-test"), aoption.WithResponseInto(&raw))
		if err != nil {
			t.Fatal(err)
		}
		if got.InputTokens != 17 || raw.Header.Get("x-switchboard-token-count") != "" {
			t.Errorf("count %d, header %q", got.InputTokens, raw.Header.Get("x-switchboard-token-count"))
		}
		rec := lastRequest(t, s.anthropic)
		if rec.Path != "/v1/messages/count_tokens" || gjson.GetBytes(rec.Body, "model").Str != "claude-sonnet-4-5-20250929" ||
			gjson.GetBytes(rec.Body, "system").Str != "Be brief." || gjson.GetBytes(rec.Body, "max_tokens").Exists() ||
			rec.Header.Get("x-api-key") != anthropicKey || rec.Header.Get("anthropic-version") == "" {
			t.Errorf("provider got %s %s %v", rec.Path, rec.Body, rec.Header)
		}
	})
	t.Run("openai estimate", func(t *testing.T) {
		before := len(s.openai.Requests())
		var raw *http.Response
		got, err := client.Messages.CountTokens(ctxT(t), params("gpt-test"), aoption.WithResponseInto(&raw))
		if err != nil {
			t.Fatal(err)
		}
		// "Be brief." and "Say hello": 3 and 2 tokens by the model's
		// tokenizer, 4 for the message.
		if got.InputTokens != 9 || raw.Header.Get("x-switchboard-token-count") != "estimate" {
			t.Errorf("count %d, header %q", got.InputTokens, raw.Header.Get("x-switchboard-token-count"))
		}
		if n := len(s.openai.Requests()); n != before {
			t.Errorf("the OpenAI fake got %d requests for an estimate", n-before)
		}
	})
	t.Run("errors are Anthropic-shaped", func(t *testing.T) {
		resp, out := s.gw.post(t, "/v1/messages/count_tokens", []byte(`{"model":"claude-test"}`))
		if resp.StatusCode != 400 || gjson.GetBytes(out, "type").Str != "error" || gjson.GetBytes(out, "error.type").Str != "invalid_request_error" {
			t.Errorf("%d %s", resp.StatusCode, out)
		}
		resp, out = s.gw.post(t, "/v1/messages/batches", []byte(`{}`))
		if resp.StatusCode != 404 || !strings.Contains(gjson.GetBytes(out, "error.message").Str, "/v1/messages/count_tokens") {
			t.Errorf("%d %s", resp.StatusCode, out)
		}
	})
}

// TestModelsRetrieve: both SDKs list and retrieve models, each in its
// own shape (the Anthropic one picked by its anthropic-version header).
func TestModelsRetrieve(t *testing.T) {
	s := newChatSetup(t)
	m, err := s.client.Models.Get(ctxT(t), "gpt-test")
	if err != nil || m.ID != "gpt-test" || m.Object != "model" {
		t.Fatalf("openai get %+v %v", m, err)
	}
	if _, err := s.client.Models.Get(ctxT(t), "no-such-model"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("openai get unknown: %v", err)
	}
	page, err := s.client.Models.List(ctxT(t))
	if err != nil || len(page.Data) != 2 {
		t.Fatalf("openai list %+v %v", page, err)
	}
	a := anthropic.NewClient(aoption.WithBaseURL(s.gw.url("/")), aoption.WithAPIKey(clientKey), aoption.WithMaxRetries(0))
	am, err := a.Models.Get(ctxT(t), "claude-test", anthropic.ModelGetParams{})
	if err != nil || am.ID != "claude-test" || am.Type != "model" || am.DisplayName != "claude-test" {
		t.Fatalf("anthropic get %+v %v", am, err)
	}
	ap, err := a.Models.List(ctxT(t), anthropic.ModelListParams{})
	if err != nil || len(ap.Data) != 2 || ap.HasMore || ap.FirstID != ap.Data[0].ID || ap.LastID != ap.Data[1].ID {
		t.Fatalf("anthropic list %+v %v", ap, err)
	}
	var ids []string
	for it := a.Models.ListAutoPaging(ctxT(t), anthropic.ModelListParams{Limit: anthropic.Int(20)}); it.Next(); {
		ids = append(ids, it.Current().ID)
	}
	if len(ids) != 2 {
		t.Errorf("auto-paged %v", ids)
	}
	_, err = a.Models.Get(ctxT(t), "no-such-model", anthropic.ModelGetParams{})
	if e, ok := err.(*anthropic.Error); !ok || e.StatusCode != 404 || !strings.Contains(e.RawJSON(), "not_found_error") {
		t.Errorf("anthropic get unknown: %v", err)
	}
}
