package middleware

import (
	"bytes"

	"github.com/switchboard-gw/switchboard/translators"
)

// WrapStream puts t behind a stream translator whose output is OpenAI chat
// SSE (data: {chunk}\n\n ... data: [DONE]\n\n): each chunk goes through t,
// and t.Finish runs before [DONE] (or at the end of the stream when up
// writes no [DONE]). Events other than chat chunks pass unchanged. With a
// nil t it returns up itself.
//
// Where the client's API is not chat (/v1/messages, /v1/responses), the
// wrapper goes between the provider's translator and the ingress
// translator, where the chunks are still chat chunks.
func WrapStream(up translators.StreamTranslator, t StreamTransformer) translators.StreamTranslator {
	if t == nil {
		return up
	}
	w := &wrapped{up: up, t: t}
	w.emit = func(c []byte) { w.out = appendData(w.out, c) }
	return w
}

type wrapped struct {
	up       translators.StreamTranslator
	t        StreamTransformer
	dec      translators.SSEDecoder
	tmp      []byte // the upstream translator's output, reused
	out      []byte // what the current call appends, then copied to dst
	emit     func([]byte)
	finished bool // t.Finish has run
	broken   bool // the decoder gave up: bytes pass through
}

var done = []byte("[DONE]")

func (w *wrapped) Translate(dst, chunk []byte) []byte {
	w.tmp = w.up.Translate(w.tmp[:0], chunk)
	return w.feed(dst)
}

func (w *wrapped) Finish(dst []byte) []byte {
	w.tmp = w.up.Finish(w.tmp[:0])
	dst = w.feed(dst)
	if !w.finished {
		w.finished = true
		w.out = w.out[:0]
		w.t.Finish(w.emit)
		dst = append(dst, w.out...)
	}
	return dst
}

func (w *wrapped) feed(dst []byte) []byte {
	if w.broken {
		return append(dst, w.tmp...)
	}
	if err := w.dec.Write(w.tmp); err != nil {
		// An event larger than the decoder holds: the translators never
		// write one, so pass bytes on rather than lose them.
		w.broken = true
		return append(dst, w.tmp...)
	}
	w.out = w.out[:0]
	for {
		ev, ok := w.dec.Next()
		if !ok {
			break
		}
		data := bytes.TrimSpace(ev.Data)
		switch {
		case bytes.Equal(data, done):
			if !w.finished {
				w.finished = true
				w.t.Finish(w.emit)
			}
			w.out = append(w.out, "data: [DONE]\n\n"...)
		case len(ev.Event) > 0 || len(data) == 0 || data[0] != '{':
			w.out = appendEvent(w.out, ev)
		default:
			w.t.Chunk(data, w.emit)
		}
	}
	return append(dst, w.out...)
}

func (w *wrapped) Usage() translators.Usage { return w.up.Usage() }

// HintUsage passes a usage hint to the wrapped translator.
func (w *wrapped) HintUsage(u translators.Usage) {
	if h, ok := w.up.(translators.UsageHinter); ok {
		h.HintUsage(u)
	}
}

func appendData(dst, data []byte) []byte {
	dst = append(dst, "data: "...)
	dst = append(dst, data...)
	return append(dst, '\n', '\n')
}

func appendEvent(dst []byte, ev translators.SSEEvent) []byte {
	if len(ev.Event) > 0 {
		dst = append(dst, "event: "...)
		dst = append(dst, ev.Event...)
		dst = append(dst, '\n')
	}
	for line := range bytes.SplitSeq(ev.Data, []byte("\n")) {
		dst = append(dst, "data: "...)
		dst = append(dst, line...)
		dst = append(dst, '\n')
	}
	return append(dst, '\n')
}

var (
	_ translators.StreamTranslator = (*wrapped)(nil)
	_ translators.UsageHinter      = (*wrapped)(nil)
)
