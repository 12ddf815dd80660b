package healing

import (
	"bytes"
	"slices"
	"strconv"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// Stream heals a streamed answer. It is fed the OpenAI chat SSE bytes
// the client would get (after translation) and appends what the client
// gets instead.
//
// The choice: it buffers. An SSE delta sent cannot be taken back, so
// "heal at the end and emit a corrected chunk" would leave the client
// with the broken text plus a correction it has no way to apply. With
// healing on, each choice's content deltas are held back and sent as one
// healed delta just before that choice's finish chunk; every other field
// (role, tool calls, reasoning, usage, errors) passes through as it
// comes. The client waits for the whole answer before seeing its text —
// the price of asking for a guaranteed-parseable answer. A choice whose
// text grows past Limits.MaxBytes is released as it was and passes
// through from then on, reported as skipped.
type Stream struct {
	f       Format
	lim     Limits
	pending []byte // input not yet ending in a blank line
	choices []*streamChoice
	last    []byte // the last chunk seen, the template for a flush at the end
}

type streamChoice struct {
	index    int
	text     []byte
	released bool // over the limit: passing through
	flushed  bool
	outcome  Outcome
}

// NewStream returns a stream healer for one response.
func NewStream(f Format, lim Limits) *Stream {
	return &Stream{f: f, lim: lim.withDefaults()}
}

// Translate consumes chunk (any split of the SSE body) and appends the
// SSE bytes it completes to dst.
func (s *Stream) Translate(dst, chunk []byte) []byte {
	s.pending = append(s.pending, chunk...)
	for {
		i, n := eventEnd(s.pending)
		if i < 0 {
			return dst
		}
		dst = s.event(dst, s.pending[:i])
		s.pending = s.pending[i+n:]
	}
}

// Finish appends what is left when the body ends: held text of choices
// that never finished (a cut stream), and any incomplete event as it was.
func (s *Stream) Finish(dst []byte) []byte {
	if len(bytes.TrimSpace(s.pending)) > 0 {
		dst = s.event(dst, s.pending)
	}
	s.pending = nil
	return s.flushAll(dst)
}

// Report says what healing did, once the stream is finished.
func (s *Stream) Report() Report {
	var r Report
	for _, c := range s.choices {
		st, problem := c.outcome.Status, c.outcome.Problem
		switch {
		case c.released:
			st, problem = StatusSkipped, "answer is over the healing limit"
		case st == "":
			st, problem = StatusSkipped, "no text answer"
		}
		r.Choices = append(r.Choices, ChoiceReport{Index: c.index, Status: st, Problem: problem})
	}
	return r
}

// eventEnd finds the blank line that ends the first SSE event.
func eventEnd(b []byte) (int, int) {
	best, n := -1, 0
	for _, sep := range [][]byte{[]byte("\n\n"), []byte("\r\n\r\n")} {
		if i := bytes.Index(b, sep); i >= 0 && (best < 0 || i < best) {
			best, n = i, len(sep)
		}
	}
	return best, n
}

func (s *Stream) event(dst, ev []byte) []byte {
	data, ok := dataOf(ev)
	if !ok {
		return append(append(dst, ev...), "\n\n"...)
	}
	if bytes.Equal(data, []byte("[DONE]")) || !gjson.ValidBytes(data) || gjson.GetBytes(data, "error").Exists() {
		dst = s.flushAll(dst)
		return append(append(dst, ev...), "\n\n"...)
	}
	s.last = append(s.last[:0], data...)
	out := data
	copied := false
	drop := true
	var finishing []*streamChoice
	for j, ch := range gjson.GetBytes(data, "choices").Array() {
		c := s.choice(int(ch.Get("index").Int()))
		delta := ch.Get("delta")
		if content := delta.Get("content"); content.Type == gjson.String && !c.released {
			c.text = append(c.text, content.String()...)
			if len(c.text) > s.lim.MaxBytes {
				// Release: what was held goes out in this chunk's place.
				c.released = true
				if !copied {
					out, copied = slices.Clone(data), true
				}
				out, _ = sjson.SetBytes(out, "choices."+strconv.Itoa(j)+".delta.content", string(c.text))
				c.text = nil
			} else {
				if !copied {
					out, copied = slices.Clone(data), true
				}
				out, _ = sjson.DeleteBytes(out, "choices."+strconv.Itoa(j)+".delta.content")
			}
		}
		if fr := ch.Get("finish_reason"); fr.Exists() && fr.Type != gjson.Null {
			finishing = append(finishing, c)
			drop = false
		}
	}
	if drop {
		drop = emptyChunk(out)
	}
	for _, c := range finishing {
		dst = s.flush(dst, c, data)
	}
	if drop {
		return dst
	}
	return appendData(dst, out)
}

// emptyChunk reports whether a chunk carries nothing once content was
// taken out of it: every delta empty, no usage, no logprobs.
func emptyChunk(b []byte) bool {
	if u := gjson.GetBytes(b, "usage"); u.Exists() && u.Type != gjson.Null {
		return false
	}
	chs := gjson.GetBytes(b, "choices").Array()
	if len(chs) == 0 {
		return false
	}
	for _, ch := range chs {
		empty := true
		ch.Get("delta").ForEach(func(_, v gjson.Result) bool {
			empty = v.Type == gjson.Null
			return empty
		})
		if !empty {
			return false
		}
		if lp := ch.Get("logprobs"); lp.Exists() && lp.Type != gjson.Null {
			return false
		}
	}
	return true
}

func (s *Stream) choice(index int) *streamChoice {
	for _, c := range s.choices {
		if c.index == index {
			return c
		}
	}
	c := &streamChoice{index: index}
	s.choices = append(s.choices, c)
	return c
}

// flush heals a choice's held text and emits it as one content delta,
// in a chunk shaped like tmpl (same id, model, created).
func (s *Stream) flush(dst []byte, c *streamChoice, tmpl []byte) []byte {
	if c.flushed || c.released {
		return dst
	}
	c.flushed = true
	if len(c.text) == 0 {
		return dst
	}
	c.outcome = Heal(string(c.text), s.f, s.lim)
	c.text = nil
	chunk := slices.Clone(tmpl)
	chunk, _ = sjson.DeleteBytes(chunk, "usage")
	choice := `{"index":` + strconv.Itoa(c.index) + `,"delta":{"content":""},"finish_reason":null}`
	choiceB, _ := sjson.SetBytes([]byte(choice), "delta.content", c.outcome.Text)
	chunk, _ = sjson.SetRawBytes(chunk, "choices", append(append([]byte{'['}, choiceB...), ']'))
	return appendData(dst, chunk)
}

func (s *Stream) flushAll(dst []byte) []byte {
	if s.last == nil {
		return dst
	}
	for _, c := range s.choices {
		dst = s.flush(dst, c, s.last)
	}
	return dst
}

// dataOf returns the joined data lines of one SSE event.
func dataOf(ev []byte) ([]byte, bool) {
	var data []byte
	found := false
	for line := range bytes.Lines(ev) {
		line = bytes.TrimRight(line, "\r\n")
		v, ok := bytes.CutPrefix(line, []byte("data:"))
		if !ok {
			continue
		}
		if found {
			data = append(data, '\n')
		}
		found = true
		data = append(data, bytes.TrimPrefix(v, []byte(" "))...)
	}
	return data, found
}

func appendData(dst, data []byte) []byte {
	dst = append(dst, "data: "...)
	dst = append(dst, data...)
	return append(dst, "\n\n"...)
}
