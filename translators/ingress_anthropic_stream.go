package translators

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// NewStream returns a converter from the OpenAI chunk stream a provider
// translator writes to Anthropic Messages stream events
// (https://docs.anthropic.com/en/api/messages-streaming).
func (AnthropicIngress) NewStream() StreamTranslator { return &anthropicIngressStream{} }

// ingressBlock is the kind of the content block being streamed.
type ingressBlock uint8

const (
	ingressNoBlock ingressBlock = iota
	ingressTextBlock
	ingressThinkingBlock
	ingressToolUseBlock
)

// anthropicIngressStream is fed OpenAI SSE bytes and writes Anthropic
// events: message_start at the first chunk, one content block at a time
// (thinking, text, tool_use in the order the deltas come), and
// message_delta with the stop reason and usage plus message_stop at
// [DONE]. A failed stream ends with an error event instead.
type anthropicIngressStream struct {
	dec   SSEDecoder
	id    string // Anthropic message id
	model string
	usage Usage
	// hint is the upstream's usage so far, for message_start: Anthropic
	// reports input tokens there, and clients read them before the end.
	hint Usage

	open     ingressBlock // kind of the open block
	openIdx  int          // its index
	thinkKey int64        // reasoning_details index of the open thinking block
	next     int          // index of the next block
	tools    []ingressToolBlock
	stop     string // stop_reason, set by the finish_reason chunk
	searches int64  // usage.server_tool_use.web_search_requests

	started  bool // message_start was sent
	finished bool // a finish_reason was seen
	done     bool // message_stop or an error event was sent
}

// ingressToolBlock ties an OpenAI tool call index to its content block.
type ingressToolBlock struct {
	call  int64
	block int
}

// ingressNoThinkKey marks a thinking block opened by plain reasoning text, which
// takes any reasoning text that follows.
const ingressNoThinkKey = -1

func (s *anthropicIngressStream) Usage() Usage { return s.usage }

// HintUsage gives the upstream translator's usage so far; message_start
// reports its prompt counts (output tokens come with message_delta).
func (s *anthropicIngressStream) HintUsage(u Usage) { s.hint = u }

func (s *anthropicIngressStream) Translate(dst, chunk []byte) []byte {
	if s.done {
		return dst
	}
	if err := s.dec.Write(chunk); err != nil {
		return s.fail(dst, "api_error", err.Error())
	}
	for !s.done {
		ev, ok := s.dec.Next()
		if !ok {
			break
		}
		dst = s.event(dst, ev.Data)
	}
	return dst
}

// Finish ends a stream that stopped without [DONE]: complete if its finish
// reason came, otherwise with an error event.
func (s *anthropicIngressStream) Finish(dst []byte) []byte {
	if s.done {
		return dst
	}
	if s.finished && !s.dec.Pending() {
		return s.end(dst)
	}
	return s.fail(dst, "api_error", "provider stream ended before the response was complete")
}

func (s *anthropicIngressStream) event(dst, data []byte) []byte {
	if bytes.Equal(data, ingressDoneData) {
		return s.end(dst)
	}
	if !validJSON(data) {
		return s.fail(dst, "api_error", "provider sent a stream event that is not JSON")
	}
	// data stays untouched until the next event, so gjson reads it in
	// place; what outlives the event is cloned.
	root := gjson.Parse(bytesView(data))
	if !root.IsObject() {
		return s.fail(dst, "api_error", "provider sent a stream event that is not a JSON object")
	}
	var id, model, choices, usage, errv gjson.Result
	root.ForEach(func(k, v gjson.Result) bool { // one pass over the chunk
		switch k.Str {
		case "id":
			id = v
		case "model":
			model = v
		case "choices":
			choices = v
		case "usage":
			usage = v
		case "error":
			errv = v
		}
		return true
	})
	if errv.Exists() && errv.Type != gjson.Null {
		msg := errv.Get("message").Str
		if msg == "" {
			msg = "provider reported an error mid-stream"
		}
		typ := "api_error"
		if errv.Get("code").Str == "provider_overloaded" || errv.Get("type").Str == "overloaded_error" {
			typ = "overloaded_error"
		}
		return s.fail(dst, typ, msg)
	}
	if !s.started {
		dst = s.start(dst, id.Str, model.Str)
	}
	if usage.IsObject() {
		s.usage = openAIUsage(usage)
		if n := usage.Get("server_tool_use.web_search_requests").Int(); n > 0 {
			s.searches = n
		}
	}
	if s.finished {
		return dst // one choice only; nothing after its finish counts
	}
	c := choices.Get("0")
	if !c.Exists() {
		return dst
	}
	if d := c.Get("delta"); d.IsObject() {
		dst = s.delta(dst, d)
	}
	if fr := c.Get("finish_reason"); fr.Type == gjson.String && fr.Str != "" {
		if fr.Str == "error" {
			return s.fail(dst, "api_error", "provider stream failed")
		}
		dst = s.closeBlock(dst)
		s.stop, s.finished = ingressStopReason(fr.Str), true
	}
	return dst
}

