package translators

import (
	"strconv"
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"
)

// bedrockStream turns a ConverseStream event stream
// (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html)
// into OpenAI chat.completion.chunk events, one binary message at a time.
//
// Bedrock sends messageStart, then per content block an optional
// contentBlockStart (tool use only), contentBlockDelta events and a
// contentBlockStop, then messageStop with the stop reason and last
// metadata with the usage.
type bedrockStream struct {
	opts   StreamOptions
	dec    eventStreamDecoder
	hdr    chunkHeader
	prefix []byte // every chunk's bytes up to `"choices":[`, set by messageStart
	blocks []bedrockStreamBlock
	usage  Usage

	tools      int  // tool calls announced, the next OpenAI tool call index
	thoughts   int  // reasoning blocks seen, the next reasoning_details index
	structured bool // a structured output tool block was seen

	started  bool // messageStart was seen
	stopped  bool // messageStop was seen; Finish ends the client stream
	complete bool // metadata was seen; nothing after it counts
	done     bool // [DONE] was sent
}

// Content block kinds.
const (
	bedrockBlockTool = iota + 1
	bedrockBlockStructured
	bedrockBlockReasoning
)

// bedrockStreamBlock ties a content block index to what it carries.
type bedrockStreamBlock struct {
	block int64
	kind  int
	index int // tool call or reasoning_details index
}

func (s *bedrockStream) Usage() Usage { return s.usage }

func (s *bedrockStream) Translate(dst, chunk []byte) []byte {
	if s.done || s.complete {
		return dst
	}
	s.dec.Write(chunk)
	for !s.done && !s.complete {
		m, ok, err := s.dec.Next()
		if err != nil {
			return s.fail(dst, bedrockStreamError("provider sent a corrupt event stream: "+err.Error()))
		}
		if !ok {
			break
		}
		dst = s.message(dst, m)
	}
	return dst
}

// Finish writes the usage chunk and [DONE] of a complete stream. A stream
// cut before messageStop ends with an error chunk.
func (s *bedrockStream) Finish(dst []byte) []byte {
	if s.done {
		return dst
	}
	if !s.stopped {
		return s.fail(dst, bedrockStreamError("provider stream ended before the response was complete"))
	}
	if s.opts.IncludeUsage {
		dst = appendChunk(dst, &s.hdr, "", &s.usage)
	}
	s.done = true
	return append(dst, sseDone...)
}

func (s *bedrockStream) message(dst []byte, m eventStreamMessage) []byte {
	switch string(m.messageType) {
	case "exception":
		typ := string(m.exceptionType)
		msg := gjson.GetBytes(m.payload, "message").Str
		if msg == "" {
			msg = "provider reported " + typ + " mid-stream"
		}
		// A model's own overload or rate limit, relayed as a stream error,
		// is told as what it was.
		switch st := gjson.GetBytes(m.payload, "originalStatusCode").Int(); {
		case strings.EqualFold(typ, "modelStreamErrorException") && (st == 429 || st == 503 || st == 529):
			return s.fail(dst, bedrockAPIError(int(st), "", "", msg))
		}
		return s.fail(dst, bedrockAPIError(0, "", typ, msg))
	case "error":
		msg := string(m.errorMessage)
		if msg == "" {
			msg = "provider reported error " + string(m.errorCode) + " mid-stream"
		}
		return s.fail(dst, bedrockAPIError(0, "", string(m.errorCode), msg))
	case "event", "":
	default:
		return dst // a message type this gateway does not know
	}
	if !validJSON(m.payload) {
		return s.fail(dst, bedrockStreamError("provider sent a stream event that is not JSON"))
	}
	root := gjson.Parse(bedrockBytesString(m.payload))
	switch string(m.eventType) {
	case "messageStart":
		if s.started {
			return dst
		}
		s.started = true
		s.prefix = appendChunkPrefix(s.prefix[:0], &s.hdr)
		dst = s.openDelta(dst)
		dst = append(dst, `{"role":"assistant","content":""}`...)
		return bedrockCloseDelta(dst)
	case "contentBlockStart", "contentBlockDelta", "contentBlockStop", "messageStop":
		if !s.started {
			return s.fail(dst, bedrockStreamError("provider stream did not start with messageStart"))
		}
		if s.stopped {
			return dst // only metadata follows messageStop
		}
	case "metadata":
		s.usage = bedrockUsageOf(root.Get("usage"))
		if s.stopped {
			s.complete = true
		}
		return dst
	default:
		return dst // Bedrock may add event types; they are to be ignored
	}

	switch string(m.eventType) {
	case "contentBlockStart":
		tu := root.Get("start.toolUse")
		if !tu.IsObject() {
			return dst
		}
		idx := root.Get("contentBlockIndex").Int()
		if strings.HasPrefix(tu.Get("name").Str, bedrockStructuredPrefix) {
			s.structured = true
			s.blocks = append(s.blocks, bedrockStreamBlock{block: idx, kind: bedrockBlockStructured})
			return dst
		}
		i := s.tools
		s.tools++
		s.blocks = append(s.blocks, bedrockStreamBlock{block: idx, kind: bedrockBlockTool, index: i})
		dst = s.openDelta(dst)
		dst = append(dst, `{"tool_calls":[{"index":`...)
		dst = strconv.AppendInt(dst, int64(i), 10)
		dst = append(dst, `,"id":`...)
		dst = bedrockAppendString(dst, tu.Get("toolUseId"))
		dst = append(dst, `,"type":"function","function":{"name":`...)
		dst = bedrockAppendString(dst, tu.Get("name"))
		dst = append(dst, `,"arguments":""}}]}`...)
		return bedrockCloseDelta(dst)
	case "contentBlockDelta":
		return s.delta(dst, root.Get("contentBlockIndex").Int(), root.Get("delta"))
	case "messageStop":
		s.stopped = true
		reason := bedrockFinishReason(root.Get("stopReason").Str)
		if reason == "tool_calls" && s.tools == 0 && s.structured {
			reason = "stop"
		}
		dst = s.openDelta(dst)
		dst = append(dst, `{},"finish_reason":"`...)
		dst = append(dst, reason...)
		return append(dst, "\"}]}\n\n"...)
	}
	return dst // contentBlockStop
}

