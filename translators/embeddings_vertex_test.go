package translators

import (
	"testing"
)

func TestVertexEmbeddingsRequest(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		target   Target
		wantPath string
		want     map[string]string
	}{
		{
			name: "gemini embedding", body: `{"model":"e","input":["hi"],"dimensions":128,"encoding_format":"base64"}`,
			// A static key is never sent: Vertex AI takes the OAuth token.
			target:   Target{Model: "gemini-embedding-001", Project: "acme-prod", Region: "us-central1"},
			wantPath: "/v1/projects/acme-prod/locations/us-central1/publishers/google/models/gemini-embedding-001:predict",
			want:     map[string]string{"instances": `[{"content":"hi"}]`, "parameters": `{"outputDimensionality":128}`, "model": ""},
		},
		{
			name:     "text embedding batch with a task in the global region behind a versioned base URL",
			body:     `{"input":["a","b"],"task_type":"QUESTION_ANSWERING"}`,
			target:   Target{Model: "text-embedding-005", Project: "p", Region: "global", PathPrefix: "/v1"},
			wantPath: "/v1/projects/p/locations/global/publishers/google/models/text-embedding-005:predict",
			want: map[string]string{
				"instances":  `[{"content":"a","task_type":"QUESTION_ANSWERING"},{"content":"b","task_type":"QUESTION_ANSWERING"}]`,
				"parameters": "",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := openAIToVertex{}.EmbeddingsRequest([]byte(tc.body), tc.target)
			if err != nil {
				t.Fatal(err)
			}
			if want := []Header{{"content-type", "application/json"}}; req.Path != tc.wantPath || !equalHeaders(req.Headers, want) {
				t.Errorf("path %q headers %v, want %q %v", req.Path, req.Headers, tc.wantPath, want)
			}
			geminiCheckPaths(t, req.Body, tc.want)
		})
	}
}

func TestVertexEmbeddingsRequestErrors(t *testing.T) {
	tests := []struct {
		name       string
		body       []byte
		target     Target
		wantStatus int
		wantCode   string
		wantMsg    string
	}{
		{"no project", []byte(`{"input":"a"}`), Target{Model: "text-embedding-005", Region: "us-central1"},
			500, "provider_misconfigured", "needs a project and a region"},
		{"gemini embedding takes one input", []byte(`{"input":["a","b"]}`), Target{Model: "gemini-embedding-001", Project: "p", Region: "r"},
			400, "invalid_input", "Vertex AI's gemini-embedding-001 embeds one input per request; send 'input' as a string or an array of one string (got 2)"},
		{"claude has no embeddings", []byte(`{"input":"a"}`), Target{Model: vertexClaude, Project: "p", Region: "r"},
			400, "embeddings_unsupported", "Claude models on Vertex AI do not serve embeddings"},
		{"text embedding takes 250", embeddingsOfN(vertexMaxInstances + 1), Target{Model: "text-embedding-005", Project: "p", Region: "r"},
			400, "invalid_input", "Vertex AI embeds at most 250 inputs per request (got 251)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := openAIToVertex{}.EmbeddingsRequest(tc.body, tc.target)
			assertAPIError(t, err, tc.wantStatus, tc.wantCode, tc.wantMsg)
		})
	}
	if _, err := (openAIToVertex{}).EmbeddingsRequest(embeddingsOfN(vertexMaxInstances), Target{Model: "text-embedding-005", Project: "p", Region: "r"}); err != nil {
		t.Fatalf("%d inputs: %v", vertexMaxInstances, err)
	}
}

// TestVertexEmbeddingsResponseErrorObject reads a google.rpc.Status sent
// with a 2xx, as a proxy in front of Vertex AI may.
func TestVertexEmbeddingsResponseErrorObject(t *testing.T) {
	_, _, err := openAIToVertex{}.EmbeddingsResponse([]byte(`{"error":{"code":429,"message":"Quota exceeded for aiplatform.googleapis.com/online_prediction_requests_per_base_model","status":"RESOURCE_EXHAUSTED"}}`))
	assertAPIError(t, err, 429, "rate_limit_exceeded", "Quota exceeded")
}

func BenchmarkVertexEmbeddingsRequest(b *testing.B) {
	benchmarkEmbeddingsRequest(b, openAIToVertex{}, embeddingsBenchInput("embed", `,"dimensions":256`),
		Target{Model: "text-embedding-005", Project: "acme-prod", Region: "us-central1"})
}
