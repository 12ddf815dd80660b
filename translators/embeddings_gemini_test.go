package translators

import (
	"strconv"
	"strings"
	"testing"
)

func TestGeminiEmbeddingsRequest(t *testing.T) {
	json := Header{"content-type", "application/json"}
	tests := []struct {
		name        string
		body        string
		target      Target
		wantPath    string
		wantHeaders []Header
		want        map[string]string
	}{
		{
			name: "one string", body: `{"model":"e","input":"hi"}`,
			target:      Target{Model: "gemini-embedding-001"},
			wantPath:    "/v1beta/models/gemini-embedding-001:batchEmbedContents",
			wantHeaders: []Header{json},
			want: map[string]string{
				"requests": `[{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"hi"}]}}]`,
				"model":    "",
			},
		},
		{
			name:        "array with dimensions and a task behind a versioned base URL",
			body:        `{"input":["a","b"],"dimensions":768,"task_type":"SEMANTIC_SIMILARITY","user":"u1","encoding_format":"base64"}`,
			target:      Target{Model: "models/text-embedding-004", PathPrefix: "/v1beta"},
			wantPath:    "/v1beta/models/text-embedding-004:batchEmbedContents",
			wantHeaders: []Header{json},
			want: map[string]string{
				"requests.#":                      "2",
				"requests.1.model":                `"models/text-embedding-004"`,
				"requests.1.content.parts.0.text": `"b"`,
				"requests.0.outputDimensionality": "768",
				"requests.1.taskType":             `"SEMANTIC_SIMILARITY"`,
				"requests.0.user":                 "",
				"requests.0.encoding_format":      "",
			},
		},
		{
			name: "Cohere input_type maps to a task", body: `{"input":"q","input_type":"search_query"}`,
			target:   Target{Model: "gemini-embedding-001", PathPrefix: "/proxy"},
			wantPath: "/proxy/v1beta/models/gemini-embedding-001:batchEmbedContents", wantHeaders: []Header{json},
			want: map[string]string{"requests.0.taskType": `"RETRIEVAL_QUERY"`},
		},
		{
			name: "unknown input_type leaves the default", body: `{"input":"q","input_type":"image"}`,
			target:   Target{Model: "gemini-embedding-001"},
			wantPath: "/v1beta/models/gemini-embedding-001:batchEmbedContents", wantHeaders: []Header{json},
			want: map[string]string{"requests.0.taskType": ""},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := openAIToGemini{}.EmbeddingsRequest([]byte(tc.body), tc.target)
			if err != nil {
				t.Fatal(err)
			}
			if req.Path != tc.wantPath || !equalHeaders(req.Headers, tc.wantHeaders) {
				t.Errorf("path %q headers %v, want %q %v", req.Path, req.Headers, tc.wantPath, tc.wantHeaders)
			}
			if len(req.Dropped) > 0 {
				t.Errorf("dropped %v", req.Dropped)
			}
			geminiCheckPaths(t, req.Body, tc.want)
		})
	}
}

func TestGeminiEmbeddingsLimits(t *testing.T) {
	target := Target{Model: "gemini-embedding-001"}
	if _, err := (openAIToGemini{}).EmbeddingsRequest(embeddingsOfN(geminiMaxBatch), target); err != nil {
		t.Fatalf("%d inputs: %v", geminiMaxBatch, err)
	}
	_, err := openAIToGemini{}.EmbeddingsRequest(embeddingsOfN(geminiMaxBatch+1), target)
	assertAPIError(t, err, 400, "invalid_input", "the Gemini API embeds at most 100 inputs per request (got 101)")
}

// embeddingsOfN is a request with n inputs.
func embeddingsOfN(n int) []byte {
	in := make([]string, n)
	for i := range in {
		in[i] = strconv.Quote("text " + strconv.Itoa(i))
	}
	return []byte(`{"input":[` + strings.Join(in, ",") + `]}`)
}

func BenchmarkGeminiEmbeddingsRequest(b *testing.B) {
	benchmarkEmbeddingsRequest(b, openAIToGemini{}, embeddingsBenchInput("embed", `,"dimensions":768,"task_type":"RETRIEVAL_DOCUMENT"`),
		Target{Model: "gemini-embedding-001"})
}
