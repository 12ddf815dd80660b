package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

// claudeCodeBody is a request as Claude Code sends it, with the features
// a translation would lose: a mid-conversation system message, adaptive
// thinking, effort, context management and an Anthropic server tool.
const claudeCodeBody = `{"model":"claude-test","max_tokens":32000,"stream":STREAM,` +
	`"system":[{"type":"text","text":"You are Claude Code.","cache_control":{"type":"ephemeral"}}],` +
	`"messages":[{"role":"user","content":[{"type":"text","text":"list files"}]},` +
	`{"role":"system","content":"<system-reminder>todo list is empty</system-reminder>"},` +
	`{"role":"user","content":"go on"}],` +
	`"thinking":{"type":"adaptive"},"output_config":{"effort":"high"},` +
	`"context_management":{"edits":[{"type":"clear_thinking_20251015","keep":"all"}]},` +
	`"tools":[{"type":"web_search_20250305","name":"web_search","max_uses":5},{"name":"Bash","description":"run","input_schema":{"type":"object","properties":{"command":{"type":"string"}}}}],` +
	`"metadata":{"user_id":"u1"},"provider":{"sort":"price"}}`

const claudeCodeBetas = "claude-code-20250219,interleaved-thinking-2025-05-14,context-1m-2025-08-07,context-management-2025-06-27,effort-2025-11-24"

// TestMessagesPassThrough: /v1/messages to an Anthropic-schema provider
// is the provider's own API. The provider gets the client's body as sent
// but for the model id and the gateway's own fields, with the client's
// betas; the client gets the provider's answer byte for byte.
func TestMessagesPassThrough(t *testing.T) {
	s := newChatSetup(t)
	for _, stream := range []bool{false, true} {
		name, tr := "whole", fakeprovider.MustLoad(t, transcript("anthropic", "text"))
		if stream {
			name, tr = "stream", fakeprovider.MustLoad(t, transcript("anthropic", "text_stream"))
		}
		t.Run(name, func(t *testing.T) {
			s.anthropic.Handle("POST", "/v1/messages", fakeprovider.Reply{Transcript: tr})
			body := []byte(strings.Replace(claudeCodeBody, "STREAM", map[bool]string{true: "true", false: "false"}[stream], 1))
			resp, out := s.gw.post(t, "/v1/messages", body, "anthropic-version", "2023-06-01", "anthropic-beta", claudeCodeBetas, "x-api-key", clientKey)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, out)
			}
			if !bytes.Equal(out, tr.Body) {
				t.Errorf("client got\n%s\nwant the provider's answer unchanged\n%s", out, tr.Body)
			}
			rec := lastRequest(t, s.anthropic)
			want, _ := sjson.SetBytes(body, "model", "claude-sonnet-4-5-20250929")
			want, _ = sjson.DeleteBytes(want, "provider")
			if !bytes.Equal(rec.Body, want) {
				t.Errorf("provider got\n%s\nwant\n%s", rec.Body, want)
			}
			if got := rec.Header.Get("anthropic-beta"); got != claudeCodeBetas {
				t.Errorf("anthropic-beta %q, want %q", got, claudeCodeBetas)
			}
			if rec.Header.Get("x-api-key") != anthropicKey || rec.Header.Get("anthropic-version") != "2023-06-01" {
				t.Errorf("provider credentials/version: %v", rec.Header)
			}
			if d := resp.Header.Get("x-switchboard-dropped-params"); d != "" {
				t.Errorf("dropped params %q on a pass-through", d)
			}
		})
	}

	t.Run("cut stream ends with an error event", func(t *testing.T) {
		tr := fakeprovider.MustLoad(t, transcript("anthropic", "stream_truncated"))
		s.anthropic.Handle("POST", "/v1/messages", fakeprovider.Reply{Transcript: tr})
		body := []byte(strings.Replace(claudeCodeBody, "STREAM", "true", 1))
		resp, out := s.gw.post(t, "/v1/messages", body, "anthropic-version", "2023-06-01")
		if resp.StatusCode != 200 || !bytes.HasPrefix(out, tr.Body) || !bytes.HasSuffix(out, []byte("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"provider stream ended before the response was complete\"}}\n\n")) {
			t.Fatalf("status %d:\n%s", resp.StatusCode, out)
		}
	})

	t.Run("usage is counted", func(t *testing.T) {
		tr := fakeprovider.MustLoad(t, transcript("anthropic", "text_stream"))
		s.anthropic.Handle("POST", "/v1/messages", fakeprovider.Reply{Transcript: tr})
		before := completionTokens(t, s.gw)
		body := []byte(strings.Replace(claudeCodeBody, "STREAM", "true", 1))
		if resp, out := s.gw.post(t, "/v1/messages", body, "anthropic-version", "2023-06-01"); resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, out)
		}
		if after := completionTokens(t, s.gw); after <= before {
			t.Errorf("completion tokens metric %v -> %v: the pass-through stream was not counted", before, after)
		}
	})
}

// completionTokens reads the gateway's completion token counter for
// fake-anthropic from the extproc admin metrics.
func completionTokens(t *testing.T, g *gateway) float64 {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", g.adminHTTPPort))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var sum float64
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "switchboard_tokens_total{") && strings.Contains(line, `provider="fake-anthropic"`) && strings.Contains(line, `type="completion"`) {
			f := strings.Fields(line)
			sum += gjson.Parse(f[len(f)-1]).Float()
		}
	}
	return sum
}
