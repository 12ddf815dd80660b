package translators

import "testing"

// A 2xx that is no answer is an error, and the usage it reports comes
// with the error: the provider billed it (the gateway charges it even
// when another attempt serves the request).
func TestBadAnswerKeepsUsage(t *testing.T) {
	spec, _ := SpecFor(SchemaOpenAI)
	for _, tc := range []struct {
		name, body string
		want       Usage
	}{
		{"no choices", `{"id":"x","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5}}`, Usage{PromptTokens: 10, CompletionTokens: 5}},
		{"error object with usage", `{"error":{"message":"overloaded"},"usage":{"prompt_tokens":7,"completion_tokens":0}}`, Usage{PromptTokens: 7}},
		{"not JSON", `<html>502</html>`, Usage{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := &Exchange{api: chatAPI, spec: spec, tr: spec.translatorFor("")}
			out, u, err := x.Answer([]byte(tc.body))
			if err == nil || out != nil {
				t.Fatalf("answer %s %v, want an error", out, err)
			}
			if u != tc.want {
				t.Errorf("usage %+v, want %+v", u, tc.want)
			}
		})
	}
	// The plugins refusing an answer: its usage was billed too.
	x := &Exchange{api: chatAPI, spec: spec, tr: spec.translatorFor(""),
		AfterChat: func([]byte, Usage) ([]byte, error) { return nil, BadRequest("refused", "refused") }}
	good := `{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"hi"}}],"usage":{"prompt_tokens":3,"completion_tokens":2}}`
	if _, u, err := x.Answer([]byte(good)); err == nil || u != (Usage{PromptTokens: 3, CompletionTokens: 2}) {
		t.Errorf("refused by the plugins: usage %+v err %v", u, err)
	}
}
