package translators

import (
	"strconv"
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"
)

// anthropicStream turns Anthropic stream events
// (https://docs.anthropic.com/en/api/messages-streaming) into OpenAI
// chat.completion.chunk events, one upstream event at a time.
type anthropicStream struct {
	opts   StreamOptions
	dec    SSEDecoder
	hdr    chunkHeader
	prefix []byte // every chunk's bytes up to `"choices":[`, set by message_start
	tools  []anthropicToolBlock
	thinks []anthropicToolBlock // thinking blocks and their reasoning_details index
	// jsonBlock is the block of the json_object tool (anthropicJSONTool)
	// when hasJSON: its input is streamed as content, not as a tool call.
	jsonBlock int64
	hasJSON   bool
	usage     anthropicUsage

	// excludeReasoning leaves reasoning out of the chunks (OpenRouter's
	// reasoning.exclude); its tokens are still counted.
	excludeReasoning bool

	started  bool // message_start was seen
	finished bool // a finish_reason chunk was sent
	complete bool // message_stop was seen; Finish ends the client stream
	done     bool // [DONE] was sent
}

// anthropicToolBlock ties a content block to its OpenAI tool call index,
// which counts tool blocks only, or to its reasoning_details index, which
// counts thinking blocks only.
type anthropicToolBlock struct {
	block int64
	index int
}

func (s *anthropicStream) Usage() Usage { return s.usage.openAI() }

func (s *anthropicStream) Translate(dst, chunk []byte) []byte {
	if s.done || s.complete {
		return dst // nothing after message_stop or an error counts
	}
	if err := s.dec.Write(chunk); err != nil {
		return s.fail(dst, streamError(err.Error()))
	}
	for !s.done && !s.complete {
		ev, ok := s.dec.Next()
		if !ok {
			break
		}
		dst = s.event(dst, ev.Data)
	}
	return dst
}

// Finish writes the usage chunk and [DONE] of a complete stream: the
// contract keeps them for the end of the upstream body, not message_stop.
func (s *anthropicStream) Finish(dst []byte) []byte {
	if s.done {
		return dst
	}
	if s.complete {
		if s.opts.IncludeUsage {
			u := s.usage.openAI()
			dst = appendChunk(dst, &s.hdr, "", &u)
		}
		s.done = true
		return append(dst, sseDone...)
	}
	return s.fail(dst, streamError("provider stream ended before the response was complete"))
}

// bytesString views b as a string without a copy. Results of gjson.Get on
// it alias b, which the decoder reuses, so anything kept must be cloned.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// ParseView parses a request body the caller never changes without
// copying it, as gjson.ParseBytes does (a 100 KB conversation is read by
// several checks). Strings read from it alias body.
func ParseView(body []byte) gjson.Result { return gjson.Parse(bytesString(body)) }