func (s *anthropicIngressStream) start(dst []byte, id, model string) []byte {
	s.started = true
	s.id = ingressMessageID(strings.Clone(id))
	s.model = strings.Clone(model)
	dst = append(dst, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":"...)
	dst = appendJSONString(dst, s.id)
	dst = append(dst, `,"type":"message","role":"assistant","model":`...)
	dst = appendJSONString(dst, s.model)
	dst = append(dst, `,"content":[],"stop_reason":null,"stop_sequence":null,"usage":`...)
	// The prompt counts, when the upstream gave them at its start
	// (Anthropic, Gemini); the rest comes with message_delta.
	dst = appendAnthropicUsage(dst, Usage{PromptTokens: s.hint.PromptTokens, CachedTokens: s.hint.CachedTokens, CacheWriteTokens: s.hint.CacheWriteTokens})
	return append(dst, "}}\n\n"...)
}

// delta streams one chunk's delta: reasoning, then text, then tool calls.
func (s *anthropicIngressStream) delta(dst []byte, d gjson.Result) []byte {
	var details, reasoning, reasoningContent, content, refusal, toolCalls gjson.Result
	d.ForEach(func(k, v gjson.Result) bool { // one pass over the delta
		switch k.Str {
		case "reasoning_details":
			details = v
		case "reasoning":
			reasoning = v
		case "reasoning_content":
			reasoningContent = v
		case "content":
			content = v
		case "refusal":
			refusal = v
		case "tool_calls":
			toolCalls = v
		}
		return true
	})
	n := 0 // reasoning_details entries; without any, the plain reasoning text
	if details.IsArray() {
		details.ForEach(func(_, v gjson.Result) bool {
			dst = s.detail(dst, v)
			n++
			return true
		})
	}
	if n == 0 {
		r := reasoning
		if r.Type != gjson.String || r.Str == "" {
			r = reasoningContent
		}
		if r.Type == gjson.String && r.Str != "" {
			dst = s.thinking(dst, r, s.thinkKeyOr(ingressNoThinkKey))
		}
	}
	if content.Type == gjson.String && content.Str != "" {
		dst = s.text(dst, content)
	} else if refusal.Type == gjson.String && refusal.Str != "" {
		dst = s.text(dst, refusal)
	}
	if toolCalls.IsArray() {
		i := int64(0)
		toolCalls.ForEach(func(_, tc gjson.Result) bool {
			dst = s.toolCall(dst, tc, i)
			i++
			return true
		})
	}
	return dst
}

// thinkKeyOr is the open thinking block's key, so plain reasoning text
// continues it, or key when none is open.
func (s *anthropicIngressStream) thinkKeyOr(key int64) int64 {
	if s.open == ingressThinkingBlock {
		return s.thinkKey
	}
	return key
}

