package translators

import (
	"bytes"
	"encoding/json"
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"
)

// openAIStream checks an OpenAI-schema stream (OpenAI, Azure, compatible
// hosts) and passes its chunks through, rewritten only where a host
// differs from OpenRouter's shape:
//   - chunks with no choices and no usage (Azure's prompt_filter_results
//     frame) are dropped;
//   - usage riding on a content chunk (hosts without stream_options) is
//     moved to one usage chunk written by Finish;
//   - reasoning_content deltas become reasoning plus reasoning_details.
//
// A chunk needing none of this is copied as is, with no allocation.
type openAIStream struct {
	opts      StreamOptions
	dec       SSEDecoder
	hdr       chunkHeader
	usage     Usage
	line      []byte     // scratch for compacting multi-line events
	out       []byte     // scratch for rewritten events
	edits     []jsonEdit // scratch
	sawUsage  bool       // a usage object was seen
	usageSent bool       // the provider's own usage chunk went to the client
	finished  bool       // a finish_reason was seen
	complete  bool       // upstream sent [DONE]; Finish ends the client stream
	done      bool       // [DONE] was sent
}

func (s *openAIStream) Usage() Usage { return s.usage }

func (s *openAIStream) Translate(dst, chunk []byte) []byte {
	if s.done || s.complete {
		return dst
	}
	if err := s.dec.Write(chunk); err != nil {
		return s.fail(dst, err.Error())
	}
	for {
		ev, ok := s.dec.Next()
		if !ok {
			return dst
		}
		if bytes.Equal(ev.Data, []byte("[DONE]")) {
			// Forwarded by Finish: the contract keeps [DONE] for the end of the body.
			s.complete = true
			return dst
		}
		var failed bool
		if dst, failed = s.event(dst, ev.Data); failed {
			return dst
		}
	}
}

// event handles one data payload; failed reports that the stream ended.
func (s *openAIStream) event(dst, data []byte) ([]byte, bool) {
	if !validJSON(data) {
		return s.fail(dst, "provider sent a stream event that is not JSON"), true
	}
	// Two IndexByte scans are SIMD; ContainsAny walks byte by byte.
	if bytes.IndexByte(data, '\n') >= 0 || bytes.IndexByte(data, '\r') >= 0 {
		// Re-emitted as one data: line, so newlines inside the JSON
		// (multi-line data fields) must go.
		s.line = s.line[:0]
		if w := bytes.NewBuffer(s.line); json.Compact(w, data) == nil {
			s.line = w.Bytes()
			data = s.line
		}
	}
	// data stays untouched until this event is written, so gjson may read
	// it in place; strings kept beyond the event are cloned.
	js := bytesView(data)
	root := gjson.Parse(js)
	if !root.IsObject() {
		return s.fail(dst, "provider sent a stream event that is not a JSON object"), true
	}
	var id, model, created, choices, usageKey, usage, errv, xgroq gjson.Result
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "id":
			id = v
		case "model":
			model = v
		case "created":
			created = v
		case "choices":
			choices = v
		case "usage":
			usageKey, usage = k, v
		case "error":
			errv = v
		case "x_groq":
			xgroq = v
		}
		return true
	})
	if errv.Exists() && errv.Type != gjson.Null {
		msg := errv.Get("message").Str
		if msg == "" {
			msg = "provider reported an error mid-stream"
		}
		return s.fail(dst, msg), true
	}
	if s.hdr.ID == "" && id.Str != "" {
		s.hdr.ID, s.hdr.Model, s.hdr.Created = strings.Clone(id.Str), strings.Clone(model.Str), created.Int()
	}
	if usage.IsObject() {
		s.usage, s.sawUsage = openAIUsage(usage), true
	} else if u := xgroq.Get("usage"); u.IsObject() {
		// Groq's own place for stream usage.
		s.usage, s.sawUsage = openAIUsage(u), true
	}
	n := 0
	edits := s.edits[:0]
	choices.ForEach(func(_, c gjson.Result) bool {
		n++
		// One pass over the choice; its delta is small, so looking there
		// for reasoning fields is cheaper than searching the whole event.
		c.ForEach(func(k, v gjson.Result) bool {
			switch k.Str {
			case "finish_reason":
				if v.Type == gjson.String {
					s.finished = true
				}
			case "delta":
				edits = reasoningEdits(edits, js, v, s.opts.ExcludeReasoning)
			}
			return true
		})
		return true
	})
	if n == 0 {
		if usage.IsObject() && s.opts.IncludeUsage {
			s.usageSent = true
			return appendSSEData(dst, data), false
		}
		// The usage chunk the gateway asked for, not the client; Azure's
		// prompt_filter_results frame; other annotation-only frames.
		return dst, false
	}
	if usageKey.Exists() && (usage.IsObject() || !s.opts.IncludeUsage) {
		// Usage on a content chunk moves to the usage chunk at the end;
		// "usage":null is OpenAI's own shape only when the client asked.
		edits = append(edits, memberDelete(js, usageKey, usage))
	}
	s.edits = edits // keep the grown scratch
	if len(edits) == 0 {
		return appendSSEData(dst, data), false
	}
	s.out = applyEdits(s.out[:0], data, edits)
	return appendSSEData(dst, s.out), false
}

func (s *openAIStream) end(dst []byte) []byte {
	s.done = true
	return append(dst, sseDone...)
}

