package translators

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3/responses"
	"github.com/tidwall/gjson"
)

// responsesStreamSources are the OpenAI streams the provider translators
// write (their golden outputs) and the Anthropic ingress's own edge cases,
// as this ingress receives them.
var responsesStreamSources = append(append([]struct{ dir, name string }{}, ingressStreamSources...),
	struct{ dir, name string }{"openai_anthropic", "refusal_stream"},
	struct{ dir, name string }{"openai_openai", "openrouter_cache_stream"},
)

// runResponsesStream feeds body to a new stream in pieces, scribbling over
// each piece afterwards so a kept reference shows.
func runResponsesStream(echo ResponsesEcho, body []byte, next splitter) ([]byte, Usage) {
	st := ResponsesIngress{}.NewStream(echo)
	var out, piece []byte
	for len(body) > 0 {
		n := min(max(next(len(body)), 1), len(body))
		piece = append(piece[:0], body[:n]...)
		out = st.Translate(out, piece)
		for i := range piece {
			piece[i] = 'X'
		}
		body = body[n:]
	}
	return normalizeResponses(st.Finish(out)), st.Usage()
}

func TestResponsesIngressStreamGolden(t *testing.T) {
	type tcase struct{ name, in, golden string }
	var cases []tcase
	for _, s := range responsesStreamSources {
		cases = append(cases, tcase{s.dir + "/" + s.name, filepath.Join(testdata, s.dir, s.name+".resp.sse"),
			filepath.Join(testdata, responsesDir, "stream", s.dir+"."+s.name+".responses.sse")})
	}
	for _, dir := range []string{ingressDir, responsesDir} {
		own, _ := filepath.Glob(filepath.Join(testdata, dir, "stream", "*.openai.sse"))
		for _, p := range own {
			name := strings.TrimSuffix(filepath.Base(p), ".openai.sse")
			cases = append(cases, tcase{dir + "/" + name, p, filepath.Join(testdata, responsesDir, "stream", dir+"."+name+".responses.sse")})
		}
	}
	echo := summaryEcho(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in, err := os.ReadFile(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			out, usage := runResponsesStream(echo, in, whole)
			checkResponsesSSE(t, out)
			for _, sp := range streamSplits {
				got, gotUsage := runResponsesStream(echo, in, sp.next())
				if !bytes.Equal(got, out) {
					t.Fatalf("fed %s, output differs from one write:\n--- split\n%s\n--- whole\n%s", sp.name, got, out)
				}
				if gotUsage != usage {
					t.Fatalf("fed %s, usage %+v, one write gave %+v", sp.name, gotUsage, usage)
				}
			}
			checkGolden(t, tc.golden, out)
		})
	}
}

// respAccum is what a client builds from the stream's deltas.
type respAccum struct {
	items []*respAccumItem
}

type respAccumItem struct {
	id, typ   string
	done      bool
	final     gjson.Result
	text      map[int64]*strings.Builder // content parts, or summary parts of a reasoning item
	arguments strings.Builder
}

func (a *respAccum) part(it *respAccumItem, i int64) *strings.Builder {
	if it.text == nil {
		it.text = map[int64]*strings.Builder{}
	}
	if it.text[i] == nil {
		it.text[i] = &strings.Builder{}
	}
	return it.text[i]
}

