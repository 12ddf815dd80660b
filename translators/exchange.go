package translators

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// Facts are what one attempt's request side decided that its answer side
// needs. The upstream hop translates the request and the router hop the
// answer, on any replica: the facts travel between them in Envoy's
// metadata, so both build the same Exchange.
type Facts struct {
	API      Endpoint // the client's API
	Schema   Schema   // the provider's
	Provider string   // named on answers ("provider": ...)
	Model    string   // the provider's model id
	Stream   bool
	// IncludeUsage: the client asked for a usage chunk
	// (stream_options.include_usage).
	IncludeUsage bool
	// ExcludeReasoning: reasoning.exclude; tokens are still counted.
	ExcludeReasoning bool
	// Base64: embeddings asked with encoding_format base64.
	Base64 bool
	// Native: the client's API is the provider's own, so bodies pass
	// through (Spec.Native).
	Native bool
	// ChatForm: the body the upstream hop translates is already the
	// OpenAI chat form (the router hop's plugins rewrote it), whatever
	// API the client called; answers still go back in the client's API.
	ChatForm bool
	// Publisher: who serves the model behind the schema (Vertex AI:
	// "anthropic" for Claude, "google"), so answers are read as that
	// publisher's. "" from an older upstream hop: the answer's shape
	// decides.
	Publisher string
}

// Price is what an answer costs, in USD per million tokens (Request: per
// request, Image: per image made). Zero prices nothing.
type Price struct{ Prompt, Completion, CachedPrompt, Request, Image float64 }

// Cost prices usage; false when there is no price.
func (p Price) Cost(u Usage) (float64, bool) {
	if p == (Price{}) {
		return 0, false
	}
	cached := p.CachedPrompt
	if cached == 0 {
		cached = p.Prompt
	}
	uncached := u.PromptTokens - u.CachedTokens
	// One sum, one division: the figure does not depend on how it splits.
	return (float64(uncached)*p.Prompt+float64(u.CachedTokens)*cached+float64(u.CompletionTokens)*p.Completion)/1e6 + p.Request + float64(u.Images)*p.Image, true
}

// Split prices the prompt side (the per-request fee included) and the
// completion side of usage.
func (p Price) Split(u Usage) (prompt, completion float64, ok bool) {
	if p == (Price{}) {
		return 0, 0, false
	}
	cached := p.CachedPrompt
	if cached == 0 {
		cached = p.Prompt
	}
	uncached := u.PromptTokens - u.CachedTokens
	return (float64(uncached)*p.Prompt+float64(u.CachedTokens)*cached)/1e6 + p.Request, float64(u.CompletionTokens)*p.Completion/1e6 + float64(u.Images)*p.Image, true
}

