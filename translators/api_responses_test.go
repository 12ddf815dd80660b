package translators

import (
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

func responsesExchange(t *testing.T, schema Schema, host, body string) *Exchange {
	t.Helper()
	spec, _ := SpecFor(schema)
	x, err := Begin(responsesAPI, spec, []byte(body), Target{Model: "gpt-up", PathPrefix: "/v1", Host: host}, "sk-1", Facts{Provider: "p"})
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// On api.openai.com and Azure the Responses body passes through; on any
// other OpenAI-compatible host it becomes chat.
func TestResponsesNativeRequest(t *testing.T) {
	body := `{"model":"m","input":[{"type":"reasoning","encrypted_content":"switchboard:v1:abc"},{"type":"reasoning","encrypted_content":"gAAA"},{"role":"user","content":"hi"}],"provider":{"sort":"price"},"store":false,"include":["reasoning.encrypted_content"]}`
	x := responsesExchange(t, SchemaOpenAI, "api.openai.com", body)
	if !x.Native || x.Upstream.Path != "/v1/responses" {
		t.Fatalf("native %v path %s", x.Native, x.Upstream.Path)
	}
	want := `{"model":"gpt-up","input":[{"type":"reasoning","encrypted_content":"gAAA"},{"role":"user","content":"hi"}],"store":false,"include":["reasoning.encrypted_content"]}`
	if string(x.Upstream.Body) != want {
		t.Errorf("body\n%s\nwant\n%s", x.Upstream.Body, want)
	}
	if az := responsesExchange(t, SchemaAzureOpenAI, "r.openai.azure.com", body); !az.Native || az.Upstream.Path != "/v1/openai/v1/responses" {
		t.Errorf("azure: native %v path %s", az.Native, az.Upstream.Path)
	}
	chat := responsesExchange(t, SchemaOpenAI, "api.groq.com", `{"model":"m","input":"hi","instructions":"be brief"}`)
	if chat.Native || chat.Upstream.Path != "/v1/chat/completions" || gjson.GetBytes(chat.Upstream.Body, "messages.0.role").Str != "system" {
		t.Errorf("compatible host: native %v path %s body %s", chat.Native, chat.Upstream.Path, chat.Upstream.Body)
	}
}

// A native stream passes byte for byte with usage read from
// response.completed; one cut before a terminal event gets response.failed.
func TestResponsesNativeStream(t *testing.T) {
	x := responsesExchange(t, SchemaOpenAI, "api.openai.com", `{"model":"m","input":"hi","stream":true}`)
	sse := "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\"}}\n\n" +
		"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":1,\"delta\":\"Hi\"}\n\n"
	done := "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":2,\"response\":{\"id\":\"resp_1\",\"usage\":{\"input_tokens\":7,\"output_tokens\":2,\"input_tokens_details\":{\"cached_tokens\":3},\"output_tokens_details\":{\"reasoning_tokens\":1}}}}\n\n"
	st := x.NewStream()
	var out []byte
	for _, c := range strings.SplitAfter(sse+done, "\n") {
		out = st.Translate(out, []byte(c))
	}
	out = st.Finish(out)
	if string(out) != sse+done {
		t.Errorf("stream changed:\n%s", out)
	}
	if u := st.Usage(); u != (Usage{PromptTokens: 7, CompletionTokens: 2, CachedTokens: 3, ReasoningTokens: 1}) {
		t.Errorf("usage %+v", u)
	}
	cut := x.NewStream()
	out = cut.Finish(cut.Translate(nil, []byte(sse)))
	tail := string(out[len(sse):])
	if !strings.HasPrefix(tail, "event: response.failed\ndata: ") || gjson.Get(strings.TrimPrefix(strings.SplitN(tail, "\n", 3)[1], "data: "), "sequence_number").Int() != 2 {
		t.Errorf("cut stream ends %q", tail)
	}
	if _, _, err := x.Answer([]byte(`{"object":"chat.completion","choices":[]}`)); err == nil {
		t.Error("a chat body passed as a Responses answer")
	}
	b := `{"object":"response","id":"resp_1","output":[],"usage":{"input_tokens":1,"output_tokens":1}}`
	if got, u, err := x.Answer([]byte(b)); err != nil || string(got) != b || u.PromptTokens != 1 {
		t.Errorf("answer %s %+v %v", got, u, err)
	}
}

// An answer with no completion tokens costs nothing; embeddings (which
// never have any) are priced on their prompt.
func TestZeroCompletionCostsNothing(t *testing.T) {
	spec, _ := SpecFor(SchemaOpenAI)
	price := Price{Prompt: 1e6, Completion: 1e6}
	chat := &Exchange{api: chatAPI, spec: spec, Price: price}
	if c, ok := chat.Cost(Usage{PromptTokens: 100}); !ok || c != 0 {
		t.Errorf("chat with no completion: %v %v", c, ok)
	}
	if c, _ := chat.Cost(Usage{PromptTokens: 1, CompletionTokens: 1}); c != 2 {
		t.Errorf("chat: %v", c)
	}
	emb := &Exchange{api: embeddingsAPI, spec: spec, Price: price}
	if c, _ := emb.Cost(Usage{PromptTokens: 3}); c != 3 {
		t.Errorf("embeddings: %v", c)
	}
}
