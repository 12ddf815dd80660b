package translators

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

func TestOpenAIQuirksFor(t *testing.T) {
	tests := []struct {
		host, want string
	}{
		{"api.openai.com", "openai"},
		{"API.GROQ.COM.", "groq"},
		{"api.together.xyz", "together"},
		{"api.fireworks.ai", "fireworks"},
		{"api.deepseek.com", "deepseek"},
		{"api.mistral.ai", "mistral"},
		{"api.x.ai", "xai"},
		{"openrouter.ai", "openrouter"},
		{"eu.openrouter.ai", "openrouter"},
		{"notopenrouter.ai", "generic"},
		{"api.openai.com.example.net", "generic"},
		{"localhost", "local"},
		{"127.0.0.1", "local"},
		{"::1", "local"},
		{"10.1.2.3", "local"},
		{"vllm.internal", "local"},
		{"ollama.local", "local"},
		{"ollama", "local"},
		{"llm.example.com", "generic"},
		{"", "generic"},
	}
	for _, tc := range tests {
		t.Run(tc.host, func(t *testing.T) {
			if got := openAIQuirksFor(tc.host).name; got != tc.want {
				t.Errorf("quirks %q, want %q", got, tc.want)
			}
		})
	}
}

func TestOpenAIRequestQuirks(t *testing.T) {
	const msgs = `"messages":[{"role":"user","content":"hi"}]`
	tests := []struct {
		name        string
		host, model string
		body        string
		want        map[string]string // gjson path -> raw value; "" means absent
		wantDropped string
		wantErr     string
	}{
		{
			name: "openai renames max_tokens", host: "api.openai.com", model: "gpt-4.1",
			body: `{"model":"m",` + msgs + `,"max_tokens":10}`,
			want: map[string]string{"max_completion_tokens": "10", "max_tokens": ""},
		},
		{
			name: "max_completion_tokens wins over max_tokens", host: "api.mistral.ai", model: "mistral-large-latest",
			body: `{"model":"m",` + msgs + `,"max_tokens":10,"max_completion_tokens":20}`,
			want: map[string]string{"max_tokens": "20", "max_completion_tokens": ""},
		},
		{
			name: "generic host keeps the client's field", host: "llm.example.com", model: "m",
			body: `{"model":"m",` + msgs + `,"max_completion_tokens":20,"top_k":3}`,
			want: map[string]string{"max_completion_tokens": "20", "top_k": "3"},
		},
		{
			name: "openai reasoning model drops sampling", host: "api.openai.com", model: "gpt-5-mini",
			body: `{"model":"m",` + msgs + `,"temperature":0.2,"top_p":0.9,"logprobs":true,"top_logprobs":3}`,
			want: map[string]string{"temperature": "", "top_p": "", "logprobs": "", "top_logprobs": ""}, wantDropped: "temperature,top_p,logprobs,top_logprobs",
		},
		{
			name: "gpt-5-chat is not a reasoning model", host: "api.openai.com", model: "gpt-5-chat-latest",
			body: `{"model":"m",` + msgs + `,"temperature":0.2,"reasoning":{"effort":"low"}}`,
			want: map[string]string{"temperature": "0.2", "reasoning_effort": "", "reasoning": ""}, wantDropped: "reasoning.effort",
		},
		{
			name: "client reasoning_effort wins over the reasoning object", host: "api.openai.com", model: "o3",
			body: `{"model":"m",` + msgs + `,"reasoning_effort":"minimal","reasoning":{"effort":"high"}}`,
			want: map[string]string{"reasoning_effort": `"minimal"`, "reasoning": ""},
		},
		{
			name: "mistral whitelist", host: "api.mistral.ai", model: "mistral-small-latest",
			body: `{"model":"m",` + msgs + `,"service_tier":"auto","store":true,"reasoning_effort":"low","stream_options":{"include_usage":true}}`,
			want: map[string]string{"service_tier": "", "store": "", "reasoning_effort": "", "stream_options": ""}, wantDropped: "reasoning_effort,service_tier,store",
		},
		{
			name: "mistral takes developer messages as system", host: "api.mistral.ai", model: "mistral-small-latest",
			body:        `{"model":"m","messages":[{"role":"developer","content":"Be brief."},{"role":"user","name":"alice","content":"hi"}]}`,
			want:        map[string]string{"messages.0.role": `"system"`, "messages.0.content": `"Be brief."`, "messages.1.role": `"user"`, "messages.1.name": ""},
			wantDropped: "messages[].name",
		},
		{
			name: "deepseek drops n above one", host: "api.deepseek.com", model: "deepseek-chat",
			body: `{"model":"m",` + msgs + `,"n":3,"seed":1}`,
			want: map[string]string{"n": "", "seed": ""}, wantDropped: "seed,n",
		},
		{
			name: "null parameters go silently", host: "api.groq.com", model: "llama-3.3-70b-versatile",
			body: `{"model":"m",` + msgs + `,"logprobs":null,"n":1,"top_logprobs":null}`,
			want: map[string]string{"logprobs": "", "n": "", "top_logprobs": ""},
		},
		{
			name: "exclude is honoured on the way back", host: "api.deepseek.com", model: "deepseek-reasoner",
			body: `{"model":"m",` + msgs + `,"reasoning":{"exclude":true}}`,
			want: map[string]string{"reasoning": ""},
		},
		{
			name: "history reasoning stripped for OpenAI", host: "api.openai.com", model: "gpt-4.1",
			body: `{"model":"m","messages":[{"role":"assistant","content":"a","reasoning_content":"r"},{"role":"user","content":"b","reasoning":"not an assistant"}]}`,
			want: map[string]string{"messages.0.reasoning_content": "", "messages.1.reasoning": `"not an assistant"`},
		},
		{
			name: "gateway directives removed", host: "api.together.xyz", model: "m",
			body: `{"model":"m",` + msgs + `,"provider":{"sort":"price"},"usage":{"include":true},"stream":true,"stream_options":{"include_usage":true}}`,
			want: map[string]string{"provider": "", "usage": "", "stream_options": ""},
		},
		{
			name: "require_parameters rejects a drop", host: "api.openai.com", model: "o4-mini",
			body:    `{"model":"m",` + msgs + `,"temperature":0.2,"top_k":5,"provider":{"require_parameters":true}}`,
			wantErr: "400 invalid_request_error: provider schema openai cannot honour: top_k, temperature (provider.require_parameters is set)",
		},
		{
			name: "require_parameters passes what is honoured", host: "api.openai.com", model: "gpt-4.1",
			body: `{"model":"m",` + msgs + `,"temperature":0.2,"provider":{"require_parameters":true}}`,
			want: map[string]string{"temperature": "0.2", "provider": ""},
		},
		{
			name: "not JSON", host: "api.openai.com", body: `{"model":`,
			wantErr: "400 invalid_request_error: request body is not valid JSON",
		},
		{
			name: "no messages", host: "api.groq.com", body: `{"model":"m","messages":[]}`,
			wantErr: "400 invalid_request_error: 'messages' must be a non-empty array",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.body)
			orig := bytes.Clone(in)
			req, err := openAIToOpenAI{}.Request(in, Target{Host: tc.host, Model: tc.model})
			if !bytes.Equal(in, orig) {
				t.Fatal("Request modified its input")
			}
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !gjson.ValidBytes(req.Body) {
				t.Fatalf("body is not JSON: %s", req.Body)
			}
			for path, want := range tc.want {
				if got := gjson.GetBytes(req.Body, path).Raw; got != want {
					t.Errorf("%s = %s, want %s\n%s", path, got, want, req.Body)
				}
			}
			if got := strings.Join(req.Dropped, ","); got != tc.wantDropped {
				t.Errorf("dropped %q, want %q", got, tc.wantDropped)
			}
		})
	}
}

func TestApplyEditsSharedComma(t *testing.T) {
	js := `{"a":1, "b":2 ,"c":3}`
	root := gjson.Parse(js)
	var edits []jsonEdit
	root.ForEach(func(k, v gjson.Result) bool {
		if k.Str != "c" {
			edits = append(edits, memberDelete(js, k, v))
		}
		return true
	})
	if got := string(applyEdits(nil, []byte(js), edits)); got != `{"c":3}` {
		t.Errorf("got %s", got)
	}
}

func BenchmarkOpenAIRequest(b *testing.B) {
	in := []byte(`{"model":"o4-mini","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"How do I rate limit an API?"}],"max_tokens":2048,"temperature":0.3,"stream":true}`)
	benchRequest(b, openAIToOpenAI{}, in, Target{Host: "api.openai.com", Model: "o4-mini-2025-04-16", PathPrefix: "/v1"})
}
