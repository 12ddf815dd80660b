package translators

import (
	"errors"
	"strings"
	"testing"
)

// TestOpenAIEmbeddingsRequest checks what an OpenAI-schema host gets: the
// body as sent with the model replaced, and without the fields only other
// schemas read, which are reported as dropped.
func TestOpenAIEmbeddingsRequest(t *testing.T) {
	target := Target{Model: "text-embedding-3-small", PathPrefix: "/v1"}
	tests := []struct {
		name        string
		body        string
		wantPaths   map[string]string // "" means absent
		wantDropped []string
	}{
		{
			name:      "passed through with the model replaced",
			body:      `{"model":"embed","input":["a","b"],"dimensions":64,"encoding_format":"base64","user":"u1","provider":{"sort":"price"}}`,
			wantPaths: map[string]string{"model": `"text-embedding-3-small"`, "input": `["a","b"]`, "dimensions": "64", "encoding_format": `"base64"`, "user": `"u1"`, "provider": ""},
		},
		{
			name:        "input_type and task_type dropped and reported",
			body:        `{"model":"embed","input":"a","input_type":"search_query","task_type":"RETRIEVAL_QUERY"}`,
			wantPaths:   map[string]string{"model": `"text-embedding-3-small"`, "input": `"a"`, "input_type": "", "task_type": ""},
			wantDropped: []string{"input_type", "task_type"},
		},
		{
			name:      "null input_type removed, not reported",
			body:      `{"model":"embed","input":"a","input_type":null}`,
			wantPaths: map[string]string{"input": `"a"`, "input_type": ""},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := openAIToOpenAI{}.EmbeddingsRequest([]byte(tc.body), target)
			if err != nil {
				t.Fatal(err)
			}
			if req.Path != "/v1/embeddings" || !equalHeaders(req.Headers, []Header{{"content-type", "application/json"}}) {
				t.Errorf("path %q headers %v", req.Path, req.Headers)
			}
			geminiCheckPaths(t, req.Body, tc.wantPaths)
			if strings.Join(req.Dropped, ",") != strings.Join(tc.wantDropped, ",") {
				t.Errorf("dropped %q, want %q", req.Dropped, tc.wantDropped)
			}
		})
	}
}

// TestOpenAIEmbeddingsRequireParameters: a field only other schemas read is
// a 400 under provider.require_parameters, on both OpenAI-schema APIs.
func TestOpenAIEmbeddingsRequireParameters(t *testing.T) {
	const body = `{"model":"embed","input":"a","task_type":"RETRIEVAL_QUERY","provider":{"require_parameters":true}}`
	tests := []struct {
		name string
		tr   Embedder
		want string
	}{
		{"openai", openAIToOpenAI{}, "provider schema openai cannot honour: task_type (provider.require_parameters is set)"},
		{"azure-openai", openAIToAzure{}, "provider schema azure-openai cannot honour: task_type (provider.require_parameters is set)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.tr.EmbeddingsRequest([]byte(body), Target{Model: "m"})
			var e *APIError
			if !errors.As(err, &e) || e.Status != 400 || e.Code != "unsupported_parameter" || e.Message != tc.want {
				t.Fatalf("err = %v, want 400 unsupported_parameter %q", err, tc.want)
			}
		})
	}
}
