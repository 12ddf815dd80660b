package web

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/switchboard-gw/switchboard/middleware"
)

// Citations is the web plugin's After: it adds one url_citation
// annotation per result used, in OpenRouter's shape,
//
//	{"type":"url_citation","url_citation":{"url","title","content","start_index","end_index"}}
//
// to message.annotations of a whole answer and, streamed, to
// delta.annotations of the chunk that carries a choice's finish_reason
// (or, when the stream ends without one, to a dedicated last chunk before
// [DONE]). content is the result's snippet. start_index and end_index
// are the span, in Unicode code points of the choice's content, of the
// first markdown link to the result's URL ([text](url), a trailing slash
// ignored); both are 0 when the answer does not link to it. Annotations
// the provider set are kept, ours come after them.
type Citations struct {
	Results []Result
}

// maxIndexedBytes bounds the content a stream keeps to find links in;
// links past it get no span.
const maxIndexedBytes = 256 << 10

// maxChoices bounds the choices a stream tracks (n > 1 is rare).
const maxChoices = 16

// Answer adds the annotations to every choice's message.
func (c *Citations) Answer(body []byte) ([]byte, error) {
	out := body
	copied := false
	i := 0
	gjson.GetBytes(body, "choices").ForEach(func(_, ch gjson.Result) bool {
		msg := ch.Get("message")
		if msg.IsObject() {
			if !copied {
				out, copied = append([]byte(nil), body...), true
			}
			anns := mergeAnnotations(msg.Get("annotations"), Annotations(msg.Get("content").Str, c.Results))
			out, _ = sjson.SetRawBytes(out, "choices."+strconv.Itoa(i)+".message.annotations", anns)
		}
		i++
		return true
	})
	return out, nil
}

// NewStream returns the stream transformer.
func (c *Citations) NewStream() middleware.StreamTransformer { return &citeStream{results: c.Results} }

// Annotations renders the url_citation annotations of content, as a JSON
// array.
func Annotations(content string, results []Result) []byte {
	links := markdownLinks(content)
	out := []byte{'['}
	for i, r := range results {
		if i > 0 {
			out = append(out, ',')
		}
		start, end := 0, 0
		for _, l := range links {
			if sameURL(l.url, r.URL) {
				start, end = l.start, l.end
				break
			}
		}
		out = append(out, `{"type":"url_citation","url_citation":{"url":`...)
		out = strconv.AppendQuote(out, r.URL)
		out = append(out, `,"title":`...)
		out = strconv.AppendQuote(out, r.Title)
		out = append(out, `,"content":`...)
		out = strconv.AppendQuote(out, r.Snippet)
		out = append(out, `,"start_index":`...)
		out = strconv.AppendInt(out, int64(start), 10)
		out = append(out, `,"end_index":`...)
		out = strconv.AppendInt(out, int64(end), 10)
		out = append(out, "}}"...)
	}
	return append(out, ']')
}

func mergeAnnotations(existing gjson.Result, ours []byte) []byte {
	if !existing.IsArray() || len(existing.Array()) == 0 {
		return ours
	}
	raw := strings.TrimSpace(existing.Raw)
	merged := make([]byte, 0, len(raw)+len(ours))
	merged = append(merged, raw[:len(raw)-1]...)
	merged = append(merged, ',')
	return append(merged, ours[1:]...)
}

func sameURL(a, b string) bool { return strings.TrimSuffix(a, "/") == strings.TrimSuffix(b, "/") }

type link struct {
	url        string
	start, end int // code points, end exclusive
}

// markdownLinks finds [text](url) links on one line each.
func markdownLinks(s string) []link {
	var links []link
	for i := 0; i < len(s); {
		j := strings.Index(s[i:], "](")
		if j < 0 {
			break
		}
		j += i
		k := strings.IndexByte(s[j+2:], ')')
		if k < 0 {
			break
		}
		k += j + 2
		url := s[j+2 : k]
		open := strings.LastIndexByte(s[i:j], '[')
		if open >= 0 {
			open += i
		}
		if open >= 0 && url != "" && !strings.ContainsAny(url, " \n\t") && !strings.ContainsAny(s[open+1:j], "\n[]") {
			start := utf8.RuneCountInString(s[:open])
			links = append(links, link{url: url, start: start, end: start + utf8.RuneCountInString(s[open:k+1])})
		}
		i = j + 2
	}
	return links
}

// citeStream adds the annotations to streamed chat chunks.
type citeStream struct {
	results []Result
	choices [maxChoices]struct {
		text       []byte
		seen, done bool
	}
	id, model, created string // raw JSON of the last chunk's fields
}

func (s *citeStream) Chunk(chunk []byte, emit func([]byte)) {
	res := gjson.GetManyBytes(chunk, "choices", "id", "model", "created")
	if res[1].Exists() {
		s.id, s.model, s.created = res[1].Raw, res[2].Raw, res[3].Raw
	}
	if !res[0].IsArray() {
		emit(chunk)
		return
	}
	out := chunk
	pos := 0
	res[0].ForEach(func(_, ch gjson.Result) bool {
		idx := int(ch.Get("index").Int())
		if idx < 0 || idx >= maxChoices {
			pos++
			return true
		}
		c := &s.choices[idx]
		c.seen = true
		if t := ch.Get("delta.content"); t.Type == gjson.String && len(c.text) < maxIndexedBytes {
			c.text = append(c.text, t.Str[:min(len(t.Str), maxIndexedBytes-len(c.text))]...)
		}
		if fr := ch.Get("finish_reason"); fr.Exists() && fr.Type != gjson.Null && !c.done {
			c.done = true
			anns := mergeAnnotations(ch.Get("delta.annotations"), Annotations(string(c.text), s.results))
			if &out[0] == &chunk[0] {
				out = append([]byte(nil), chunk...)
			}
			out, _ = sjson.SetRawBytes(out, "choices."+strconv.Itoa(pos)+".delta.annotations", anns)
		}
		pos++
		return true
	})
	emit(out)
}

// Finish emits the annotations of choices whose stream never finished.
func (s *citeStream) Finish(emit func([]byte)) {
	var choices []byte
	for i := range s.choices {
		c := &s.choices[i]
		if !c.seen || c.done {
			continue
		}
		c.done = true
		if len(choices) > 0 {
			choices = append(choices, ',')
		}
		choices = append(choices, `{"index":`...)
		choices = strconv.AppendInt(choices, int64(i), 10)
		choices = append(choices, `,"delta":{"annotations":`...)
		choices = append(choices, Annotations(string(c.text), s.results)...)
		choices = append(choices, `},"finish_reason":null}`...)
	}
	if choices == nil {
		return
	}
	out := []byte(`{`)
	if s.id != "" {
		out = append(append(append(out, `"id":`...), s.id...), ',')
	}
	out = append(out, `"object":"chat.completion.chunk",`...)
	if s.created != "" {
		out = append(append(append(out, `"created":`...), s.created...), ',')
	}
	if s.model != "" {
		out = append(append(append(out, `"model":`...), s.model...), ',')
	}
	out = append(append(append(out, `"choices":[`...), choices...), "]}"...)
	emit(out)
}

var (
	_ middleware.After             = (*Citations)(nil)
	_ middleware.StreamTransformer = (*citeStream)(nil)
)
