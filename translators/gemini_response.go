package translators

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// geminiUsage holds Gemini's usageMetadata counters. promptTokenCount
// already includes the cached tokens; thoughts are not in
// candidatesTokenCount, while OpenAI counts reasoning as completion.
type geminiUsage struct {
	prompt, toolPrompt, candidates, thoughts, cached int64
}

// read overwrites the counters m carries; stream events carry running
// totals. One pass: it runs for every stream event.
func (u *geminiUsage) read(m gjson.Result) {
	m.ForEach(func(k, v gjson.Result) bool {
		if v.Type != gjson.Number {
			return true
		}
		switch k.Str {
		case "promptTokenCount":
			u.prompt = v.Int()
		case "toolUsePromptTokenCount":
			u.toolPrompt = v.Int()
		case "candidatesTokenCount":
			u.candidates = v.Int()
		case "thoughtsTokenCount":
			u.thoughts = v.Int()
		case "cachedContentTokenCount":
			u.cached = v.Int()
		}
		return true
	})
}

func (u geminiUsage) openAI() Usage {
	return Usage{
		PromptTokens:     u.prompt + u.toolPrompt,
		CompletionTokens: u.candidates + u.thoughts,
		CachedTokens:     u.cached,
		ReasoningTokens:  u.thoughts,
	}
}

// geminiAccumulator builds one chat.completion from GenerateContentResponse
// objects: one for generateContent, several for the array form of
// streamGenerateContent.
type geminiAccumulator struct {
	id, model string
	usage     geminiUsage
	blocked   bool
	choices   []geminiChoice
	args      bytes.Buffer
}

type geminiChoice struct {
	index     int
	text      []byte
	hasText   bool
	reasoning []byte
	details   []geminiDetail
	calls     []byte // rendered tool call objects, comma separated
	ncalls    int
	images    []byte // rendered message.images entries, comma separated
	cites     []byte // rendered url_citation annotations, comma separated
	finish    string
}

// geminiDetail is one reasoning_details entry: thought text, or a thought
// signature tied to the tool call it came with.
type geminiDetail struct {
	encrypted bool
	data      []byte // the text, or the signature
	id        string
}

func (a *geminiAccumulator) choice(index int) *geminiChoice {
	for i := range a.choices {
		if a.choices[i].index == index {
			return &a.choices[i]
		}
	}
	a.choices = append(a.choices, geminiChoice{index: index})
	return &a.choices[len(a.choices)-1]
}

func (a *geminiAccumulator) add(r gjson.Result) {
	if a.id == "" {
		if a.id = r.Get("responseId").String(); a.id == "" {
			h := chunkHeader{}
			h.fill()
			a.id = h.ID
		}
		a.model = r.Get("modelVersion").String()
	}
	a.usage.read(r.Get("usageMetadata"))
	if r.Get("promptFeedback.blockReason").String() != "" {
		a.blocked = true
	}
	for i, c := range r.Get("candidates").Array() {
		idx := i
		if x := c.Get("index"); x.Type == gjson.Number {
			idx = int(x.Int())
		}
		ch := a.choice(idx)
		for _, p := range c.Get("content.parts").Array() {
			a.part(ch, p)
		}
		if fr := c.Get("finishReason"); fr.Type == gjson.String && fr.Str != "" {
			ch.finish = fr.Str
		}
		if g := c.Get("groundingMetadata"); g.IsObject() && len(ch.cites) == 0 {
			ch.cites = appendGroundingCitations(ch.cites, g)
		}
	}
}

