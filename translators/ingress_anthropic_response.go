package translators

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// Response converts an OpenAI chat.completion body to an Anthropic message.
func (AnthropicIngress) Response(openAIBody []byte) ([]byte, error) {
	if !validJSON(openAIBody) {
		return nil, &APIError{Status: 502, Type: TypeUpstream, Code: "bad_upstream_response", Message: "provider answer is not JSON"}
	}
	root := gjson.ParseBytes(openAIBody)
	if e := root.Get("error"); e.Exists() && e.Type != gjson.Null {
		msg := upstreamMessage(openAIBody)
		if msg == "" {
			msg = "provider answered with an error"
		}
		return nil, &APIError{Status: 502, Type: TypeUpstream, Code: "upstream_error", Message: msg}
	}
	msg := root.Get("choices.0.message")
	id := ingressMessageID(root.Get("id").String())
	out := make([]byte, 0, len(openAIBody)+256)
	out = append(out, `{"id":`...)
	out = appendJSONString(out, id)
	out = append(out, `,"type":"message","role":"assistant","model":`...)
	out = appendJSONString(out, root.Get("model").String())
	out = append(out, `,"content":[`...)
	n := 0
	sep := func() {
		if n > 0 {
			out = append(out, ',')
		}
		n++
	}

	// Thinking first, as Claude answers: reasoning_details when the
	// provider gave them, else its plain reasoning text.
	if details := msg.Get("reasoning_details"); details.IsArray() && len(details.Array()) > 0 {
		var text []byte
		var sig gjson.Result
		key, open := "", false
		flush := func() {
			if open {
				sep()
				out = append(out, `{"type":"thinking","thinking":`...)
				out = appendJSONString(out, bytesView(text))
				out = append(out, `,"signature":`...)
				out = appendSignature(out, sig)
				out = append(out, '}')
				text, sig, open = text[:0], gjson.Result{}, false
			}
		}
		for _, d := range details.Array() {
			idx := d.Get("index").Raw
			switch d.Get("type").Str {
			case "reasoning.text", "reasoning.summary":
				if open && (idx == "" || idx != key) {
					flush()
				}
				open, key = true, idx
				text = append(text, d.Get("text").Str...)
				text = append(text, d.Get("summary").Str...)
				if d.Get("signature").Str != "" {
					sig = d
				}
			case "reasoning.encrypted":
				flush()
				if data := d.Get("data"); data.Type == gjson.String && data.Str != "" {
					sep()
					out = append(out, `{"type":"redacted_thinking","data":`...)
					if foreignFormat(d) {
						out = appendEnvelope(out, d)
					} else {
						out = appendJSONString(out, data.Str)
					}
					out = append(out, '}')
				}
			}
		}
		flush()
	} else if r := ingressReasoningText(msg); r != "" {
		sep()
		out = append(out, `{"type":"thinking","thinking":`...)
		out = appendJSONString(out, r)
		out = append(out, `,"signature":""}`...)
	}

	if text := ingressText(msg); text != "" {
		sep()
		out = append(out, `{"type":"text","text":`...)
		out = appendJSONString(out, text)
		out = append(out, '}')
	}
	var args bytes.Buffer
	for i, tc := range msg.Get("tool_calls").Array() {
		sep()
		out = append(out, `{"type":"tool_use","id":`...)
		if tid := tc.Get("id").String(); tid != "" {
			out = appendJSONString(out, tid)
		} else {
			out = appendJSONString(out, ingressToolID(id, i))
		}
		out = append(out, `,"name":`...)
		out = appendJSONString(out, tc.Get("function.name").String())
		out = append(out, `,"input":`...)
		args.Reset()
		out = appendToolInput(out, &args, tc.Get("function.arguments"))
		out = append(out, '}')
	}
	out = append(out, `],"stop_reason":"`...)
	out = append(out, ingressStopReason(root.Get("choices.0.finish_reason").Str)...)
	out = append(out, `","stop_sequence":null,"usage":`...)
	out = appendAnthropicUsage(out, openAIUsage(root.Get("usage")))
	out = appendServerToolUse(out, root.Get("usage"))
	return append(out, '}'), nil
}

