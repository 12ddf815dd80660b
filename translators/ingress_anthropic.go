package translators

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// AnthropicIngress converts between a client speaking the Anthropic Messages
// API (https://docs.anthropic.com/en/api/messages) and the gateway's OpenAI
// form, so Claude-native clients can be served by any provider. The request
// goes in as an OpenAI chat request, which a provider translator then takes;
// the answer comes back from that translator as OpenAI JSON or SSE and leaves
// here in Anthropic shape. Like the translators, it never modifies its input.
type AnthropicIngress struct{}

// ingressEnvelope prefixes reasoning another provider made (a Gemini thought
// signature, OpenAI's encrypted reasoning) when it travels to an Anthropic
// client as a redacted_thinking data or a thinking signature: the base64url
// of its reasoning_details entry, so the client's echo restores the entry,
// format included. Claude's own data is base64 and never has the prefix, and
// the format keeps an Anthropic provider from being sent what it cannot read.
const ingressEnvelope = "switchboard:v1:"

// appendEnvelope appends, as a JSON string, the envelope of a
// reasoning_details entry from another provider: the entry without its text
// and index, which the client's blocks carry themselves.
func appendEnvelope(dst []byte, detail gjson.Result) []byte {
	var obj []byte
	obj = append(obj, '{')
	detail.ForEach(func(k, v gjson.Result) bool {
		if k.Str == "text" || k.Str == "index" || k.Str == "summary" {
			return true
		}
		if len(obj) > 1 {
			obj = append(obj, ',')
		}
		obj = append(obj, k.Raw...)
		obj = append(obj, ':')
		obj = append(obj, v.Raw...)
		return true
	})
	obj = append(obj, '}')
	dst = append(dst, '"')
	dst = append(dst, ingressEnvelope...)
	dst = base64.RawURLEncoding.AppendEncode(dst, obj)
	return append(dst, '"')
}

// openEnvelope restores the reasoning_details entry an envelope carries; ok
// is false for data without the prefix.
func openEnvelope(s, path string) ([]byte, bool, error) {
	rest, ok := strings.CutPrefix(s, ingressEnvelope)
	if !ok {
		return nil, false, nil
	}
	d, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || !validJSON(d) || !gjson.ParseBytes(d).IsObject() {
		return nil, true, BadRequest("invalid_messages", path+": reasoning data from the gateway was altered and cannot be restored")
	}
	return d, true, nil
}

// foreignFormat reports whether a reasoning_details entry was made by a
// provider other than Anthropic's models (Claude on Bedrock leaves the
// format out), so it travels in an envelope.
func foreignFormat(detail gjson.Result) bool {
	f := detail.Get("format").Str
	return f != "" && f != anthropicReasoningFormat && f != "unknown"
}

// Error renders an OpenAI-shaped error body as Anthropic's
// {"type":"error","error":{"type","message"}}, the type chosen by status as
// Anthropic documents (https://docs.anthropic.com/en/api/errors).
func (AnthropicIngress) Error(status int, openAIErrorBody []byte) []byte {
	msg := upstreamMessage(openAIErrorBody)
	if msg == "" {
		msg = "request failed with status " + strconv.Itoa(status)
	}
	out := make([]byte, 0, len(msg)+80)
	out = append(out, `{"type":"error","error":{"type":"`...)
	out = append(out, ingressErrorType(status, gjson.GetBytes(openAIErrorBody, "error.code").Str)...)
	out = append(out, `","message":`...)
	out = appendJSONString(out, msg)
	return append(out, "}}"...)
}

func ingressErrorType(status int, code string) string {
	if code == "provider_overloaded" {
		return "overloaded_error"
	}
	switch status {
	case 401:
		return "authentication_error"
	case 402:
		return "billing_error"
	case 403:
		return "permission_error"
	case 404:
		return "not_found_error"
	case 413:
		return "request_too_large"
	case 429:
		return "rate_limit_error"
	case 503, 529:
		return "overloaded_error"
	case 504:
		return "timeout_error"
	}
	if status >= 400 && status < 500 {
		return "invalid_request_error"
	}
	return "api_error"
}
