package translators

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// geminiStream turns the server-sent events of streamGenerateContent
// (?alt=sse: one "data: {GenerateContentResponse}" event per chunk, no
// terminator) into OpenAI chat.completion.chunk events. The upstream is
// complete when every candidate it started has a finishReason and the body
// ends; usage arrives with the last events.
type geminiStream struct {
	opts   StreamOptions
	dec    SSEDecoder
	hdr    chunkHeader
	prefix []byte // every chunk's bytes up to `"choices":[`, set by the first event
	usage  geminiUsage
	cands  [geminiMaxCandidates]geminiCandidate
	args   bytes.Buffer // scratch for compacting function call arguments
	id     []byte       // scratch for tool call ids

	started bool // the first event was seen
	blocked bool // the prompt was blocked: no candidate will come
	done    bool // [DONE] was sent
}

// geminiCandidate is the state of one choice of the stream.
type geminiCandidate struct {
	seen     bool // its role chunk was sent
	finished bool // its finish_reason chunk was sent
	calls    int  // tool calls so far, the next tool call index
	details  int  // reasoning_details entries so far, the next entry index
	inText   bool // the last entry is reasoning text that more text extends
	cited    bool // its grounding annotations were sent
}

func (s *geminiStream) Usage() Usage { return s.usage.openAI() }

func (s *geminiStream) Translate(dst, chunk []byte) []byte {
	if s.done {
		return dst
	}
	if err := s.dec.Write(chunk); err != nil {
		return s.fail(dst, streamError(err.Error()))
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

// complete reports whether every started candidate has finished.
func (s *geminiStream) complete() bool {
	if s.blocked {
		return true
	}
	any := false
	for i := range s.cands {
		c := &s.cands[i]
		if c.seen && !c.finished {
			return false
		}
		any = any || c.finished
	}
	return any
}

func (s *geminiStream) Finish(dst []byte) []byte {
	if s.done {
		return dst
	}
	if s.dec.Pending() {
		// The body ended inside an event: the last event is lost.
		return s.fail(dst, streamError("provider stream ended inside an event"))
	}
	if !s.complete() {
		return s.fail(dst, streamError("provider stream ended before the response was complete"))
	}
	if s.opts.IncludeUsage {
		u := s.usage.openAI()
		dst = appendChunk(dst, &s.hdr, "", &u)
	}
	s.done = true
	return append(dst, sseDone...)
}

func (s *geminiStream) event(dst, data []byte) []byte {
	if !validJSON(data) {
		return s.fail(dst, streamError("provider sent a stream event that is not JSON"))
	}
	root := gjson.Parse(bytesString(data))
	if !root.IsObject() {
		return s.fail(dst, streamError("provider sent a stream event that is not a JSON object"))
	}
	// One pass over the event: a Get per field would rescan it for every
	// field that is absent.
	var cands, usage, errObj, feedback, id, model gjson.Result
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "candidates":
			cands = v
		case "usageMetadata":
			usage = v
		case "error":
			errObj = v
		case "promptFeedback":
			feedback = v
		case "responseId":
			id = v
		case "modelVersion":
			model = v
		}
		return true
	})
	if errObj.IsObject() {
		if errObj.Get("message").Str == "" {
			return s.fail(dst, streamError("provider reported an error mid-stream"))
		}
		return s.fail(dst, geminiAPIError(0, "", errObj))
	}
	if !s.started {
		s.started = true
		s.hdr.ID = strings.Clone(id.String())
		s.hdr.Model = strings.Clone(model.String())
		s.prefix = appendChunkPrefix(s.prefix[:0], &s.hdr)
	}
	s.usage.read(usage)
	i := 0
	cands.ForEach(func(_, c gjson.Result) bool {
		idx := i
		i++
		if !c.IsObject() {
			return true
		}
		var parts, finish, grounding gjson.Result
		c.ForEach(func(k, v gjson.Result) bool {
			switch k.Str {
			case "groundingMetadata":
				grounding = v
			case "index":
				if v.Type == gjson.Number {
					idx = int(v.Num)
				}
			case "content":
				parts = v.Get("parts")
			case "finishReason":
				finish = v
			}
			return true
		})
		if idx < 0 || idx >= geminiMaxCandidates {
			return true // not a candidate the request could have asked for
		}
		dst = s.candidate(dst, idx, parts, finish, grounding)
		return true
	})
	if i == 0 && feedback.Get("blockReason").String() != "" && !s.blocked {
		s.blocked = true
		dst = s.role(dst, 0)
		dst = s.finish(dst, 0, "content_filter")
	}
	return dst
}

func (s *geminiStream) candidate(dst []byte, idx int, parts, finish, grounding gjson.Result) []byte {
	st := &s.cands[idx]
	if st.finished {
		return dst // nothing counts after a candidate's finish_reason
	}
	dst = s.role(dst, idx)
	parts.ForEach(func(_, p gjson.Result) bool {
		dst = s.part(dst, idx, p)
		return true
	})
	if grounding.IsObject() && !st.cited {
		// Grounding sources, as url_citation annotations in a delta of
		// their own (Gemini sends them with the last parts).
		if cites := appendGroundingCitations(nil, grounding); len(cites) > 0 {
			st.cited = true
			dst = s.openDelta(dst, idx)
			dst = append(dst, `{"annotations":[`...)
			dst = append(dst, cites...)
			dst = append(dst, "]}"...)
			dst = closeDelta(dst)
		}
	}
	if finish.Type == gjson.String && finish.Str != "" {
		dst = s.finish(dst, idx, geminiFinishReason(finish.Str, st.calls > 0))
	}
	return dst
}