func (a *geminiAccumulator) part(ch *geminiChoice, p gjson.Result) {
	id := ""
	if fc := p.Get("functionCall"); fc.IsObject() {
		if id = fc.Get("id").String(); id == "" {
			id = string(geminiToolCallID(nil, a.id, ch.index, ch.ncalls))
		}
		if ch.ncalls > 0 {
			ch.calls = append(ch.calls, ',')
		}
		ch.ncalls++
		ch.calls = append(ch.calls, `{"id":`...)
		ch.calls = appendJSONString(ch.calls, id)
		ch.calls = append(ch.calls, `,"type":"function","function":{"name":`...)
		ch.calls = appendJSONString(ch.calls, fc.Get("name").String())
		ch.calls = append(ch.calls, `,"arguments":`...)
		a.args.Reset()
		if args := fc.Get("args"); args.IsObject() && json.Compact(&a.args, []byte(args.Raw)) == nil {
			ch.calls = appendJSONString(ch.calls, a.args.String())
		} else {
			ch.calls = append(ch.calls, `"{}"`...)
		}
		ch.calls = append(ch.calls, "}}"...)
	} else if t := p.Get("text"); t.Type == gjson.String {
		if p.Get("thought").Type == gjson.True {
			ch.reasoning = append(ch.reasoning, t.Str...)
			if n := len(ch.details); n > 0 && !ch.details[n-1].encrypted {
				ch.details[n-1].data = append(ch.details[n-1].data, t.Str...)
			} else if t.Str != "" {
				ch.details = append(ch.details, geminiDetail{data: []byte(t.Str)})
			}
		} else {
			ch.text = append(ch.text, t.Str...)
			ch.hasText = true
		}
	}
	if img, ok := geminiImage(p.Get("inlineData")); ok {
		if len(ch.images) > 0 {
			ch.images = append(ch.images, ',')
		}
		ch.images = appendImageURL(ch.images, img)
	}
	// Other parts (executable code) have no chat completions
	// counterpart; a signature on any part is kept.
	if sig := p.Get("thoughtSignature"); sig.Type == gjson.String && sig.Str != "" {
		ch.details = append(ch.details, geminiDetail{encrypted: true, data: []byte(sig.Str), id: id})
	}
}