// detail streams one reasoning_details entry.
func (s *anthropicIngressStream) detail(dst []byte, d gjson.Result) []byte {
	key := s.thinkKeyOr(ingressNoThinkKey) // an entry without index continues the block
	if idx := d.Get("index"); idx.Type == gjson.Number {
		key = idx.Int()
	}
	switch d.Get("type").Str {
	case "reasoning.text":
		if t := d.Get("text"); t.Type == gjson.String && t.Str != "" {
			dst = s.thinking(dst, t, key)
		}
		if sig := d.Get("signature"); sig.Type == gjson.String && sig.Str != "" {
			dst = s.openThinking(dst, key)
			dst = ingressBlockDelta(dst, s.openIdx)
			dst = append(dst, `{"type":"signature_delta","signature":`...)
			if foreignFormat(d) {
				dst = appendEnvelope(dst, d)
			} else {
				dst = append(dst, sig.Raw...)
			}
			dst = append(dst, "}}\n\n"...)
		}
	case "reasoning.summary":
		if t := d.Get("summary"); t.Type == gjson.String && t.Str != "" {
			dst = s.thinking(dst, t, key)
		}
	case "reasoning.encrypted":
		data := d.Get("data")
		if data.Type != gjson.String || data.Str == "" {
			return dst
		}
		dst = s.closeBlock(dst)
		i := s.next
		s.next++
		dst = ingressBlockStart(dst, i)
		dst = append(dst, `{"type":"redacted_thinking","data":`...)
		if foreignFormat(d) {
			dst = appendEnvelope(dst, d)
		} else {
			dst = append(dst, data.Raw...)
		}
		dst = append(dst, "}}\n\n"...)
		dst = ingressBlockStop(dst, i)
	}
	return dst
}

// thinking streams a piece of thinking text (a JSON string value).
func (s *anthropicIngressStream) thinking(dst []byte, text gjson.Result, key int64) []byte {
	dst = s.openThinking(dst, key)
	dst = ingressBlockDelta(dst, s.openIdx)
	dst = append(dst, `{"type":"thinking_delta","thinking":`...)
	dst = append(dst, text.Raw...) // already a JSON string literal
	return append(dst, "}}\n\n"...)
}

// openThinking makes sure a thinking block for key is open: a new
// reasoning_details index starts a new block.
func (s *anthropicIngressStream) openThinking(dst []byte, key int64) []byte {
	if s.open == ingressThinkingBlock && (s.thinkKey == key || s.thinkKey == ingressNoThinkKey) {
		s.thinkKey = key
		return dst
	}
	dst = s.openBlock(dst, ingressThinkingBlock)
	s.thinkKey = key
	return append(dst, `{"type":"thinking","thinking":"","signature":""}}`+"\n\n"...)
}

func (s *anthropicIngressStream) text(dst []byte, t gjson.Result) []byte {
	if s.open != ingressTextBlock {
		dst = s.openBlock(dst, ingressTextBlock)
		dst = append(dst, `{"type":"text","text":""}}`+"\n\n"...)
	}
	dst = ingressBlockDelta(dst, s.openIdx)
	dst = append(dst, `{"type":"text_delta","text":`...)
	dst = append(dst, t.Raw...)
	return append(dst, "}}\n\n"...)
}