func (s *anthropicStream) event(dst, data []byte) []byte {
	if !validJSON(data) {
		return s.fail(dst, streamError("provider sent a stream event that is not JSON"))
	}
	root := gjson.Parse(bytesString(data))
	typ := root.Get("type").Str
	switch typ {
	case "ping":
		return dst
	case "error":
		e := root.Get("error")
		msg := e.Get("message").Str
		if msg == "" {
			msg = "provider reported an error mid-stream"
		}
		return s.fail(dst, anthropicAPIError(500, "", e.Get("type").Str, msg))
	case "message_start":
		if s.started {
			return dst
		}
		s.started = true
		msg := root.Get("message")
		s.hdr.ID = strings.Clone(msg.Get("id").String())
		s.hdr.Model = strings.Clone(msg.Get("model").String())
		s.usage.read(msg.Get("usage"))
		s.prefix = appendChunkPrefix(s.prefix[:0], &s.hdr)
		dst = s.openDelta(dst)
		dst = append(dst, `{"role":"assistant","content":""}`...)
		return closeDelta(dst)
	case "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop":
		if !s.started {
			return s.fail(dst, streamError("provider stream did not start with message_start"))
		}
	default:
		return dst // Anthropic may add event types; they are to be ignored
	}

	switch typ {
	case "content_block_start":
		cb := root.Get("content_block")
		switch cb.Get("type").Str {
		case "text":
			if t := cb.Get("text"); t.Type == gjson.String && t.Str != "" {
				dst = s.appendContent(dst, t)
			}
		case "tool_use":
			if cb.Get("name").Str == anthropicJSONTool && !s.hasJSON {
				s.jsonBlock, s.hasJSON = root.Get("index").Int(), true
				break
			}
			i := len(s.tools)
			s.tools = append(s.tools, anthropicToolBlock{block: root.Get("index").Int(), index: i})
			dst = s.openDelta(dst)
			dst = append(dst, `{"tool_calls":[{"index":`...)
			dst = strconv.AppendInt(dst, int64(i), 10)
			dst = append(dst, `,"id":`...)
			dst = appendRawString(dst, cb.Get("id"))
			dst = append(dst, `,"type":"function","function":{"name":`...)
			dst = appendRawString(dst, cb.Get("name"))
			dst = append(dst, `,"arguments":""}}]}`...)
			dst = closeDelta(dst)
		case "thinking":
			i := s.thinkIndex(root.Get("index").Int())
			if t := cb.Get("thinking"); t.Type == gjson.String && t.Str != "" {
				dst = s.appendThinking(dst, i, t)
			}
		case "redacted_thinking":
			i := s.thinkIndex(root.Get("index").Int())
			if !s.excludeReasoning {
				dst = s.openDelta(dst)
				dst = append(dst, `{"reasoning_details":[{"type":"reasoning.encrypted","data":`...)
				dst = appendRawString(dst, cb.Get("data"))
				dst = appendDetailTail(dst, i)
			}
		}
		// The streamed input starts as {} here and arrives in input_json_delta.
	case "content_block_delta":
		d := root.Get("delta")
		switch d.Get("type").Str {
		case "text_delta":
			if t := d.Get("text"); t.Type == gjson.String && t.Str != "" {
				dst = s.appendContent(dst, t)
			}
		case "input_json_delta":
			pj := d.Get("partial_json")
			if pj.Type != gjson.String || pj.Str == "" {
				return dst
			}
			if s.hasJSON && root.Get("index").Int() == s.jsonBlock {
				return s.appendContent(dst, pj)
			}
			i, ok := s.toolIndex(root.Get("index").Int())
			if !ok {
				return dst
			}
			dst = s.openDelta(dst)
			dst = append(dst, `{"tool_calls":[{"index":`...)
			dst = strconv.AppendInt(dst, int64(i), 10)
			dst = append(dst, `,"function":{"arguments":`...)
			dst = append(dst, pj.Raw...) // already a JSON string literal
			dst = append(dst, "}}]}"...)
			dst = closeDelta(dst)
		case "thinking_delta":
			if t := d.Get("thinking"); t.Type == gjson.String && t.Str != "" {
				dst = s.appendThinking(dst, s.thinkIndex(root.Get("index").Int()), t)
			}
		case "signature_delta":
			sig := d.Get("signature")
			if sig.Type != gjson.String || sig.Str == "" || s.excludeReasoning {
				return dst
			}
			dst = s.openDelta(dst)
			dst = append(dst, `{"reasoning_details":[{"type":"reasoning.text","text":"","signature":`...)
			dst = append(dst, sig.Raw...)
			dst = appendDetailTail(dst, s.thinkIndex(root.Get("index").Int()))
		case "citations_delta":
			// A web search source the text cites: a url_citation.
			if c := appendWebCitation(nil, d.Get("citation")); len(c) > 0 {
				dst = s.openDelta(dst)
				dst = append(dst, `{"annotations":[`...)
				dst = append(dst, c...)
				dst = append(dst, "]}"...)
				dst = closeDelta(dst)
			}
		}
	case "message_delta":
		s.usage.read(root.Get("usage"))
		if sr := root.Get("delta.stop_reason"); sr.Type == gjson.String {
			reason := anthropicFinishReason(sr.Str)
			if reason == "tool_calls" && len(s.tools) == 0 && s.hasJSON {
				reason = "stop" // the JSON tool was the answer, not a call to make
			}
			dst = s.appendFinish(dst, reason)
		}
	case "message_stop":
		dst = s.appendFinish(dst, "stop") // no-op when message_delta sent one
		s.complete = true
	}
	return dst
}

