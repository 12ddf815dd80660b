package translators

import (
	"fmt"
	"slices"
	"strings"
)

// Spec is everything the gateway knows about one provider schema, in one
// place: config reads its defaults and required fields, auth its
// credential kind, the upstream hop its headers, the router hop the
// endpoints it serves natively. Adding a provider is one entry in specs
// plus its translator files.
type Spec struct {
	Schema Schema
	// BaseURL is the default base URL for a region ("" for none); nil
	// when the config must name one.
	BaseURL func(region string) string
	// RegionFromHost recovers the region from a configured base URL's
	// host, for schemas whose host names it.
	RegionFromHost func(host string) string
	// Requires are provider fields the schema cannot work without.
	Requires []Requirement
	// DefaultAPIVersion fills an empty api_version.
	DefaultAPIVersion string
	// Auth says how requests are authorized.
	Auth AuthKind
	// Credential renders a static key as the headers the provider reads
	// (nil for no key). Translators never add keys themselves.
	Credential func(key string) []Header
	// ForwardHeaders are client request headers forwarded as sent,
	// beyond the framing ones every schema keeps (ForwardsRequestHeader).
	ForwardHeaders []string
	// Serves lists the public endpoints the schema can answer, natively
	// or translated.
	Serves []Endpoint
	// Native lists the public endpoints whose client schema is the
	// provider's own: their bodies pass through with only what the
	// gateway must change (see pass-through in docs/architecture.md).
	Native []Endpoint
	// NativeFor, when set, narrows Native by the attempt's target: an
	// OpenAI-compatible host may speak chat only; Vertex serves Claude's
	// own API for Claude models only.
	NativeFor func(e Endpoint, t Target) bool
	// WebSearch, when set, reports whether a model grounds chat answers
	// in the provider's own web search when asked (web_search_options),
	// with its sources as url_citation annotations.
	WebSearch func(model string) bool

	translator Translator
	// publisher, when set, names the publisher of an attempt's model
	// (Facts.Publisher); published is the translator that reads that
	// publisher's answers, false for a name it does not know.
	publisher func(model string) string
	published func(publisher string) (Translator, bool)
}

// Requirement is a provider field a schema needs, with why.
type Requirement struct {
	Field string // the config field name (project, region)
	Why   string // completes "is required for schema X ..."
}

// AuthKind says how a schema's requests are authorized.
type AuthKind int

const (
	// AuthKey: the static key, if any, in the schema's credential header.
	AuthKey AuthKind = iota
	// AuthSigV4: AWS SigV4 signatures, unless a key (a Bedrock API key,
	// sent as a bearer token) is configured.
	AuthSigV4
	// AuthGoogleOAuth: Google OAuth access tokens from a service account
	// or the metadata server.
	AuthGoogleOAuth
)

// Endpoint names a public API the gateway serves.
type Endpoint string

const (
	EndpointChat        Endpoint = "chat"        // POST /v1/chat/completions
	EndpointMessages    Endpoint = "messages"    // POST /v1/messages (Anthropic)
	EndpointEmbeddings  Endpoint = "embeddings"  // POST /v1/embeddings
	EndpointResponses   Endpoint = "responses"   // POST /v1/responses
	EndpointCompletions Endpoint = "completions" // POST /v1/completions (legacy)
	EndpointCountTokens Endpoint = "count_tokens"
	EndpointImages      Endpoint = "images"      // POST /v1/images/generations
	EndpointImageEdits  Endpoint = "image_edits" // POST /v1/images/edits
)

func bearer(key string) []Header {
	if key == "" {
		return nil
	}
	return []Header{{"authorization", "Bearer " + key}}
}

func headerKey(name string) func(string) []Header {
	return func(key string) []Header {
		if key == "" {
			return nil
		}
		return []Header{{name, key}}
	}
}

// azureKey sends a Microsoft Entra ID token configured as the key
// ("Bearer ...") as such, anything else as api-key.
func azureKey(key string) []Header {
	if strings.HasPrefix(key, "Bearer ") {
		return []Header{{"authorization", key}}
	}
	return headerKey("api-key")(key)
}

