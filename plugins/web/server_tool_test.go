package web

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/middleware"
	"github.com/switchboard-gw/switchboard/translators"
)

// The server_tool option: results filtered by the tool's domains, and the
// blocks added to whole and streamed answers before anything else.
func TestServerTool(t *testing.T) {
	results := []Result{{Title: "Go", URL: "https://go.dev/blog/x", Snippet: "s1"}, {Title: "Other", URL: "https://other.example/y", Snippet: "s2"}}
	start := func(t *testing.T, b *stubBackend, tool string) middleware.Step {
		t.Helper()
		p, err := New(Config{Backends: []Backend{b}, Now: fixedNow})
		if err != nil {
			t.Fatal(err)
		}
		st, err := p.Start(context.Background(), middleware.Input{Body: []byte(userBody), Options: []byte(`{"id":"web","server_tool":` + tool + `}`)})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	field := "choices.0.message." + translators.ServerBlocksField
	chat := []byte(`{"choices":[{"index":0,"message":{"role":"assistant","content":"See [Go](https://go.dev/blog/x)."},"finish_reason":"stop"}]}`)

	st := start(t, &stubBackend{name: "s", results: results}, `{"type":"web_search_20250305","name":"web_search","allowed_domains":["go.dev"]}`)
	if st.Body == nil || strings.Contains(string(st.Body), "other.example") {
		t.Fatalf("the note has a result the tool's allowed_domains exclude: %s", st.Body)
	}
	out, err := st.After.Answer(chat)
	if err != nil {
		t.Fatal(err)
	}
	blocks := gjson.GetBytes(out, field).Array()
	if len(blocks) != 2 || blocks[0].Get("type").Str != "server_tool_use" || blocks[0].Get("input.query").Str != "latest go release" ||
		blocks[1].Get("tool_use_id").Str != blocks[0].Get("id").Str || blocks[1].Get("content.#").Int() != 1 {
		t.Fatalf("blocks %s", gjson.GetBytes(out, field).Raw)
	}
	if gjson.GetBytes(out, "choices.0.message.annotations.0.url_citation.url").Str != "https://go.dev/blog/x" {
		t.Errorf("no citation: %s", out)
	}

	// Streamed: the blocks ride on a chunk of their own before the first.
	var got []string
	ts := st.After.NewStream()
	ts.Chunk([]byte(`{"id":"c","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`), func(c []byte) { got = append(got, string(c)) })
	ts.Chunk([]byte(`{"id":"c","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}`), func(c []byte) { got = append(got, string(c)) })
	ts.Finish(func(c []byte) { got = append(got, string(c)) })
	if len(got) < 3 || !gjson.Get(got[0], "choices.0.delta."+translators.ServerBlocksField).IsArray() || gjson.Get(got[1], "choices.0.delta.role").Str != "assistant" ||
		strings.Count(strings.Join(got, ""), translators.ServerBlocksField) != 1 {
		t.Fatalf("chunks %q", got)
	}

	// A failed search: Anthropic's "unavailable" result, no note.
	st = start(t, &stubBackend{name: "s", err: errors.New("down")}, `{"type":"web_search_20250305","name":"web_search"}`)
	out, _ = st.After.Answer(chat)
	if st.Body != nil || gjson.GetBytes(out, field+".1.content.error_code").Str != "unavailable" {
		t.Fatalf("failed search: body %s answer %s", st.Body, out)
	}
}