func (s *anthropicStream) toolIndex(block int64) (int, bool) {
	for i := len(s.tools) - 1; i >= 0; i-- {
		if s.tools[i].block == block {
			return s.tools[i].index, true
		}
	}
	return 0, false
}

// thinkIndex returns the reasoning_details index of a thinking block,
// numbering blocks in the order they start.
func (s *anthropicStream) thinkIndex(block int64) int {
	for i := len(s.thinks) - 1; i >= 0; i-- {
		if s.thinks[i].block == block {
			return s.thinks[i].index
		}
	}
	i := len(s.thinks)
	s.thinks = append(s.thinks, anthropicToolBlock{block: block, index: i})
	return i
}

// appendThinking emits a piece of thinking text twice, as OpenRouter does:
// as delta.reasoning and as a reasoning.text entry of delta.reasoning_details.
func (s *anthropicStream) appendThinking(dst []byte, index int, text gjson.Result) []byte {
	if s.excludeReasoning {
		return dst
	}
	dst = s.openDelta(dst)
	dst = append(dst, `{"reasoning":`...)
	dst = append(dst, text.Raw...) // already a JSON string literal
	dst = append(dst, `,"reasoning_details":[{"type":"reasoning.text","text":`...)
	dst = append(dst, text.Raw...)
	return appendDetailTail(dst, index)
}

// appendDetailTail closes a one-entry reasoning_details delta and its chunk.
func appendDetailTail(dst []byte, index int) []byte {
	dst = append(dst, `,"format":"`+anthropicReasoningFormat+`","index":`...)
	dst = strconv.AppendInt(dst, int64(index), 10)
	dst = append(dst, "}]}"...)
	return closeDelta(dst)
}

// openDelta starts a chunk up to its delta object.
func (s *anthropicStream) openDelta(dst []byte) []byte {
	dst = append(dst, s.prefix...)
	return append(dst, `{"index":0,"delta":`...)
}

func closeDelta(dst []byte) []byte {
	return append(dst, ",\"finish_reason\":null}]}\n\n"...)
}

func (s *anthropicStream) appendContent(dst []byte, text gjson.Result) []byte {
	dst = s.openDelta(dst)
	dst = append(dst, `{"content":`...)
	dst = append(dst, text.Raw...) // already a JSON string literal
	dst = append(dst, '}')
	return closeDelta(dst)
}

func (s *anthropicStream) appendFinish(dst []byte, reason string) []byte {
	if s.finished {
		return dst
	}
	s.finished = true
	dst = s.openDelta(dst)
	dst = append(dst, `{},"finish_reason":"`...)
	dst = append(dst, reason...)
	return append(dst, "\"}]}\n\n"...)
}

// appendRawString appends a gjson string value as JSON, copying its raw
// literal when it is one.
func appendRawString(dst []byte, r gjson.Result) []byte {
	if r.Type == gjson.String {
		return append(dst, r.Raw...)
	}
	return appendJSONString(dst, r.String())
}

func streamError(msg string) *APIError {
	return &APIError{Status: 502, Type: TypeUpstream, Code: "upstream_stream_error", Message: msg}
}

func (s *anthropicStream) fail(dst []byte, e *APIError) []byte {
	s.done = true
	dst = appendErrorChunk(dst, &s.hdr, e)
	return append(dst, sseDone...)
}

var _ StreamTranslator = (*anthropicStream)(nil)
