package translators

import (
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// openAIToOpenAI serves OpenAI and OpenAI-compatible hosts. The body passes
// through with the model replaced and each host's quirks applied (see
// openai_quirks.go, picked by Target.Host); responses pass through with
// reasoning fields renamed to OpenRouter's reasoning and reasoning_details,
// and the stream is checked rather than rebuilt, so usage is counted and a
// broken stream is reported.
type openAIToOpenAI struct{}

func (openAIToOpenAI) Request(body []byte, t Target) (Request, error) {
	q := openAIQuirksFor(t.Host)
	out, err := openAICompatRequest(body, openAIBody{q: q, model: t.Model, schema: SchemaOpenAI, setModel: true})
	if err != nil {
		return Request{}, err
	}
	out.Path = t.PathPrefix + "/chat/completions"
	out.Headers = []Header{{"content-type", "application/json"}}
	return out, nil
}

// openAICompatRequest is the body half of a request in the OpenAI schema,
// shared by openai and azure-openai.
func openAICompatRequest(body []byte, o openAIBody) (Request, error) {
	if err := checkChatRequest(body); err != nil {
		return Request{}, err
	}
	root := gjson.ParseBytes(body)
	var top members
	top.read(root)
	out := Request{Stream: top.Get("stream").Type == gjson.True}
	out.IncludeUsage = out.Stream && top.Get("stream_options.include_usage").Type == gjson.True
	b, dropped, err := o.rewrite(body, &top, out.Stream)
	if err != nil {
		return Request{}, err
	}
	out.Body, out.Dropped = b, dropped
	return out, nil
}

func (openAIToOpenAI) Response(body []byte) ([]byte, Usage, error) {
	return openAIResponse(body)
}

// openAIResponse checks a whole answer, reads its usage and renames host
// reasoning fields (reasoning_content) to OpenRouter's reasoning and
// reasoning_details.
func openAIResponse(body []byte) ([]byte, Usage, error) {
	if !validJSON(body) {
		return nil, Usage{}, &APIError{Status: 502, Type: TypeUpstream, Code: "bad_upstream_response", Message: "provider returned a body that is not JSON"}
	}
	js := bytesView(body)
	root := gjson.Parse(js)
	u := root.Get("usage")
	if !u.IsObject() {
		u = root.Get("x_groq.usage")
	}
	usage := openAIUsage(u)
	var edits []jsonEdit
	root.Get("choices").ForEach(func(_, c gjson.Result) bool {
		// reasoning.exclude on a whole answer is applied by the caller.
		edits = reasoningEdits(edits, js, c.Get("message"), false)
		return true
	})
	if len(edits) == 0 {
		return body, usage, nil
	}
	return applyEdits(make([]byte, 0, len(body)+len(edits)*64), body, edits), usage, nil
}

func (openAIToOpenAI) Error(status int, retryAfter string, body []byte) *APIError {
	return openAIError(status, retryAfter, body)
}

// openAIError maps an error in the OpenAI shape {"error":{"message","code"}},
// which OpenAI, Azure and the compatible hosts all use with small
// differences: the code may be a string, a number or missing, and the retry
// hint may be only in the message.
func openAIError(status int, retryAfter string, body []byte) *APIError {
	msg := upstreamMessage(body)
	e := UpstreamError(status, retryAfter, msg)
	if p := gjson.GetBytes(body, "error.param"); p.Type == gjson.String && e.Code != "provider_auth_failed" {
		e.Param = p.Str
	}
	code := gjson.GetBytes(body, "error.code")
	switch {
	case status == 429:
		if code.Str == "insufficient_quota" {
			e.Code = code.Str // billing, not a rate: retrying will not help
		}
		if e.RetryAfter == "" {
			e.RetryAfter = retryHint(msg)
		}
	case status >= 400 && status < 500 && e.Type == TypeInvalidRequest:
		if code.Type == gjson.String && code.Str != "" {
			e.Code = code.Str
		}
		if e.Code != "content_filter" && contextTooLong(msg) {
			e.Code = "context_length_exceeded"
		}
	}
	return e
}

// contextTooLong recognises the context-length errors of hosts that send no
// code: "This model's maximum context length is ..." (OpenAI, DeepSeek,
// vLLM), "... too large for model with 32768 maximum context length"
// (Mistral).
func contextTooLong(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "context length") || strings.Contains(m, "context_length_exceeded") ||
		strings.Contains(m, "context window")
}

var retryHintRe = regexp.MustCompile(`(?i)(?:retry after|try again in)\s+(\d+(?:\.\d+)?)\s*(ms|milliseconds?|s|secs?|seconds?)?\b`)

// retryHint reads a retry delay out of a rate-limit message, as Azure
// ("Please retry after 20 seconds") and OpenAI ("Please try again in
// 187ms") write it, in whole seconds rounded up.
func retryHint(msg string) string {
	m := retryHintRe.FindStringSubmatch(msg)
	if m == nil {
		return ""
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return ""
	}
	if strings.HasPrefix(strings.ToLower(m[2]), "m") {
		v /= 1000
	}
	return strconv.Itoa(max(1, int(math.Ceil(v))))
}

func (openAIToOpenAI) NewStream(opts StreamOptions) StreamTranslator {
	return &openAIStream{opts: opts}
}

var _ Translator = openAIToOpenAI{}
