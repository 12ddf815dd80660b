package translators

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// Vertex AI embeds with Google's text embedding models (gemini-embedding-001,
// text-embedding-005, text-multilingual-embedding-002) through predict
// (https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/text-embeddings-api):
// {"instances":[{"content","task_type"}],"parameters":{"outputDimensionality"}}.
// The answer counts tokens per input (statistics.token_count), summed into
// prompt_tokens. The OAuth bearer token is added by the auth package.

// Vertex AI's per-request input limits: Gemini embedding models take one
// instance, the text-embedding models up to 250.
const (
	vertexMaxInstances       = 250
	vertexGeminiMaxInstances = 1
)

func (openAIToVertex) EmbeddingsRequest(body []byte, t Target) (Request, error) {
	if t.Project == "" || t.Region == "" {
		return Request{}, &APIError{Status: 500, Type: TypeServer, Code: "provider_misconfigured",
			Message: "the vertex-ai provider needs a project and a region"}
	}
	if vertexPublisher(t.Model) == publisherAnthropic {
		// predict on a Claude id would be a 404 from Vertex AI; say why.
		return Request{}, BadRequest("embeddings_unsupported", "Claude models on Vertex AI do not serve embeddings; use one of Google's embedding models such as gemini-embedding-001")
	}
	r, err := readEmbeddings(body, SchemaVertexAI)
	if err != nil {
		return Request{}, err
	}
	limit, who := vertexMaxInstances, "Vertex AI"
	if strings.HasPrefix(t.Model, "gemini-embedding") {
		limit, who = vertexGeminiMaxInstances, "Vertex AI's "+t.Model
	}
	if err := r.maxTexts(limit, who); err != nil {
		return Request{}, err
	}
	task := geminiTaskType(r.root)
	b := make([]byte, 0, 64+len(body)+len(r.texts)*32)
	b = append(b, `{"instances":[`...)
	for i, text := range r.texts {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"content":`...)
		b = appendJSONString(b, text.Str)
		if task != "" {
			b = append(b, `,"task_type":`...)
			b = appendJSONString(b, task)
		}
		b = append(b, '}')
	}
	b = append(b, ']')
	if r.dimensions > 0 {
		b = append(b, `,"parameters":{"outputDimensionality":`...)
		b = strconv.AppendInt(b, r.dimensions, 10)
		b = append(b, '}')
	}
	b = append(b, '}')
	path := googleVersioned(t.PathPrefix, "v1") + "/projects/" + url.PathEscape(t.Project) +
		"/locations/" + url.PathEscape(t.Region) + "/publishers/google/models/" + url.PathEscape(t.Model) + ":predict"
	return Request{Path: path, Headers: []Header{{"content-type", "application/json"}}, Body: b}, nil
}

// EmbeddingsResponse reads {"predictions":[{"embeddings":{"values":[...],
// "statistics":{"token_count":n}}}]}.
func (openAIToVertex) EmbeddingsResponse(body []byte) ([]byte, Usage, error) {
	root, err := embeddingsBody(body)
	if err != nil {
		return nil, Usage{}, err
	}
	if e := root.Get("error"); e.IsObject() {
		return nil, Usage{}, geminiAPIError(502, "", e)
	}
	preds := root.Get("predictions")
	if !preds.IsArray() {
		return nil, Usage{}, badEmbeddings("a body without 'predictions'")
	}
	l := newEmbeddingsList(len(body))
	var tokens int64
	for _, p := range preds.Array() {
		e := p.Get("embeddings")
		if err := l.add(e.Get("values")); err != nil {
			return nil, Usage{}, err
		}
		if n := e.Get("statistics.token_count"); n.Type == gjson.Number {
			tokens += int64(n.Num)
		}
	}
	return l.finish("", tokens)
}

var _ Embedder = openAIToVertex{}
