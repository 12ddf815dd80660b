package translators

import (
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// API is one public endpoint the gateway serves: how a client body is
// checked and planned on, how an attempt's request is built from it, and
// how answers and errors go back in the client's shape. The hops pick an
// API once, by path, and dispatch to it; nothing else switches on the
// endpoint.
type API struct {
	Endpoint Endpoint
	Path     string
	// ModelType is the type of model the endpoint serves (chat,
	// embeddings), matching config's model types.
	ModelType string
	// Anthropic: errors go back in Anthropic's shape.
	Anthropic bool
	// Normalize checks a client body and returns the OpenAI form routing
	// plans on (model, preferences, needs), and what answering needs of
	// the client's request. The body has passed CheckRequestJSON.
	Normalize func(body []byte) (Normalized, error)
	// decode reads a body that is not JSON (a multipart form) into the
	// JSON form Normalize and begin read (DecodeBody); nil for JSON APIs.
	decode func(contentType string, body []byte) ([]byte, error)

	begin  func(x *Exchange, body []byte, t Target) (Request, error)
	answer func(x *Exchange, body []byte) ([]byte, Usage, error)
	stream func(x *Exchange) StreamTranslator
}

// Normalized is a client request in the form routing plans on.
type Normalized struct {
	Body []byte // the OpenAI chat (or embeddings) form
	// Client is what answering needs of the client's own request; the
	// hop that translates the answer keeps it (Resume).
	Client ClientContext
}

// ClientContext is what an answer repeats of its client's request.
type ClientContext struct {
	echo *ResponsesEcho // the Responses API's echoed request fields
}

func plain(validate func([]byte) error) func([]byte) (Normalized, error) {
	return func(body []byte) (Normalized, error) { return Normalized{Body: body}, validate(body) }
}

// Model types, as config names them.
const (
	ModelTypeChat       = "chat"
	ModelTypeEmbeddings = "embeddings"
	ModelTypeImage      = "image"
)

// FromChat renders a whole chat.completion the gateway made itself (a
// plugin's answer) in the API's shape.
func (a *API) FromChat(chat []byte, c ClientContext) ([]byte, error) {
	switch a.Endpoint {
	case EndpointMessages:
		return AnthropicIngress{}.Response(chat)
	case EndpointResponses:
		echo := ResponsesEcho{}
		if c.echo != nil {
			echo = *c.echo
		}
		return ResponsesIngress{}.Response(chat, echo)
	case EndpointChat:
		return chat, nil
	}
	return nil, BadRequest("unsupported_parameter", "plugins cannot answer on "+a.Path)
}

// ErrorBody renders e in the API's error shape.
func (a *API) ErrorBody(e *APIError) []byte {
	if a.Anthropic {
		return AnthropicIngress{}.Error(e.Status, e.Body())
	}
	return e.Body()
}

var apis = []*API{chatAPI, messagesAPI, embeddingsAPI, responsesAPI, completionsAPI, countTokensAPI, imagesAPI, imageEditsAPI}

var chatAPI = &API{
	Endpoint: EndpointChat, Path: "/v1/chat/completions", ModelType: ModelTypeChat,
	Normalize: plain(validateCheckedChat),
	begin: func(x *Exchange, body []byte, t Target) (Request, error) {
		x.ExcludeReasoning = gjson.GetBytes(body, "reasoning.exclude").Bool()
		return x.tr.Request(body, t)
	},
	answer: func(x *Exchange, body []byte) ([]byte, Usage, error) {
		out, u, err := x.chatAnswer(body)
		if err != nil {
			return nil, u, err
		}
		return x.decorateChat(out, u), u, nil
	},
	stream: func(x *Exchange) StreamTranslator {
		return &taggedStream{up: x.chatStream(), x: x, field: []byte(`"provider":` + strconv.Quote(x.Provider) + `,`)}
	},
}

var messagesAPI = &API{
	Endpoint: EndpointMessages, Path: "/v1/messages", ModelType: ModelTypeChat, Anthropic: true,
	Normalize: func(body []byte) (Normalized, error) {
		// Server tools are for the provider that has them (a
		// pass-through) or refused when the attempt is translated;
		// routing plans without them.
		out, err := AnthropicIngress{}.Request(withoutServerTools(body))
		if err != nil {
			return Normalized{}, err
		}
		return Normalized{Body: out}, ValidateChat(out)
	},
	begin: func(x *Exchange, body []byte, t Target) (Request, error) {
		if x.native() {
			if x.spec.Schema == SchemaVertexAI {
				return vertexAnthropicNative(body, t)
			}
			if x.spec.Schema == SchemaBedrock { // InvokeModel: bedrock_native.go
				return bedrockAnthropicNative(body, t)
			}
			return anthropicNativeRequest(body, t)
		}
		if x.ChatForm {
			x.ExcludeReasoning = gjson.GetBytes(body, "reasoning.exclude").Bool()
			return x.tr.Request(body, t)
		}
		// Its request in OpenAI form, then translated like any chat
		// request; the provider's errors are reworded to name the
		// client's messages. What the chat form cannot carry is
		// reported with what the provider's translator drops.
		dropped := AnthropicIngress{}.Dropped(body)
		if len(dropped) > 0 && RequireParameters(body) {
			return Request{}, BadRequest("unsupported_parameter", "the gateway cannot honour through provider "+strconv.Quote(x.Provider)+
				" (schema "+string(x.spec.Schema)+"): "+strings.Join(dropped, ", ")+" (provider.require_parameters is set)")
		}
		chat, origins, err := AnthropicIngress{}.RequestWithOrigins(body)
		if err != nil {
			return Request{}, err
		}
		x.ExcludeReasoning = gjson.GetBytes(chat, "reasoning.exclude").Bool()
		req, err := x.tr.Request(chat, t)
		if e, ok := err.(*APIError); ok {
			relabeled := *e
			relabeled.Message = origins.Relabel(e.Message)
			return Request{}, &relabeled
		}
		if err != nil {
			return Request{}, err
		}
		req.Dropped = append(dropped, req.Dropped...)
		return req, nil
	},
	answer: func(x *Exchange, body []byte) ([]byte, Usage, error) {
		if x.native() {
			return anthropicNativeAnswer(body)
		}
		out, u, err := x.chatAnswer(body)
		if err != nil {
			return nil, u, err
		}
		out, err = AnthropicIngress{}.Response(out)
		return out, u, err
	},
	stream: func(x *Exchange) StreamTranslator {
		if x.native() && x.spec.Schema == SchemaBedrock { // an AWS event stream: bedrock_native.go
			return newBedrockNativeStream()
		}
		if x.native() {
			st := newNativeAnthropicStream()
			st.vertex = x.spec.Schema == SchemaVertexAI
			return st
		}
		return &ingressStream{up: x.chatStream(), in: AnthropicIngress{}.NewStream()}
	},
}

var embeddingsAPI = &API{
	Endpoint: EndpointEmbeddings, Path: "/v1/embeddings", ModelType: ModelTypeEmbeddings,
	Normalize: plain(ValidateEmbeddings),
	begin: func(x *Exchange, body []byte, t Target) (Request, error) {
		emb, ok := x.tr.(Embedder)
		if !ok {
			return Request{}, BadRequest("embeddings_unsupported", "provider "+strconv.Quote(x.Provider)+" (schema "+string(x.spec.Schema)+") does not serve embeddings")
		}
		// encoding_format and the model name are applied to the answer.
		x.Base64 = EmbeddingsOptionsOf(body, t.Model).Base64
		return emb.EmbeddingsRequest(body, t)
	},
	answer: func(x *Exchange, body []byte) ([]byte, Usage, error) {
		emb, ok := x.tr.(Embedder)
		if !ok {
			return nil, Usage{}, BadRequest("embeddings_unsupported", "schema "+string(x.spec.Schema)+" does not serve embeddings")
		}
		out, u, err := emb.EmbeddingsResponse(body)
		if err != nil {
			return nil, u, err
		}
		out = FinishEmbeddings(out, EmbeddingsOptions{Model: x.Model, Base64: x.Base64})
		if e := CheckEmbeddingsAnswer(out, body); e != nil {
			return nil, u, e
		}
		return out, u, nil
	},
	// Embeddings are never streamed: a stream translator of chat
	// chunks would only garble them.
	stream: func(x *Exchange) StreamTranslator { return x.tr.NewStream(x.streamOptions()) },
}

// APIFor returns the API served at path (query stripped).
func APIFor(path string) (*API, bool) {
	for _, a := range apis {
		if a.Path == path {
			return a, true
		}
	}
	return nil, false
}

// APIByEndpoint returns the API of endpoint e.
func APIByEndpoint(e Endpoint) (*API, bool) {
	for _, a := range apis {
		if a.Endpoint == e {
			return a, true
		}
	}
	return nil, false
}

// APIPaths lists the paths of every API, for the routes that send them
// to the router hop.
func APIPaths() []string {
	out := make([]string, len(apis))
	for i, a := range apis {
		out[i] = a.Path
	}
	return out
}

// taggedStream decorates a chat stream as OpenRouter does: each chunk
// names the provider, and the one usage chunk carries the cost.
type taggedStream struct {
	up     StreamTranslator
	x      *Exchange
	field  []byte
	buf    []byte
	costed bool
}

func (s *taggedStream) Translate(dst, chunk []byte) []byte {
	s.buf = s.up.Translate(s.buf[:0], chunk)
	return s.decorate(dst)
}

func (s *taggedStream) Finish(dst []byte) []byte {
	s.buf = s.up.Finish(s.buf[:0])
	return s.decorate(dst)
}

func (s *taggedStream) Usage() Usage { return s.up.Usage() }

func (s *taggedStream) decorate(dst []byte) []byte {
	start := len(dst)
	dst = tagProvider(dst, s.buf, s.field)
	if !s.costed {
		// Usage is final once the usage chunk is out.
		if fields, ok := s.x.costFields(s.up.Usage()); ok {
			var out []byte
			if out, s.costed = addUsageFields(dst[start:], fields); s.costed {
				dst = append(dst[:start], out...)
			}
		}
	}
	return dst
}

// ingressStream turns a provider stream into OpenAI chunks, then into
// the client's own event stream.
type ingressStream struct {
	up, in StreamTranslator
	buf    []byte
}

func (s *ingressStream) Translate(dst, chunk []byte) []byte {
	s.buf = s.up.Translate(s.buf[:0], chunk)
	s.hint()
	return s.in.Translate(dst, s.buf)
}

func (s *ingressStream) Finish(dst []byte) []byte {
	s.buf = s.up.Finish(s.buf[:0])
	s.hint()
	dst = s.in.Translate(dst, s.buf)
	return s.in.Finish(dst)
}

func (s *ingressStream) Usage() Usage { return s.up.Usage() }

// hint passes what the provider said of usage so far to an ingress that
// reports it before its input does (message_start's input_tokens).
func (s *ingressStream) hint() {
	if h, ok := s.in.(UsageHinter); ok {
		h.HintUsage(s.up.Usage())
	}
}

// IsWebSearchTool reports whether a Messages tool's type is Anthropic's
// web search server tool, in any version (web_search_20250305, ...).
func IsWebSearchTool(typ string) bool { return strings.HasPrefix(typ, "web_search_") }

// IsResponsesWebSearchTool reports whether a Responses tool's type is
// OpenAI's hosted web search: web_search, web_search_preview and their
// dated versions (web_search_2025_08_26, web_search_preview_2025_03_11).
func IsResponsesWebSearchTool(typ string) bool {
	return typ == "web_search" || strings.HasPrefix(typ, "web_search_preview") || strings.HasPrefix(typ, "web_search_2")
}

// withoutServerTools returns a Messages body without its Anthropic server
// tools (those with a type other than "custom"); body itself when it has
// none.
func withoutServerTools(body []byte) []byte {
	tools := gjson.GetBytes(body, "tools")
	if !tools.IsArray() {
		return body
	}
	var keep []string
	server := false
	tools.ForEach(func(_, t gjson.Result) bool {
		if typ := t.Get("type"); typ.Exists() && typ.Type != gjson.Null && typ.Str != "custom" {
			server = true
		} else {
			keep = append(keep, t.Raw)
		}
		return true
	})
	if !server {
		return body
	}
	out, err := sjson.SetRawBytes(body, "tools", []byte("["+strings.Join(keep, ",")+"]"))
	if err != nil {
		return body
	}
	return out
}
