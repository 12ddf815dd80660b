package translators

import (
	"errors"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// ingressChainSchemas are the provider schemas a /v1/messages request can
// be served by, besides openai and anthropic (TestAnthropicIngressRoundTrip).
var ingressChainSchemas = []struct {
	name   string
	tr     Translator
	target Target
}{
	{"azure-openai", openAIToAzure{}, azureTarget},
	{"gemini", openAIToGemini{}, Target{Model: "gemini-2.5-flash", APIKey: "k"}},
	{"vertex-ai gemini", openAIToVertex{}, Target{Model: "gemini-2.5-flash", Project: "p", Region: "us-central1"}},
	{"vertex-ai claude", openAIToVertex{}, Target{Model: vertexClaude, Project: "p", Region: "us-east5"}},
	{"bedrock", openAIToBedrock{}, bedrockTarget},
}

// ingressChainRefused are the chains that end in a 400, by case and schema:
// what the provider cannot take, said before anything is sent.
var ingressChainRefused = map[string]string{
	"images/bedrock": "image URLs are not supported by Bedrock",
}

// ingressChainLeftOut is client text a chain leaves out on purpose.
var ingressChainLeftOut = map[string]string{
	// Converse has no tool_choice none: the tools are not declared.
	"adaptive_thinking/bedrock": "noop",
}

// TestAnthropicIngressRequestChains sends every /v1/messages golden request
// through the ingress and then each other provider translator: the chain
// succeeds, or fails with the 400 ingressChainRefused names, and what the
// client wrote (system prompt, message text, tool names) reaches the
// provider body.
func TestAnthropicIngressRequestChains(t *testing.T) {
	for _, name := range goldenCases(t, ingressDir) {
		in := readIngress(t, ingressDir, name+".in.json")
		oa, err := AnthropicIngress{}.Request(in)
		if err != nil {
			t.Fatalf("%s: ingress: %v", name, err)
		}
		want := ingressClientStrings(gjson.ParseBytes(in))
		for _, s := range ingressChainSchemas {
			t.Run(name+"/"+s.name, func(t *testing.T) {
				req, err := s.tr.Request(oa, s.target)
				if refused, ok := ingressChainRefused[name+"/"+s.name]; ok {
					var e *APIError
					if !errors.As(err, &e) || e.Status != 400 || !strings.Contains(e.Message, refused) {
						t.Fatalf("err = %v, want a 400 containing %q", err, refused)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				got := jsonStrings(gjson.ParseBytes(req.Body), nil)
				for _, w := range want {
					if left := ingressChainLeftOut[name+"/"+s.name] == w; containsAny(got, w) == left {
						t.Errorf("%q reaches the provider: %v, want %v:\n%s", w, !left, left, req.Body)
					}
				}
			})
		}
	}
}

// ingressClientStrings are the system text, message texts and tool names of
// an Anthropic request, each cut to its first line.
func ingressClientStrings(root gjson.Result) []string {
	var out []string
	add := func(s string) {
		if s, _, _ = strings.Cut(s, "\n"); strings.TrimSpace(s) != "" {
			out = append(out, s)
		}
	}
	add(root.Get("system").Str)
	for _, b := range root.Get("system").Array() {
		add(b.Get("text").Str)
	}
	for _, m := range root.Get("messages").Array() {
		add(m.Get("content").Str)
		for _, b := range m.Get("content").Array() {
			if b.Get("type").Str == "text" {
				add(b.Get("text").Str)
			}
		}
	}
	for _, tool := range root.Get("tools").Array() {
		add(tool.Get("name").Str)
	}
	return out
}

// jsonStrings appends every string value and key in r.
func jsonStrings(r gjson.Result, out []string) []string {
	switch {
	case r.Type == gjson.String:
		return append(out, r.Str)
	case r.IsObject() || r.IsArray():
		r.ForEach(func(k, v gjson.Result) bool {
			out = jsonStrings(v, out)
			return true
		})
	}
	return out
}

func containsAny(haystack []string, needle string) bool {
	for _, h := range haystack {
		if strings.Contains(h, needle) {
			return true
		}
	}
	return false
}