func (s *bedrockStream) delta(dst []byte, idx int64, d gjson.Result) []byte {
	if t := d.Get("text"); t.Type == gjson.String {
		if t.Raw == `""` {
			return dst
		}
		dst = s.openDelta(dst)
		dst = append(dst, `{"content":`...)
		dst = append(dst, t.Raw...) // already a JSON string literal
		dst = append(dst, '}')
		return bedrockCloseDelta(dst)
	}
	if in := d.Get("toolUse.input"); in.Exists() {
		b, ok := s.block(idx)
		if !ok || (b.kind != bedrockBlockTool && b.kind != bedrockBlockStructured) {
			return s.fail(dst, bedrockStreamError("provider sent tool input for a content block that is not a tool call"))
		}
		if in.Type != gjson.String || in.Raw == `""` {
			return dst
		}
		dst = s.openDelta(dst)
		if b.kind == bedrockBlockStructured { // the tool input is the answer
			dst = append(dst, `{"content":`...)
			dst = append(dst, in.Raw...)
			dst = append(dst, '}')
			return bedrockCloseDelta(dst)
		}
		dst = append(dst, `{"tool_calls":[{"index":`...)
		dst = strconv.AppendInt(dst, int64(b.index), 10)
		dst = append(dst, `,"function":{"arguments":`...)
		dst = append(dst, in.Raw...)
		dst = append(dst, "}}]}"...)
		return bedrockCloseDelta(dst)
	}
	rc := d.Get("reasoningContent")
	if !rc.IsObject() {
		return dst // citations and deltas this gateway does not map
	}
	b, ok := s.block(idx)
	if !ok {
		b = bedrockStreamBlock{block: idx, kind: bedrockBlockReasoning, index: s.thoughts}
		s.thoughts++
		s.blocks = append(s.blocks, b)
	}
	if b.kind != bedrockBlockReasoning {
		return s.fail(dst, bedrockStreamError("provider sent reasoning for a content block that is not reasoning"))
	}
	if s.opts.ExcludeReasoning {
		return dst // reasoning.exclude: its tokens are still counted in usage
	}
	switch {
	case rc.Get("text").Type == gjson.String:
		t := rc.Get("text")
		dst = s.openDelta(dst)
		dst = append(dst, `{"reasoning":`...)
		dst = append(dst, t.Raw...)
		dst = append(dst, `,"reasoning_details":[{"type":"reasoning.text","text":`...)
		dst = append(dst, t.Raw...)
	case rc.Get("signature").Type == gjson.String:
		dst = s.openDelta(dst)
		dst = append(dst, `{"reasoning_details":[{"type":"reasoning.text","text":"","signature":`...)
		dst = append(dst, rc.Get("signature").Raw...)
	case rc.Get("redactedContent").Type == gjson.String:
		dst = s.openDelta(dst)
		dst = append(dst, `{"reasoning_details":[{"type":"reasoning.encrypted","data":`...)
		dst = append(dst, rc.Get("redactedContent").Raw...)
	default:
		return dst
	}
	dst = append(dst, `,"index":`...)
	dst = strconv.AppendInt(dst, int64(b.index), 10)
	dst = append(dst, "}]}"...)
	return bedrockCloseDelta(dst)
}

func (s *bedrockStream) block(idx int64) (bedrockStreamBlock, bool) {
	for i := len(s.blocks) - 1; i >= 0; i-- {
		if s.blocks[i].block == idx {
			return s.blocks[i], true
		}
	}
	return bedrockStreamBlock{}, false
}

// openDelta starts a chunk up to its delta object.
func (s *bedrockStream) openDelta(dst []byte) []byte {
	dst = append(dst, s.prefix...)
	return append(dst, `{"index":0,"delta":`...)
}

func bedrockCloseDelta(dst []byte) []byte {
	return append(dst, ",\"finish_reason\":null}]}\n\n"...)
}

// bedrockAppendString appends a gjson string value as JSON, copying its raw
// literal when it is one.
func bedrockAppendString(dst []byte, r gjson.Result) []byte {
	if r.Type == gjson.String {
		return append(dst, r.Raw...)
	}
	return appendJSONString(dst, r.String())
}

// bedrockBytesString views b as a string without a copy; nothing read from
// it may be kept past the event.
func bedrockBytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func bedrockStreamError(msg string) *APIError {
	return &APIError{Status: 502, Type: TypeUpstream, Code: "upstream_stream_error", Message: msg}
}

func (s *bedrockStream) fail(dst []byte, e *APIError) []byte {
	s.done = true
	dst = appendErrorChunk(dst, &s.hdr, e)
	return append(dst, sseDone...)
}

var _ StreamTranslator = (*bedrockStream)(nil)
