package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

const geminiKey = "AIzaSy-e2e-gemini-secret"

// googleTokenEndpoint is a fake Google OAuth token endpoint for Vertex AI:
// it answers JWT-bearer grants on /token and refuses them on /bad-token.
type googleTokenEndpoint struct {
	srv    *httptest.Server
	mu     sync.Mutex
	grants int
}

func newGoogleTokenEndpoint(t *testing.T) *googleTokenEndpoint {
	e := &googleTokenEndpoint{}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		if r.URL.Path != "/token" || r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" || strings.Count(r.PostForm.Get("assertion"), ".") != 2 {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`)
			return
		}
		e.mu.Lock()
		e.grants++
		n := e.grants
		e.mu.Unlock()
		fmt.Fprintf(w, `{"access_token":"ya29.e2e-token-%d","expires_in":3599,"token_type":"Bearer"}`, n)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *googleTokenEndpoint) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.grants
}

// writeServiceAccount writes a service account key file whose token_uri
// is tokenURI, as the config's credentials_file.
func writeServiceAccount(t *testing.T, tokenURI string) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "acme-prod", "private_key_id": "e2e",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "switchboard@acme-prod.iam.gserviceaccount.com", "token_uri": tokenURI,
	})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), filepath.Base(tokenURI)+".json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// geminiSetup is one gateway in front of a fake Gemini API and a fake
// Vertex AI, the latter behind a fake Google token endpoint.
type geminiSetup struct {
	gw     *gateway
	gemini *fakeprovider.Server
	vertex *fakeprovider.Server
	tokens *googleTokenEndpoint
	client openai.Client
}

const (
	geminiPath       = "/v1beta/models/gemini-2.5-flash:generateContent"
	geminiStreamPath = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
	vertexBase       = "/v1/projects/acme-prod/locations/us-central1/publishers/"
	vertexGemini     = vertexBase + "google/models/gemini-2.5-pro:generateContent"
	vertexClaude     = vertexBase + "anthropic/models/claude-sonnet-4-5@20250929"
)

func newGeminiSetup(t *testing.T) *geminiSetup {
	s := &geminiSetup{gemini: fakeprovider.New(t), vertex: fakeprovider.New(t), tokens: newGoogleTokenEndpoint(t)}
	s.gw = startGateway(t, fmt.Sprintf(`providers:
  - name: fake-gemini
    schema: gemini
    base_url: %s
    api_key: {env: E2E_GEMINI_KEY}
  - name: fake-vertex
    schema: vertex-ai
    base_url: %s
    project: acme-prod
    region: us-central1
    credentials_file: %s
  - name: vertex-bad-credentials
    schema: vertex-ai
    base_url: %s
    project: acme-prod
    region: us-central1
    credentials_file: %s
models:
  - name: gemini-flash
    providers: [{provider: fake-gemini, model: gemini-2.5-flash}]
  - name: vertex-gemini
    providers: [{provider: fake-vertex, model: gemini-2.5-pro}]
  - name: vertex-claude
    providers: [{provider: fake-vertex, model: claude-sonnet-4-5@20250929}]
  - name: vertex-broken
    providers: [{provider: vertex-bad-credentials, model: gemini-2.5-pro}]
`, s.gemini.URL(), s.vertex.URL(), writeServiceAccount(t, s.tokens.srv.URL+"/token"),
		s.vertex.URL(), writeServiceAccount(t, s.tokens.srv.URL+"/bad-token")), "E2E_GEMINI_KEY="+geminiKey)
	s.client = openai.NewClient(option.WithBaseURL(s.gw.url("/v1/")), option.WithAPIKey(clientKey), option.WithMaxRetries(0))
	return s
}

// geminiStreamText concatenates the visible text of a Gemini SSE transcript.
func geminiStreamText(tr *fakeprovider.Transcript) string {
	var b strings.Builder
	for _, d := range sseData(tr.Body) {
		for _, p := range gjson.Get(d, "candidates.0.content.parts").Array() {
			if !p.Get("thought").Bool() {
				b.WriteString(p.Get("text").Str)
			}
		}
	}
	return b.String()
}

