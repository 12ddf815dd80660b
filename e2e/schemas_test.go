package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

// schemasSetup is one gateway in front of a fake provider of every schema,
// with one chat model each: the tests that hold the schemas side by side
// (the model list, the shapes the SDK sees, /v1/messages ingress) share it.
type schemasSetup struct {
	gw                                                *gateway
	openai, azure, anthropic, gemini, vertex, bedrock *fakeprovider.Server
	tokens                                            *googleTokenEndpoint
	client                                            openai.Client
}

// The public model of each schema, and the provider paths they reach.
const (
	mxOpenAI        = "mx-openai"
	mxAzure         = "mx-azure"
	mxAnthropic     = "mx-anthropic"
	mxGemini        = "mx-gemini"
	mxVertexGemini  = "mx-vertex-gemini"
	mxVertexClaude  = "mx-vertex-claude"
	mxBedrock       = "mx-bedrock"
	mxBedrockNova   = "mx-bedrock-nova" // no Messages API of its own: Converse
	mxVertexBroken  = "mx-vertex-claude-no-token"
	mxEmbedClaude   = "mx-embed-claude"
	mxEmbedVertexCl = "mx-embed-vertex-claude"

	mxOpenAIPath         = "/v1/chat/completions"
	mxAzurePath          = "/openai/deployments/gpt-4o-mini/chat/completions"
	mxAnthropicPath      = "/v1/messages"
	mxGeminiPath         = "/v1beta/models/gemini-2.5-flash:generateContent"
	mxGeminiStreamPath   = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
	mxVertexGeminiPath   = vertexBase + "google/models/gemini-2.5-pro:generateContent"
	mxVertexGeminiStream = vertexBase + "google/models/gemini-2.5-pro:streamGenerateContent"
	mxVertexClaudePath   = vertexClaude + ":rawPredict"
	mxVertexClaudeStream = vertexClaude + ":streamRawPredict"
	mxBedrockPath        = "/model/" + bedrockModelID + "/converse"
	mxBedrockStreamPath  = "/model/" + bedrockModelID + "/converse-stream"
	mxAzureAPIVersion    = "api-version=2024-10-21"
)