func (s *openAIStream) fail(dst []byte, msg string) []byte {
	s.done = true
	dst = appendErrorChunk(dst, &s.hdr, &APIError{Status: 502, Type: TypeUpstream, Code: "upstream_stream_error", Message: msg})
	return append(dst, sseDone...)
}

func (s *openAIStream) Finish(dst []byte) []byte {
	if s.done {
		return dst
	}
	if s.complete || s.finished && !s.dec.Pending() {
		// Some compatible hosts omit [DONE]; the answer itself is complete.
		if s.opts.IncludeUsage && s.sawUsage && !s.usageSent {
			dst = appendChunk(dst, &s.hdr, "", &s.usage)
		}
		return s.end(dst)
	}
	return s.fail(dst, "provider stream ended before the response was complete")
}

// bytesView reads b as a string without copying. The caller must not
// change b while the string or anything parsed from it is in use.
func bytesView(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// jsonEdit replaces src[from:to] with pre+mid+post. A member deletion that
// took the comma before it also knows alt, its end past the comma after it,
// for when a neighbouring deletion already took the comma before.
type jsonEdit struct {
	from, to, alt  int
	pre, mid, post string
}

// applyEdits appends src to dst with edits applied. Overlapping edits are
// deletions sharing a comma; their union is removed.
func applyEdits(dst, src []byte, edits []jsonEdit) []byte {
	// Insertion sort: a handful of edits, and no allocation.
	for i := 1; i < len(edits); i++ {
		for j := i; j > 0 && (edits[j].from < edits[j-1].from || edits[j].from == edits[j-1].from && edits[j].to < edits[j-1].to); j-- {
			edits[j], edits[j-1] = edits[j-1], edits[j]
		}
	}
	last := 0
	for _, e := range edits {
		if e.from >= last {
			dst = append(dst, src[last:e.from]...)
			last = e.to
		} else {
			last = max(last, e.to, e.alt)
		}
		dst = append(dst, e.pre...)
		dst = append(dst, e.mid...)
		dst = append(dst, e.post...)
	}
	return append(dst, src[last:]...)
}

// spanOK reports whether r's Index points at its Raw within js, so an edit
// by position is safe.
func spanOK(js string, r gjson.Result) bool {
	return r.Index > 0 && r.Index+len(r.Raw) <= len(js) && js[r.Index:r.Index+len(r.Raw)] == r.Raw
}

// memberDelete removes an object member (key and value) and one comma next
// to it. A member whose position is unknown is left alone.
func memberDelete(js string, k, v gjson.Result) jsonEdit {
	if !spanOK(js, k) || !spanOK(js, v) {
		return jsonEdit{from: 0, to: 0}
	}
	from, to := k.Index, v.Index+len(v.Raw)
	alt := to
	j := to
	for j < len(js) && isSpace(js[j]) {
		j++
	}
	if j < len(js) && js[j] == ',' {
		alt = j + 1
	}
	i := from - 1
	for i >= 0 && isSpace(js[i]) {
		i--
	}
	if i >= 0 && js[i] == ',' {
		return jsonEdit{from: i, to: to, alt: alt}
	}
	return jsonEdit{from: from, to: alt, alt: alt}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// reasoningEdits renames a host's reasoning fields in one message or delta
// object to OpenRouter's: reasoning (the text) plus reasoning_details
// ([{"type":"reasoning.text","text":...}]). DeepSeek, xAI, vLLM and
// Fireworks send reasoning_content; Groq, Ollama and Together send
// reasoning alone; OpenRouter sends both of its fields and is left as is.
//
// With exclude (the client's reasoning.exclude) all three are removed.
func reasoningEdits(edits []jsonEdit, js string, o gjson.Result, exclude bool) []jsonEdit {
	if !o.IsObject() {
		return edits
	}
	var rcK, rcV, rK, rV, rdK, rdV gjson.Result
	o.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "reasoning_content":
			rcK, rcV = k, v
		case "reasoning":
			rK, rV = k, v
		case "reasoning_details":
			rdK, rdV = k, v
		}
		return true
	})
	details := rdK.Exists()
	if exclude {
		for _, m := range [...][2]gjson.Result{{rcK, rcV}, {rK, rV}, {rdK, rdV}} {
			if m[0].Exists() {
				edits = append(edits, memberDelete(js, m[0], m[1]))
			}
		}
		return edits
	}
	if !rcK.Exists() && (!rK.Exists() || details) {
		return edits
	}
	text := rV
	switch {
	case rcK.Exists() && !spanOK(js, rcK):
		return edits
	case rcK.Exists() && rK.Exists() && rV.Type != gjson.String && rcV.Type == gjson.String:
		// "reasoning":null beside the text: the text wins.
		edits = append(edits, memberDelete(js, rK, rV), jsonEdit{from: rcK.Index, to: rcK.Index + len(rcK.Raw), pre: `"reasoning"`})
		text = rcV
	case rcK.Exists() && rK.Exists():
		edits = append(edits, memberDelete(js, rcK, rcV))
	case rcK.Exists():
		edits = append(edits, jsonEdit{from: rcK.Index, to: rcK.Index + len(rcK.Raw), pre: `"reasoning"`})
		text = rcV
	}
	if !details && text.Type == gjson.String && len(text.Raw) > 2 && spanOK(js, text) {
		end := text.Index + len(text.Raw)
		edits = append(edits, jsonEdit{from: end, to: end,
			pre: `,"reasoning_details":[{"type":"reasoning.text","text":`, mid: text.Raw, post: `,"index":0}]`})
	}
	return edits
}

var _ StreamTranslator = (*openAIStream)(nil)