// checkResponsesSSE asserts a client stream is what OpenAI sends: every
// event "event: X\ndata: {JSON of type X}" that the openai-go SDK decodes,
// sequence numbers counting from 0, response.created and
// response.in_progress first, items added, streamed and done in order,
// every done event agreeing with the deltas before it, and one terminal
// event whose output is the items as their done events gave them.
func checkResponsesSSE(tb testing.TB, out []byte) *respAccum {
	tb.Helper()
	if !bytes.HasSuffix(out, []byte("\n\n")) {
		tb.Fatalf("stream does not end with a blank line:\n%q", out)
	}
	events := bytes.Split(bytes.TrimSuffix(out, []byte("\n\n")), []byte("\n\n"))
	acc := &respAccum{}
	fail := func(i int, format string, args ...any) {
		tb.Helper()
		tb.Fatalf("event %d: "+format+"\n%s", append(append([]any{i}, args...), out)...)
	}
	for i, ev := range events {
		name, data, ok := bytes.Cut(ev, []byte("\ndata: "))
		name, ok2 := bytes.CutPrefix(name, []byte("event: "))
		if !ok || !ok2 || bytes.ContainsAny(data, "\r\n") || !gjson.ValidBytes(data) {
			fail(i, "malformed %q", ev)
		}
		var u responses.ResponseStreamEventUnion
		if err := json.Unmarshal(data, &u); err != nil || u.Type != string(name) {
			fail(i, "openai-go decodes %q as %q (%v)", name, u.Type, err)
		}
		d := gjson.ParseBytes(data)
		if d.Get("sequence_number").Int() != int64(i) || !u.JSON.SequenceNumber.Valid() {
			fail(i, "sequence_number %s", d.Get("sequence_number").Raw)
		}
		typ := string(name)
		terminal := typ == "response.completed" || typ == "response.incomplete" || typ == "response.failed"
		if terminal != (i == len(events)-1) {
			fail(i, "%s is not the last event", typ)
		}
		switch {
		case i == 0 && typ != "response.created", i == 1 && typ != "response.in_progress" && typ != "response.failed":
			fail(i, "stream starts with %s", typ)
		}
		var it *respAccumItem
		if oi := d.Get("output_index"); oi.Exists() && typ != "response.output_item.added" {
			if oi.Int() >= int64(len(acc.items)) {
				fail(i, "output_index %d of %d items", oi.Int(), len(acc.items))
			}
			it = acc.items[oi.Int()]
			if id := d.Get("item_id"); id.Exists() && id.Str != it.id || it.done {
				fail(i, "event for item %s (%s), done %v", id.Str, it.id, it.done)
			}
		}
		switch typ {
		case "response.created", "response.in_progress":
			r := d.Get("response")
			if r.Get("status").Str != "in_progress" || r.Get("output").Raw != "[]" || !strings.HasPrefix(r.Get("id").Str, "resp_") {
				fail(i, "%s response %s", typ, r.Raw)
			}
		case "response.output_item.added":
			if d.Get("output_index").Int() != int64(len(acc.items)) {
				fail(i, "item added at %d, %d before", d.Get("output_index").Int(), len(acc.items))
			}
			acc.items = append(acc.items, &respAccumItem{id: d.Get("item.id").Str, typ: d.Get("item.type").Str})
		case "response.content_part.added", "response.reasoning_summary_part.added":
		case "response.output_text.delta", "response.refusal.delta":
			acc.part(it, d.Get("content_index").Int()).WriteString(d.Get("delta").Str)
		case "response.reasoning_summary_text.delta":
			acc.part(it, d.Get("summary_index").Int()).WriteString(d.Get("delta").Str)
		case "response.function_call_arguments.delta":
			it.arguments.WriteString(d.Get("delta").Str)
		case "response.output_text.done", "response.refusal.done", "response.content_part.done":
			want := acc.part(it, d.Get("content_index").Int()).String()
			if got := firstStr(d, "text", "refusal", "part.text", "part.refusal"); got != want {
				fail(i, "%s has %q, the deltas %q", typ, got, want)
			}
		case "response.reasoning_summary_text.done", "response.reasoning_summary_part.done":
			want := acc.part(it, d.Get("summary_index").Int()).String()
			if got := firstStr(d, "text", "part.text"); got != want {
				fail(i, "%s has %q, the deltas %q", typ, got, want)
			}
		case "response.image_generation_call.in_progress", "response.image_generation_call.generating", "response.image_generation_call.completed":
			if it.typ != "image_generation_call" {
				fail(i, "%s for a %s item", typ, it.typ)
			}
		case "response.function_call_arguments.done":
			if got := d.Get("arguments").Str; got != it.arguments.String() && it.arguments.Len() > 0 {
				fail(i, "arguments %q, the deltas %q", got, it.arguments.String())
			}
		case "response.output_item.done":
			it.done, it.final = true, d.Get("item")
			checkDoneItem(tb, it, out)
		case "response.completed", "response.incomplete", "response.failed":
			r := d.Get("response")
			checkSDKResponse(tb, []byte(r.Raw))
			if s := r.Get("status").Str; "response."+s != typ {
				fail(i, "%s has status %q", typ, s)
			}
			output := r.Get("output").Array()
			if len(output) != len(acc.items) {
				fail(i, "terminal output has %d items, the stream %d", len(output), len(acc.items))
			}
			for k, o := range output {
				if acc.items[k].done && !jsonEqual(tb, o.Raw, acc.items[k].final.Raw) {
					fail(i, "output[%d] %s differs from its done item %s", k, o.Raw, acc.items[k].final.Raw)
				}
				if typ != "response.failed" && !acc.items[k].done {
					fail(i, "output[%d] was never done", k)
				}
			}
			if typ == "response.failed" && (r.Get("error.code").Str == "" || r.Get("error.message").Str == "") {
				fail(i, "failed without error code and message: %s", r.Raw)
			}
		default:
			fail(i, "unexpected event %s", typ)
		}
	}
	return acc
}

