// Package routing decides, per request, which providers may serve it and
// in what order: the request's OpenRouter-style preferences narrowed by
// the gateway's central policy, request needs, and live provider health
// and speed. It is pure logic over the config catalog; Envoy carries the
// resulting plan out (priority groups and retries).
package routing

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/tokens"
	"github.com/switchboard-gw/switchboard/translators"
)

// Sort keys.
const (
	SortPrice      = "price"
	SortThroughput = "throughput"
	SortLatency    = "latency"
)

// Prefs are one request's routing preferences and needs.
type Prefs struct {
	// Model is the primary public model (suffix stripped).
	Model string
	// Fallbacks are further public models to try, in order.
	Fallbacks []string

	Order          []string
	Only           []string
	Ignore         []string
	AllowFallbacks bool
	Sort           string
	// PartitionByModel sorts within each model (default) rather than
	// across all candidates.
	PartitionByModel   bool
	MinThroughput      float64 // tokens/s, preferred
	MaxLatency         float64 // seconds to first token, preferred
	DenyDataCollection bool
	ZDR                bool
	MaxPrice           config.Price
	// Session keeps a conversation on one provider for its prompt cache.
	Session string

	// Needs are capabilities the request uses.
	Needs []string
	// Tokens estimates prompt plus requested completion tokens, at four
	// bytes of body a token. The context-length check uses it only when
	// need is nil (a body without messages, or Prefs made by hand).
	Tokens int
	// need counts a chat body's tokens per provider model, with the
	// model's tokenizer, when bounds cannot show that it fits.
	need *tokens.Needs
}

// tokensOn is what the request needs of a provider model's context of
// limit tokens.
func (p Prefs) tokensOn(model string, limit int) int {
	if p.need == nil {
		return p.Tokens
	}
	return p.need.Of(model, limit)
}

// Caps on the lists a request may carry. Each list is walked against the
// catalog; without a cap a 100,000-name 'models' list burnt a core for
// 25 s. A plan holds at most routing.max_attempts attempts anyway.
const (
	MaxModels        = 32 // 'models'
	MaxProviderNames = 64 // each of provider.order, only, ignore
)

// ParsePrefs reads the routing-relevant fields of an OpenAI chat body.
// session is the x-session-id header, if any.
func ParsePrefs(body []byte, session string) (Prefs, *translators.APIError) {
	f := topLevel(body)
	p := Prefs{AllowFallbacks: true, PartitionByModel: true}
	model, models := f.model, f.models
	if model.Exists() && model.Type != gjson.String {
		return p, translators.BadRequest("invalid_model", "'model' must be a string")
	}
	if models.Exists() && !models.IsArray() {
		return p, translators.BadRequest("invalid_models", "'models' must be an array of model names")
	}
	if n := countElems(models); n > MaxModels {
		e := translators.BadRequest("too_many_models", "'models' lists "+strconv.Itoa(n)+" models; the limit is "+strconv.Itoa(MaxModels))
		e.Param = "models"
		return p, e
	}
	var list []string
	for _, m := range models.Array() {
		if m.Type != gjson.String || m.Str == "" {
			return p, translators.BadRequest("invalid_models", "'models' must be an array of model names")
		}
		list = append(list, m.Str)
	}
	p.Model = model.Str
	if p.Model == "" && len(list) > 0 {
		p.Model, list = list[0], list[1:]
	}
	p.Model = p.applySuffix(p.Model)
	seen := map[string]bool{p.Model: true}
	for _, m := range list {
		if m = p.applySuffix(m); !seen[m] {
			seen[m] = true
			p.Fallbacks = append(p.Fallbacks, m)
		}
	}

	if prov := f.provider; prov.Exists() {
		if !prov.IsObject() {
			return p, translators.BadRequest("invalid_provider", "'provider' must be an object")
		}
		if err := p.parseProvider(prov); err != nil {
			return p, err
		}
	}
	p.Session = session
	if s := f.sessionID; s.Type == gjson.String && s.Str != "" {
		p.Session = s.Str
	}
	var completion int
	p.Needs, p.Tokens, completion = needs(f, body)
	if f.messages.Exists() {
		p.need = tokens.NewNeeds(body, completion)
	}
	return p, nil
}

// fields are the top-level members routing reads. They are collected in
// one pass: each gjson Get scans the body from the start again, skipping
// over the whole message history each time.
type fields struct {
	model, models, provider, sessionID, tools, responseFormat      gjson.Result
	reasoning, reasoningEffort, messages, maxCompletion, maxTokens gjson.Result
}

func topLevel(body []byte) fields {
	var f fields
	// The body is the request's, never changed: read without a copy.
	translators.ParseView(body).ForEach(func(k, v gjson.Result) bool {
		var dst *gjson.Result
		switch k.Str {
		case "model":
			dst = &f.model
		case "models":
			dst = &f.models
		case "provider":
			dst = &f.provider
		case "session_id":
			dst = &f.sessionID
		case "tools":
			dst = &f.tools
		case "response_format":
			dst = &f.responseFormat
		case "reasoning":
			dst = &f.reasoning
		case "reasoning_effort":
			dst = &f.reasoningEffort
		case "messages":
			dst = &f.messages
		case "max_completion_tokens":
			dst = &f.maxCompletion
		case "max_tokens":
			dst = &f.maxTokens
		default:
			return true
		}
		if !dst.Exists() { // the first of duplicate keys wins, as with Get
			*dst = v
		}
		return true
	})
	return f
}

