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

func (openAIToAnthropic) Response(body []byte) ([]byte, Usage, error) {
	return anthropicResponse(body, false)
}

// anthropicResponse translates a whole Messages API answer. Thinking blocks
// become message.reasoning and message.reasoning_details unless
// excludeReasoning (OpenRouter's reasoning.exclude); their tokens are
// counted either way, inside output_tokens.
func anthropicResponse(body []byte, excludeReasoning bool) ([]byte, Usage, error) {
	if !validJSON(body) {
		return nil, Usage{}, &APIError{Status: 502, Type: TypeUpstream, Code: "bad_upstream_response", Message: "provider returned a body that is not JSON"}
	}
	root := gjson.ParseBytes(body)
	if root.Get("type").Str == "error" {
		e := root.Get("error")
		return nil, Usage{}, anthropicAPIError(502, "", e.Get("type").Str, e.Get("message").Str)
	}
	if !root.Get("content").IsArray() {
		return nil, Usage{}, &APIError{Status: 502, Type: TypeUpstream, Code: "bad_upstream_response", Message: "provider returned a body that is not a Messages response"}
	}
	var u anthropicUsage
	u.read(root.Get("usage"))
	usage := u.openAI()

	var text, reasoning strings.Builder
	hasText := false
	var jsonAnswer *gjson.Result // the input of the json_object tool
	var calls, thoughts []gjson.Result
	var cites []byte // url_citation annotations of web search citations
	for _, b := range root.Get("content").Array() {
		switch b.Get("type").Str {
		case "text":
			text.WriteString(b.Get("text").Str)
			hasText = true
			b.Get("citations").ForEach(func(_, c gjson.Result) bool {
				cites = appendWebCitation(cites, c)
				return true
			})
		case "tool_use":
			if b.Get("name").Str != anthropicJSONTool {
				calls = append(calls, b)
			} else if jsonAnswer == nil {
				in := b.Get("input")
				jsonAnswer = &in
			}
		case "thinking":
			reasoning.WriteString(b.Get("thinking").Str)
			thoughts = append(thoughts, b)
		case "redacted_thinking":
			thoughts = append(thoughts, b)
		}
	}

	id := root.Get("id").String()
	if id == "" {
		h := chunkHeader{}
		h.fill()
		id = h.ID
	}
	out := make([]byte, 0, len(body)+256)
	out = append(out, `{"id":`...)
	out = appendJSONString(out, id)
	out = append(out, `,"object":"chat.completion","created":`...)
	out = strconv.AppendInt(out, time.Now().Unix(), 10)
	out = append(out, `,"model":`...)
	out = appendJSONString(out, root.Get("model").String())
	out = append(out, `,"choices":[{"index":0,"message":{"role":"assistant","content":`...)
	var args bytes.Buffer
	switch {
	case jsonAnswer != nil: // the answer is the tool input; text around it is not JSON
		if !jsonAnswer.IsObject() || json.Compact(&args, []byte(jsonAnswer.Raw)) != nil {
			args.WriteString("{}")
		}
		out = appendJSONString(out, args.String())
	case hasText:
		out = appendJSONString(out, text.String())
	default:
		out = append(out, "null"...)
	}
	if len(thoughts) > 0 && !excludeReasoning {
		out = append(out, `,"reasoning":`...)
		out = appendJSONString(out, reasoning.String())
		out = append(out, `,"reasoning_details":[`...)
		for i, b := range thoughts {
			if i > 0 {
				out = append(out, ',')
			}
			out = appendReasoningDetail(out, b, i)
		}
		out = append(out, ']')
	}
	if len(cites) > 0 {
		out = append(out, `,"annotations":[`...)
		out = append(out, cites...)
		out = append(out, ']')
	}
	if len(calls) > 0 {
		out = append(out, `,"tool_calls":[`...)
		for i, c := range calls {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, `{"id":`...)
			out = appendJSONString(out, c.Get("id").String())
			out = append(out, `,"type":"function","function":{"name":`...)
			out = appendJSONString(out, c.Get("name").String())
			out = append(out, `,"arguments":`...)
			args.Reset()
			if in := c.Get("input"); in.IsObject() && json.Compact(&args, []byte(in.Raw)) == nil {
				out = appendJSONString(out, args.String())
			} else {
				out = append(out, `"{}"`...)
			}
			out = append(out, "}}"...)
		}
		out = append(out, ']')
	}
	out = append(out, `},"logprobs":null,"finish_reason":"`...)
	finish := anthropicFinishReason(root.Get("stop_reason").Str)
	if finish == "tool_calls" && len(calls) == 0 && jsonAnswer != nil {
		finish = "stop" // the JSON tool was the answer, not a call to make
	}
	out = append(out, finish...)
	out = append(out, `"}],"usage":`...)
	out = appendUsage(out, usage)
	out = append(out, '}')
	return out, usage, nil
}