// firstStr is the first of paths that holds a string.
func firstStr(r gjson.Result, paths ...string) string {
	for _, p := range paths {
		if v := r.Get(p); v.Type == gjson.String {
			return v.Str
		}
	}
	return ""
}

// checkDoneItem checks a done item agrees with its deltas.
func checkDoneItem(tb testing.TB, it *respAccumItem, out []byte) {
	tb.Helper()
	f := it.final
	if f.Get("id").Str != it.id || f.Get("type").Str != it.typ {
		tb.Fatalf("done item %s, added as %s %s\n%s", f.Raw, it.id, it.typ, out)
	}
	switch it.typ {
	case "message":
		for k, c := range f.Get("content").Array() {
			if got, want := firstStr(c, "text", "refusal"), it.text[int64(k)].String(); got != want {
				tb.Fatalf("message part %d %q, deltas %q\n%s", k, got, want, out)
			}
		}
	case "reasoning":
		for k, s := range f.Get("summary").Array() {
			if got, want := s.Get("text").Str, it.text[int64(k)].String(); got != want {
				tb.Fatalf("summary %d %q, deltas %q\n%s", k, got, want, out)
			}
		}
	case "image_generation_call":
		if raw, err := base64.StdEncoding.DecodeString(f.Get("result").Str); err != nil || len(raw) == 0 || f.Get("status").Str != "completed" {
			tb.Fatalf("image item %.200s\n%s", f.Raw, out)
		}
	case "function_call":
		if a := f.Get("arguments").Str; a != it.arguments.String() && it.arguments.Len() > 0 || !gjson.Valid(a) && f.Get("status").Str == "completed" {
			tb.Fatalf("arguments %q, deltas %q\n%s", a, it.arguments.String(), out)
		}
	}
}

