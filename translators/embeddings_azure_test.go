package translators

import (
	"strings"
	"testing"
)

func TestAzureEmbeddingsRequest(t *testing.T) {
	const body = `{"model":"embed-small","input":["a","b"],"dimensions":64,"encoding_format":"base64","provider":{"sort":"price"},"input_type":"search_query","task_type":"RETRIEVAL_QUERY"}`
	tests := []struct {
		name        string
		target      Target
		wantPath    string
		wantHeaders []Header
	}{
		{
			name:        "api-key",
			target:      Target{Model: "text-embedding-3-small", APIVersion: "2024-10-21"},
			wantPath:    "/openai/deployments/text-embedding-3-small/embeddings?api-version=2024-10-21",
			wantHeaders: []Header{{"content-type", "application/json"}},
		},
		{
			name:        "Entra ID token, default api-version, base path",
			target:      Target{Model: "embed large/eu", PathPrefix: "/gw"},
			wantPath:    "/gw/openai/deployments/embed%20large%2Feu/embeddings?api-version=" + azureDefaultAPIVersion,
			wantHeaders: []Header{{"content-type", "application/json"}},
		},
		{
			name:        "no key",
			target:      Target{Model: "ada", APIVersion: "2024-06-01"},
			wantPath:    "/openai/deployments/ada/embeddings?api-version=2024-06-01",
			wantHeaders: []Header{{"content-type", "application/json"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := openAIToAzure{}.EmbeddingsRequest([]byte(body), tc.target)
			if err != nil {
				t.Fatal(err)
			}
			if req.Path != tc.wantPath || !equalHeaders(req.Headers, tc.wantHeaders) {
				t.Errorf("path %q headers %v, want %q %v", req.Path, req.Headers, tc.wantPath, tc.wantHeaders)
			}
			// Azure takes the OpenAI body as it is, base64 included: only
			// the model (the deployment names it) and the gateway's own
			// fields go.
			geminiCheckPaths(t, req.Body, map[string]string{
				"model": "", "provider": "", "input_type": "", "task_type": "",
				"input": `["a","b"]`, "dimensions": "64", "encoding_format": `"base64"`,
			})
			if got := strings.Join(req.Dropped, ","); got != "input_type,task_type" {
				t.Errorf("dropped %q, want input_type,task_type", got)
			}
		})
	}
}

// TestAzureEmbeddingsResponse passes OpenAI's list through, base64 vectors
// included, and reads its usage.
func TestAzureEmbeddingsResponse(t *testing.T) {
	const list = `{"object":"list","data":[{"object":"embedding","index":0,"embedding":"AAAAPw=="}],"model":"text-embedding-3-small","usage":{"prompt_tokens":5,"total_tokens":5}}`
	out, usage, err := openAIToAzure{}.EmbeddingsResponse([]byte(list))
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != list || usage != (Usage{PromptTokens: 5}) {
		t.Fatalf("out %s usage %+v", out, usage)
	}
	if got := FinishEmbeddings(out, EmbeddingsOptions{Model: "text-embedding-3-small", Base64: true}); string(got) != list {
		t.Fatalf("FinishEmbeddings changed an Azure answer: %s", got)
	}
}

func BenchmarkAzureEmbeddingsRequest(b *testing.B) {
	benchmarkEmbeddingsRequest(b, openAIToAzure{}, embeddingsBenchInput("embed-small", `,"dimensions":256`),
		Target{Model: "text-embedding-3-small", APIVersion: "2024-10-21"})
}
