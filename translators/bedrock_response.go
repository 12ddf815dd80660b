package translators

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// The response half of the Bedrock translation: whole Converse answers and
// errors. Streams are in bedrock_stream.go.

func (openAIToBedrock) Response(body []byte) ([]byte, Usage, error) {
	if !validJSON(body) {
		return nil, Usage{}, &APIError{Status: 502, Type: TypeUpstream, Code: "bad_upstream_response", Message: "provider returned a body that is not JSON"}
	}
	root := gjson.ParseBytes(body)
	msg := root.Get("output.message")
	if !msg.IsObject() {
		return nil, Usage{}, &APIError{Status: 502, Type: TypeUpstream, Code: "bad_upstream_response", Message: "provider response has no output message"}
	}
	usage := bedrockUsageOf(root.Get("usage"))

	var text, reasoning strings.Builder
	hasText, hasStructured := false, false
	var structured string
	var calls, thoughts []gjson.Result
	for _, c := range msg.Get("content").Array() {
		switch {
		case c.Get("text").Exists():
			text.WriteString(c.Get("text").Str)
			hasText = true
		case c.Get("toolUse").IsObject():
			tu := c.Get("toolUse")
			if !strings.HasPrefix(tu.Get("name").Str, bedrockStructuredPrefix) {
				calls = append(calls, tu)
			} else if !hasStructured {
				hasStructured = true
				structured = bedrockCompact(tu.Get("input"))
			}
		case c.Get("reasoningContent").IsObject():
			rc := c.Get("reasoningContent")
			thoughts = append(thoughts, rc)
			reasoning.WriteString(rc.Get("reasoningText.text").Str)
		}
	}

	h := chunkHeader{}
	h.fill() // Converse answers carry no id
	out := make([]byte, 0, len(body)+256)
	out = append(out, `{"id":`...)
	out = appendJSONString(out, h.ID)
	out = append(out, `,"object":"chat.completion","created":`...)
	out = strconv.AppendInt(out, time.Now().Unix(), 10)
	out = append(out, `,"model":"","choices":[{"index":0,"message":{"role":"assistant","content":`...)
	switch {
	case hasStructured: // the answer is the tool input; any text around it is not JSON
		out = appendJSONString(out, structured)
	case hasText:
		out = appendJSONString(out, text.String())
	default:
		out = append(out, "null"...)
	}
	if len(thoughts) > 0 {
		out = append(out, `,"reasoning":`...)
		out = appendJSONString(out, reasoning.String())
		out = append(out, `,"reasoning_details":[`...)
		for i, rc := range thoughts {
			if i > 0 {
				out = append(out, ',')
			}
			if rd := rc.Get("redactedContent"); rd.Exists() {
				out = append(out, `{"type":"reasoning.encrypted","data":`...)
				out = appendJSONString(out, rd.String())
			} else {
				out = append(out, `{"type":"reasoning.text","text":`...)
				out = appendJSONString(out, rc.Get("reasoningText.text").Str)
				if sig := rc.Get("reasoningText.signature"); sig.Str != "" {
					out = append(out, `,"signature":`...)
					out = appendJSONString(out, sig.Str)
				}
			}
			out = append(out, `,"index":`...)
			out = strconv.AppendInt(out, int64(i), 10)
			out = append(out, '}')
		}
		out = append(out, ']')
	}
	if len(calls) > 0 {
		out = append(out, `,"tool_calls":[`...)
		for i, c := range calls {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, `{"id":`...)
			out = appendJSONString(out, c.Get("toolUseId").String())
			out = append(out, `,"type":"function","function":{"name":`...)
			out = appendJSONString(out, c.Get("name").String())
			out = append(out, `,"arguments":`...)
			out = appendJSONString(out, bedrockCompact(c.Get("input")))
			out = append(out, "}}"...)
		}
		out = append(out, ']')
	}
	finish := bedrockFinishReason(root.Get("stopReason").Str)
	if finish == "tool_calls" && len(calls) == 0 && hasStructured {
		finish = "stop"
	}
	out = append(out, `},"logprobs":null,"finish_reason":"`...)
	out = append(out, finish...)
	out = append(out, `"}],"usage":`...)
	out = appendUsage(out, usage)
	out = append(out, '}')
	return out, usage, nil
}

