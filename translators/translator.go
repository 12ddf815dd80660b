// Package translators converts between the OpenAI chat completions schema that
// clients speak and each provider's own schema. It is pure: it knows HTTP
// bodies, paths and headers, nothing of Envoy or gRPC.
package translators

import "time"

// Schema names a provider wire format.
type Schema string

const (
	SchemaOpenAI      Schema = "openai"
	SchemaAzureOpenAI Schema = "azure-openai"
	SchemaAnthropic   Schema = "anthropic"
	SchemaGemini      Schema = "gemini"
	SchemaVertexAI    Schema = "vertex-ai"
	SchemaBedrock     Schema = "bedrock"
)

// Target is where one upstream attempt goes.
type Target struct {
	// Model is the provider's model id that replaces the public model name.
	Model string
	// PathPrefix is the path of the provider's base URL ("/v1" for
	// https://api.openai.com/v1, "" for https://api.anthropic.com).
	PathPrefix string
	// APIVersion is the api-version query parameter (azure-openai).
	APIVersion string
	// Project is the cloud project (vertex-ai).
	Project string
	// Region is the cloud region or location (vertex-ai, bedrock).
	Region string
	// Host is the base URL's host name; the openai schema picks the
	// quirks of OpenAI-compatible hosts by it.
	Host string
	// AnthropicBeta is the client's anthropic-beta header: feature flags
	// a pass-through to Claude carries (Vertex takes them in the body).
	AnthropicBeta string
}

// Header is one HTTP header to set on the upstream request.
type Header struct{ Key, Value string }

// Request is the upstream HTTP request for one attempt.
type Request struct {
	// Path is the request path, with the query string where the schema
	// needs one (api-version, alt=sse).
	Path    string
	Headers []Header
	Body    []byte
	// Stream reports whether the client asked for a streamed response.
	Stream bool
	// IncludeUsage reports whether the client asked for a usage chunk at the
	// end of the stream (stream_options.include_usage).
	IncludeUsage bool
	// Dropped lists request parameters the provider cannot honour and the
	// translation left out; the client is told in a response header. When
	// the request sets provider.require_parameters, a translator rejects
	// such a request with 400 instead (see RequireParameters).
	Dropped []string
}

// Usage is the token accounting of one response, in the OpenAI meaning:
// PromptTokens includes cached and cache-written tokens, CompletionTokens
// includes reasoning tokens.
type Usage struct {
	PromptTokens     int64
	CompletionTokens int64
	CachedTokens     int64
	CacheWriteTokens int64
	ReasoningTokens  int64
	// Images is how many images an answer made (image generation).
	Images int64
	// WebSearches is how many web searches the provider ran for the
	// answer (usage.server_tool_use.web_search_requests).
	WebSearches int64
}

// Total is prompt plus completion tokens.
func (u Usage) Total() int64 { return u.PromptTokens + u.CompletionTokens }

// StreamOptions configures one stream translation.
type StreamOptions struct {
	// IncludeUsage emits one usage chunk before [DONE], as the client asked.
	IncludeUsage bool
	// ExcludeReasoning leaves reasoning and reasoning_details out of the
	// chunks (reasoning.exclude); reasoning tokens are still counted.
	ExcludeReasoning bool
	// Model names the upstream model in chunks whose provider names none
	// (Bedrock's event stream).
	Model string
}

// RetryHinter is implemented by translators whose provider says when to
// retry in headers other than Retry-After.
type RetryHinter interface {
	RetryAfter(header func(string) string, now time.Time) string
}

// Translator converts one OpenAI chat completions exchange to and from a
// provider schema. Implementations are stateless and never modify their
// input, so a retry can translate the same request again for another provider.
type Translator interface {
	// Request translates an OpenAI chat completions request body for t.
	// Errors are *APIError (400 for a body the provider cannot take).
	Request(body []byte, t Target) (Request, error)
	// Response translates a whole successful (2xx) upstream body into an
	// OpenAI chat.completion body.
	Response(body []byte) ([]byte, Usage, error)
	// Error maps a non-2xx upstream response to the error the client sees.
	// retryAfter is the upstream Retry-After header, if any.
	Error(status int, retryAfter string, body []byte) *APIError
	// NewStream returns a translator for one streamed response.
	NewStream(opts StreamOptions) StreamTranslator
}

// StreamTranslator is a state machine fed upstream body bytes as they
// arrive. It never fails: a broken or garbled upstream stream becomes a final
// OpenAI chunk carrying an error object, followed by data: [DONE].
type StreamTranslator interface {
	// Translate consumes chunk (any split of the upstream body) and appends
	// the OpenAI SSE bytes it completes to dst.
	Translate(dst, chunk []byte) []byte
	// Finish is called once when the upstream body ends. It appends whatever
	// terminates the client stream: the usage chunk if asked, an error chunk
	// if the upstream stopped early, and data: [DONE].
	Finish(dst []byte) []byte
	// Usage returns the tokens counted so far.
	Usage() Usage
}

// UsageHinter is a stream translator that can report usage before its
// input carries it: the /v1/messages ingress states input tokens in
// message_start, which the upstream translator knows at its start.
type UsageHinter interface {
	HintUsage(Usage)
}
