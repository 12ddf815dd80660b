package middleware

import (
	"context"
	"strconv"

	"github.com/tidwall/sjson"

	"github.com/switchboard-gw/switchboard/translators"
)

// fakePlugin records what it was started with and does what it is told.
type fakePlugin struct {
	id     string
	set    string // when set, the rewrite adds "<set>": true to the body
	answer []byte
	err    error
	usage  Usage
	warn   string
	tag    string // when set, its After appends tag to choices.0.message.content and to each chunk's "tags"
	got    []Input
}

func (p *fakePlugin) ID() string { return p.id }

func (p *fakePlugin) Start(_ context.Context, in Input) (Step, error) {
	p.got = append(p.got, in)
	if p.err != nil {
		return Step{}, p.err
	}
	st := Step{Answer: p.answer, Usage: p.usage}
	if p.warn != "" {
		st.Warnings = []string{p.warn}
	}
	if p.set != "" {
		st.Body, _ = sjson.SetBytes(append([]byte(nil), in.Body...), p.set, true)
	}
	if p.tag != "" {
		st.After = tagAfter(p.tag)
	}
	return st, nil
}

type tagAfter string

func (t tagAfter) Answer(body []byte) ([]byte, error) {
	return sjson.SetBytes(append([]byte(nil), body...), "tags.-1", string(t))
}

func (t tagAfter) NewStream() StreamTransformer { return &tagStream{tag: string(t)} }

// tagStream adds its tag to every chunk and, at Finish, emits one chunk
// counting the chunks it saw.
type tagStream struct {
	tag string
	n   int
}

func (s *tagStream) Chunk(c []byte, emit func([]byte)) {
	s.n++
	out, _ := sjson.SetBytes(append([]byte(nil), c...), "tags.-1", s.tag)
	emit(out)
}

func (s *tagStream) Finish(emit func([]byte)) {
	emit([]byte(`{"finish":"` + s.tag + `","seen":` + strconv.Itoa(s.n) + `}`))
}

// echoStream is an upstream translator whose output is its input.
type echoStream struct{ finish string }

func (e *echoStream) Translate(dst, chunk []byte) []byte { return append(dst, chunk...) }
func (e *echoStream) Finish(dst []byte) []byte           { return append(dst, e.finish...) }
func (e *echoStream) Usage() translators.Usage           { return translators.Usage{PromptTokens: 7} }
