package translators

import (
	"strings"
	"testing"
)

func TestBedrockEmbeddingsRequest(t *testing.T) {
	json := []Header{{"content-type", "application/json"}, {"accept", "application/json"}}
	tests := []struct {
		name        string
		body        string
		target      Target
		wantPath    string
		wantHeaders []Header
		wantDropped string
		want        map[string]string
	}{
		{
			name: "titan v2", body: `{"input":"hi","dimensions":512,"encoding_format":"base64","user":"u"}`,
			target:      Target{Model: "amazon.titan-embed-text-v2:0", Region: "us-east-1"},
			wantPath:    "/model/amazon.titan-embed-text-v2%3A0/invoke",
			wantHeaders: json,
			want:        map[string]string{"inputText": `"hi"`, "dimensions": "512", "normalize": "true", "encoding_format": "", "user": ""},
		},
		{
			name: "titan v2 with a Bedrock API key, model's own size", body: `{"input":["hi"]}`,
			target:      Target{Model: "amazon.titan-embed-text-v2:0", PathPrefix: "/proxy"},
			wantPath:    "/proxy/model/amazon.titan-embed-text-v2%3A0/invoke",
			wantHeaders: json,
			want:        map[string]string{"inputText": `"hi"`, "dimensions": "", "normalize": "true"},
		},
		{
			name: "titan G1 takes no dimensions", body: `{"input":"hi","dimensions":512}`,
			target:   Target{Model: "amazon.titan-embed-text-v1"},
			wantPath: "/model/amazon.titan-embed-text-v1/invoke", wantHeaders: json, wantDropped: "dimensions",
			want: map[string]string{"inputText": `"hi"`, "dimensions": "", "normalize": ""},
		},
		{
			name: "titan multimodal", body: `{"input":"hi","dimensions":384}`,
			target:   Target{Model: "amazon.titan-embed-image-v1"},
			wantPath: "/model/amazon.titan-embed-image-v1/invoke", wantHeaders: json,
			want: map[string]string{"inputText": `"hi"`, "embeddingConfig": `{"outputEmbeddingLength":384}`},
		},
		{
			name: "cohere v4 from an inference profile ARN", body: `{"input":["a","b"],"dimensions":1024,"input_type":"classification"}`,
			target:      Target{Model: "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.cohere.embed-v4:0"},
			wantPath:    "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.cohere.embed-v4%3A0/invoke",
			wantHeaders: json,
			want: map[string]string{
				"texts": `["a","b"]`, "input_type": `"classification"`, "embedding_types": `["float"]`, "output_dimension": "1024",
			},
		},
		{
			name: "cohere v3 defaults to search_document and takes no dimensions", body: `{"input":"a","dimensions":256}`,
			target:   Target{Model: "cohere.embed-english-v3"},
			wantPath: "/model/cohere.embed-english-v3/invoke", wantHeaders: json, wantDropped: "dimensions",
			want: map[string]string{"texts": `["a"]`, "input_type": `"search_document"`, "output_dimension": "", "dimensions": ""},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := openAIToBedrock{}.EmbeddingsRequest([]byte(tc.body), tc.target)
			if err != nil {
				t.Fatal(err)
			}
			if req.Path != tc.wantPath || !equalHeaders(req.Headers, tc.wantHeaders) {
				t.Errorf("path %q headers %v, want %q %v", req.Path, req.Headers, tc.wantPath, tc.wantHeaders)
			}
			if got := strings.Join(req.Dropped, ","); got != tc.wantDropped {
				t.Errorf("dropped %q, want %q", got, tc.wantDropped)
			}
			geminiCheckPaths(t, req.Body, tc.want)
		})
	}
}

func TestBedrockEmbeddingsRequestErrors(t *testing.T) {
	titan := Target{Model: "amazon.titan-embed-text-v2:0"}
	tests := []struct {
		name     string
		body     []byte
		target   Target
		wantCode string
		wantMsg  string
	}{
		{"titan takes one input", []byte(`{"input":["a","b"]}`), titan, "invalid_input",
			"Amazon Titan Text Embeddings embeds one input per request; send 'input' as a string or an array of one string (got 2)"},
		{"titan token ids", []byte(`{"input":[[1,2]]}`), titan, "invalid_input", "provider schema bedrock embeds text only"},
		{"cohere takes 96", embeddingsOfN(97), Target{Model: "cohere.embed-v4:0"}, "invalid_input",
			"Cohere Embed embeds at most 96 inputs per request (got 97)"},
		{"no model id", []byte(`{"input":"a"}`), Target{}, "invalid_request", "no Bedrock model id is configured"},
		{"chat model", []byte(`{"input":"a"}`), Target{Model: "anthropic.claude-3-5-haiku-20241022-v1:0"}, "unsupported_model",
			`Bedrock model "anthropic.claude-3-5-haiku-20241022-v1:0" has no known embeddings body`},
		{"dimensions required to be honoured", []byte(`{"input":"a","dimensions":256,"provider":{"require_parameters":true}}`),
			Target{Model: "amazon.titan-embed-text-v1"}, "unsupported_parameter", "provider schema bedrock cannot honour: dimensions"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := openAIToBedrock{}.EmbeddingsRequest(tc.body, tc.target)
			assertAPIError(t, err, 400, tc.wantCode, tc.wantMsg)
		})
	}
}

// TestBedrockEmbeddingsResponseShapes covers the Cohere answer without
// embedding_types and Titan's G1 answer, which the transcripts do not.
func TestBedrockEmbeddingsResponseShapes(t *testing.T) {
	tests := []struct {
		name, body, want string
		usage            Usage
	}{
		{"cohere floats", `{"embeddings":[[0.1,-0.2],[0.3,0.4]],"id":"x","response_type":"embeddings_floats","texts":["a","b"]}`,
			`{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,-0.2]},{"object":"embedding","index":1,"embedding":[0.3,0.4]}],"model":"","usage":{"prompt_tokens":0,"total_tokens":0}}`,
			Usage{}},
		{"titan G1", `{"embedding":[0.5,1.25e-2],"inputTextTokenCount":4}`,
			`{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,1.25e-2]}],"model":"","usage":{"prompt_tokens":4,"total_tokens":4}}`,
			Usage{PromptTokens: 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, usage, err := openAIToBedrock{}.EmbeddingsResponse([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.want || usage != tc.usage {
				t.Errorf("got %s %+v\nwant %s %+v", out, usage, tc.want, tc.usage)
			}
		})
	}
}

func BenchmarkBedrockEmbeddingsRequest(b *testing.B) {
	b.Run("titan", func(b *testing.B) {
		benchmarkEmbeddingsRequest(b, openAIToBedrock{}, []byte(`{"model":"embed","input":"Switchboard routes every request through Envoy, translating it for the provider and back.","dimensions":512}`),
			Target{Model: "amazon.titan-embed-text-v2:0"})
	})
	b.Run("cohere", func(b *testing.B) {
		benchmarkEmbeddingsRequest(b, openAIToBedrock{}, embeddingsBenchInput("embed", `,"input_type":"search_document"`),
			Target{Model: "cohere.embed-v4:0"})
	})
}
