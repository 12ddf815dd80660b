package translators

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// The Gemini API embeds through batchEmbedContents
// (https://ai.google.dev/api/embeddings#method:-models.batchembedcontents):
// one EmbedContentRequest per input, each with its own model, content,
// outputDimensionality and taskType. The answer has the vectors only: it
// counts no tokens, so prompt_tokens is 0, and names no model (the caller
// names it, see FinishEmbeddings).

// geminiMaxBatch is the most requests batchEmbedContents takes in one call.
const geminiMaxBatch = 100

func (openAIToGemini) EmbeddingsRequest(body []byte, t Target) (Request, error) {
	r, err := readEmbeddings(body, SchemaGemini)
	if err != nil {
		return Request{}, err
	}
	if err := r.maxTexts(geminiMaxBatch, "the Gemini API"); err != nil {
		return Request{}, err
	}
	model := strings.TrimPrefix(t.Model, "models/")
	task := geminiTaskType(r.root)
	name := appendJSONString(nil, "models/"+model)
	b := make([]byte, 0, 64+len(body)+len(r.texts)*(48+len(model)))
	b = append(b, `{"requests":[`...)
	for i, text := range r.texts {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"model":`...)
		b = append(b, name...)
		b = append(b, `,"content":{"parts":[{"text":`...)
		b = appendJSONString(b, text.Str)
		b = append(b, `}]}`...)
		if task != "" {
			b = append(b, `,"taskType":`...)
			b = appendJSONString(b, task)
		}
		if r.dimensions > 0 {
			b = append(b, `,"outputDimensionality":`...)
			b = strconv.AppendInt(b, r.dimensions, 10)
		}
		b = append(b, '}')
	}
	b = append(b, "]}"...)
	out := Request{
		Path:    googleVersioned(t.PathPrefix, "v1beta") + "/models/" + url.PathEscape(model) + ":batchEmbedContents",
		Headers: []Header{{"content-type", "application/json"}},
		Body:    b,
	}
	return out, nil
}

// geminiTaskType is the Google task type of a request: its non-standard
// "task_type" as given (RETRIEVAL_QUERY, SEMANTIC_SIMILARITY, ...), or
// Cohere's "input_type" names mapped; "" leaves the model's default.
func geminiTaskType(root gjson.Result) string {
	if t := root.Get("task_type"); t.Type == gjson.String && t.Str != "" {
		return t.Str
	}
	switch root.Get("input_type").Str {
	case "search_query":
		return "RETRIEVAL_QUERY"
	case "search_document":
		return "RETRIEVAL_DOCUMENT"
	case "classification":
		return "CLASSIFICATION"
	case "clustering":
		return "CLUSTERING"
	}
	return ""
}

// EmbeddingsResponse reads {"embeddings":[{"values":[...]}]}.
func (openAIToGemini) EmbeddingsResponse(body []byte) ([]byte, Usage, error) {
	root, err := embeddingsBody(body)
	if err != nil {
		return nil, Usage{}, err
	}
	if e := root.Get("error"); e.IsObject() {
		return nil, Usage{}, geminiAPIError(502, "", e)
	}
	embs := root.Get("embeddings")
	if !embs.IsArray() {
		return nil, Usage{}, badEmbeddings("a body without 'embeddings'")
	}
	l := newEmbeddingsList(len(body))
	for _, e := range embs.Array() {
		if err := l.add(e.Get("values")); err != nil {
			return nil, Usage{}, err
		}
	}
	return l.finish("", 0)
}

var _ Embedder = openAIToGemini{}
