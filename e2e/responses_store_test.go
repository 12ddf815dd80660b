package e2e

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

// TestResponsesStore: with store (the Responses default), openai-go's
// conversation by previous_response_id works through providers that keep
// no state (an OpenAI-compatible chat host and Anthropic): each turn the
// provider receives the whole conversation, the second turn streamed;
// client.Responses.Get returns a stored response to the key that made it,
// and another key gets 404 for it, as a previous_response_id too.
func TestResponsesStore(t *testing.T) {
	chat, anthropic := fakeprovider.New(t), fakeprovider.New(t)
	gw := startGateway(t, fmt.Sprintf(`providers:
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
    providers: [{provider: fake-openai, model: gpt-4.1-mini}]
  - name: claude-test
    providers: [{provider: fake-anthropic, model: claude-sonnet-4-5}]
responses:
  retention: 1h
governance:
  tenants: [{name: team-a}, {name: team-b}]
  keys:
    - {id: a1, tenant: team-a, hash: "%s"}
    - {id: b1, tenant: team-b, hash: "%s"}
`, chat.URL(), anthropic.URL(), keyHash(keyA), keyHash(keyB)), "E2E_OPENAI_KEY="+openAIKey, "E2E_ANTHROPIC_KEY="+anthropicKey)
	client := func(key string) openai.Client {
		return openai.NewClient(option.WithBaseURL(gw.url("/v1/")), option.WithAPIKey(key), option.WithMaxRetries(0))
	}
	a, b := client(keyA), client(keyB)

	for _, tc := range []struct {
		name, model, dir, path string
		srv                    *fakeprovider.Server
		id                     string // the id in the transcripts, made distinct per turn
		whole, streamed        string
	}{
		{"openai-compatible host (chat)", "gpt-test", "openai", "/v1/chat/completions", chat, "chatcmpl-CaB", "chat", "chat_stream"},
		{"anthropic", "claude-test", "anthropic", "/v1/messages", anthropic, "msg_01", "text", "text_stream"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			turn := func(n int, name string) *fakeprovider.Transcript {
				tr := *fakeprovider.MustLoad(t, transcript(tc.dir, name))
				tr.Body = []byte(strings.ReplaceAll(string(tr.Body), tc.id, fmt.Sprintf("%sturn%d", tc.id, n)))
				return &tr
			}
			tr1, tr2, tr3 := turn(1, tc.whole), turn(2, tc.streamed), turn(3, tc.whole)
			tc.srv.Enqueue("POST", tc.path, fakeprovider.Reply{Transcript: tr1}, fakeprovider.Reply{Transcript: tr2}, fakeprovider.Reply{Transcript: tr3})
			ask := func(prev, text string) responses.ResponseNewParams {
				p := responses.ResponseNewParams{Model: tc.model, Input: responses.ResponseNewParamsInputUnion{OfString: openai.String(text)}}
				if prev != "" {
					p.PreviousResponseID = openai.String(prev)
				}
				return p
			}

			first, err := a.Responses.New(ctxT(t), ask("", "Question one"))
			if err != nil {
				t.Fatal(err)
			}
			answer1 := transcriptText(t, tr1, tc.dir)
			if first.OutputText() != answer1 {
				t.Fatalf("first answer %q, want %q", first.OutputText(), answer1)
			}

			stream := a.Responses.NewStreaming(ctxT(t), ask(first.ID, "Question two"))
			var second *responses.Response
			for stream.Next() {
				if ev := stream.Current(); ev.Type == "response.completed" {
					r := ev.Response
					second = &r
				}
			}
			if err := stream.Err(); err != nil || second == nil {
				t.Fatalf("second turn: %v, completed %v", err, second != nil)
			}
			answer2 := transcriptText(t, tr2, tc.dir)
			if second.OutputText() != answer2 || second.ID == first.ID {
				t.Fatalf("second answer %q (id %s), want %q (id not %s)", second.OutputText(), second.ID, answer2, first.ID)
			}
			wantConv(t, lastRequest(t, tc.srv).Body, "user:Question one", "assistant:"+answer1, "user:Question two")

			third, err := a.Responses.New(ctxT(t), ask(second.ID, "Question three"))
			if err != nil {
				t.Fatal(err)
			}
			// The streamed answer was stored as response.completed had it.
			wantConv(t, lastRequest(t, tc.srv).Body, "user:Question one", "assistant:"+answer1, "user:Question two", "assistant:"+answer2, "user:Question three")

			got, err := a.Responses.Get(ctxT(t), third.ID, responses.ResponseGetParams{})
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != third.ID || got.OutputText() != third.OutputText() || got.Status != "completed" || got.Usage.OutputTokens != third.Usage.OutputTokens {
				t.Errorf("Get returned %s %q %s, want %s %q", got.ID, got.OutputText(), got.Status, third.ID, third.OutputText())
			}

			before := len(tc.srv.Requests())
			_, err = b.Responses.Get(ctxT(t), third.ID, responses.ResponseGetParams{})
			wantStatus(t, err, 404, "")
			_, err = b.Responses.New(ctxT(t), ask(third.ID, "Question from another key"))
			wantStatus(t, err, 404, "previous_response_id")
			if n := len(tc.srv.Requests()); n != before {
				t.Errorf("another key's follow-up reached the provider")
			}
			_, err = a.Responses.New(ctxT(t), ask("resp_unknown", "Question four"))
			wantStatus(t, err, 404, "previous_response_id")

			if err := b.Responses.Delete(ctxT(t), third.ID); err == nil {
				t.Errorf("another key deleted the response")
			}
			if err := a.Responses.Delete(ctxT(t), third.ID); err != nil {
				t.Fatalf("delete: %v", err)
			}
			_, err = a.Responses.Get(ctxT(t), third.ID, responses.ResponseGetParams{})
			wantStatus(t, err, 404, "")
		})
	}
}

// wantConv checks the conversation a provider received, role:text per
// message (OpenAI chat messages or Anthropic messages).
func wantConv(t *testing.T, body []byte, want ...string) {
	t.Helper()
	var got []string
	for _, m := range gjson.GetBytes(body, "messages").Array() {
		c := m.Get("content")
		text := c.Str
		if c.IsArray() {
			text = c.Get("0.text").Str
		}
		got = append(got, m.Get("role").Str+":"+text)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("provider received\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// wantStatus checks an openai-go error's status and, when set, the param
// it names.
func wantStatus(t *testing.T, err error, status int, param string) {
	t.Helper()
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %v, want an API error %d", err, status)
	}
	if apiErr.StatusCode != status || param != "" && apiErr.Param != param {
		t.Errorf("status %d param %q, want %d %q: %s", apiErr.StatusCode, apiErr.Param, status, param, apiErr.RawJSON())
	}
}
