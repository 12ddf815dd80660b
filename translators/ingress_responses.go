package translators

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// ResponsesIngress converts between a client speaking the OpenAI Responses
// API (https://platform.openai.com/docs/api-reference/responses) and the
// gateway's OpenAI chat form, so Responses clients (the Codex CLI, the
// Agents SDK, client.responses.create) can be served by any provider. The
// request goes in as an OpenAI chat request that a provider translator takes;
// the answer comes back from that translator as chat JSON or SSE and leaves
// here as a response object or Responses stream events. Like the
// translators, it never modifies its input.
type ResponsesIngress struct{}

// ResponsesRequest is the chat request made from a Responses request, and
// what translating its answer needs to know of it.
type ResponsesRequest struct {
	// Body is the OpenAI chat completions request body.
	Body []byte
	// Stream reports whether the client asked for a streamed response; the
	// chat body then asks for a usage chunk, which response.completed needs.
	Stream bool
	// Store is the request's store flag (the Responses default is true).
	Store bool
	// Dropped lists request parameters the chat form cannot carry and the
	// translation left out, as Request.Dropped does. With
	// provider.require_parameters the request is refused with 400 instead.
	Dropped []string
	// Echo is what the response object repeats of the request.
	Echo ResponsesEcho
}

// ResponsesEcho is what a response object repeats of its request. Request
// builds it; the answer side takes it. Its zero value echoes the Responses
// defaults.
type ResponsesEcho struct {
	// Fields are the response object members the request decides
	// (instructions, tools, tool_choice, text, reasoning, ...), as JSON
	// object members without braces, starting with a comma.
	Fields []byte
	// Model is the model the client asked for, used when the provider's
	// answer names none.
	Model string
	// Summary reports that the client asked for reasoning summaries
	// (reasoning.summary): reasoning text is shown as summary parts.
	// Without it, reasoning travels only in encrypted_content.
	Summary bool
	// Custom names the request's custom (freeform) tools, sent to chat
	// as functions of one string: their calls are custom_tool_call items.
	Custom []string
}

// defaultEchoFields are the Responses defaults, for a zero ResponsesEcho.
const defaultEchoFields = `,"background":false,"instructions":null,"max_output_tokens":null,"max_tool_calls":null,` +
	`"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},` +
	`"service_tier":"default","store":true,"temperature":1,"text":{"format":{"type":"text"}},"tool_choice":"auto",` +
	`"tools":[],"top_logprobs":0,"top_p":1,"truncation":"disabled","user":null,"metadata":{}`

func (e ResponsesEcho) fields() []byte {
	if len(e.Fields) == 0 {
		return []byte(defaultEchoFields)
	}
	return e.Fields
}

// responsesReasoningEnvelope prefixes the encrypted_content of a reasoning
// item the gateway made: the base64url of the chat reasoning_details array
// (text, signatures, another provider's encrypted data), so the client's echo
// restores the entries exactly. OpenAI's own encrypted_content never has the
// prefix. It is the Anthropic ingress's prefix: there one entry (an object)
// travels, here an array.
const responsesReasoningEnvelope = ingressEnvelope

// responsesReasoningFormat tags reasoning_details made from OpenAI's own
// reasoning items, as OpenRouter names them.
const responsesReasoningFormat = "openai-responses-v1"

// appendReasoningEnvelope appends, as a JSON string, the envelope of a
// reasoning_details array.
func appendReasoningEnvelope(dst, details []byte) []byte {
	dst = append(dst, '"')
	dst = append(dst, responsesReasoningEnvelope...)
	dst = base64.RawURLEncoding.AppendEncode(dst, details)
	return append(dst, '"')
}

// openReasoningEnvelope restores the reasoning_details entries an envelope
// carries; ok is false for content without the prefix (OpenAI's own).
func openReasoningEnvelope(s, param string) (entries []gjson.Result, ok bool, err error) {
	rest, ok := strings.CutPrefix(s, responsesReasoningEnvelope)
	if !ok {
		return nil, false, nil
	}
	d, derr := base64.RawURLEncoding.DecodeString(rest)
	r := gjson.ParseBytes(d)
	switch {
	case derr != nil || !validJSON(d):
	case r.IsArray():
		return r.Array(), true, nil
	case r.IsObject(): // an Anthropic ingress envelope: one entry
		return []gjson.Result{r}, true, nil
	}
	return nil, true, responsesBad(param, "invalid_encrypted_content", param+": reasoning data from the gateway was altered and cannot be restored")
}

// responsesBad is a 400 naming the parameter at fault, as OpenAI's errors do.
func responsesBad(param, code, msg string) *APIError {
	e := BadRequest(code, msg)
	e.Param = param
	return e
}