func (s *geminiStream) part(dst []byte, idx int, p gjson.Result) []byte {
	if !p.IsObject() {
		return dst
	}
	var text, thought, call, sig, inline gjson.Result
	p.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "inlineData":
			inline = v
		case "text":
			text = v
		case "thought":
			thought = v
		case "functionCall":
			call = v
		case "thoughtSignature":
			sig = v
		}
		return true
	})
	st := &s.cands[idx]
	var id []byte
	if call.IsObject() {
		st.inText = false
		if v := call.Get("id"); v.Type == gjson.String && v.Str != "" {
			s.id = appendJSONString(s.id[:0], v.Str)
		} else {
			s.id = append(s.id[:0], '"')
			s.id = geminiToolCallID(s.id, s.hdr.ID, idx, st.calls)
			s.id = append(s.id, '"')
		}
		id = s.id
		dst = s.openDelta(dst, idx)
		dst = append(dst, `{"tool_calls":[{"index":`...)
		dst = strconv.AppendInt(dst, int64(st.calls), 10)
		dst = append(dst, `,"id":`...)
		dst = append(dst, id...)
		dst = append(dst, `,"type":"function","function":{"name":`...)
		dst = appendRawString(dst, call.Get("name"))
		dst = append(dst, `,"arguments":`...)
		s.args.Reset()
		if args := call.Get("args"); args.IsObject() && json.Compact(&s.args, []byte(args.Raw)) == nil {
			dst = appendJSONString(dst, bytesString(s.args.Bytes()))
		} else {
			dst = append(dst, `"{}"`...)
		}
		dst = append(dst, "}}]}"...)
		dst = closeDelta(dst)
		st.calls++
	} else if text.Type == gjson.String && text.Str != "" && (thought.Type != gjson.True || !s.opts.ExcludeReasoning) {
		dst = s.openDelta(dst, idx)
		if thought.Type == gjson.True {
			if !st.inText {
				st.inText = true
				st.details++
			}
			dst = append(dst, `{"reasoning":`...)
			dst = append(dst, text.Raw...) // already a JSON string literal
			dst = append(dst, `,"reasoning_details":[`...)
			dst = appendGeminiDetail(dst, false, text.Raw, "", st.details-1, true)
			dst = append(dst, "]}"...)
		} else {
			st.inText = false
			dst = append(dst, `{"content":`...)
			dst = append(dst, text.Raw...)
			dst = append(dst, '}')
		}
		dst = closeDelta(dst)
	}
	if img, ok := geminiImage(inline); ok {
		// An image model's picture: OpenRouter's delta.images.
		st.inText = false
		dst = s.openDelta(dst, idx)
		dst = append(dst, `{"images":[`...)
		dst = appendImageURL(dst, img)
		dst = append(dst, "]}"...)
		dst = closeDelta(dst)
	}
	if sig.Type == gjson.String && sig.Str != "" && !s.opts.ExcludeReasoning {
		st.inText = false
		dst = s.openDelta(dst, idx)
		dst = append(dst, `{"reasoning_details":[`...)
		idStr := ""
		if id != nil {
			idStr = bytesString(id[1 : len(id)-1])
		}
		dst = appendGeminiDetail(dst, true, sig.Raw, idStr, st.details, true)
		st.details++
		dst = append(dst, "]}"...)
		dst = closeDelta(dst)
	}
	return dst
}

// role sends a candidate's first chunk.
func (s *geminiStream) role(dst []byte, idx int) []byte {
	if s.cands[idx].seen {
		return dst
	}
	s.cands[idx].seen = true
	dst = s.openDelta(dst, idx)
	dst = append(dst, `{"role":"assistant","content":""}`...)
	return closeDelta(dst)
}

func (s *geminiStream) finish(dst []byte, idx int, reason string) []byte {
	st := &s.cands[idx]
	if st.finished {
		return dst
	}
	st.finished = true
	dst = s.openDelta(dst, idx)
	dst = append(dst, `{},"finish_reason":"`...)
	dst = append(dst, reason...)
	return append(dst, "\"}]}\n\n"...)
}

// openDelta starts a chunk of candidate idx up to its delta object.
func (s *geminiStream) openDelta(dst []byte, idx int) []byte {
	dst = append(dst, s.prefix...)
	dst = append(dst, `{"index":`...)
	dst = strconv.AppendInt(dst, int64(idx), 10)
	return append(dst, `,"delta":`...)
}

func (s *geminiStream) fail(dst []byte, e *APIError) []byte {
	s.done = true
	dst = appendErrorChunk(dst, &s.hdr, e)
	return append(dst, sseDone...)
}

var _ StreamTranslator = (*geminiStream)(nil)
