package translators

import (
	"net/url"

	"github.com/tidwall/sjson"
)

// Azure OpenAI serves OpenAI's embeddings API at a deployment's path
// (https://learn.microsoft.com/en-us/azure/ai-foundry/openai/reference#embeddings):
// the body is OpenAI's without the model, which the deployment names, and
// without the gateway's own fields (provider, and the input_type and
// task_type other schemas read, reported as dropped), which Azure refuses
// as unrecognized; the
// answer is OpenAI's list, encoding_format "base64" included.

func (openAIToAzure) EmbeddingsRequest(body []byte, t Target) (Request, error) {
	if err := ValidateEmbeddings(body); err != nil {
		return Request{}, err
	}
	b, dropped, err := openAIEmbeddingsBody(body, SchemaAzureOpenAI)
	if err != nil {
		return Request{}, err
	}
	if b, err = sjson.DeleteBytes(b, "model"); err != nil {
		return Request{}, BadRequest("invalid_request", "cannot remove model: "+err.Error())
	}
	version := t.APIVersion
	if version == "" {
		version = azureDefaultAPIVersion
	}
	out := Request{
		Path:    t.PathPrefix + "/openai/deployments/" + url.PathEscape(t.Model) + "/embeddings?api-version=" + url.QueryEscape(version),
		Headers: []Header{{"content-type", "application/json"}},
		Body:    b,
		Dropped: dropped,
	}
	return out, nil
}

func (openAIToAzure) EmbeddingsResponse(body []byte) ([]byte, Usage, error) {
	return openAIToOpenAI{}.EmbeddingsResponse(body)
}

var _ Embedder = openAIToAzure{}
