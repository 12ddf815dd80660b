package translators

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/tokens"
)

func countExchange(tb testing.TB, schema Schema, model, body string) *Exchange {
	tb.Helper()
	spec, _ := SpecFor(schema)
	t := Target{Model: model, PathPrefix: "/pre", Project: "proj", Region: "us-central1", Host: "h"}
	x, err := Begin(countTokensAPI, spec, []byte(body), t, "key-1", Facts{Provider: "p1"})
	if err != nil {
		tb.Fatal(err)
	}
	return x
}

// Each schema counts where it can: Anthropic natively, Gemini and Vertex
// Gemini with countTokens, the rest locally (no upstream request).
func TestCountTokensRequests(t *testing.T) {
	in, err := os.ReadFile(filepath.Join(testdata, "count_tokens", "tools.in.json"))
	if err != nil {
		t.Fatal(err)
	}
	body := string(in)
	t.Run("anthropic native", func(t *testing.T) {
		b := `{"model":"m","messages":[{"role":"user","content":"hi"}],"context_management":{"edits":[]},"provider":{"sort":"price"},"stream":true}`
		x := countExchange(t, SchemaAnthropic, "claude-up", b)
		if x.Local != nil || !x.Native || x.Stream || x.Upstream.Path != "/pre/v1/messages/count_tokens" {
			t.Fatalf("local %s native %v stream %v path %s", x.Local, x.Native, x.Stream, x.Upstream.Path)
		}
		if got, want := string(x.Upstream.Body), `{"model":"claude-up","messages":[{"role":"user","content":"hi"}],"context_management":{"edits":[]},"stream":true}`; got != want {
			t.Errorf("body %s\nwant %s", got, want)
		}
		out, u, err := x.Answer([]byte(`{"input_tokens":42}`))
		if err != nil || string(out) != `{"input_tokens":42}` || u != (Usage{}) {
			t.Errorf("answer %s %+v %v", out, u, err)
		}
		if _, _, err := x.Answer([]byte(`{"type":"message"}`)); err == nil {
			t.Error("a body without input_tokens passed")
		}
	})
	t.Run("gemini countTokens", func(t *testing.T) {
		x := countExchange(t, SchemaGemini, "gemini-2.5-flash", body)
		if x.Local != nil || x.Upstream.Path != "/pre/v1beta/models/gemini-2.5-flash:countTokens" {
			t.Fatalf("local %s path %s", x.Local, x.Upstream.Path)
		}
		g := gjson.GetBytes(x.Upstream.Body, "generateContentRequest")
		if g.Get("model").Str != "models/gemini-2.5-flash" || g.Get("systemInstruction.parts.0.text").Str != "You are terse." ||
			len(g.Get("contents").Array()) != 3 || g.Get("tools.0.functionDeclarations.0.name").Str != "get_weather" || g.Get("generationConfig").Exists() {
			t.Errorf("body %s", x.Upstream.Body)
		}
		for in, want := range map[string]string{`{"totalTokens":31,"promptTokensDetails":[]}`: `{"input_tokens":31}`, `{}`: `{"input_tokens":0}`} {
			if out, u, err := x.Answer([]byte(in)); err != nil || string(out) != want || u != (Usage{}) {
				t.Errorf("%s: %s %+v %v", in, out, u, err)
			}
		}
		if _, _, err := x.Answer([]byte(`{"totalTokens":"x"}`)); err == nil {
			t.Error("a bad count passed")
		}
	})
	t.Run("vertex gemini countTokens", func(t *testing.T) {
		x := countExchange(t, SchemaVertexAI, "gemini-2.5-flash", body)
		if want := "/pre/v1/projects/proj/locations/us-central1/publishers/google/models/gemini-2.5-flash:countTokens"; x.Upstream.Path != want {
			t.Fatalf("path %s", x.Upstream.Path)
		}
		if b := gjson.ParseBytes(x.Upstream.Body); len(b.Get("contents").Array()) != 3 || !b.Get("systemInstruction").Exists() || b.Get("generateContentRequest").Exists() {
			t.Errorf("body %s", x.Upstream.Body)
		}
	})
	for _, tc := range []struct {
		schema Schema
		model  string
	}{{SchemaOpenAI, "gpt-x"}, {SchemaAzureOpenAI, "dep"}, {SchemaBedrock, "anthropic.claude"}, {SchemaVertexAI, "claude-sonnet-4-5"}} {
		t.Run("local estimate/"+string(tc.schema), func(t *testing.T) {
			want, _ := EstimateInputTokens(in, tc.model)
			x := countExchange(t, tc.schema, tc.model, body)
			if gjson.GetBytes(x.Local, "input_tokens").Int() != want || len(x.Upstream.Body) != 0 {
				t.Errorf("local %s upstream %q", x.Local, x.Upstream.Body)
			}
			if !equalHeaders(x.LocalHeaders, []Header{{TokenCountHeader, "estimate"}}) {
				t.Errorf("headers %v", x.LocalHeaders)
			}
		})
	}
	t.Run("bad body is an Anthropic 400", func(t *testing.T) {
		_, err := countTokensAPI.Normalize([]byte(`{"model":"m"}`))
		e, ok := err.(*APIError)
		if !ok || e.Status != 400 {
			t.Fatalf("err %v", err)
		}
		if b := countTokensAPI.ErrorBody(e); gjson.GetBytes(b, "type").Str != "error" || gjson.GetBytes(b, "error.type").Str != "invalid_request_error" {
			t.Errorf("error body %s", b)
		}
		spec, _ := SpecFor(SchemaOpenAI)
		if _, err := Begin(countTokensAPI, spec, []byte(`{"model":"m","messages":"x"}`), Target{Model: "g"}, "", Facts{}); err == nil {
			t.Error("a bad body was estimated")
		}
	})
}