func weatherTool() openai.ChatCompletionToolUnionParam {
	return openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
		Name: "get_weather",
		Parameters: openai.FunctionParameters{
			"type": "object", "additionalProperties": false,
			"properties": map[string]any{"city": map[string]any{"type": "string"}, "unit": map[string]any{"type": []string{"string", "null"}}},
			"required":   []string{"city"},
		},
	})
}

// TestGemini runs the gemini and vertex-ai schemas through a real Envoy
// with the openai-go SDK, and checks what the fake providers received.
func TestGemini(t *testing.T) {
	s := newGeminiSetup(t)

	t.Run("gemini non-streamed", func(t *testing.T) {
		tr := fakeprovider.MustLoad(t, transcript("gemini", "text"))
		s.gemini.Handle("POST", geminiPath, fakeprovider.Reply{Transcript: tr})
		p := userParams("gemini-flash", "What is the capital of France?")
		p.Messages = append([]openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief.")}, p.Messages...)
		p.MaxCompletionTokens = openai.Int(300)
		p.Temperature = openai.Float(0.3)
		var raw *http.Response
		got, err := s.client.Chat.Completions.New(ctxT(t), p, option.WithResponseInto(&raw))
		if err != nil {
			t.Fatal(err)
		}
		want := gjson.GetBytes(tr.Body, "candidates.0.content.parts.0.text").Str
		if got.Choices[0].Message.Content != want || got.Choices[0].FinishReason != "stop" {
			t.Fatalf("answer %+v", got.Choices[0])
		}
		if got.Usage.PromptTokens != 9 || got.Usage.CompletionTokens != 603 || got.Usage.CompletionTokensDetails.ReasoningTokens != 565 {
			t.Fatalf("usage %+v", got.Usage)
		}
		if raw.Header.Get("x-switchboard-provider") != "fake-gemini" {
			t.Fatalf("headers %v", raw.Header)
		}
		rec := lastRequest(t, s.gemini)
		if rec.Path != geminiPath || rec.RawQuery != "" {
			t.Fatalf("provider got %s?%s", rec.Path, rec.RawQuery)
		}
		if rec.Header.Get("x-goog-api-key") != geminiKey || rec.Header.Get("authorization") != "" {
			t.Fatalf("provider got key %q authorization %q", rec.Header.Get("x-goog-api-key"), rec.Header.Get("authorization"))
		}
		body := gjson.ParseBytes(rec.Body)
		if body.Get("contents.0.parts.0.text").Str != "What is the capital of France?" || body.Get("systemInstruction.parts.0.text").Str != "Be brief." ||
			body.Get("generationConfig.maxOutputTokens").Int() != 300 || body.Get("generationConfig.temperature").Float() != 0.3 || body.Get("model").Exists() {
			t.Fatalf("provider got body %s", rec.Body)
		}
	})

	t.Run("gemini streamed with usage", func(t *testing.T) {
		tr := fakeprovider.MustLoad(t, transcript("gemini", "text_stream"))
		s.gemini.Handle("POST", geminiStreamPath, fakeprovider.Reply{Transcript: tr})
		p := userParams("gemini-flash", "Explain flow control")
		p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		stream := s.client.Chat.Completions.NewStreaming(ctxT(t), p)
		var acc openai.ChatCompletionAccumulator
		usageChunks := 0
		for stream.Next() {
			c := stream.Current()
			acc.AddChunk(c)
			if c.Usage.TotalTokens > 0 {
				usageChunks++
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if want := geminiStreamText(tr); acc.Choices[0].Message.Content != want || want == "" {
			t.Fatalf("content %q, want %q", acc.Choices[0].Message.Content, want)
		}
		if usageChunks != 1 || acc.Usage.PromptTokens != 8 || acc.Usage.CompletionTokens != 41+302 || acc.Choices[0].FinishReason != "stop" {
			t.Fatalf("usage chunks %d usage %+v finish %q", usageChunks, acc.Usage, acc.Choices[0].FinishReason)
		}
		rec := lastRequest(t, s.gemini)
		if rec.Path != geminiStreamPath || rec.RawQuery != "alt=sse" || rec.Header.Get("x-goog-api-key") != geminiKey {
			t.Fatalf("provider got %s?%s", rec.Path, rec.RawQuery)
		}
	})

	t.Run("gemini streamed parallel tool calls with thinking", func(t *testing.T) {
		tr := fakeprovider.MustLoad(t, transcript("gemini", "tool_call_stream"))
		s.gemini.Handle("POST", geminiStreamPath, fakeprovider.Reply{Transcript: tr})
		p := userParams("gemini-flash", "Weather in Paris and Tokyo?")
		p.Tools = []openai.ChatCompletionToolUnionParam{weatherTool()}
		p.ReasoningEffort = openai.ReasoningEffortLow
		stream := s.client.Chat.Completions.NewStreaming(ctxT(t), p)
		var acc openai.ChatCompletionAccumulator
		reasoning := ""
		for stream.Next() {
			c := stream.Current()
			acc.AddChunk(c)
			if len(c.Choices) > 0 {
				reasoning += gjson.Get(c.Choices[0].Delta.RawJSON(), "reasoning").Str
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		calls := acc.Choices[0].Message.ToolCalls
		if len(calls) != 2 || acc.Choices[0].FinishReason != "tool_calls" {
			t.Fatalf("tool calls %+v finish %q", calls, acc.Choices[0].FinishReason)
		}
		for i, city := range []string{"Paris", "Tokyo"} {
			if calls[i].ID == "" || calls[i].Function.Name != "get_weather" || gjson.Get(calls[i].Function.Arguments, "city").Str != city {
				t.Fatalf("tool call %d: %+v", i, calls[i])
			}
		}
		if !strings.HasPrefix(reasoning, "**Checking two cities**") {
			t.Fatalf("reasoning %q", reasoning)
		}
		body := gjson.ParseBytes(lastRequest(t, s.gemini).Body)
		decl := body.Get("tools.0.functionDeclarations.0")
		if decl.Get("name").Str != "get_weather" || decl.Get("parameters.additionalProperties").Exists() ||
			decl.Get("parameters.properties.unit.nullable").Type != gjson.True || body.Get("generationConfig.thinkingConfig.thinkingBudget").Int() != 1024 {
			t.Fatalf("provider got body %s", body.Raw)
		}
	})

	t.Run("gemini thought signature round trip", func(t *testing.T) {
		s.gemini.Handle("POST", geminiPath, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("gemini", "tool_call"))})
		resp, out := s.gw.post(t, "/v1/chat/completions", []byte(`{"model":"gemini-flash","messages":[{"role":"user","content":"Weather in Paris and Tokyo?"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}`))
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, out)
		}
		msg := gjson.GetBytes(out, "choices.0.message")
		sig := msg.Get("reasoning_details.0.data").Str
		if sig == "" || msg.Get("tool_calls.#").Int() != 2 {
			t.Fatalf("message %s", msg.Raw)
		}
		// The client sends the assistant message back unchanged, with results.
		next := `{"model":"gemini-flash","messages":[{"role":"user","content":"Weather in Paris and Tokyo?"},` + msg.Raw +
			`,{"role":"tool","tool_call_id":"` + msg.Get("tool_calls.0.id").Str + `","content":"14C, light rain"}` +
			`,{"role":"tool","tool_call_id":"` + msg.Get("tool_calls.1.id").Str + `","content":"{\"temp\":22}"}]}`
		s.gemini.Handle("POST", geminiPath, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("gemini", "text"))})
		if resp, out := s.gw.post(t, "/v1/chat/completions", []byte(next)); resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, out)
		}
		body := gjson.ParseBytes(lastRequest(t, s.gemini).Body)
		model, results := body.Get("contents.1"), body.Get("contents.2")
		if model.Get("role").Str != "model" || model.Get("parts.0.thoughtSignature").Str != sig || model.Get("parts.1.functionCall.args.city").Str != "Tokyo" {
			t.Fatalf("provider got model turn %s", model.Raw)
		}
		if results.Get("parts.0.functionResponse.name").Str != "get_weather" || results.Get("parts.1.functionResponse.response.temp").Int() != 22 {
			t.Fatalf("provider got results %s", results.Raw)
		}
	})

	t.Run("gemini provider errors", func(t *testing.T) {
		for _, tc := range []struct {
			name, file string
			status     int
			code       string
			retryAfter string // from the body's RetryInfo: Gemini sends no header
		}{
			{"quota is a rate limit, Retry-After from RetryInfo", "error_429", 429, "rate_limit_exceeded", "22"},
			{"token limit is context length", "error_400_too_long", 400, "context_length_exceeded", ""},
			{"overloaded", "error_503", 503, "provider_overloaded", ""},
			{"permission denied is the gateway's credential", "error_403", 502, "provider_auth_failed", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s.gemini.Handle("POST", geminiPath, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("gemini", tc.file))})
				resp, body := s.gw.post(t, "/v1/chat/completions", []byte(`{"model":"gemini-flash","messages":[{"role":"user","content":"hi"}]}`))
				assertOpenAIError(t, resp, body, tc.status, tc.code)
				if ra := resp.Header.Get("retry-after"); ra != tc.retryAfter {
					t.Fatalf("retry-after = %q, want %q", ra, tc.retryAfter)
				}
				if strings.Contains(string(body), geminiKey) {
					t.Fatal("error body leaks the provider key")
				}
			})
		}
	})

	t.Run("gemini broken streams end with an error chunk", func(t *testing.T) {
		for _, tc := range []struct{ file, code string }{
			{"stream_error", "provider_overloaded"},
			{"stream_truncated", "upstream_stream_error"},
		} {
			t.Run(tc.file, func(t *testing.T) {
				s.gemini.Handle("POST", geminiStreamPath, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("gemini", tc.file))})
				resp, body := s.gw.post(t, "/v1/chat/completions", []byte(`{"model":"gemini-flash","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
				data := sseData(body)
				if resp.StatusCode != 200 || len(data) < 2 || data[len(data)-1] != "[DONE]" {
					t.Fatalf("status %d body %s", resp.StatusCode, body)
				}
				last := data[len(data)-2]
				if gjson.Get(last, "choices.0.finish_reason").Str != "error" || gjson.Get(last, "error.code").Str != tc.code {
					t.Fatalf("last chunk is not a %s error chunk: %s", tc.code, last)
				}
			})
		}
	})

	t.Run("vertex gemini non-streamed with an OAuth token", func(t *testing.T) {
		tr := fakeprovider.MustLoad(t, transcript("vertex", "gemini_text"))
		s.vertex.Handle("POST", vertexGemini, fakeprovider.Reply{Transcript: tr})
		for range 2 { // the second request reuses the cached token
			got, err := s.client.Chat.Completions.New(ctxT(t), userParams("vertex-gemini", "Regions and zones?"))
			if err != nil {
				t.Fatal(err)
			}
			if got.Choices[0].Message.Content != gjson.GetBytes(tr.Body, "candidates.0.content.parts.0.text").Str || got.Usage.CompletionTokens != 398 {
				t.Fatalf("answer %+v usage %+v", got.Choices[0], got.Usage)
			}
		}
		rec := lastRequest(t, s.vertex)
		if rec.Path != vertexGemini || rec.Header.Get("authorization") != "Bearer ya29.e2e-token-1" || rec.Header.Get("x-goog-api-key") != "" {
			t.Fatalf("provider got %s authorization %q", rec.Path, rec.Header.Get("authorization"))
		}
		if gjson.GetBytes(rec.Body, "contents.0.parts.0.text").Str != "Regions and zones?" {
			t.Fatalf("provider got body %s", rec.Body)
		}
		if n := s.tokens.count(); n != 1 {
			t.Fatalf("%d token grants, want 1 (cached)", n)
		}
	})

	t.Run("vertex claude streamed tool call", func(t *testing.T) {
		tr := fakeprovider.MustLoad(t, transcript("vertex", "claude_tool_stream"))
		s.vertex.Handle("POST", vertexClaude+":streamRawPredict", fakeprovider.Reply{Transcript: tr})
		p := userParams("vertex-claude", "Where is order A-1042?")
		p.Tools = []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
			Name:       "lookup_order",
			Parameters: openai.FunctionParameters{"type": "object", "properties": map[string]any{"order_id": map[string]any{"type": "string"}}},
		})}
		p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		stream := s.client.Chat.Completions.NewStreaming(ctxT(t), p)
		var acc openai.ChatCompletionAccumulator
		for stream.Next() {
			acc.AddChunk(stream.Current())
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		calls := acc.Choices[0].Message.ToolCalls
		if len(calls) != 1 || calls[0].Function.Name != "lookup_order" || gjson.Get(calls[0].Function.Arguments, "order_id").Str != "A-1042" ||
			acc.Choices[0].FinishReason != "tool_calls" || acc.Usage.PromptTokens != 402 {
			t.Fatalf("tool calls %+v finish %q usage %+v", calls, acc.Choices[0].FinishReason, acc.Usage)
		}
		rec := lastRequest(t, s.vertex)
		body := gjson.ParseBytes(rec.Body)
		if rec.Path != vertexClaude+":streamRawPredict" || !strings.HasPrefix(rec.Header.Get("authorization"), "Bearer ya29.e2e-token-") ||
			rec.Header.Get("anthropic-version") != "" || rec.Header.Get("x-api-key") != "" {
			t.Fatalf("provider got %s headers %v", rec.Path, rec.Header)
		}
		if body.Get("model").Exists() || body.Get("anthropic_version").Str != "vertex-2023-10-16" || !body.Get("stream").Bool() || body.Get("tools.0.name").Str != "lookup_order" {
			t.Fatalf("provider got body %s", rec.Body)
		}
	})

	t.Run("vertex claude non-streamed", func(t *testing.T) {
		tr := fakeprovider.MustLoad(t, transcript("vertex", "claude_text"))
		s.vertex.Handle("POST", vertexClaude+":rawPredict", fakeprovider.Reply{Transcript: tr})
		got, err := s.client.Chat.Completions.New(ctxT(t), userParams("vertex-claude", "How does Vertex serve Claude?"))
		if err != nil {
			t.Fatal(err)
		}
		if got.Choices[0].Message.Content != gjson.GetBytes(tr.Body, "content.0.text").Str || got.Usage.CompletionTokens != 35 {
			t.Fatalf("answer %+v usage %+v", got.Choices[0], got.Usage)
		}
		if rec := lastRequest(t, s.vertex); rec.Path != vertexClaude+":rawPredict" || gjson.GetBytes(rec.Body, "stream").Exists() {
			t.Fatalf("provider got %s body %s", rec.Path, rec.Body)
		}
	})

	t.Run("vertex errors", func(t *testing.T) {
		for _, tc := range []struct {
			name, file, path, model string
			status                  int
			code                    string
		}{
			{"quota", "error_429", vertexGemini, "vertex-gemini", 429, "rate_limit_exceeded"},
			{"rejected token", "error_401", vertexGemini, "vertex-gemini", 502, "provider_auth_failed"},
			{"claude overloaded", "claude_error_529", vertexClaude + ":rawPredict", "vertex-claude", 503, "provider_overloaded"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s.vertex.Handle("POST", tc.path, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("vertex", tc.file))})
				resp, body := s.gw.post(t, "/v1/chat/completions", []byte(`{"model":"`+tc.model+`","messages":[{"role":"user","content":"hi"}]}`))
				assertOpenAIError(t, resp, body, tc.status, tc.code)
				if strings.Contains(string(body), "ya29.") {
					t.Fatal("error body leaks the access token")
				}
			})
		}
	})

	t.Run("vertex credentials the token endpoint refuses", func(t *testing.T) {
		before := len(s.vertex.Requests())
		resp, body := s.gw.post(t, "/v1/chat/completions", []byte(`{"model":"vertex-broken","messages":[{"role":"user","content":"hi"}]}`))
		assertOpenAIError(t, resp, body, 502, "provider_auth_failed")
		if n := len(s.vertex.Requests()); n != before {
			t.Fatalf("a request without credentials reached the provider (%d -> %d)", before, n)
		}
	})
}
