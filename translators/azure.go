package translators

import (
	"net/url"
)

// openAIToAzure translates to Azure OpenAI
// (https://learn.microsoft.com/en-us/azure/ai-services/openai/reference):
// the OpenAI schema at a deployment's path, with the api-version query and
// an api-key header. Azure serves OpenAI's models, so the body follows
// OpenAI's own quirks, picked by the deployment name (name deployments after
// their model, e.g. "o4-mini" or "gpt-4.1", for the model rules to apply).
// Responses and streams are OpenAI's, with content-filter annotations that
// pass through; the prompt_filter_results frame that opens a stream is
// dropped by the shared stream translator.
type openAIToAzure struct{}

// azureDefaultAPIVersion matches config's default.
const azureDefaultAPIVersion = "2024-10-21"

// Azure api-versions (YYYY-MM-DD[-preview]) compare as strings. From
// 2024-09-01-preview Azure takes max_completion_tokens and stream_options
// (GA in 2024-10-21); from 2024-12-01-preview reasoning_effort and the
// developer role.
const (
	azureCompletionTokensSince = "2024-09-01"
	azureReasoningSince        = "2024-12-01"
)

func (openAIToAzure) Request(body []byte, t Target) (Request, error) {
	version := t.APIVersion
	if version == "" {
		version = azureDefaultAPIVersion
	}
	q := openAIQuirksTable
	q.name = "azure"
	// Older api-versions know only max_tokens: what the client sent goes.
	q.tokenField = ""
	if version >= azureCompletionTokensSince {
		q.tokenField = "max_completion_tokens"
	} else {
		q.noStreamOptions = true // and stream no usage
	}
	if version < azureReasoningSince {
		q.reasoningEffort, q.developerAsSystem = false, true
	}
	out, err := openAICompatRequest(body, openAIBody{q: &q, model: t.Model, schema: SchemaAzureOpenAI})
	if err != nil {
		return Request{}, err
	}
	out.Path = t.PathPrefix + "/openai/deployments/" + url.PathEscape(t.Model) + "/chat/completions?api-version=" + url.QueryEscape(version)
	out.Headers = []Header{{"content-type", "application/json"}}
	return out, nil
}

func (openAIToAzure) Response(body []byte) ([]byte, Usage, error) {
	return openAIResponse(body)
}

// Error maps Azure's errors: {"error":{"code":"429","message":"... Please
// retry after 20 seconds ..."}} with a retry-after header, content_filter
// and context_length_exceeded codes on 400s.
func (openAIToAzure) Error(status int, retryAfter string, body []byte) *APIError {
	return openAIError(status, retryAfter, body)
}

func (openAIToAzure) NewStream(opts StreamOptions) StreamTranslator {
	return &openAIStream{opts: opts}
}

var _ Translator = openAIToAzure{}
