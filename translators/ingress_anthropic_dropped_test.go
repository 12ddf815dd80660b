package translators

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// claudeCodeRequest is the first request Claude Code 2.1.332 sent with its
// default model (testdata/clients, recorded from the real client).
func claudeCodeRequest(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "clients", "claude-code", "say-hi-default-model.json"))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(gjson.GetBytes(data, "0.body").Raw)
}

// TestMessagesTranslatedReportsDropped: a /v1/messages request translated
// for a chat provider names what chat cannot carry (Request.Dropped, the
// x-switchboard-dropped-params header), and is refused naming them under
// provider.require_parameters; a pass-through to Anthropic drops nothing.
func TestMessagesTranslatedReportsDropped(t *testing.T) {
	openai, _ := SpecFor(SchemaOpenAI)
	anthropic, _ := SpecFor(SchemaAnthropic)
	body := claudeCodeRequest(t)
	for _, tc := range []struct {
		name string
		spec *Spec
		body string
		want []string
		err  string
	}{
		{name: "claude code to chat", spec: openai, body: string(body),
			want: []string{"context_management", "thinking.display", "tools[].defer_loading"}},
		{name: "effort without adaptive thinking", spec: openai,
			body: `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"thinking":{"type":"enabled","budget_tokens":1024},"output_config":{"effort":"high"}}`,
			want: []string{"output_config.effort"}},
		{name: "adaptive thinking carries effort", spec: openai,
			body: `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"thinking":{"type":"adaptive"},"output_config":{"effort":"high"}}`},
		{name: "require_parameters refuses", spec: openai,
			body: `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"context_management":{"edits":[]},"provider":{"require_parameters":true}}`,
			err:  "context_management"},
		{name: "pass-through keeps everything", spec: anthropic, body: string(body)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x, err := Begin(messagesAPI, tc.spec, []byte(tc.body), Target{Model: "up"}, "k", Facts{Provider: "p"})
			if tc.err != "" {
				var e *APIError
				if !errors.As(err, &e) || e.Status != 400 || !strings.Contains(e.Message, tc.err) || !strings.Contains(e.Message, "require_parameters") {
					t.Fatalf("err = %v, want a 400 naming %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !slices.Contains(x.Upstream.Dropped, w) {
					t.Errorf("dropped %q lacks %q", x.Upstream.Dropped, w)
				}
			}
			if len(tc.want) == 0 && len(x.Upstream.Dropped) != 0 {
				t.Errorf("dropped %q, want none", x.Upstream.Dropped)
			}
		})
	}
	// Never mutates the input: the same body translates the same twice.
	before := string(body)
	_, _ = Begin(messagesAPI, openai, body, Target{Model: "up"}, "k", Facts{})
	if string(body) != before {
		t.Error("Begin modified the client body")
	}
}
