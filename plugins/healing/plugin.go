package healing

import (
	"bytes"
	"context"

	"github.com/switchboard-gw/switchboard/middleware"
)

// PluginID is OpenRouter's name for the plugin.
const PluginID = "response-healing"

// Plugin is response healing as a middleware plugin: on a request that
// asked for JSON (response_format), the answer's text is repaired and
// checked against the schema before the client sees it.
type Plugin struct{ Limits Limits }

func (Plugin) ID() string { return PluginID }

func (p Plugin) Start(_ context.Context, in middleware.Input) (middleware.Step, error) {
	f, ok, err := FormatFromRequest(in.Body)
	if err != nil {
		return middleware.Step{}, err
	}
	if !ok {
		return middleware.Step{Body: in.Body, Warnings: []string{"response-healing: the request asks for no JSON (response_format); nothing to heal"}}, nil
	}
	return middleware.Step{Body: in.Body, After: after{f: f, lim: p.Limits}}, nil
}

type after struct {
	f   Format
	lim Limits
}

func (a after) Answer(body []byte) ([]byte, error) {
	out, _ := HealResponse(body, a.f, a.lim)
	return out, nil
}

func (a after) NewStream() middleware.StreamTransformer {
	return &streamAdapter{s: NewStream(a.f, a.lim)}
}

// streamAdapter feeds the SSE healer one chunk object at a time.
type streamAdapter struct {
	s   *Stream
	buf []byte
}

func (t *streamAdapter) Chunk(chunk []byte, emit func([]byte)) {
	in := append(append([]byte("data: "), chunk...), "\n\n"...)
	t.buf = t.s.Translate(t.buf[:0], in)
	emitEvents(t.buf, emit)
}

func (t *streamAdapter) Finish(emit func([]byte)) {
	t.buf = t.s.Finish(t.buf[:0])
	emitEvents(t.buf, emit)
}

// emitEvents emits the data of each SSE event in b.
func emitEvents(b []byte, emit func([]byte)) {
	for _, ev := range bytes.Split(b, []byte("\n\n")) {
		if d, ok := bytes.CutPrefix(bytes.TrimSpace(ev), []byte("data: ")); ok && string(d) != "[DONE]" {
			emit(d)
		}
	}
}

var _ middleware.Plugin = Plugin{}