// Error renders an error for a Responses client: OpenAI's error object
// {"error":{"message","type","param","code"}}, which the Responses API uses
// too. The gateway's own errors are already in that shape; this also
// normalizes what a provider sent.
func (ResponsesIngress) Error(status int, openAIErrorBody []byte) []byte {
	msg := upstreamMessage(openAIErrorBody)
	if msg == "" {
		msg = "request failed with status " + strconv.Itoa(status)
	}
	e := &APIError{Status: status, Message: msg, Type: gjson.GetBytes(openAIErrorBody, "error.type").Str}
	if e.Type == "" {
		e.Type = TypeServer
		if status >= 400 && status < 500 {
			e.Type = TypeInvalidRequest
		}
	}
	e.Code = responsesErrorString(gjson.GetBytes(openAIErrorBody, "error.code"))
	e.Param = responsesErrorString(gjson.GetBytes(openAIErrorBody, "error.param"))
	return e.Body()
}

// responsesErrorString reads a code or param that hosts send as a string
// or a number.
func responsesErrorString(r gjson.Result) string {
	if r.Type == gjson.String || r.Type == gjson.Number {
		return r.String()
	}
	return ""
}

// responsesFailedCode is the response.error code for a failure: the
// provider's code when it has one (Codex acts on context_length_exceeded,
// insufficient_quota and rate_limit_exceeded), else server_error.
func responsesFailedCode(code string, status int) string {
	switch {
	case code != "" && code != "upstream_error":
		return code
	case status == 429:
		return "rate_limit_exceeded"
	}
	return "server_error"
}

// responsesIDs are the ids of one response and its items, all derived from
// the chat completion id so a retried translation names them the same.
type responsesIDs struct{ base string }

func newResponsesIDs(chatID string) responsesIDs {
	if chatID == "" {
		chatID = "switchboard_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	return responsesIDs{base: chatID}
}

func (ids responsesIDs) response() string { return "resp_" + ids.base }

func (ids responsesIDs) appendItem(dst []byte, prefix string, n int) []byte {
	dst = append(dst, prefix...)
	dst = append(dst, ids.base...)
	if n > 0 {
		dst = append(dst, '_')
		dst = strconv.AppendInt(dst, int64(n), 10)
	}
	return dst
}

// appendResponsesUsage appends the Responses usage object. The chat usage
// has the same meaning: input includes cached tokens, output reasoning.
func appendResponsesUsage(dst []byte, u Usage) []byte {
	dst = append(dst, `{"input_tokens":`...)
	dst = strconv.AppendInt(dst, u.PromptTokens, 10)
	dst = append(dst, `,"input_tokens_details":{"cached_tokens":`...)
	dst = strconv.AppendInt(dst, u.CachedTokens, 10)
	if u.CacheWriteTokens > 0 {
		dst = append(dst, `,"cache_write_tokens":`...)
		dst = strconv.AppendInt(dst, u.CacheWriteTokens, 10)
	}
	dst = append(dst, `},"output_tokens":`...)
	dst = strconv.AppendInt(dst, u.CompletionTokens, 10)
	dst = append(dst, `,"output_tokens_details":{"reasoning_tokens":`...)
	dst = strconv.AppendInt(dst, u.ReasoningTokens, 10)
	dst = append(dst, `},"total_tokens":`...)
	dst = strconv.AppendInt(dst, u.Total(), 10)
	return append(dst, '}')
}

// responsesStatus maps a chat finish_reason to a response status and its
// incomplete_details reason.
func responsesStatus(finish string) (status, reason string) {
	switch finish {
	case "length":
		return "incomplete", "max_output_tokens"
	case "content_filter":
		return "incomplete", "content_filter"
	}
	return "completed", ""
}

// appendResponseHead appends a response object up to its output array:
// id, object, created_at, status, error, incomplete_details, the echoed
// request fields and the model.
func appendResponseHead(dst []byte, id string, created int64, status, reason string, errObj []byte, echo ResponsesEcho, model string) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendJSONString(dst, id)
	dst = append(dst, `,"object":"response","created_at":`...)
	dst = strconv.AppendInt(dst, created, 10)
	dst = append(dst, `,"status":"`...)
	dst = append(dst, status...)
	dst = append(dst, `","error":`...)
	if errObj != nil {
		dst = append(dst, errObj...)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"incomplete_details":`...)
	if reason != "" {
		dst = append(dst, `{"reason":"`...)
		dst = append(dst, reason...)
		dst = append(dst, `"}`...)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, echo.fields()...)
	dst = append(dst, `,"model":`...)
	if model == "" {
		model = echo.Model
	}
	return appendJSONString(dst, model)
}