func (a *geminiAccumulator) render(out []byte) []byte {
	if len(a.choices) == 0 {
		if a.id == "" {
			a.add(gjson.Result{})
		}
		ch := geminiChoice{finish: "STOP"}
		if a.blocked {
			ch.finish = "SAFETY" // the prompt itself was blocked
		}
		a.choices = append(a.choices, ch)
	}
	out = append(out, `{"id":`...)
	out = appendJSONString(out, a.id)
	out = append(out, `,"object":"chat.completion","created":`...)
	out = strconv.AppendInt(out, time.Now().Unix(), 10)
	out = append(out, `,"model":`...)
	out = appendJSONString(out, a.model)
	out = append(out, `,"choices":[`...)
	for i := range a.choices {
		ch := &a.choices[i]
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"index":`...)
		out = strconv.AppendInt(out, int64(ch.index), 10)
		out = append(out, `,"message":{"role":"assistant","content":`...)
		if ch.hasText {
			out = appendJSONString(out, bytesString(ch.text))
		} else {
			out = append(out, "null"...)
		}
		if len(ch.details) > 0 {
			if len(ch.reasoning) > 0 {
				out = append(out, `,"reasoning":`...)
				out = appendJSONString(out, bytesString(ch.reasoning))
			}
			out = append(out, `,"reasoning_details":[`...)
			for j, d := range ch.details {
				if j > 0 {
					out = append(out, ',')
				}
				out = appendGeminiDetail(out, d.encrypted, bytesString(d.data), d.id, j, false)
			}
			out = append(out, ']')
		}
		if len(ch.cites) > 0 {
			out = append(out, `,"annotations":[`...)
			out = append(out, ch.cites...)
			out = append(out, ']')
		}
		if len(ch.images) > 0 {
			out = append(out, `,"images":[`...)
			out = append(out, ch.images...)
			out = append(out, ']')
		}
		if ch.ncalls > 0 {
			out = append(out, `,"tool_calls":[`...)
			out = append(out, ch.calls...)
			out = append(out, ']')
		}
		out = append(out, `},"logprobs":null,"finish_reason":"`...)
		out = append(out, geminiFinishReason(ch.finish, ch.ncalls > 0)...)
		out = append(out, `"}`...)
	}
	out = append(out, `],"usage":`...)
	out = appendUsage(out, a.usage.openAI())
	return append(out, '}')
}

// appendGeminiDetail appends one OpenRouter-style reasoning_details entry.
// raw says data is already a JSON string literal (a stream copies it).
func appendGeminiDetail(dst []byte, encrypted bool, data, id string, index int, raw bool) []byte {
	if encrypted {
		dst = append(dst, `{"type":"reasoning.encrypted","data":`...)
	} else {
		dst = append(dst, `{"type":"reasoning.text","text":`...)
	}
	if raw {
		dst = append(dst, data...)
	} else {
		dst = appendJSONString(dst, data)
	}
	if id != "" {
		dst = append(dst, `,"id":`...)
		dst = appendJSONString(dst, id)
	}
	dst = append(dst, `,"format":"`+geminiDetailFormat+`","index":`...)
	dst = strconv.AppendInt(dst, int64(index), 10)
	return append(dst, '}')
}

func geminiResponse(body []byte) ([]byte, Usage, error) {
	if !validJSON(body) {
		return nil, Usage{}, &APIError{Status: 502, Type: TypeUpstream, Code: "bad_upstream_response", Message: "provider returned a body that is not JSON"}
	}
	root := gjson.ParseBytes(body)
	// streamGenerateContent without alt=sse answers one JSON array.
	resps := []gjson.Result{root}
	if root.IsArray() {
		resps = root.Array()
	}
	var acc geminiAccumulator
	for _, r := range resps {
		if e := r.Get("error"); e.IsObject() {
			return nil, Usage{}, geminiAPIError(502, "", e)
		}
		if !r.IsObject() {
			return nil, Usage{}, &APIError{Status: 502, Type: TypeUpstream, Code: "bad_upstream_response", Message: "provider returned a body that is not a GenerateContentResponse"}
		}
		acc.add(r)
	}
	out := acc.render(make([]byte, 0, len(body)+256))
	return out, acc.usage.openAI(), nil
}

func geminiError(status int, retryAfter string, body []byte) *APIError {
	root := gjson.ParseBytes(body)
	if root.IsArray() { // the JSON-array form of streamGenerateContent
		root = root.Get("0")
	}
	if e := root.Get("error"); e.IsObject() {
		return geminiAPIError(status, retryAfter, e)
	}
	return UpstreamError(status, retryAfter, upstreamMessage(body))
}

// geminiAPIError maps a google.rpc.Status error object. The canonical
// status name wins over the HTTP status: it is what Google documents, and
// all a mid-stream error carries.
func geminiAPIError(status int, retryAfter string, e gjson.Result) *APIError {
	if c := e.Get("code"); c.Type == gjson.Number && c.Num >= 400 && c.Num < 600 && (status < 400 || status > 599) {
		status = int(c.Num)
	}
	reason := ""
	for _, d := range e.Get("details").Array() {
		switch d.Get(`@type`).Str {
		case "type.googleapis.com/google.rpc.RetryInfo":
			if retryAfter == "" {
				retryAfter = googleRetryDelay(d.Get("retryDelay").Str)
			}
		case "type.googleapis.com/google.rpc.ErrorInfo":
			reason = d.Get("reason").Str
		}
	}
	gstatus, msg := e.Get("status").Str, e.Get("message").Str
	switch {
	case gstatus == "RESOURCE_EXHAUSTED":
		status = 429
	case gstatus == "UNAVAILABLE":
		status = 503
	case gstatus == "UNAUTHENTICATED" || reason == "API_KEY_INVALID" || reason == "ACCESS_TOKEN_EXPIRED":
		status = 401
	case gstatus == "PERMISSION_DENIED":
		status = 403
	case gstatus == "DEADLINE_EXCEEDED":
		status = 504
	case gstatus == "INTERNAL" && status < 500:
		status = 500
	case gstatus == "NOT_FOUND":
		status = 404
	case (gstatus == "INVALID_ARGUMENT" || gstatus == "FAILED_PRECONDITION") && (status < 400 || status > 499):
		status = 400
	}
	out := UpstreamError(status, retryAfter, msg)
	if status == 400 && geminiTooLong(msg) {
		out.Type, out.Code = TypeInvalidRequest, "context_length_exceeded"
	}
	return out
}

// geminiTooLong recognises the token-limit message of Gemini and Vertex:
// "The input token count (1200345) exceeds the maximum number of tokens
// allowed (1048576)."
func geminiTooLong(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "exceeds the maximum number of tokens") ||
		(strings.Contains(m, "input token count") && strings.Contains(m, "exceeds"))
}

// googleRetryDelay turns a google.protobuf.Duration ("23s", "0.5s",
// "1.250s") into whole Retry-After seconds, rounded up.
func googleRetryDelay(d string) string {
	s, ok := strings.CutSuffix(d, "s")
	if !ok {
		return ""
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 86400 {
		return ""
	}
	return strconv.FormatInt(max(int64(math.Ceil(f)), 1), 10)
}

// geminiImage is an inline image part's data, when it is an image.
func geminiImage(inline gjson.Result) (gjson.Result, bool) {
	if !inline.IsObject() || !strings.HasPrefix(inline.Get("mimeType").Str, "image/") {
		return gjson.Result{}, false
	}
	d := inline.Get("data")
	return inline, d.Type == gjson.String && d.Str != ""
}

// appendImageURL appends one OpenRouter message.images entry,
// {"type":"image_url","image_url":{"url":"data:<mime>;base64,<data>"}}.
// Base64 needs no JSON escaping, so well-formed data is copied as it
// came; anything else is escaped.
func appendImageURL(dst []byte, inline gjson.Result) []byte {
	mime, data := jsonEscapedMIME(inline.Get("mimeType").Str), inline.Get("data").Str
	dst = append(dst, `{"type":"image_url","image_url":{"url":`...)
	if base64Text(data) {
		dst = append(dst, `"data:`...)
		dst = append(dst, mime...)
		dst = append(dst, ";base64,"...)
		dst = append(dst, data...)
		dst = append(dst, '"')
	} else {
		dst = appendJSONString(dst, "data:"+mime+";base64,"+data)
	}
	return append(dst, `}}`...)
}

// base64Text reports whether s holds base64 characters only (either
// alphabet, padded or not).
func base64Text(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// jsonEscapedMIME keeps a MIME type safe inside a JSON string: anything
// but a token character is dropped.
func jsonEscapedMIME(m string) string {
	for i := 0; i < len(m); i++ {
		c := m[i]
		if !(c == '/' || c == '.' || c == '+' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return "image/png"
		}
	}
	return m
}

// appendGroundingCitations renders a candidate's groundingMetadata (Google
// Search grounding) as OpenRouter's url_citation annotations, one per web
// source, comma separated: the source's uri and title, and as content the
// first answer segment it supports. start_index and end_index are 0, as
// for the web plugin's sources the answer does not link.
func appendGroundingCitations(dst []byte, g gjson.Result) []byte {
	chunks := g.Get("groundingChunks").Array()
	segment := make([]string, len(chunks))
	g.Get("groundingSupports").ForEach(func(_, s gjson.Result) bool {
		for _, i := range s.Get("groundingChunkIndices").Array() {
			if n := int(i.Int()); n >= 0 && n < len(segment) && segment[n] == "" {
				segment[n] = s.Get("segment.text").Str
			}
		}
		return true
	})
	n := 0
	for i, c := range chunks {
		w := c.Get("web")
		if w.Get("uri").Str == "" {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = append(dst, `{"type":"url_citation","url_citation":{"url":`...)
		dst = appendJSONString(dst, w.Get("uri").Str)
		dst = append(dst, `,"title":`...)
		dst = appendJSONString(dst, w.Get("title").Str)
		dst = append(dst, `,"content":`...)
		dst = appendJSONString(dst, segment[i])
		dst = append(dst, `,"start_index":0,"end_index":0}}`...)
	}
	return dst
}