// bedrockCompact renders a tool input object as a compact JSON string.
func bedrockCompact(in gjson.Result) string {
	if !in.IsObject() {
		return "{}"
	}
	var buf bytes.Buffer
	if json.Compact(&buf, []byte(in.Raw)) != nil {
		return "{}"
	}
	return buf.String()
}

// bedrockUsageOf reads Converse usage. inputTokens excludes cache reads
// and writes, which OpenAI counts as prompt tokens.
func bedrockUsageOf(u gjson.Result) Usage {
	read, write := u.Get("cacheReadInputTokens").Int(), u.Get("cacheWriteInputTokens").Int()
	return Usage{
		PromptTokens:     u.Get("inputTokens").Int() + read + write,
		CompletionTokens: u.Get("outputTokens").Int(),
		CachedTokens:     read,
		CacheWriteTokens: write,
	}
}

func (openAIToBedrock) Error(status int, retryAfter string, body []byte) *APIError {
	// Bedrock names the error in the x-amzn-ErrorType header, which does
	// not reach this method; some gateways in front of it put __type in
	// the body.
	typ := gjson.GetBytes(body, "__type").Str
	msg := upstreamMessage(body)
	if msg == "" {
		msg = gjson.GetBytes(body, "Message").Str // the IAM layer capitalises it
	}
	return bedrockAPIError(status, retryAfter, typ, msg)
}

// HeaderError is Error with the response headers: Bedrock names the
// exception in x-amzn-ErrorType ("ThrottlingException:http://internal...").
// The upstream hop prefers it to Error when a translator has it, so a
// ModelNotReadyException sent as 429 is told as 503.
func (openAIToBedrock) HeaderError(status int, header func(string) string, body []byte) *APIError {
	typ := header("x-amzn-errortype")
	if typ == "" {
		typ = gjson.GetBytes(body, "__type").Str
	}
	msg := upstreamMessage(body)
	if msg == "" {
		msg = gjson.GetBytes(body, "Message").Str
	}
	return bedrockAPIError(status, header("retry-after"), typ, msg)
}

// bedrockAPIError maps a Bedrock exception type (from a header, a body or
// an event stream exception) or, lacking one, the HTTP status to the error
// the client sees.
func bedrockAPIError(status int, retryAfter, typ, msg string) *APIError {
	// "ValidationException:http://internal.amazon.com/coral/..." and
	// "com.amazon.coral.service#ValidationException" name the same type.
	if i := strings.LastIndexByte(typ, '#'); i >= 0 {
		typ = typ[i+1:]
	}
	if i := strings.IndexByte(typ, ':'); i >= 0 {
		typ = typ[:i]
	}
	switch strings.ToLower(typ) {
	case "throttlingexception", "servicequotaexceededexception":
		status = 429
	case "serviceunavailableexception", "modelnotreadyexception":
		status = 503
	case "accessdeniedexception", "unrecognizedclientexception", "invalidsignatureexception", "expiredtokenexception":
		status = 403
	case "validationexception":
		status = 400
	case "modeltimeoutexception":
		status = 504
	case "resourcenotfoundexception":
		status = 404
	case "modelerrorexception", "modelstreamerrorexception", "internalserverexception":
		if status < 500 {
			status = 500
		}
	}
	if status == 0 {
		status = 500
	}
	if status == 424 { // ModelErrorException: the model behind Bedrock failed
		status = 502
	}
	e := UpstreamError(status, retryAfter, msg)
	if e.Status == 400 && bedrockContextTooLong(msg) {
		e.Type, e.Code = TypeInvalidRequest, "context_length_exceeded"
	}
	return e
}

// bedrockContextTooLong recognises the messages Bedrock and the models
// behind it give for a prompt over the context window.
func bedrockContextTooLong(msg string) bool {
	m := strings.ToLower(msg)
	for _, s := range []string{"input is too long", "too many input tokens", "prompt is too long", "exceed context limit", "maximum context length", "context window"} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}