func newSchemasSetup(t *testing.T) *schemasSetup {
	s := &schemasSetup{openai: fakeprovider.New(t), azure: fakeprovider.New(t), anthropic: fakeprovider.New(t),
		gemini: fakeprovider.New(t), vertex: fakeprovider.New(t), bedrock: fakeprovider.New(t), tokens: newGoogleTokenEndpoint(t)}
	none := filepath.Join(t.TempDir(), "none")
	// Owners, context lengths and prices differ per model so that the
	// model list shows each one's own; vertex-gemini sets no owner (the
	// default is its first provider's name) and vertex-claude prices at
	// the provider, with a per-request fee.
	s.gw = startGateway(t, fmt.Sprintf(`providers:
  - name: fake-openai
    schema: openai
    base_url: %s/v1
    api_key: {env: E2E_OPENAI_KEY}
  - name: fake-azure
    schema: azure-openai
    base_url: %s
    api_key: {env: E2E_AZURE_KEY}
  - name: fake-anthropic
    schema: anthropic
    base_url: %s
    api_key: {env: E2E_ANTHROPIC_KEY}
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
  - name: vertex-refused
    schema: vertex-ai
    base_url: %s
    project: acme-prod
    region: us-central1
    credentials_file: %s
  - name: fake-bedrock
    schema: bedrock
    base_url: %s
    region: us-east-1
    api_key: {env: E2E_BEDROCK_KEY}
models:
  - name: mx-openai
    owned_by: openai
    context_length: 1047576
    providers: [{provider: fake-openai, model: gpt-4.1-mini-2025-04-14, pricing: {prompt: 2, completion: 8, cached_prompt: 0.5}}]
  - name: mx-azure
    owned_by: microsoft
    context_length: 128000
    providers: [{provider: fake-azure, model: gpt-4o-mini, pricing: {prompt: 0.15, completion: 0.6}}]
  - name: mx-anthropic
    owned_by: anthropic
    context_length: 200000
    providers: [{provider: fake-anthropic, model: claude-sonnet-4-5-20250929, pricing: {prompt: 3, completion: 15, cached_prompt: 0.3}}]
  - name: mx-gemini
    owned_by: google
    context_length: 1048576
    providers: [{provider: fake-gemini, model: gemini-2.5-flash, pricing: {prompt: 0.3, completion: 2.5}}]
  - name: mx-vertex-gemini
    context_length: 1048576
    providers: [{provider: fake-vertex, model: gemini-2.5-pro, pricing: {prompt: 1.25, completion: 10}}]
  - name: mx-vertex-claude
    owned_by: anthropic
    context_length: 200000
    providers: [{provider: fake-vertex, model: "claude-sonnet-4-5@20250929", pricing: {prompt: 3, completion: 15, request: 0.001}}]
  - name: mx-bedrock
    owned_by: anthropic
    context_length: 200000
    capabilities: [vision, tools]
    providers: [{provider: fake-bedrock, model: "%s", pricing: {prompt: 3, completion: 15}}]
  - name: mx-bedrock-nova
    providers: [{provider: fake-bedrock, model: "%s"}]
  - name: mx-vertex-claude-no-token
    providers: [{provider: vertex-refused, model: "claude-sonnet-4-5@20250929"}]
  - name: mx-embed-claude
    type: embeddings
    providers: [{provider: fake-anthropic, model: claude-sonnet-4-5-20250929}]
  - name: mx-embed-vertex-claude
    type: embeddings
    providers: [{provider: fake-vertex, model: "claude-sonnet-4-5@20250929"}]
`, s.openai.URL(), s.azure.URL(), s.anthropic.URL(), s.gemini.URL(),
		s.vertex.URL(), writeServiceAccount(t, s.tokens.srv.URL+"/token"),
		s.vertex.URL(), writeServiceAccount(t, s.tokens.srv.URL+"/bad-token"),
		s.bedrock.URL(), bedrockModelID, bedrockNova),
		"E2E_OPENAI_KEY="+openAIKey, "E2E_AZURE_KEY="+azureKey, "E2E_ANTHROPIC_KEY="+anthropicKey,
		"E2E_GEMINI_KEY="+geminiKey, "E2E_BEDROCK_KEY="+bedrockAPIKey,
		// Bedrock signs nothing here (it has an API key); an empty
		// credential chain makes sure of it.
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PROFILE=", "AWS_CONFIG_FILE="+none, "AWS_SHARED_CREDENTIALS_FILE="+none,
		"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=")
	s.client = openai.NewClient(option.WithBaseURL(s.gw.url("/v1/")), option.WithAPIKey(clientKey), option.WithMaxRetries(0))
	return s
}

// inlineTranscript builds a provider response in a test, for error bodies
// no recording holds (the same bodies the translators' unit tests use).
func inlineTranscript(t *testing.T, name string, status int, contentType, body string) *fakeprovider.Transcript {
	t.Helper()
	raw := fmt.Sprintf("HTTP/1.1 %d %s\r\nContent-Type: %s\r\n\r\n%s", status, http.StatusText(status), contentType, body)
	tr, err := fakeprovider.ParseTranscript(name, []byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// rawTap keeps the bytes of every response body the SDK reads, so a test
// sees what went over the wire (the [DONE] line, for one) while the SDK
// parses it.
type rawTap struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (r *rawTap) middleware() option.RequestOption {
	return option.WithMiddleware(func(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		resp, err := next(req)
		if err == nil {
			resp.Body = struct {
				io.Reader
				io.Closer
			}{io.TeeReader(resp.Body, r), resp.Body}
		}
		return resp, err
	})
}

func (r *rawTap) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Write(p)
}

func (r *rawTap) Bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.buf.Bytes())
}

// onlyRequest returns the one request the fake received since before
// (the count of requests before the test's call) and fails if there were
// more or none: every model here has one provider, so nothing is retried.
func onlyRequest(t *testing.T, s *fakeprovider.Server, before int) fakeprovider.Recorded {
	t.Helper()
	rs := s.Requests()
	if len(rs) != before+1 {
		var paths []string
		for _, r := range rs[before:] {
			paths = append(paths, r.Method+" "+r.Path)
		}
		t.Fatalf("provider received %d requests, want 1: %s", len(rs)-before, strings.Join(paths, ", "))
	}
	return rs[before]
}