// The estimate follows its documented method (docs/providers.md): texts
// by the model's tokenizer, the rest by fixed figures.
func TestEstimateInputTokens(t *testing.T) {
	o200k, _ := tokens.Counter(tokens.O200k)
	cl100k, _ := tokens.Counter(tokens.Cl100k)
	const prose = "The gateway counts this sentence with a real tokenizer, not by its bytes."
	for _, tc := range []struct {
		name, model, body string
		want              int64
	}{
		{"one message", "gpt-4o", `{"model":"m","messages":[{"role":"user","content":"` + prose + `"}]}`, 4 + int64(o200k(prose))},
		{"an older OpenAI model's own tokenizer", "gpt-4", `{"model":"m","messages":[{"role":"user","content":"日本語のテキスト"}]}`, 4 + int64(cl100k("日本語のテキスト"))},
		{"other models: o200k_base", "claude-sonnet-4-5", `{"model":"m","system":"` + prose + `","messages":[{"role":"user","content":"hi"}]}`, 4 + int64(o200k(prose)+o200k("hi"))},
		{"image", "gpt-4o", `{"model":"m","messages":[{"role":"user","content":[{"type":"image","source":{"type":"url","url":"https://x/y.png"}},{"type":"text","text":"abcd"}]}]}`, 4 + 1600 + int64(o200k("abcd"))},
		{"tool result text", "gpt-4o", `{"model":"m","messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"` + prose + `"}]}]}]}`, 4 + int64(o200k(prose))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := EstimateInputTokens([]byte(tc.body), tc.model)
			if err != nil || got != tc.want {
				t.Errorf("got %d, %v; want %d", got, err, tc.want)
			}
		})
	}
	// The cases tell the methods apart: the prose's count is not its
	// bytes/4 (73 bytes, 15 tokens), and the two tokenizers differ on the
	// Japanese text (6 and 8).
	if n := o200k(prose); n == (len(prose)+3)/4 {
		t.Errorf("the test prose counts as its bytes/4 (%d): pick another", n)
	}
	if o200k("日本語のテキスト") == cl100k("日本語のテキスト") {
		t.Error("the tokenizers agree on the Japanese text: pick another")
	}
	in, _ := os.ReadFile(filepath.Join(testdata, "count_tokens", "tools.in.json"))
	tools := gjson.GetBytes(in, "tools").Raw
	n, _ := EstimateInputTokens(in, "gpt-4o")
	if min := int64(estimateToolPrompt + o200k(tools)); n < min || n > min+60 {
		t.Errorf("tools body estimated %d, want a little over %d", n, min)
	}
}

// A count is no completion: it costs nothing even with a per-request
// price, and the hops record no latency for it.
func TestCountTokensGeneratesNothing(t *testing.T) {
	x := countExchange(t, SchemaAnthropic, "c", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	x.Price = Price{Prompt: 3, Request: 0.01}
	if c, ok := x.Cost(Usage{PromptTokens: 10}); ok || c != 0 {
		t.Errorf("cost %v %v", c, ok)
	}
	if countTokensAPI.Generates() || !chatAPI.Generates() || !completionsAPI.Generates() {
		t.Error("Generates")
	}
	if a, ok := APIFor("/v1/messages/count_tokens"); !ok || a != countTokensAPI || !a.Anthropic {
		t.Error("APIFor")
	}
	if !strings.Contains(strings.Join(APIPaths(), " "), "/v1/messages/count_tokens") || !bytes.Contains([]byte(strings.Join(APIPaths(), " ")), []byte("/v1/completions")) {
		t.Errorf("APIPaths %v", APIPaths())
	}
}
