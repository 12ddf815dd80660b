package e2e

import (
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"
	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

// TestResponsesAPI: openai-go's Responses client (client.Responses) is
// served by providers that speak chat (an OpenAI-compatible host) and
// Anthropic, whole and streamed, through real Envoy.
func TestResponsesAPI(t *testing.T) {
	s := newChatSetup(t)
	params := func(model string) responses.ResponseNewParams {
		return responses.ResponseNewParams{
			Model:        model,
			Instructions: openai.String("Be brief."),
			Input:        responses.ResponseNewParamsInputUnion{OfString: openai.String("Say hello")},
		}
	}
	for _, tc := range []struct {
		name, model, dir, path string
		srv                    func() *fakeprovider.Server
	}{
		{"openai-compatible host (chat)", "gpt-test", "openai", "/v1/chat/completions", func() *fakeprovider.Server { return s.openai }},
		{"anthropic", "claude-test", "anthropic", "/v1/messages", func() *fakeprovider.Server { return s.anthropic }},
	} {
		t.Run(tc.name+"/whole", func(t *testing.T) {
			whole := map[string]string{"openai": "chat", "anthropic": "text"}[tc.dir]
			tr := fakeprovider.MustLoad(t, transcript(tc.dir, whole))
			tc.srv().Handle("POST", tc.path, fakeprovider.Reply{Transcript: tr})
			resp, err := s.client.Responses.New(ctxT(t), params(tc.model))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := resp.OutputText(), transcriptText(t, tr, tc.dir); got != want || resp.Status != "completed" || resp.Usage.OutputTokens == 0 {
				t.Fatalf("text %q (want %q) status %q usage %+v", got, want, resp.Status, resp.Usage)
			}
			rec := lastRequest(t, tc.srv())
			if rec.Path != tc.path {
				t.Fatalf("provider got %s", rec.Path)
			}
			if tc.dir == "openai" && gjson.GetBytes(rec.Body, "messages.0.content").Str != "Be brief." {
				t.Errorf("instructions not sent as the system message: %s", rec.Body)
			}
		})
		t.Run(tc.name+"/stream", func(t *testing.T) {
			streamed := map[string]string{"openai": "chat_stream", "anthropic": "text_stream"}[tc.dir]
			tr := fakeprovider.MustLoad(t, transcript(tc.dir, streamed))
			tc.srv().Handle("POST", tc.path, fakeprovider.Reply{Transcript: tr})
			stream := s.client.Responses.NewStreaming(ctxT(t), params(tc.model))
			var text strings.Builder
			var types []string
			var completed *responses.Response
			for stream.Next() {
				ev := stream.Current()
				types = append(types, ev.Type)
				switch ev.Type {
				case "response.output_text.delta":
					text.WriteString(ev.Delta)
				case "response.completed":
					r := ev.Response
					completed = &r
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			if got, want := text.String(), transcriptText(t, tr, tc.dir); got != want {
				t.Errorf("deltas %q, want %q", got, want)
			}
			if len(types) < 6 || types[0] != "response.created" || types[len(types)-1] != "response.completed" {
				t.Errorf("event sequence %v", types)
			}
			if completed == nil || completed.Usage.OutputTokens == 0 || completed.OutputText() != text.String() {
				t.Errorf("response.completed %+v", completed)
			}
		})
	}

	t.Run("errors are OpenAI-shaped", func(t *testing.T) {
		_, err := s.client.Responses.New(ctxT(t), params("no-such-model"))
		if err == nil || !strings.Contains(err.Error(), "404") {
			t.Fatalf("err = %v", err)
		}
		// The gateway's store has no such response.
		resp, out := s.gw.post(t, "/v1/responses", []byte(`{"model":"gpt-test","input":"hi","previous_response_id":"resp_1"}`))
		if resp.StatusCode != 404 || gjson.GetBytes(out, "error.param").Str != "previous_response_id" {
			t.Errorf("previous_response_id: %d %s", resp.StatusCode, out)
		}
	})
}
