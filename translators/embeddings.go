package translators

import (
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// Embedder is implemented by translators whose provider serves embeddings
// (OpenAI's POST /v1/embeddings in, the provider's API out). Errors use the
// translator's Error.
type Embedder interface {
	// EmbeddingsRequest translates an OpenAI embeddings body for t.
	EmbeddingsRequest(body []byte, t Target) (Request, error)
	// EmbeddingsResponse translates the provider's whole answer into an
	// OpenAI embeddings list ({"object":"list","data":[{"object":
	// "embedding","index","embedding"}],"model","usage"}).
	EmbeddingsResponse(body []byte) ([]byte, Usage, error)
}

// ValidateEmbeddings runs the schema-independent checks on an OpenAI
// embeddings request: a JSON object with a non-empty input.
func ValidateEmbeddings(body []byte) error {
	if !validJSON(body) {
		return BadRequest("invalid_json", "request body is not valid JSON")
	}
	root := gjson.ParseBytes(body)
	if !root.IsObject() {
		return BadRequest("invalid_request", "request body must be a JSON object")
	}
	in := root.Get("input")
	switch {
	case !in.Exists():
		return BadRequest("invalid_input", "'input' is required")
	case in.Type == gjson.String && in.Str == "":
		return BadRequest("invalid_input", "'input' must not be empty")
	case in.IsArray() && len(in.Array()) == 0:
		return BadRequest("invalid_input", "'input' must not be an empty array")
	case in.Type != gjson.String && !in.IsArray():
		return BadRequest("invalid_input", "'input' must be a string or an array")
	}
	return nil
}

// OpenAI and compatible hosts serve embeddings as they are; only the model
// changes.
func (openAIToOpenAI) EmbeddingsRequest(body []byte, t Target) (Request, error) {
	if err := ValidateEmbeddings(body); err != nil {
		return Request{}, err
	}
	b, dropped, err := openAIEmbeddingsBody(body, SchemaOpenAI)
	if err != nil {
		return Request{}, err
	}
	if b, err = sjson.SetBytes(b, "model", t.Model); err != nil {
		return Request{}, BadRequest("invalid_request", "cannot set model: "+err.Error())
	}
	out := Request{Path: t.PathPrefix + "/embeddings", Headers: []Header{{"content-type", "application/json"}}, Body: b, Dropped: dropped}
	return out, nil
}

// openAIEmbeddingsOnly are request fields the gateway reads for other
// schemas (Cohere's input_type, Gemini's task_type) that OpenAI's
// embeddings API refuses as unrecognized arguments.
var openAIEmbeddingsOnly = []string{"input_type", "task_type"}

// openAIEmbeddingsBody is body as an OpenAI-schema host takes it: without
// the gateway's routing object and without openAIEmbeddingsOnly, which are
// reported as dropped (a 400 under provider.require_parameters). body is
// not modified.
func openAIEmbeddingsBody(body []byte, s Schema) ([]byte, []string, error) {
	var set []string
	for _, k := range openAIEmbeddingsOnly {
		if v := gjson.GetBytes(body, k); v.Exists() && v.Type != gjson.Null {
			set = append(set, k)
		}
	}
	if len(set) > 0 && RequireParameters(body) {
		return nil, nil, unsupportedParams(s, set)
	}
	b := body
	for _, k := range append([]string{"provider"}, openAIEmbeddingsOnly...) {
		if gjson.GetBytes(b, k).Exists() {
			var err error
			if b, err = sjson.DeleteBytes(b, k); err != nil {
				return nil, nil, BadRequest("invalid_request", "cannot remove "+k+": "+err.Error())
			}
		}
	}
	return b, set, nil
}

func (openAIToOpenAI) EmbeddingsResponse(body []byte) ([]byte, Usage, error) {
	if !validJSON(body) || !gjson.GetBytes(body, "data").IsArray() {
		return nil, Usage{}, &APIError{Status: 502, Type: TypeUpstream, Code: "bad_upstream_response", Message: "provider returned an embeddings body without 'data'"}
	}
	return body, Usage{PromptTokens: gjson.GetBytes(body, "usage.prompt_tokens").Int()}, nil
}

var _ Embedder = openAIToOpenAI{}