// appendSignature appends a thinking block's signature: Claude's as is,
// another provider's in an envelope, "" when there is none.
func appendSignature(dst []byte, d gjson.Result) []byte {
	switch {
	case !d.Exists():
		return append(dst, `""`...)
	case foreignFormat(d):
		return appendEnvelope(dst, d)
	default:
		return appendJSONString(dst, d.Get("signature").Str)
	}
}

// ingressReasoningText is a message's reasoning when it has no details.
func ingressReasoningText(msg gjson.Result) string {
	if r := msg.Get("reasoning"); r.Type == gjson.String {
		return r.Str
	}
	return msg.Get("reasoning_content").Str
}

// ingressText is a message's content: a string, text parts, or a refusal.
func ingressText(msg gjson.Result) string {
	c := msg.Get("content")
	if c.Type == gjson.String && c.Str != "" {
		return c.Str
	}
	if c.IsArray() {
		var b strings.Builder
		for _, p := range c.Array() {
			b.WriteString(p.Get("text").Str)
		}
		if b.Len() > 0 {
			return b.String()
		}
	}
	return msg.Get("refusal").Str
}

// appendToolInput appends the tool_use input object for OpenAI arguments:
// the parsed object, or {} when they are empty or not an object (a call cut
// short by max_tokens).
func appendToolInput(dst []byte, buf *bytes.Buffer, args gjson.Result) []byte {
	raw := args.Raw
	if args.Type == gjson.String {
		raw = args.Str
	}
	if r := gjson.Parse(raw); gjson.Valid(raw) && r.IsObject() && json.Compact(buf, []byte(raw)) == nil {
		return append(dst, buf.Bytes()...)
	}
	return append(dst, "{}"...)
}

// ingressStopReason maps an OpenAI finish_reason to an Anthropic stop_reason.
func ingressStopReason(finish string) string {
	switch finish {
	case "length":
		return "max_tokens"
	case "tool_calls", "function_call":
		return "tool_use"
	case "content_filter":
		return "refusal"
	default: // stop, and what no Anthropic reason matches
		return "end_turn"
	}
}

// ingressMessageID makes an Anthropic message id from the provider's.
func ingressMessageID(id string) string {
	switch {
	case strings.HasPrefix(id, "msg_"):
		return id
	case id == "":
		return "msg_switchboard_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	default:
		return "msg_" + id
	}
}

// ingressToolID names a tool call the provider left without an id.
func ingressToolID(msgID string, i int) string {
	return "toolu_" + strings.TrimPrefix(msgID, "msg_") + "_" + strconv.Itoa(i)
}

// appendAnthropicUsage appends Anthropic's usage object. input_tokens leaves
// out cached and cache-written tokens, which OpenAI counts as prompt tokens.
func appendAnthropicUsage(dst []byte, u Usage) []byte {
	dst = append(dst, `{"input_tokens":`...)
	dst = strconv.AppendInt(dst, max(u.PromptTokens-u.CachedTokens-u.CacheWriteTokens, 0), 10)
	dst = append(dst, `,"cache_creation_input_tokens":`...)
	dst = strconv.AppendInt(dst, u.CacheWriteTokens, 10)
	dst = append(dst, `,"cache_read_input_tokens":`...)
	dst = strconv.AppendInt(dst, u.CachedTokens, 10)
	dst = append(dst, `,"output_tokens":`...)
	dst = strconv.AppendInt(dst, u.CompletionTokens, 10)
	return append(dst, '}')
}

// appendServerToolUse adds usage.server_tool_use (searches the gateway
// ran) inside the Anthropic usage object dst ends with.
func appendServerToolUse(dst []byte, usage gjson.Result) []byte {
	n := usage.Get("server_tool_use.web_search_requests").Int()
	if n <= 0 || len(dst) == 0 || dst[len(dst)-1] != '}' {
		return dst
	}
	dst = append(dst[:len(dst)-1], `,"server_tool_use":{"web_search_requests":`...)
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, "}}"...)
}
