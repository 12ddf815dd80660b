package translators

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

func TestCheckRequestJSON(t *testing.T) {
	deep := func(n int) string { return `{"x":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}` }
	tests := []struct {
		name     string
		body     string
		wantCode string // "" accepts
		wantMsg  string
	}{
		{name: "ordinary chat", body: `{"model":"m","messages":[{"role":"user","content":"hi"}]}`},
		{name: "nesting at the limit", body: deep(MaxJSONDepth - 1)},
		{name: "brackets inside strings do not count", body: `{"x":"` + strings.Repeat("[{", 1000) + `\"]"}`},
		{name: "same key in sibling objects", body: `{"a":{"k":1},"b":{"k":2},"c":[{"k":1},{"k":2}]}`},
		{name: "nesting over the limit", body: deep(MaxJSONDepth), wantCode: "json_too_deep", wantMsg: "deeper than 128 levels"},
		{name: "unterminated string hides no depth", body: `{"x":"` + strings.Repeat("[", 500), wantCode: "invalid_json"},
		{name: "top-level duplicate", body: `{"model":"a","model":"b"}`, wantCode: "duplicate_key", wantMsg: `name "model"`},
		{name: "escaped duplicate", body: `{"model":"a","\u006dodel":"b"}`, wantCode: "duplicate_key", wantMsg: `name "model"`},
		{name: "nested duplicate", body: `{"provider":{"only":["a"],"only":["b"]}}`, wantCode: "duplicate_key", wantMsg: `"only" within "/provider"`},
		{name: "trailing garbage", body: `{"a":1} {"a":2}`, wantCode: "invalid_json"},
		{name: "invalid UTF-8", body: "{\"a\":\"\xff\"}", wantCode: "invalid_json"},
		{name: "empty", body: ``, wantCode: "invalid_json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := CheckRequestJSON([]byte(tc.body))
			if tc.wantCode == "" {
				if e != nil {
					t.Fatalf("rejected: %v", e)
				}
				return
			}
			if e == nil {
				t.Fatalf("accepted, want %s", tc.wantCode)
			}
			if e.Status != 400 || e.Type != TypeInvalidRequest || e.Code != tc.wantCode || !strings.Contains(e.Message, tc.wantMsg) {
				t.Errorf("got %d %s %s %q, want 400 %s containing %q", e.Status, e.Type, e.Code, e.Message, tc.wantCode, tc.wantMsg)
			}
		})
	}
}

// TestValidJSONBoundsDepth: provider answers go through validJSON too, so
// a hostile upstream's nesting never reaches gjson's recursion.
func TestValidJSONBoundsDepth(t *testing.T) {
	huge := []byte(strings.Repeat("[", 5_000_000) + strings.Repeat("]", 5_000_000))
	if validJSON(huge) {
		t.Error("validJSON accepted 5,000,000 levels of nesting")
	}
	if _, _, err := (openAIToAnthropic{}).Response(append(append([]byte(`{"x":`), huge...), '}')); err == nil {
		t.Error("anthropic Response accepted a hostile nested answer")
	}
}

// FuzzRequestPaths feeds every request translator (and the /v1/messages
// ingress) what the router hop lets through: none may panic, and the
// gate itself must agree with gjson on what it admits.
func FuzzRequestPaths(f *testing.F) {
	for _, dir := range []string{"openai_openai", "openai_anthropic", "openai_gemini", "openai_bedrock", "ingress_anthropic"} {
		files, _ := filepath.Glob(filepath.Join("..", "testdata", dir, "*.in.json"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":"` + strings.Repeat("x", 1<<16) + `"}]}`))
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":` + strings.Repeat("[", 126) + strings.Repeat("]", 126) + `}]}`))
	f.Add([]byte(`{"model":"m","tools":[{"type":"function","function":{"name":"f","parameters":` + strings.Repeat(`{"type":"object","properties":{"a":`, 40) + `{}` + strings.Repeat(`}}`, 40) + `}}],"messages":[{"role":"user","content":"hi"}]}`))
	f.Add([]byte(`{"model":"m","model":"n","messages":[]}`))
	trs := map[Schema]Translator{}
	for _, s := range Schemas {
		tr, err := New(s)
		if err != nil {
			f.Fatal(err)
		}
		trs[s] = tr
	}
	target := Target{Model: "upstream", PathPrefix: "/v1", APIVersion: "2024-10-21", Project: "p", Region: "us-east-1", Host: "h"}
	f.Fuzz(func(t *testing.T, body []byte) {
		if CheckRequestJSON(body) != nil {
			return
		}
		if !gjson.ValidBytes(body) {
			t.Fatalf("gate admitted what gjson calls invalid: %q", body)
		}
		for _, tr := range trs {
			_, _ = tr.Request(body, target)
			if emb, ok := tr.(Embedder); ok {
				_, _ = emb.EmbeddingsRequest(body, target)
			}
		}
		_, _, _ = AnthropicIngress{}.RequestWithOrigins(body)
	})
}

// depthWithinBytes is depthWithin as first written, one byte at a time:
// the oracle for the IndexByte version.
func depthWithinBytes(b []byte, limit int) bool {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case '[', '{':
			if depth++; depth > limit {
				return false
			}
		case ']', '}':
			depth--
		}
	}
	return true
}

// FuzzDepthWithin: the fast scan agrees with the byte loop, escapes,
// brackets inside strings and unterminated strings included.
func FuzzDepthWithin(f *testing.F) {
	for _, s := range []string{`{"a":"[[[\"]]]"}`, `"\\\\"[[`, `["\\\"[["]`, `"unterminated [[[`, `[[["\\"]]]`, `{"k":"\\\\\\"x"}`} {
		f.Add([]byte(s), 2)
	}
	f.Fuzz(func(t *testing.T, b []byte, limit int) {
		limit = limit%8 + 1
		if got, want := depthWithin(b, limit), depthWithinBytes(b, limit); got != want {
			t.Fatalf("depthWithin(%q, %d) = %v, the byte loop says %v", b, limit, got, want)
		}
	})
}