// costFields are the usage members an answer's cost goes in, OpenRouter's
// "cost" and "cost_details", as JSON members without braces.
func (x *Exchange) costFields(u Usage) (string, bool) {
	c, ok := x.Cost(u)
	if !ok {
		return "", false
	}
	prompt, completion := 0.0, 0.0
	if c > 0 {
		prompt, completion, _ = x.Price.Split(u)
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	return `"cost":` + f(c) + `,"cost_details":{"upstream_inference_cost":` + f(c) +
		`,"upstream_inference_prompt_cost":` + f(prompt) + `,"upstream_inference_completions_cost":` + f(completion) + `}`, true
}

// Exchange is one attempt: the request sent to the provider and the
// translation of whatever comes back, in the client's API.
type Exchange struct {
	Facts
	// Upstream is the provider request (set by Begin, empty after
	// Resume).
	Upstream Request
	// Price, when set, adds usage.cost to answers.
	Price Price
	// AfterChat and WrapChat, when set, transform the answer in its chat
	// form, before it becomes the client's API (the router hop's
	// plugins: citations, healing).
	AfterChat func(chat []byte, u Usage) ([]byte, error)
	WrapChat  func(StreamTranslator) StreamTranslator
	// Local, when set, is the whole answer: the gateway answers the
	// attempt itself and sends nothing upstream (a token count the
	// provider has no API for). LocalHeaders go with it.
	Local        []byte
	LocalHeaders []Header

	api    *API
	spec   *Spec
	tr     Translator
	client ClientContext
}

// Begin translates a client body (as the client sent it, in api's schema)
// for one attempt on a provider of spec's schema, credentials included.
func Begin(api *API, spec *Spec, body []byte, t Target, key string, f Facts) (*Exchange, error) {
	f.API, f.Schema, f.Model = api.Endpoint, spec.Schema, t.Model
	f.Native = NativeFor(api, spec, t) && !f.ChatForm
	if spec.publisher != nil {
		f.Publisher = spec.publisher(t.Model)
	}
	x := &Exchange{Facts: f, api: api, spec: spec, tr: spec.translatorFor(f.Publisher)}
	req, err := api.begin(x, body, t)
	if err != nil {
		return nil, err
	}
	req.Headers = append(req.Headers, spec.Credentials(key)...)
	x.Upstream = req
	x.Stream, x.IncludeUsage = req.Stream, req.IncludeUsage
	return x, nil
}

// Resume rebuilds the answer side of an exchange from its facts and what
// the hop kept of the client's request (Normalized.Client).
func Resume(f Facts, client ClientContext) (*Exchange, bool) {
	api, ok := APIByEndpoint(f.API)
	if !ok {
		return nil, false
	}
	spec, ok := SpecFor(f.Schema)
	if !ok {
		return nil, false
	}
	return &Exchange{Facts: f, api: api, spec: spec, tr: spec.translatorFor(f.Publisher), client: client}, true
}

// native reports whether the client's API is the provider's own, so
// bodies pass through (Spec.Native).
func (x *Exchange) native() bool { return x.Native }

// API is the client API this exchange answers.
func (x *Exchange) API() *API { return x.api }

// Answer translates a whole successful (2xx) provider body into the
// client's API. A body that is no answer of the expected shape is an
// error (the provider failed, whatever its status said); the usage the
// body reports comes back with it all the same: the provider billed it.
func (x *Exchange) Answer(body []byte) ([]byte, Usage, error) {
	return x.api.answer(x, body)
}

// NewStream returns the translator of this attempt's streamed answer into
// the client's API.
func (x *Exchange) NewStream() StreamTranslator { return x.api.stream(x) }

// Error maps a provider's error response to the error the client sees.
// header reads the provider's response headers (Bedrock names errors
// there).
func (x *Exchange) Error(status int, retryAfter string, header func(string) string, body []byte) *APIError {
	var e *APIError
	if he, ok := x.tr.(HeaderErrorer); ok && header != nil {
		e = he.HeaderError(status, header, body)
	} else {
		e = x.tr.Error(status, retryAfter, body)
	}
	if e.RetryAfter == "" {
		e.RetryAfter = retryAfter
	}
	return e
}

// RetryAfter is the provider's retry hint from headers other than
// Retry-After, if its translator reads any.
func (x *Exchange) RetryAfter(header func(string) string, now time.Time) string {
	if rh, ok := x.tr.(RetryHinter); ok {
		return rh.RetryAfter(header, now)
	}
	return ""
}

// ReadsErrorHeaders reports whether Error needs the response headers.
func (x *Exchange) ReadsErrorHeaders() bool {
	_, ok := x.tr.(HeaderErrorer)
	return ok
}

// ErrorBody renders e in the client's API shape.
func (x *Exchange) ErrorBody(e *APIError) []byte { return x.api.ErrorBody(e) }

// Cost prices usage at this exchange's price; an API that generates
// nothing (a token count) costs nothing.
func (x *Exchange) Cost(u Usage) (float64, bool) {
	if x.api != nil && !x.api.Generates() {
		return 0, false
	}
	if u.CompletionTokens == 0 && x.api != nil && x.api.ModelType == ModelTypeChat && x.Price != (Price{}) {
		// OpenRouter's zero-completion rule: an answer that produced
		// nothing costs nothing.
		return 0, true
	}
	return x.Price.Cost(u)
}

// HeaderErrorer is implemented by translators whose provider names the
// error in a response header (Bedrock's x-amzn-ErrorType).
type HeaderErrorer interface {
	HeaderError(status int, header func(string) string, body []byte) *APIError
}

// chatAnswer translates a whole chat answer and decorates it as
// OpenRouter does: the provider that served it, the model (Bedrock's
// answers name none), its cost; reasoning left out when excluded.
func (x *Exchange) chatAnswer(body []byte) ([]byte, Usage, error) {
	out, usage, err := x.tr.Response(body)
	if err == nil {
		if e := CheckChatAnswer(out, body); e != nil {
			err = e
		}
	}
	if err == nil && x.AfterChat != nil {
		out, err = x.AfterChat(out, usage)
	}
	if err != nil {
		return nil, usage, err // what the body reports was billed
	}
	return out, usage, nil
}

// chatStream is the provider stream in chat chunks, with the plugins'
// stream transform when there is one.
func (x *Exchange) chatStream() StreamTranslator {
	st := x.tr.NewStream(x.streamOptions())
	if x.WrapChat != nil {
		st = x.WrapChat(st)
	}
	return st
}

func (x *Exchange) decorateChat(out []byte, usage Usage) []byte {
	if x.ExcludeReasoning {
		out, _ = sjson.DeleteBytes(out, "choices.0.message.reasoning")
		out, _ = sjson.DeleteBytes(out, "choices.0.message.reasoning_details")
	}
	if gjson.GetBytes(out, "model").Str == "" {
		out, _ = sjson.SetBytes(out, "model", x.Model)
	}
	out, _ = sjson.SetBytes(out, "provider", x.Provider)
	if fields, ok := x.costFields(usage); ok {
		out = setCost(out, fields)
	}
	return out
}

func (x *Exchange) streamOptions() StreamOptions {
	return StreamOptions{IncludeUsage: x.IncludeUsage, ExcludeReasoning: x.ExcludeReasoning, Model: x.Model}
}

// setCost puts the cost fields into a whole answer's usage object.
func setCost(body []byte, fields string) []byte {
	// Most answers have a usage object without cost: the members are
	// spliced in before its closing brace, with no parse of fields and no
	// rewrite of the body per member (sjson twice was 4% of the router
	// hop's CPU).
	u := gjson.GetBytes(body, "usage")
	if u.IsObject() && u.Index > 0 && u.Index+len(u.Raw) <= len(body) && string(body[u.Index:u.Index+len(u.Raw)]) == u.Raw &&
		!u.Get("cost").Exists() && !u.Get("cost_details").Exists() {
		end := u.Index + len(u.Raw) - 1
		out := make([]byte, 0, len(body)+len(fields)+1)
		out = append(out, body[:end]...)
		if len(bytes.TrimSpace(body[u.Index+1:end])) > 0 {
			out = append(out, ',')
		}
		out = append(out, fields...)
		return append(out, body[end:]...)
	}
	var v struct {
		Cost    float64         `json:"cost"`
		Details json.RawMessage `json:"cost_details"`
	}
	if json.Unmarshal([]byte("{"+fields+"}"), &v) != nil {
		return body
	}
	out, err := sjson.SetBytes(body, "usage.cost", v.Cost)
	if err == nil {
		out, err = sjson.SetRawBytes(out, "usage.cost_details", v.Details)
	}
	if err != nil {
		return body
	}
	return out
}