// toolCall streams one entry of delta.tool_calls; pos is its place in the
// array, the index when the provider sent none. A call's first entry
// starts its tool_use block. Arguments of a call whose block another
// block already followed (providers that interleave calls) are still sent
// with that call's index.
func (s *anthropicIngressStream) toolCall(dst []byte, tc gjson.Result, pos int64) []byte {
	call := pos
	if idx := tc.Get("index"); idx.Type == gjson.Number {
		call = idx.Int()
	}
	blk, ok := -1, false
	for i := len(s.tools) - 1; i >= 0; i-- {
		if s.tools[i].call == call {
			blk, ok = s.tools[i].block, true
			break
		}
	}
	if !ok {
		dst = s.openBlock(dst, ingressToolUseBlock)
		blk = s.openIdx
		s.tools = append(s.tools, ingressToolBlock{call: call, block: blk})
		dst = append(dst, `{"type":"tool_use","id":`...)
		if id := tc.Get("id"); id.Type == gjson.String && id.Str != "" {
			dst = append(dst, id.Raw...)
		} else {
			dst = appendJSONString(dst, ingressToolID(s.id, len(s.tools)-1))
		}
		dst = append(dst, `,"name":`...)
		dst = appendRawJSONString(dst, tc.Get("function.name"))
		dst = append(dst, `,"input":{}}}`+"\n\n"...)
	}
	args := tc.Get("function.arguments")
	switch {
	case args.Type == gjson.String && args.Str != "":
		dst = ingressBlockDelta(dst, blk)
		dst = append(dst, `{"type":"input_json_delta","partial_json":`...)
		dst = append(dst, args.Raw...)
	case args.IsObject(): // a host that sent the object itself
		dst = ingressBlockDelta(dst, blk)
		dst = append(dst, `{"type":"input_json_delta","partial_json":`...)
		dst = appendJSONString(dst, args.Raw)
	default:
		return dst
	}
	return append(dst, "}}\n\n"...)
}

// appendRawJSONString appends a string value, copying its literal.
func appendRawJSONString(dst []byte, r gjson.Result) []byte {
	if r.Type == gjson.String {
		return append(dst, r.Raw...)
	}
	return append(dst, `""`...)
}

// openBlock closes the open block and starts the next, up to its
// content_block value.
func (s *anthropicIngressStream) openBlock(dst []byte, kind ingressBlock) []byte {
	dst = s.closeBlock(dst)
	s.open, s.openIdx = kind, s.next
	s.next++
	return ingressBlockStart(dst, s.openIdx)
}

func (s *anthropicIngressStream) closeBlock(dst []byte) []byte {
	if s.open == ingressNoBlock {
		return dst
	}
	s.open = ingressNoBlock
	return ingressBlockStop(dst, s.openIdx)
}

func ingressBlockStart(dst []byte, i int) []byte {
	dst = append(dst, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":"...)
	dst = strconv.AppendInt(dst, int64(i), 10)
	return append(dst, `,"content_block":`...)
}

func ingressBlockDelta(dst []byte, i int) []byte {
	dst = append(dst, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":"...)
	dst = strconv.AppendInt(dst, int64(i), 10)
	return append(dst, `,"delta":`...)
}

func ingressBlockStop(dst []byte, i int) []byte {
	dst = append(dst, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":"...)
	dst = strconv.AppendInt(dst, int64(i), 10)
	return append(dst, "}\n\n"...)
}

// end completes the message: the last block's stop, message_delta with the
// stop reason and the usage, and message_stop.
func (s *anthropicIngressStream) end(dst []byte) []byte {
	if !s.started {
		return s.fail(dst, "api_error", "provider stream ended without an answer")
	}
	dst = s.closeBlock(dst)
	stop := s.stop
	if stop == "" {
		stop = "end_turn"
		if len(s.tools) > 0 {
			stop = "tool_use"
		}
	}
	s.done = true
	dst = append(dst, "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\""...)
	dst = append(dst, stop...)
	dst = append(dst, `","stop_sequence":null},"usage":`...)
	dst = appendAnthropicUsage(dst, s.usage)
	if s.searches > 0 {
		dst = append(dst[:len(dst)-1], `,"server_tool_use":{"web_search_requests":`...)
		dst = strconv.AppendInt(dst, s.searches, 10)
		dst = append(dst, "}}"...)
	}
	return append(dst, "}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"...)
}

// fail ends the stream with an error event, as Anthropic does mid-stream.
func (s *anthropicIngressStream) fail(dst []byte, typ, msg string) []byte {
	s.done = true
	dst = append(dst, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\""...)
	dst = append(dst, typ...)
	dst = append(dst, `","message":`...)
	dst = appendJSONString(dst, msg)
	return append(dst, "}}\n\n"...)
}

var ingressDoneData = []byte("[DONE]")

var _ StreamTranslator = (*anthropicIngressStream)(nil)