var specs = []Spec{
	{
		Schema: SchemaOpenAI, Credential: bearer, translator: openAIToOpenAI{},
		Serves: []Endpoint{EndpointChat, EndpointMessages, EndpointEmbeddings, EndpointResponses, EndpointCompletions, EndpointCountTokens, EndpointImages, EndpointImageEdits},
		Native: []Endpoint{EndpointChat, EndpointEmbeddings, EndpointResponses, EndpointCompletions},
		// Hosts that copy OpenAI's chat API seldom have its Responses API.
		NativeFor: func(e Endpoint, t Target) bool { return e != EndpointResponses || t.Host == "api.openai.com" },
	},
	{
		Schema: SchemaAzureOpenAI, DefaultAPIVersion: azureDefaultAPIVersion, Credential: azureKey, translator: openAIToAzure{},
		Serves: []Endpoint{EndpointChat, EndpointMessages, EndpointEmbeddings, EndpointResponses, EndpointCompletions, EndpointCountTokens, EndpointImages, EndpointImageEdits},
		Native: []Endpoint{EndpointChat, EndpointEmbeddings, EndpointResponses},
	},
	{
		Schema: SchemaAnthropic, BaseURL: fixed("https://api.anthropic.com"), Credential: headerKey("x-api-key"),
		// Claude's feature flags; Vertex carries them in the body instead.
		ForwardHeaders: []string{"anthropic-beta"}, translator: openAIToAnthropic{},
		WebSearch: func(string) bool { return true }, // the web_search server tool
		Serves:    []Endpoint{EndpointChat, EndpointMessages, EndpointResponses, EndpointCompletions, EndpointCountTokens},
		Native:    []Endpoint{EndpointMessages, EndpointCountTokens},
	},
	{
		Schema: SchemaGemini, BaseURL: fixed("https://generativelanguage.googleapis.com"), Credential: headerKey("x-goog-api-key"),
		translator: openAIToGemini{}, WebSearch: func(string) bool { return true }, // grounding with Google Search
		Serves: []Endpoint{EndpointChat, EndpointMessages, EndpointEmbeddings, EndpointResponses, EndpointCompletions, EndpointCountTokens, EndpointImages, EndpointImageEdits},
	},
	{
		Schema: SchemaVertexAI, Auth: AuthGoogleOAuth, translator: openAIToVertex{},
		publisher: vertexPublisher, published: vertexPublishedBy,
		WebSearch: func(model string) bool { return vertexPublisher(model) == publisherGoogle },
		// Claude on Vertex takes Anthropic's Messages body (rawPredict).
		Native: []Endpoint{EndpointMessages},
		NativeFor: func(e Endpoint, t Target) bool {
			return e != EndpointMessages || vertexPublisher(t.Model) == publisherAnthropic
		},
		Requires: []Requirement{
			{"project", "is required for schema vertex-ai"},
			{"region", "is required for schema vertex-ai (the location, e.g. us-central1)"},
		},
		BaseURL: func(region string) string {
			switch region {
			case "":
				return ""
			case "global":
				return "https://aiplatform.googleapis.com"
			}
			return "https://" + region + "-aiplatform.googleapis.com"
		},
		Serves: []Endpoint{EndpointChat, EndpointMessages, EndpointEmbeddings, EndpointResponses, EndpointCompletions, EndpointCountTokens, EndpointImages, EndpointImageEdits},
	},
	{
		Schema: SchemaBedrock, Auth: AuthSigV4, Credential: bearer, translator: openAIToBedrock{},
		// Claude on Bedrock takes Anthropic's Messages body (InvokeModel,
		// bedrock_native.go); other models are served through Converse.
		Native:    []Endpoint{EndpointMessages},
		NativeFor: func(e Endpoint, t Target) bool { return e != EndpointMessages || bedrockClaude(t.Model) },
		Requires:  []Requirement{{"region", "is required for schema bedrock (or a base_url like https://bedrock-runtime.us-east-1.amazonaws.com)"}},
		BaseURL: func(region string) string {
			if region == "" {
				return ""
			}
			return "https://bedrock-runtime." + region + ".amazonaws.com"
		},
		// bedrock-runtime.<region>.amazonaws.com
		RegionFromHost: func(host string) string {
			if parts := strings.Split(host, "."); len(parts) >= 4 && parts[0] == "bedrock-runtime" {
				return parts[1]
			}
			return ""
		},
		Serves: []Endpoint{EndpointChat, EndpointMessages, EndpointEmbeddings, EndpointResponses, EndpointCompletions, EndpointCountTokens, EndpointImages, EndpointImageEdits},
	},
}

func fixed(url string) func(string) string { return func(string) string { return url } }

// Schemas lists the known schemas, for config validation messages.
var Schemas = func() []Schema {
	out := make([]Schema, len(specs))
	for i, s := range specs {
		out[i] = s.Schema
	}
	slices.Sort(out)
	return out
}()

// SpecFor returns the spec of schema s.
func SpecFor(s Schema) (*Spec, bool) {
	for i := range specs {
		if specs[i].Schema == s {
			return &specs[i], true
		}
	}
	return nil, false
}

// New returns the translator from the OpenAI schema to s.
func New(s Schema) (Translator, error) {
	if sp, ok := SpecFor(s); ok {
		return sp.translator, nil
	}
	names := make([]string, len(Schemas))
	for i, k := range Schemas {
		names[i] = string(k)
	}
	return nil, fmt.Errorf("unsupported schema %q (known: %s)", s, strings.Join(names, ", "))
}

// translatorFor is the translator of an attempt on publisher; the
// schema's own when the publisher is unknown or not said.
func (s *Spec) translatorFor(publisher string) Translator {
	if s.published != nil && publisher != "" {
		if tr, ok := s.published(publisher); ok {
			return tr
		}
	}
	return s.translator
}

// ServesEndpoint reports whether the schema can answer endpoint e.
func (s *Spec) ServesEndpoint(e Endpoint) bool { return slices.Contains(s.Serves, e) }

// IsNative reports whether endpoint e's client schema is this schema's own.
func (s *Spec) IsNative(e Endpoint) bool { return slices.Contains(s.Native, e) }

// CredentialHeaders lists every header any schema carries a credential
// in: a fallback attempt removes them all, and scrubbing treats their
// values as secrets.
var CredentialHeaders = []string{"authorization", "x-api-key", "api-key", "x-goog-api-key", "x-amz-security-token"}

// Credentials returns the headers that carry key for this schema.
func (s *Spec) Credentials(key string) []Header {
	if s.Credential == nil {
		return nil
	}
	return s.Credential(key)
}