// TestResponsesIngressStreamOutput checks what a client ends up with.
func TestResponsesIngressStreamOutput(t *testing.T) {
	tests := []struct {
		in     string
		status string
		want   string // the terminal response's output
	}{
		{filepath.Join("openai_anthropic", "thinking_tool_use_stream.resp.sse"), "completed",
			`[{"type":"reasoning","summary":[{"type":"summary_text","text":"The user wants the current weather in Paris. I have a get_weather tool that takes a location. I'll call it with \"Paris, France\" and celsius."}]},` +
				`{"type":"message","status":"completed","content":[{"type":"output_text","annotations":[],"logprobs":[],"text":"Let me check the current weather in Paris."}],"role":"assistant"},` +
				`{"type":"function_call","status":"completed","arguments":"{\"location\": \"Paris, France\", \"unit\": \"celsius\"}","call_id":"toolu_01B7sQm4Wy2XnRp8TkLv3HdZ","name":"get_weather"}]`},
		{filepath.Join(ingressDir, "stream", "interleaved_tools.openai.sse"), "completed",
			`[{"type":"function_call","status":"completed","arguments":"{\"x\":1}","call_id":"call_a","name":"a"},{"type":"function_call","status":"completed","arguments":"{\"y\":2}","call_id":"call_b","name":"b"}]`},
		{filepath.Join(responsesDir, "stream", "length.openai.sse"), "incomplete",
			`[{"type":"message","status":"incomplete","content":[{"type":"output_text","annotations":[],"logprobs":[],"text":"Envoy is a \"high-performance\"\nproxy designed for"}],"role":"assistant"}]`},
		{filepath.Join(responsesDir, "stream", "error_mid_text.openai.sse"), "failed",
			`[{"type":"message","status":"incomplete","content":[{"type":"output_text","annotations":[],"logprobs":[],"text":"Partial"}],"role":"assistant"}]`},
	}
	echo := summaryEcho(t)
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			out, _ := runResponsesStream(echo, readIngress(t, tc.in), randomSplits(7, 9))
			checkResponsesSSE(t, out)
			last := out[bytes.LastIndex(bytes.TrimSuffix(out, []byte("\n\n")), []byte("\n\n"))+2:]
			r := gjson.Get(string(last[bytes.Index(last, []byte("data: "))+6:]), "response")
			if r.Get("status").Str != tc.status {
				t.Errorf("status %s, want %s", r.Get("status").Str, tc.status)
			}
			var items []string
			for _, o := range r.Get("output").Array() {
				o := []byte(o.Raw)
				o = removeKeys(o, "id", "encrypted_content")
				items = append(items, string(o))
			}
			if got := "[" + strings.Join(items, ",") + "]"; got != tc.want {
				t.Errorf("output\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// removeKeys drops top-level members of a JSON object.
func removeKeys(obj []byte, keys ...string) []byte {
	var out []byte
	out = append(out, '{')
	gjson.ParseBytes(obj).ForEach(func(k, v gjson.Result) bool {
		for _, drop := range keys {
			if k.Str == drop {
				return true
			}
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, k.Raw...)
		out = append(out, ':')
		out = append(out, v.Raw...)
		return true
	})
	return append(out, '}')
}

// TestResponsesIngressStreamRoundTrip checks a streamed answer's items, sent
// back, restore the signed reasoning the whole answer carries.
func TestResponsesIngressStreamRoundTrip(t *testing.T) {
	out, _ := runResponsesStream(ResponsesEcho{}, readIngress(t, "openai_anthropic", "thinking_tool_use_stream.resp.sse"), whole)
	if bytes.Contains(out, []byte("reasoning_summary")) {
		t.Error("summary events without reasoning.summary")
	}
	last := out[bytes.LastIndex(out, []byte("data: "))+6:]
	req := `{"model":"m","input":[{"role":"user","content":"go"}`
	for _, it := range gjson.GetBytes(last, "response.output").Array() {
		req += "," + it.Raw
	}
	r, err := ResponsesIngress{}.Request([]byte(req + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	d := gjson.GetBytes(r.Body, "messages.1.reasoning_details.0")
	if d.Get("type").Str != "reasoning.text" || d.Get("format").Str != anthropicReasoningFormat || !strings.HasPrefix(d.Get("signature").Str, "ErcBCkYIBxgCKkCkP2wN9sF5") ||
		!strings.HasPrefix(d.Get("text").Str, "The user wants the current weather in Paris.") {
		t.Errorf("restored detail %s", d.Raw)
	}
	back, err := openAIToAnthropic{}.Request(r.Body, Target{Model: "claude"})
	if err != nil {
		t.Fatal(err)
	}
	if b := gjson.GetBytes(back.Body, "messages.1.content.0"); b.Get("type").Str != "thinking" || b.Get("signature").Str != d.Get("signature").Str {
		t.Errorf("Claude gets %s", b.Raw)
	}
}

func TestResponsesIngressStreamFail(t *testing.T) {
	t.Run("caller's error", func(t *testing.T) {
		st := ResponsesIngress{}.NewStream(ResponsesEcho{})
		out := st.Translate(nil, []byte(`data: {"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"Hi"}}]}`+"\n\n"))
		out = st.(StreamFailer).Fail(out, &APIError{Status: 429, Code: "rate_limit_exceeded", Message: "Rate limit reached. Please try again in 20s."})
		checkResponsesSSE(t, out)
		if !bytes.Contains(out, []byte(`"error":{"code":"rate_limit_exceeded","message":"Rate limit reached. Please try again in 20s."}`)) {
			t.Errorf("no rate limit error:\n%s", out)
		}
		if again := st.Finish(nil); len(again) != 0 {
			t.Errorf("output after the end: %q", again)
		}
	})
	t.Run("event too large", func(t *testing.T) {
		st := ResponsesIngress{}.NewStream(ResponsesEcho{})
		out := st.Translate(nil, []byte(`data: {"id":"c","choices":[{"delta":{"content":"`))
		out = st.Translate(out, bytes.Repeat([]byte("a"), maxEventBytes+1))
		out = st.Finish(out)
		checkResponsesSSE(t, out)
		if !bytes.Contains(out, []byte(`"message":"sse: event exceeds size limit"`)) {
			t.Errorf("no size error:\n%s", out)
		}
	})
	t.Run("nothing sent", func(t *testing.T) {
		st := ResponsesIngress{}.NewStream(ResponsesEcho{Model: "asked"})
		out := st.Finish(nil)
		checkResponsesSSE(t, out)
		if !bytes.Contains(out, []byte(`"model":"asked"`)) {
			t.Errorf("no model from the echo:\n%s", out)
		}
	})
}

func FuzzResponsesIngressStream(f *testing.F) {
	for i, b := range ingressFuzzSeeds(f) {
		f.Add(b, uint64(i), i%2 == 0)
	}
	paths, _ := filepath.Glob(filepath.Join(testdata, responsesDir, "stream", "*.openai.sse"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint64(len(b)), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, seed uint64, summary bool) {
		echo := ResponsesEcho{Summary: summary}
		out, usage := runResponsesStream(echo, body, whole)
		checkResponsesSSE(t, out)
		got, gotUsage := runResponsesStream(echo, body, randomSplits(seed, 1+int(seed%64)))
		if !bytes.Equal(got, out) || gotUsage != usage {
			t.Fatalf("split output differs:\n--- split\n%s\n--- whole\n%s", got, out)
		}
	})
}

// benchStream is a stream past its start, with the item of chunk open.
func benchStream(b *testing.B, first []byte) StreamTranslator {
	st := ResponsesIngress{}.NewStream(summaryEcho(b))
	if out := st.Translate(nil, first); len(out) == 0 {
		b.Fatal("no output")
	}
	return st
}

// BenchmarkResponsesIngressStreamChunk measures one text chunk, the bulk of
// every stream.
func BenchmarkResponsesIngressStreamChunk(b *testing.B) {
	chunk := []byte(`data: {"id":"chatcmpl-CaB2mR8tY1uI3oP5aS7dF9gH0jKl","object":"chat.completion.chunk","created":1762879219,"model":"gpt-4.1-mini-2025-04-14","choices":[{"index":0,"delta":{"content":" requests across several"},"logprobs":null,"finish_reason":null}]}` + "\n\n")
	st := benchStream(b, chunk)
	var dst []byte
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		dst = st.Translate(dst[:0], chunk)
	}
}

// BenchmarkResponsesIngressStreamToolChunk measures one tool argument chunk.
func BenchmarkResponsesIngressStreamToolChunk(b *testing.B) {
	st := benchStream(b, []byte(`data: {"id":"c","model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]}}]}`+"\n\n"))
	chunk := []byte(`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"location\": \"Paris, "}}]},"finish_reason":null}]}` + "\n\n")
	var dst []byte
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		dst = st.Translate(dst[:0], chunk)
	}
}

// BenchmarkResponsesIngressStreamReasoningChunk measures one thinking chunk
// shown as a summary delta.
func BenchmarkResponsesIngressStreamReasoningChunk(b *testing.B) {
	chunk := []byte(`data: {"id":"msg_01","object":"chat.completion.chunk","created":0,"model":"claude-sonnet-4-5","choices":[{"index":0,"delta":{"reasoning":" I have a tool.","reasoning_details":[{"type":"reasoning.text","text":" I have a tool.","format":"anthropic-claude-v1","index":0}]},"finish_reason":null}]}` + "\n\n")
	st := benchStream(b, chunk)
	var dst []byte
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		dst = st.Translate(dst[:0], chunk)
	}
}

func BenchmarkResponsesIngressStreamTranscript(b *testing.B) {
	in := readIngress(b, "openai_anthropic", "thinking_tool_use_stream.resp.sse")
	echo := summaryEcho(b)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	var dst []byte
	for b.Loop() {
		st := ResponsesIngress{}.NewStream(echo)
		dst = st.Finish(st.Translate(dst[:0], in))
	}
}