// appendWebCitation appends one web search citation of a text block
// ({"type":"web_search_result_location","url","title","cited_text"}) as
// a url_citation annotation, comma separated; other citation kinds
// (documents) are left out.
func appendWebCitation(dst []byte, c gjson.Result) []byte {
	if c.Get("type").Str != "web_search_result_location" || c.Get("url").Str == "" {
		return dst
	}
	if len(dst) > 0 {
		dst = append(dst, ',')
	}
	dst = append(dst, `{"type":"url_citation","url_citation":{"url":`...)
	dst = appendJSONString(dst, c.Get("url").Str)
	dst = append(dst, `,"title":`...)
	dst = appendJSONString(dst, c.Get("title").Str)
	dst = append(dst, `,"content":`...)
	dst = appendJSONString(dst, c.Get("cited_text").Str)
	return append(dst, `,"start_index":0,"end_index":0}}`...)
}

// appendReasoningDetail appends one OpenRouter reasoning_details entry for a
// thinking block ({"type":"reasoning.text","text","signature"}) or a
// redacted_thinking block ({"type":"reasoning.encrypted","data"}).
func appendReasoningDetail(dst []byte, b gjson.Result, index int) []byte {
	if b.Get("type").Str == "redacted_thinking" {
		dst = append(dst, `{"type":"reasoning.encrypted","data":`...)
		dst = appendJSONString(dst, b.Get("data").String())
	} else {
		dst = append(dst, `{"type":"reasoning.text","text":`...)
		dst = appendJSONString(dst, b.Get("thinking").String())
		if sig := b.Get("signature").String(); sig != "" {
			dst = append(dst, `,"signature":`...)
			dst = appendJSONString(dst, sig)
		}
	}
	dst = append(dst, `,"format":"`+anthropicReasoningFormat+`","index":`...)
	dst = strconv.AppendInt(dst, int64(index), 10)
	return append(dst, '}')
}

func (openAIToAnthropic) Error(status int, retryAfter string, body []byte) *APIError {
	return anthropicAPIError(status, retryAfter, gjson.GetBytes(body, "error.type").Str, upstreamMessage(body))
}

// RetryAfter is the Retry-After to give the client for an Anthropic
// response: its retry-after header, or else the seconds until the last
// reset among the anthropic-ratelimit-* limits it reports exhausted
// (https://docs.anthropic.com/en/api/rate-limits#response-headers).
// header reads one response header; "" when none applies.
func (openAIToAnthropic) RetryAfter(header func(string) string, now time.Time) string {
	if ra := strings.TrimSpace(header("retry-after")); ra != "" {
		return ra
	}
	var wait time.Duration
	found := false
	for _, limit := range []string{"requests", "tokens", "input-tokens", "output-tokens"} {
		if strings.TrimSpace(header("anthropic-ratelimit-"+limit+"-remaining")) != "0" {
			continue
		}
		reset, err := time.Parse(time.RFC3339, strings.TrimSpace(header("anthropic-ratelimit-"+limit+"-reset")))
		if err != nil {
			continue
		}
		if d := reset.Sub(now); !found || d > wait {
			wait, found = d, true
		}
	}
	if !found {
		return ""
	}
	return strconv.FormatInt(max(int64(math.Ceil(wait.Seconds())), 1), 10)
}

// anthropicAPIError maps an Anthropic error type (or, for unknown types, the
// HTTP status) to the error the client sees. The type wins because it is
// what Anthropic documents, and it is all a mid-stream error event carries.
func anthropicAPIError(status int, retryAfter, typ, msg string) *APIError {
	switch typ {
	case "rate_limit_error":
		status = 429
	case "overloaded_error":
		status = 529
	case "authentication_error":
		status = 401
	case "permission_error":
		status = 403
	case "timeout_error":
		status = 504
	case "api_error":
		if status < 500 {
			status = 500
		}
	}
	e := UpstreamError(status, retryAfter, msg)
	if typ == "invalid_request_error" && strings.Contains(strings.ToLower(msg), "prompt is too long") {
		e.Status, e.Type, e.Code = 400, TypeInvalidRequest, "context_length_exceeded"
	}
	return e
}

// anthropicUsage holds Anthropic's counters; input_tokens excludes cached
// and cache-written tokens, which OpenAI counts as prompt tokens.
// output_tokens includes thinking; output_tokens_details.thinking_tokens,
// when sent, is the thinking part (OpenAI's reasoning_tokens).
type anthropicUsage struct {
	input, cacheRead, cacheWrite, output, thinking, searches int64
}

// read overwrites the counters u carries; message_delta counts are cumulative.
func (a *anthropicUsage) read(u gjson.Result) {
	if !u.IsObject() {
		return
	}
	set := func(dst *int64, r gjson.Result) {
		if r.Type == gjson.Number {
			*dst = r.Int()
		}
	}
	set(&a.input, u.Get("input_tokens"))
	set(&a.cacheRead, u.Get("cache_read_input_tokens"))
	set(&a.cacheWrite, u.Get("cache_creation_input_tokens"))
	set(&a.output, u.Get("output_tokens"))
	set(&a.thinking, u.Get("output_tokens_details.thinking_tokens"))
	set(&a.searches, u.Get("server_tool_use.web_search_requests"))
}

func (a anthropicUsage) openAI() Usage {
	return Usage{
		PromptTokens:     a.input + a.cacheRead + a.cacheWrite,
		CompletionTokens: a.output,
		CachedTokens:     a.cacheRead,
		CacheWriteTokens: a.cacheWrite,
		ReasoningTokens:  a.thinking,
		WebSearches:      a.searches,
	}
}
