package translators

import (
	"bytes"
	"net/url"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// openAIToVertex translates OpenAI chat completions for Vertex AI
// (https://cloud.google.com/vertex-ai/generative-ai/docs/reference/rest).
// Gemini models take the Gemini body at publishers/google; Anthropic
// models (ids starting with "claude") take the Anthropic Messages body at
// publishers/anthropic through rawPredict. The OAuth bearer token is added
// by the auth package after translation.
//
// Its answer side tells the publishers apart by the answer's shape; an
// exchange that knows the publisher (Facts.Publisher) reads answers with
// vertexPublished instead.
type openAIToVertex struct{}

// vertexAnthropicVersion replaces the anthropic-version header on Vertex.
const vertexAnthropicVersion = "vertex-2023-10-16"

// Vertex AI publishers, as Facts.Publisher and the path name them.
const (
	publisherAnthropic = "anthropic"
	publisherGoogle    = "google"
)

// vertexPublisher is the publisher of a model id: the one decision the
// request, the pass-through and the answer sides share.
func vertexPublisher(model string) string {
	if strings.HasPrefix(model, "claude") {
		return publisherAnthropic
	}
	return publisherGoogle
}

func (openAIToVertex) Request(body []byte, t Target) (Request, error) {
	base, err := vertexBase(t)
	if err != nil {
		return Request{}, err
	}
	model := url.PathEscape(t.Model)
	if vertexPublisher(t.Model) == publisherAnthropic {
		return vertexAnthropic(body, t.Model, base+"anthropic/models/"+model)
	}
	g, err := buildGemini(body, t.Model, true)
	if err != nil {
		return Request{}, err
	}
	return g.request(base + "google/models/" + model + geminiMethod(g.stream)), nil
}

// vertexBase is the publishers path of the target's project and region.
func vertexBase(t Target) (string, error) {
	if t.Project == "" || t.Region == "" {
		return "", &APIError{Status: 500, Type: TypeServer, Code: "provider_misconfigured",
			Message: "the vertex-ai provider needs a project and a region"}
	}
	return googleVersioned(t.PathPrefix, "v1") + "/projects/" + url.PathEscape(t.Project) +
		"/locations/" + url.PathEscape(t.Region) + "/publishers/", nil
}

// vertexAnthropicNative is the pass-through of a Messages body to Claude
// on Vertex: the client's body and betas, in Vertex's form.
func vertexAnthropicNative(body []byte, t Target) (Request, error) {
	base, err := vertexBase(t)
	if err != nil {
		return Request{}, err
	}
	req, err := anthropicNativeRequest(body, t)
	if err != nil {
		return Request{}, err
	}
	if t.AnthropicBeta != "" {
		req.Headers = append(req.Headers, Header{"anthropic-beta", t.AnthropicBeta})
	}
	return vertexAnthropicAdjust(req, base+"anthropic/models/"+url.PathEscape(t.Model))
}

// vertexAnthropic builds the rawPredict request of a Claude model from the
// Anthropic translator's request.
func vertexAnthropic(body []byte, model, path string) (Request, error) {
	req, err := openAIToAnthropic{}.Request(body, Target{Model: model})
	if err != nil {
		return Request{}, err
	}
	return vertexAnthropicAdjust(req, path)
}

// vertexAnthropicAdjust turns an Anthropic Messages request into its Vertex
// AI form: no "model" in the body (it is in the path), anthropic_version in
// the body instead of the anthropic-version header, beta flags in the body
// instead of anthropic-beta, and no API key.
func vertexAnthropicAdjust(req Request, path string) (Request, error) {
	b, err := sjson.DeleteBytes(req.Body, "model")
	if err == nil {
		b, err = sjson.SetBytes(b, "anthropic_version", vertexAnthropicVersion)
	}
	headers := make([]Header, 0, len(req.Headers))
	for _, h := range req.Headers {
		switch strings.ToLower(h.Key) {
		case "anthropic-version", "x-api-key":
		case "anthropic-beta":
			for _, f := range strings.Split(h.Value, ",") {
				if f = strings.TrimSpace(f); f != "" && err == nil {
					b, err = sjson.SetBytes(b, "anthropic_beta.-1", f)
				}
			}
		default:
			headers = append(headers, h)
		}
	}
	if err != nil {
		return Request{}, BadRequest("invalid_request", "cannot build the Vertex AI request: "+err.Error())
	}
	req.Headers, req.Body = headers, b
	if req.Stream {
		req.Path = path + ":streamRawPredict"
	} else {
		req.Path = path + ":rawPredict"
	}
	return req, nil
}

// Response tells the two publishers' bodies apart by shape (an Anthropic
// message has a "type", a GenerateContentResponse has none), for an
// exchange whose facts name no publisher: one begun by an upstream hop of
// an older version.
func (openAIToVertex) Response(body []byte) ([]byte, Usage, error) {
	if vertexIsAnthropic(body) {
		return openAIToAnthropic{}.Response(body)
	}
	return geminiResponse(body)
}

// Error reads Anthropic's error shape, which Vertex passes through for
// Claude models, and Google's otherwise (quota, auth, Gemini). It goes by
// shape even when the publisher is known: Google's front end answers
// quota and auth errors for Claude models too.
func (openAIToVertex) Error(status int, retryAfter string, body []byte) *APIError {
	if gjson.GetBytes(body, "type").Str == "error" {
		return openAIToAnthropic{}.Error(status, retryAfter, body)
	}
	return geminiError(status, retryAfter, body)
}

func vertexIsAnthropic(body []byte) bool {
	t := gjson.GetBytes(body, "type")
	return t.Type == gjson.String && (t.Str == "message" || t.Str == "error")
}

func (openAIToVertex) NewStream(opts StreamOptions) StreamTranslator {
	return &vertexStream{opts: opts}
}

// vertexStream picks the Anthropic or the Gemini stream translator from the
// first line of the stream: Anthropic's events have "event:" lines,
// Gemini's only "data:" lines. Bytes before the decision are held, so the
// choice does not depend on how the body is split.
type vertexStream struct {
	opts    StreamOptions
	inner   StreamTranslator
	pending []byte
}

func (s *vertexStream) Translate(dst, chunk []byte) []byte {
	if s.inner != nil {
		return s.inner.Translate(dst, chunk)
	}
	s.pending = append(s.pending, chunk...)
	anthropic, decided := sniffVertexStream(s.pending)
	if !decided && len(s.pending) <= maxEventBytes {
		return dst
	}
	return s.start(dst, anthropic)
}

func (s *vertexStream) start(dst []byte, anthropic bool) []byte {
	if anthropic {
		s.inner = openAIToAnthropic{}.NewStream(s.opts)
	} else {
		s.inner = &geminiStream{opts: s.opts}
	}
	dst = s.inner.Translate(dst, s.pending)
	s.pending = nil
	return dst
}

func (s *vertexStream) Finish(dst []byte) []byte {
	if s.inner == nil {
		dst = s.start(dst, false)
	}
	return s.inner.Finish(dst)
}

func (s *vertexStream) Usage() Usage {
	if s.inner == nil {
		return Usage{}
	}
	return s.inner.Usage()
}

// sniffVertexStream looks at the first field line of an SSE body, past
// blank and comment lines; decided is false until enough of it is there.
func sniffVertexStream(b []byte) (anthropic, decided bool) {
	const field = "event:"
	for len(b) > 0 {
		if b[0] == '\r' && len(b) == 1 {
			return false, false // maybe the start of a blank line
		}
		i := bytes.IndexByte(b, '\n')
		if b[0] == ':' || b[0] == '\n' || (b[0] == '\r' && i == 1) {
			if i < 0 {
				return false, false // a comment still in progress
			}
			b = b[i+1:]
			continue
		}
		n := min(len(b), len(field))
		if i >= 0 {
			n = min(n, i)
		}
		if string(b[:n]) != field[:n] {
			return false, true
		}
		if n == len(field) {
			return true, true
		}
		return false, i >= 0 // a line shorter than "event:" is not one
	}
	return false, false
}

// vertexPublished is the Vertex translator of an exchange whose request
// side named the publisher: answers are read as that publisher's, with
// nothing sniffed or held back.
type vertexPublished struct {
	openAIToVertex
	claude bool
}

// vertexPublishedBy is the translator for a publisher; false for one this
// version does not know (a newer upstream hop's), which is sniffed.
func vertexPublishedBy(publisher string) (Translator, bool) {
	switch publisher {
	case publisherAnthropic:
		return vertexPublished{claude: true}, true
	case publisherGoogle:
		return vertexPublished{}, true
	}
	return nil, false
}

func (v vertexPublished) Response(body []byte) ([]byte, Usage, error) {
	if v.claude {
		return openAIToAnthropic{}.Response(body)
	}
	return geminiResponse(body)
}

func (v vertexPublished) NewStream(opts StreamOptions) StreamTranslator {
	if v.claude {
		return openAIToAnthropic{}.NewStream(opts)
	}
	return &geminiStream{opts: opts}
}

var (
	_ Translator       = openAIToVertex{}
	_ Translator       = vertexPublished{}
	_ Embedder         = vertexPublished{}
	_ StreamTranslator = (*vertexStream)(nil)
)
