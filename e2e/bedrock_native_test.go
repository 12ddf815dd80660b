package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	aoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

const bedrockNova = "amazon.nova-pro-v1:0"

// newBedrockNativeSetup is bedrockSetup's two fake Bedrock runtimes with a
// third model, Nova on the SigV4 one, which has no Messages API of its own.
func newBedrockNativeSetup(t *testing.T) *bedrockSetup {
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
  - name: nova-bedrock
    providers: [{provider: fake-bedrock, model: "%s"}]
`, s.signed.URL(), s.keyed.URL(), bedrockModelID, bedrockKeyed, bedrockNova),
		"AWS_ACCESS_KEY_ID=AKID", "AWS_SECRET_ACCESS_KEY="+awsSecret, "AWS_SESSION_TOKEN="+awsToken,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PROFILE=", "AWS_CONFIG_FILE="+none, "AWS_SHARED_CREDENTIALS_FILE="+none,
		"E2E_BEDROCK_KEY="+bedrockAPIKey)
	return s
}

// bedrockMessagesCase is the bedrock column of schemaCases as a /v1/messages
// client sees it: its model is Claude, so the Messages body goes to
// InvokeModel and the answers are Claude's own.
func bedrockMessagesCase(c schemaCase) schemaCase {
	c.schema = "bedrock claude"
	c.path, c.streamPath = "/model/"+bedrockModelID+"/invoke", "/model/"+bedrockModelID+"/invoke-with-response-stream"
	c.text = answer{"bedrock/claude_text", "Hello! Bedrock serves Claude through InvokeModel; the request body is the Messages API body with anthropic_version in place of the model field.",
		nil, tokens{21, 35, 0, 0}}
	c.stream = answer{"bedrock/claude_text_stream", bedrockClaudeStreamText, nil, tokens{18, 24, 0, 0}}
	c.tool = answer{}
	c.toolStream = answer{"bedrock/claude_tool_use_stream", bothCities, []string{`get_weather{"city":"Paris","unit":"celsius"}`, `get_weather{"city":"Tokyo","unit":"celsius"}`},
		tokens{402, 118, 0, 0}}
	return c
}

const bedrockClaudeStreamText = "Bedrock streams Claude's events inside AWS frames—each chunk one event, base64-encoded, passed on as \"server-sent events\"."

// TestBedrockMessagesPassThrough: /v1/messages to Claude on Bedrock is
// Anthropic's own API through InvokeModel. The provider gets the client's
// body without model and stream, with anthropic_version and the client's
// betas in it, signed with SigV4 (or the Bedrock API key as bearer); the
// client gets Claude's message, or its events as Anthropic's SSE.
func TestBedrockMessagesPassThrough(t *testing.T) {
	s := newBedrockNativeSetup(t)
	client := anthropic.NewClient(aoption.WithBaseURL(s.gw.url("/")), aoption.WithAPIKey(clientKey), aoption.WithMaxRetries(0))
	betas := strings.Split(claudeCodeBetas, ",")
	params := anthropic.MessageNewParams{
		Model: "claude-bedrock", MaxTokens: 256,
		System:   []anthropic.TextBlockParam{{Text: "Be brief."}},
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Say hello"))},
	}
	// sentNative checks what the provider got beyond bedrockSetup.sent's
	// path, signature and body checks.
	sentNative := func(t *testing.T, rec fakeprovider.Recorded, accept string) gjson.Result {
		t.Helper()
		b := gjson.ParseBytes(rec.Body)
		if b.Get("anthropic_version").Str != "bedrock-2023-05-31" || b.Get("model").Exists() || b.Get("stream").Exists() ||
			b.Get("max_tokens").Int() != 256 || b.Get("system.0.text").Str != "Be brief." || b.Get("messages.0.content.0.text").Str != "Say hello" {
			t.Errorf("provider got %s", rec.Body)
		}
		if rec.Header.Get("accept") != accept || rec.Header.Get("anthropic-beta") != "" || rec.Header.Get("anthropic-version") != "" || rec.Header.Get("x-api-key") != "" {
			t.Errorf("provider got headers %v", rec.Header)
		}
		return b
	}

	t.Run("Messages.New, signed with SigV4, betas in the body", func(t *testing.T) {
		tr := fakeprovider.MustLoad(t, transcript("bedrock", "claude_text"))
		s.signed.Handle("POST", bedrockPath("invoke"), fakeprovider.Reply{Transcript: tr})
		var raw *http.Response
		m, err := client.Messages.New(ctxT(t), params, aoption.WithHeader("anthropic-beta", claudeCodeBetas), aoption.WithResponseInto(&raw))
		if err != nil {
			t.Fatal(err)
		}
		if m.RawJSON() != string(tr.Body) {
			t.Errorf("client got\n%s\nwant Claude's message unchanged\n%s", m.RawJSON(), tr.Body)
		}
		if m.ID != "msg_bdrk_01Hx7VqTz3mKp9Rw2NcYb4Ls" || m.Usage.InputTokens != 21 || m.Usage.OutputTokens != 35 || m.StopReason != anthropic.StopReasonEndTurn {
			t.Errorf("message %+v", m)
		}
		if raw.Header.Get("x-switchboard-provider") != "fake-bedrock" || raw.Header.Get("x-switchboard-dropped-params") != "" {
			t.Errorf("headers %v", raw.Header)
		}
		s.sent(t, "invoke")
		b := sentNative(t, lastRequest(t, s.signed), "application/json")
		if got := b.Get("anthropic_beta").Raw; got != fmt.Sprintf(`["%s"]`, strings.Join(betas, `","`)) {
			t.Errorf("anthropic_beta %s, want %v", got, betas)
		}
	})

	t.Run("Messages.NewStreaming: the event stream as Anthropic's SSE", func(t *testing.T) {
		tr := fakeprovider.MustLoad(t, transcript("bedrock", "claude_tool_use_stream"))
		s.signed.Handle("POST", bedrockPath("invoke-with-response-stream"), fakeprovider.Reply{Transcript: tr})
		var raw *http.Response
		stream := client.Messages.NewStreaming(ctxT(t), params, aoption.WithResponseInto(&raw))
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
		if !strings.HasPrefix(raw.Header.Get("content-type"), "text/event-stream") {
			t.Errorf("content-type %q", raw.Header.Get("content-type"))
		}
		text, calls := anthropicCalls(&m)
		want := []string{`get_weather{"city":"Paris","unit":"celsius"}`, `get_weather{"city":"Tokyo","unit":"celsius"}`}
		if text != bothCities || strings.Join(calls, " ") != strings.Join(want, " ") || m.StopReason != anthropic.StopReasonToolUse {
			t.Errorf("text %q calls %v stop %q", text, calls, m.StopReason)
		}
		if len(m.Content) != 4 || m.Content[0].Type != "thinking" || m.Content[0].Thinking != "Two cities, so two get_weather calls." || !strings.HasPrefix(m.Content[0].Signature, "EqoBCkgI") {
			t.Errorf("thinking block %+v", m.Content)
		}
		if m.Usage.InputTokens != 402 || m.Usage.OutputTokens != 118 || m.ID != "msg_bdrk_01Lw5RcZp8nKx2VbT7qHs9Jd" {
			t.Errorf("id %q usage %+v", m.ID, m.Usage)
		}
		if n := len(types); n != 19 || types[0] != "message_start" || types[n-1] != "message_stop" {
			t.Errorf("events %v", types)
		}
		s.sent(t, "invoke-with-response-stream")
		sentNative(t, lastRequest(t, s.signed), "application/vnd.amazon.eventstream")
	})

	t.Run("Claude Code's body reaches Bedrock as sent", func(t *testing.T) {
		tr := fakeprovider.MustLoad(t, transcript("bedrock", "claude_text"))
		s.signed.Handle("POST", bedrockPath("invoke"), fakeprovider.Reply{Transcript: tr})
		body := []byte(strings.Replace(strings.Replace(claudeCodeBody, "STREAM", "false", 1), `"claude-test"`, `"claude-bedrock"`, 1))
		resp, out := s.gw.post(t, "/v1/messages", body, "anthropic-version", "2023-06-01", "anthropic-beta", claudeCodeBetas, "x-api-key", clientKey)
		if resp.StatusCode != 200 || !bytes.Equal(out, tr.Body) {
			t.Fatalf("status %d: client got\n%s\nwant\n%s", resp.StatusCode, out, tr.Body)
		}
		want, _ := sjson.DeleteBytes(body, "model")
		want, _ = sjson.DeleteBytes(want, "stream")
		want, _ = sjson.DeleteBytes(want, "provider")
		want, _ = sjson.SetBytes(want, "anthropic_version", "bedrock-2023-05-31")
		want, _ = sjson.SetBytes(want, "anthropic_beta", betas)
		if rec := lastRequest(t, s.signed); !bytes.Equal(rec.Body, want) {
			t.Errorf("provider got\n%s\nwant\n%s", rec.Body, want)
		}
		s.sent(t, "invoke")
		if d := resp.Header.Get("x-switchboard-dropped-params"); d != "" {
			t.Errorf("dropped params %q on a pass-through", d)
		}
	})

	t.Run("bearer API key", func(t *testing.T) {
		path := "/proxy/model/" + bedrockKeyed + "/invoke-with-response-stream"
		s.keyed.Handle("POST", path, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("bedrock", "claude_text_stream"))})
		p := params
		p.Model = "haiku-bedrock"
		stream := client.Messages.NewStreaming(ctxT(t), p)
		var m anthropic.Message
		for stream.Next() {
			if err := m.Accumulate(stream.Current()); err != nil {
				t.Fatal(err)
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if text, _ := anthropicCalls(&m); text != bedrockClaudeStreamText || m.Usage.OutputTokens != 24 {
			t.Errorf("text %q usage %+v", text, m.Usage)
		}
		rec := lastRequest(t, s.keyed)
		if rec.Path != path || rec.Header.Get("authorization") != "Bearer "+bedrockAPIKey || rec.Header.Get("x-amz-date") != "" {
			t.Fatalf("provider got path %s headers %v", rec.Path, rec.Header)
		}
		sentNative(t, rec, "application/vnd.amazon.eventstream")
	})

	t.Run("a stream exception is Anthropic's error event", func(t *testing.T) {
		s.signed.Handle("POST", bedrockPath("invoke-with-response-stream"), fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("bedrock", "claude_stream_throttling"))})
		stream := client.Messages.NewStreaming(ctxT(t), params)
		n := 0
		for stream.Next() {
			n++
		}
		if err := stream.Err(); err == nil || !strings.Contains(err.Error(), "rate_limit_error") || !strings.Contains(err.Error(), "Too many tokens") {
			t.Fatalf("stream error %v", err)
		}
		if n != 3 {
			t.Errorf("%d events before the error, want 3", n)
		}
	})

	t.Run("a cut stream ends with an error event", func(t *testing.T) {
		s.signed.Handle("POST", bedrockPath("invoke-with-response-stream"), fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("bedrock", "claude_stream_truncated"))})
		body := []byte(`{"model":"claude-bedrock","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
		resp, out := s.gw.post(t, "/v1/messages", body, "anthropic-version", "2023-06-01")
		if resp.StatusCode != 200 || !bytes.HasPrefix(out, []byte("event: message_start\ndata: {\"type\":\"message_start\"")) ||
			!bytes.HasSuffix(out, []byte("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"provider stream ended before the response was complete\"}}\n\n")) {
			t.Fatalf("status %d:\n%s", resp.StatusCode, out)
		}
	})

	t.Run("errors in Anthropic's shape", func(t *testing.T) {
		s.signed.Handle("POST", bedrockPath("invoke"), fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("bedrock", "error_throttling"))})
		resp, out := s.gw.post(t, "/v1/messages", []byte(`{"model":"claude-bedrock","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}`), "anthropic-version", "2023-06-01")
		if b := gjson.ParseBytes(out); resp.StatusCode != 429 || b.Get("type").Str != "error" || b.Get("error.type").Str != "rate_limit_error" {
			t.Fatalf("status %d: %s", resp.StatusCode, out)
		}
	})

	t.Run("usage is counted", func(t *testing.T) {
		s.signed.Handle("POST", bedrockPath("invoke-with-response-stream"), fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("bedrock", "claude_text_stream"))})
		before := providerTokens(t, s.gw, "fake-bedrock", "completion")
		body := []byte(`{"model":"claude-bedrock","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
		if resp, out := s.gw.post(t, "/v1/messages", body, "anthropic-version", "2023-06-01"); resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, out)
		}
		if after := providerTokens(t, s.gw, "fake-bedrock", "completion"); after-before != 24 {
			t.Errorf("completion tokens metric %v -> %v, want +24", before, after)
		}
	})

	t.Run("a model other than Claude is translated to Converse", func(t *testing.T) {
		path := "/model/" + bedrockNova + "/converse"
		s.signed.Handle("POST", path, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("bedrock", "text"))})
		p := params
		p.Model = "nova-bedrock"
		m, err := client.Messages.New(ctxT(t), p)
		if err != nil {
			t.Fatal(err)
		}
		if text, _ := anthropicCalls(m); text != "Hello! I'm Claude, an AI assistant. How can I help you today?" || m.Type != "message" {
			t.Errorf("message %s", m.RawJSON())
		}
		rec := lastRequest(t, s.signed)
		if b := gjson.ParseBytes(rec.Body); rec.Path != path || b.Get("messages.0.content.0.text").Str != "Say hello" || b.Get("anthropic_version").Exists() {
			t.Errorf("provider got %s %s", rec.Path, rec.Body)
		}
	})
}

// providerTokens reads the gateway's token counter of one type for a
// provider from the extproc admin metrics.
func providerTokens(t *testing.T, g *gateway, provider, typ string) float64 {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", g.adminHTTPPort))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var sum float64
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "switchboard_tokens_total{") && strings.Contains(line, `provider="`+provider+`"`) && strings.Contains(line, `type="`+typ+`"`) {
			f := strings.Fields(line)
			sum += gjson.Parse(f[len(f)-1]).Float()
		}
	}
	return sum
}