// applySuffix strips OpenRouter's :floor and :nitro variants.
func (p *Prefs) applySuffix(m string) string {
	switch {
	case strings.HasSuffix(m, ":floor"):
		p.Sort = SortPrice
		return strings.TrimSuffix(m, ":floor")
	case strings.HasSuffix(m, ":nitro"):
		p.Sort = SortThroughput
		return strings.TrimSuffix(m, ":nitro")
	}
	return m
}

func (p *Prefs) parseProvider(prov gjson.Result) *translators.APIError {
	var err *translators.APIError
	strs := func(key string) []string {
		v := prov.Get(key)
		if !v.Exists() || err != nil {
			return nil
		}
		if !v.IsArray() {
			err = translators.BadRequest("invalid_provider", "provider."+key+" must be an array of provider names")
			return nil
		}
		if n := countElems(v); n > MaxProviderNames {
			err = translators.BadRequest("too_many_providers", "provider."+key+" lists "+strconv.Itoa(n)+" providers; the limit is "+strconv.Itoa(MaxProviderNames))
			err.Param = "provider." + key
			return nil
		}
		var out []string
		for _, s := range v.Array() {
			if s.Type != gjson.String {
				err = translators.BadRequest("invalid_provider", "provider."+key+" must be an array of provider names")
				return nil
			}
			out = append(out, s.Str)
		}
		return out
	}
	p.Order, p.Only, p.Ignore = strs("order"), strs("only"), strs("ignore")
	if v := prov.Get("allow_fallbacks"); v.Exists() {
		p.AllowFallbacks = v.Type != gjson.False
	}
	switch s := prov.Get("sort"); {
	case s.Type == gjson.String:
		p.Sort = s.Str
	case s.IsObject():
		p.Sort = s.Get("by").Str
		p.PartitionByModel = s.Get("partition").Str != "none"
	case s.Exists() && s.Type != gjson.Null:
		err = translators.BadRequest("invalid_provider", "provider.sort must be a string or {by, partition}")
	}
	if p.Sort != "" && p.Sort != SortPrice && p.Sort != SortThroughput && p.Sort != SortLatency {
		err = translators.BadRequest("invalid_provider", "provider.sort "+strconv.Quote(p.Sort)+" is not one of price, throughput, latency")
	}
	p.MinThroughput = threshold(prov.Get("preferred_min_throughput"))
	p.MaxLatency = threshold(prov.Get("preferred_max_latency"))
	p.DenyDataCollection = prov.Get("data_collection").Str == "deny"
	p.ZDR = prov.Get("zdr").Bool()
	mp := prov.Get("max_price")
	p.MaxPrice = config.Price{Prompt: mp.Get("prompt").Float(), Completion: mp.Get("completion").Float(), Request: mp.Get("request").Float()}
	return err
}

// countElems counts an array's elements without building them.
func countElems(v gjson.Result) int {
	n := 0
	v.ForEach(func(_, _ gjson.Result) bool { n++; return true })
	return n
}

// threshold reads a number or an object of percentile cut-offs (the p50
// is used).
func threshold(v gjson.Result) float64 {
	if v.IsObject() {
		return v.Get("p50").Float()
	}
	return v.Float()
}

// needs lists the capabilities a chat body uses and estimates its tokens
// (about four bytes a token, plus the completion it asks for, which it
// returns too).
func needs(f fields, body []byte) ([]string, int, int) {
	size := len(body)
	var n []string
	if t := f.tools; t.IsArray() && len(t.Array()) > 0 {
		n = append(n, config.CapTools)
	}
	if f.responseFormat.Get("type").Str == "json_schema" {
		n = append(n, config.CapJSONSchema)
	}
	if f.reasoning.Exists() || f.reasoningEffort.Exists() {
		n = append(n, config.CapReasoning)
	}
	vision := false
	// An image part names its type "image_url": a body with no such
	// bytes and no \u escape (which could spell it) has none, and its
	// messages need no walk (a 100 KB conversation: most of the cost).
	if bytes.Contains(body, []byte("image_url")) || bytes.Contains(body, []byte(`\u`)) {
		f.messages.ForEach(func(_, m gjson.Result) bool {
			m.Get("content").ForEach(func(_, part gjson.Result) bool {
				vision = part.Get("type").Str == "image_url"
				return !vision
			})
			return !vision
		})
	}
	if vision {
		n = append(n, config.CapVision)
	}
	tokens := size / 4
	max := f.maxCompletion.Int()
	if max == 0 {
		max = f.maxTokens.Int()
	}
	return n, tokens + int(max), int(max)
}
