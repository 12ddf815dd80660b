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
	{"gemini", openAIToGemini{}, Target{Model: "gemini-2.5-flash"}},
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

// TestIngressOriginsRelabel: a provider translator's error about the
// OpenAI request names the client's own Anthropic message: the system
// prompt shifts indices, tool results split a turn (the block index is
// then left out), and plain turns keep their block indices.
func TestIngressOriginsRelabel(t *testing.T) {
	body := []byte(`{"model":"m","max_tokens":10,"system":"Be brief.","messages":[
		{"role":"user","content":[{"type":"text","text":"hi"},{"type":"document","source":{"type":"base64","media_type":"text/x-foo","data":"eA=="}}]},
		{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"f","input":{}}]},
		{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"ok"},{"type":"text","text":"and?"}]},
		{"role":"user","content":"plain"}]}`)
	_, origins, err := AnthropicIngress{}.RequestWithOrigins(body)
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"messages[0]: system prompt too long":           "system: system prompt too long",
		"messages[1].content[1]: file type not allowed": "messages[0].content[1]: file type not allowed",
		"messages[2].content[0]: bad tool call":         "messages[1]: bad tool call",
		"messages[3]: tool message":                     "messages[2]: tool message",
		"messages[4].content[0]: text":                  "messages[2]: text",
		"messages[5]: plain":                            "messages[3]: plain",
		"messages[9]: out of range":                     "messages[9]: out of range",
		"tools[0]: not a messages path":                 "tools[0]: not a messages path",
		"messages[x]: garbage":                          "messages[x]: garbage",
		"messages[1":                                    "messages[1",
	} {
		if got := origins.Relabel(in); got != want {
			t.Errorf("Relabel(%q) = %q, want %q", in, got, want)
		}
	}
}
