package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

// embeddingsSetup is one gateway in front of a fake provider of each
// schema, every model of type embeddings.
type embeddingsSetup struct {
	gw                            *gateway
	openai, azure, gemini, vertex *fakeprovider.Server
	bedrock, bedrockKeyed         *fakeprovider.Server
	client                        openai.Client
}

const (
	titanID      = "amazon.titan-embed-text-v2:0"
	cohereID     = "cohere.embed-v4:0"
	embedTextA   = "The quick brown fox jumps over the lazy dog."
	embedTextB   = "Switchboard routes every request through Envoy."
	geminiEmbed  = "/v1beta/models/gemini-embedding-001:batchEmbedContents"
	vertexEmbed  = vertexBase + "google/models/gemini-embedding-001:predict"
	azureEmbed   = "/openai/deployments/text-embedding-3-small/embeddings"
	openAIEmbed  = "/v1/embeddings"
	titanInvoke  = "/model/" + titanID + "/invoke"
	cohereInvoke = "/proxy/model/" + cohereID + "/invoke"
)

func newEmbeddingsSetup(t *testing.T) *embeddingsSetup {
	s := &embeddingsSetup{openai: fakeprovider.New(t), azure: fakeprovider.New(t), gemini: fakeprovider.New(t),
		vertex: fakeprovider.New(t), bedrock: fakeprovider.New(t), bedrockKeyed: fakeprovider.New(t)}
	tokens := newGoogleTokenEndpoint(t)
	none := filepath.Join(t.TempDir(), "none")
	s.gw = startGateway(t, fmt.Sprintf(`providers:
  - name: fake-openai
    schema: openai
    base_url: %s/v1
    api_key: {env: E2E_OPENAI_KEY}
  - name: fake-azure
    schema: azure-openai
    base_url: %s
    api_key: {env: E2E_AZURE_KEY}
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
  - name: fake-bedrock
    schema: bedrock
    base_url: %s
    region: us-east-1
  - name: fake-bedrock-key
    schema: bedrock
    base_url: %s/proxy
    region: eu-west-1
    api_key: {env: E2E_BEDROCK_KEY}
models:
  - name: embed-openai
    type: embeddings
    providers: [{provider: fake-openai, model: text-embedding-3-small}]
  - name: embed-azure
    type: embeddings
    providers: [{provider: fake-azure, model: text-embedding-3-small}]
  - name: embed-gemini
    type: embeddings
    providers: [{provider: fake-gemini, model: gemini-embedding-001}]
  - name: embed-vertex
    type: embeddings
    providers: [{provider: fake-vertex, model: gemini-embedding-001}]
  - name: embed-titan
    type: embeddings
    providers: [{provider: fake-bedrock, model: "%s"}]
  - name: embed-cohere
    type: embeddings
    providers: [{provider: fake-bedrock-key, model: "%s"}]
  - name: chat-openai
    providers: [{provider: fake-openai, model: gpt-4.1-mini-2025-04-14}]
`, s.openai.URL(), s.azure.URL(), s.gemini.URL(), s.vertex.URL(), writeServiceAccount(t, tokens.srv.URL+"/token"),
		s.bedrock.URL(), s.bedrockKeyed.URL(), titanID, cohereID),
		"E2E_OPENAI_KEY="+openAIKey, "E2E_AZURE_KEY="+azureKey, "E2E_GEMINI_KEY="+geminiKey, "E2E_BEDROCK_KEY="+bedrockAPIKey,
		"AWS_ACCESS_KEY_ID=AKID", "AWS_SECRET_ACCESS_KEY="+awsSecret, "AWS_SESSION_TOKEN="+awsToken,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PROFILE=", "AWS_CONFIG_FILE="+none, "AWS_SHARED_CREDENTIALS_FILE="+none)
	s.client = openai.NewClient(option.WithBaseURL(s.gw.url("/v1/")), option.WithAPIKey(clientKey), option.WithMaxRetries(0))
	return s
}

func embedParams(model string, dims int64, input ...string) openai.EmbeddingNewParams {
	p := openai.EmbeddingNewParams{Model: model}
	if len(input) == 1 {
		p.Input.OfString = openai.String(input[0])
	} else {
		p.Input.OfArrayOfStrings = input
	}
	if dims > 0 {
		p.Dimensions = openai.Int(dims)
	}
	return p
}

// recordedVectors are the vectors of a transcript at path (a gjson path
// to the list of vectors), as numbers.
func recordedVectors(t *testing.T, provider, name, path string) [][]float64 {
	t.Helper()
	tr := fakeprovider.MustLoad(t, transcript(provider, name))
	var out [][]float64
	for _, v := range gjson.GetBytes(tr.Body, path).Array() {
		var vec []float64
		for _, x := range v.Array() {
			vec = append(vec, x.Float())
		}
		out = append(out, vec)
	}
	if len(out) == 0 {
		t.Fatalf("no vectors at %s in %s/%s", path, provider, name)
	}
	return out
}

// checkVectors compares what the client got with the provider's vectors,
// as float32 when they came base64-encoded.
func checkVectors(t *testing.T, got *openai.CreateEmbeddingResponse, want [][]float64, asFloat32 bool) {
	t.Helper()
	if len(got.Data) != len(want) {
		t.Fatalf("%d vectors, want %d: %.300s", len(got.Data), len(want), got.RawJSON())
	}
	for i, d := range got.Data {
		if d.Index != int64(i) || len(d.Embedding) != len(want[i]) {
			t.Fatalf("data[%d]: index %d, %d dimensions, want %d", i, d.Index, len(d.Embedding), len(want[i]))
		}
		for j, v := range d.Embedding {
			w := want[i][j]
			if asFloat32 {
				w = float64(float32(w))
			}
			if v != w {
				t.Fatalf("data[%d][%d] = %v, want %v", i, j, v, w)
			}
		}
	}
}

// TestEmbeddings sends POST /v1/embeddings with the openai-go SDK through a
// real Envoy to each schema's fake provider, and checks what the provider
// received and what the client got back.
func TestEmbeddings(t *testing.T) {
	s := newEmbeddingsSetup(t)

	t.Run("openai passes through", func(t *testing.T) {
		s.openai.Handle("POST", openAIEmbed, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "embeddings"))})
		var raw *http.Response
		got, err := s.client.Embeddings.New(ctxT(t), embedParams("embed-openai", 64, embedTextA, embedTextB), option.WithResponseInto(&raw))
		if err != nil {
			t.Fatal(err)
		}
		checkVectors(t, got, recordedVectors(t, "openai", "embeddings", "data.#.embedding"), false)
		if got.Model != "text-embedding-3-small" || got.Usage.PromptTokens != 19 || got.Usage.TotalTokens != 19 ||
			raw.Header.Get("x-switchboard-provider") != "fake-openai" {
			t.Fatalf("model %q usage %+v headers %v", got.Model, got.Usage, raw.Header)
		}
		rec := lastRequest(t, s.openai)
		body := gjson.ParseBytes(rec.Body)
		if rec.Path != openAIEmbed || rec.Header.Get("authorization") != "Bearer "+openAIKey || body.Get("model").Str != "text-embedding-3-small" ||
			body.Get("input").Raw != `["`+embedTextA+`","`+embedTextB+`"]` || body.Get("dimensions").Int() != 64 {
			t.Fatalf("provider got %s %s %s", rec.Path, rec.Header.Get("authorization"), rec.Body)
		}
	})

	t.Run("openai base64 passes through", func(t *testing.T) {
		s.openai.Handle("POST", openAIEmbed, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "embeddings_base64"))})
		p := embedParams("embed-openai", 64, embedTextA, embedTextB)
		p.EncodingFormat = openai.EmbeddingNewParamsEncodingFormatBase64
		got, err := s.client.Embeddings.New(ctxT(t), p)
		if err != nil {
			t.Fatal(err)
		}
		// The base64 answer holds the float answer's vectors as float32.
		checkVectors(t, got, recordedVectors(t, "openai", "embeddings", "data.#.embedding"), true)
		if f := gjson.GetBytes(lastRequest(t, s.openai).Body, "encoding_format").Str; f != "base64" {
			t.Fatalf("provider got encoding_format %q", f)
		}
	})

	t.Run("azure deployment and api-key", func(t *testing.T) {
		s.azure.Handle("POST", azureEmbed, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("azure", "embeddings"))})
		got, err := s.client.Embeddings.New(ctxT(t), embedParams("embed-azure", 64, embedTextA, embedTextB))
		if err != nil {
			t.Fatal(err)
		}
		checkVectors(t, got, recordedVectors(t, "azure", "embeddings", "data.#.embedding"), false)
		if got.Model != "text-embedding-3-small" || got.Usage.PromptTokens != 19 {
			t.Fatalf("model %q usage %+v", got.Model, got.Usage)
		}
		rec := lastRequest(t, s.azure)
		if rec.Path != azureEmbed || rec.RawQuery != "api-version=2024-10-21" {
			t.Fatalf("provider got %s?%s", rec.Path, rec.RawQuery)
		}
		if rec.Header.Get("api-key") != azureKey || rec.Header.Get("authorization") != "" {
			t.Fatalf("provider got api-key %q authorization %q", rec.Header.Get("api-key"), rec.Header.Get("authorization"))
		}
		if body := gjson.ParseBytes(rec.Body); body.Get("model").Exists() || body.Get("dimensions").Int() != 64 || len(body.Get("input").Array()) != 2 {
			t.Fatalf("provider got body %s", rec.Body)
		}
	})

	t.Run("gemini batchEmbedContents", func(t *testing.T) {
		s.gemini.Handle("POST", geminiEmbed, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("gemini", "embeddings"))})
		got, err := s.client.Embeddings.New(ctxT(t), embedParams("embed-gemini", 128, embedTextA, embedTextB))
		if err != nil {
			t.Fatal(err)
		}
		checkVectors(t, got, recordedVectors(t, "gemini", "embeddings", "embeddings.#.values"), false)
		// Gemini counts no tokens.
		if got.Usage.PromptTokens != 0 || !got.JSON.Usage.Valid() {
			t.Fatalf("usage %+v", got.Usage)
		}
		rec := lastRequest(t, s.gemini)
		if rec.Path != geminiEmbed || rec.Header.Get("x-goog-api-key") != geminiKey || rec.Header.Get("authorization") != "" {
			t.Fatalf("provider got %s key %q authorization %q", rec.Path, rec.Header.Get("x-goog-api-key"), rec.Header.Get("authorization"))
		}
		body := gjson.ParseBytes(rec.Body)
		if body.Get("requests.#").Int() != 2 || body.Get("requests.1.model").Str != "models/gemini-embedding-001" ||
			body.Get("requests.1.content.parts.0.text").Str != embedTextB || body.Get("requests.0.outputDimensionality").Int() != 128 {
			t.Fatalf("provider got body %s", rec.Body)
		}
	})

	t.Run("vertex predict with an OAuth token", func(t *testing.T) {
		s.vertex.Handle("POST", vertexEmbed, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("vertex", "embeddings"))})
		got, err := s.client.Embeddings.New(ctxT(t), embedParams("embed-vertex", 128, embedTextA))
		if err != nil {
			t.Fatal(err)
		}
		checkVectors(t, got, recordedVectors(t, "vertex", "embeddings", "predictions.#.embeddings.values"), false)
		if got.Usage.PromptTokens != 9 || got.Usage.TotalTokens != 9 {
			t.Fatalf("usage %+v", got.Usage)
		}
		rec := lastRequest(t, s.vertex)
		if rec.Path != vertexEmbed || !strings.HasPrefix(rec.Header.Get("authorization"), "Bearer ya29.e2e-token-") {
			t.Fatalf("provider got %s authorization %q", rec.Path, rec.Header.Get("authorization"))
		}
		if b := string(rec.Body); b != `{"instances":[{"content":"`+embedTextA+`"}],"parameters":{"outputDimensionality":128}}` {
			t.Fatalf("provider got body %s", b)
		}
	})

	t.Run("bedrock titan signed with SigV4", func(t *testing.T) {
		s.bedrock.Handle("POST", titanInvoke, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("bedrock", "embeddings_titan"))})
		got, err := s.client.Embeddings.New(ctxT(t), embedParams("embed-titan", 256, embedTextA))
		if err != nil {
			t.Fatal(err)
		}
		checkVectors(t, got, recordedVectors(t, "bedrock", "embeddings_titan", "[embedding]"), false)
		if got.Usage.PromptTokens != 11 || got.Usage.TotalTokens != 11 {
			t.Fatalf("usage %+v", got.Usage)
		}
		rec := lastRequest(t, s.bedrock)
		auth := rec.Header.Get("authorization")
		sum := sha256.Sum256(rec.Body)
		if rec.Path != titanInvoke || !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKID/") || !strings.Contains(auth, "/us-east-1/bedrock/aws4_request") ||
			rec.Header.Get("x-amz-content-sha256") != hex.EncodeToString(sum[:]) || rec.Header.Get("accept") != "application/json" {
			t.Fatalf("provider got %s %v", rec.Path, rec.Header)
		}
		if b := string(rec.Body); b != `{"inputText":"`+embedTextA+`","dimensions":256,"normalize":true}` {
			t.Fatalf("provider got body %s", b)
		}
	})

	t.Run("bedrock cohere with an API key", func(t *testing.T) {
		s.bedrockKeyed.Handle("POST", cohereInvoke, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("bedrock", "embeddings_cohere"))})
		got, err := s.client.Embeddings.New(ctxT(t), embedParams("embed-cohere", 256, embedTextA, embedTextB))
		if err != nil {
			t.Fatal(err)
		}
		checkVectors(t, got, recordedVectors(t, "bedrock", "embeddings_cohere", "embeddings.float"), false)
		rec := lastRequest(t, s.bedrockKeyed)
		if rec.Path != cohereInvoke || rec.Header.Get("authorization") != "Bearer "+bedrockAPIKey || rec.Header.Get("x-amz-date") != "" {
			t.Fatalf("provider got %s %v", rec.Path, rec.Header)
		}
		body := gjson.ParseBytes(rec.Body)
		if body.Get("texts.#").Int() != 2 || body.Get("input_type").Str != "search_document" || body.Get("embedding_types").Raw != `["float"]` ||
			body.Get("output_dimension").Int() != 256 {
			t.Fatalf("provider got body %s", rec.Body)
		}
	})

	// Gemini, Vertex AI and Bedrock answer floats and name no model: the
	// gateway encodes and names them as the request asked.
	t.Run("base64 and model from the request", func(t *testing.T) {
		s.gemini.Handle("POST", geminiEmbed, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("gemini", "embeddings"))})
		p := embedParams("embed-gemini", 128, embedTextA, embedTextB)
		p.EncodingFormat = openai.EmbeddingNewParamsEncodingFormatBase64
		got, err := s.client.Embeddings.New(ctxT(t), p)
		if err != nil {
			t.Fatal(err)
		}
		if e := gjson.Get(got.RawJSON(), "data.0.embedding"); e.Type != gjson.String {
			t.Fatalf("asked for base64, got %.80s", e.Raw)
		}
		checkVectors(t, got, recordedVectors(t, "gemini", "embeddings", "embeddings.#.values"), true)
		if got.Model != "gemini-embedding-001" {
			t.Fatalf("model %q, want the upstream model", got.Model)
		}
		if b := lastRequest(t, s.gemini).Body; gjson.GetBytes(b, "encoding_format").Exists() || gjson.GetBytes(b, "requests.0.encoding_format").Exists() {
			t.Fatalf("provider got %s", b)
		}
	})

	t.Run("errors", func(t *testing.T) {
		bad, err := fakeprovider.ParseTranscript("bad", []byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html><body>upstream proxy error</body></html>"))
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name    string
			reply   func()
			body    string
			status  int
			code    string
			message string
			// nothing tells a request the gateway refused must not reach the provider.
			provider *fakeprovider.Server
		}{
			{name: "empty input", body: `{"model":"embed-gemini","input":""}`, status: 400, code: "invalid_input",
				message: "'input' must not be empty", provider: s.gemini},
			{name: "empty string in an array", body: `{"model":"embed-gemini","input":["a",""]}`, status: 400, code: "invalid_input",
				message: "'input[1]' must not be empty", provider: s.gemini},
			{name: "titan takes one input", body: `{"model":"embed-titan","input":["a","b"]}`, status: 400, code: "invalid_input",
				message: "Amazon Titan Text Embeddings embeds one input per request", provider: s.bedrock},
			{name: "token ids to gemini", body: `{"model":"embed-gemini","input":[[1820,4062]]}`, status: 400, code: "invalid_input",
				message: "token-id input is not supported", provider: s.gemini},
			{name: "chat model", body: `{"model":"chat-openai","input":"a"}`, status: 400, code: "wrong_model_type",
				message: "is a chat model", provider: s.openai},
			{
				name:  "bad response body",
				reply: func() { s.gemini.Handle("POST", geminiEmbed, fakeprovider.Reply{Transcript: bad}) },
				body:  `{"model":"embed-gemini","input":"a"}`, status: 502, code: "bad_upstream_response", message: "not JSON",
			},
			{
				name: "bedrock validation error",
				reply: func() {
					s.bedrock.Handle("POST", titanInvoke, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("bedrock", "embeddings_error_validation"))})
				},
				body: `{"model":"embed-titan","input":"a","dimensions":300}`, status: 400, code: "",
				message: "#/dimensions: 300 is not a valid enum value",
			},
			{
				name: "gemini model without embeddings",
				reply: func() {
					s.gemini.Handle("POST", geminiEmbed, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("gemini", "embeddings_error_404"))})
				},
				body: `{"model":"embed-gemini","input":"a"}`, status: 502, code: "upstream_not_found",
				message: "is not supported for batchEmbedContents",
			},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := 0
				if tc.provider != nil {
					before = len(tc.provider.Requests())
				}
				if tc.reply != nil {
					tc.reply()
				}
				resp, body := s.gw.post(t, "/v1/embeddings", []byte(tc.body))
				if resp.StatusCode != tc.status {
					t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
				}
				e := gjson.GetBytes(body, "error")
				if e.Get("code").Str != tc.code || !strings.Contains(e.Get("message").Str, tc.message) {
					t.Fatalf("error %s, want code %q and a message containing %q", body, tc.code, tc.message)
				}
				if tc.provider != nil && len(tc.provider.Requests()) != before {
					t.Fatal("the refused request reached the provider")
				}
			})
		}
	})
}
