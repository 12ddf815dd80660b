package translators

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

const completionsDir = "completions"

// completionsExchange begins one /v1/completions attempt on schema.
func completionsExchange(tb testing.TB, schema Schema, body string) *Exchange {
	tb.Helper()
	spec, _ := SpecFor(schema)
	t := Target{Model: "up-model", PathPrefix: "/v1", Host: "api.openai.com"}
	if schema == SchemaAnthropic {
		t = Target{Model: "claude-up"}
	}
	x, err := Begin(completionsAPI, spec, []byte(body), t, "key-1", Facts{Provider: "p1"})
	if err != nil {
		tb.Fatal(err)
	}
	return x
}

// The chat form of each completions request, as a translated attempt
// sends it, with what it drops.
func TestCompletionsChatGolden(t *testing.T) {
	for _, name := range goldenCases(t, completionsDir) {
		t.Run(name, func(t *testing.T) {
			in := goldenIn(t, completionsDir, name)
			orig := bytes.Clone(in)
			chat, dropped, err := completionsChat(in, true)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(in, orig) {
				t.Fatal("completionsChat modified its input")
			}
			if err := checkChatRequest(chat); err != nil {
				t.Fatalf("not a chat request: %v", err)
			}
			g, _ := json.Marshal(map[string]any{"chat": json.RawMessage(chat), "dropped": dropped})
			checkGolden(t, filepath.Join(testdata, completionsDir, name+".out.json"), prettyJSON(t, g))
		})
	}
}

func TestCompletionsChatRequests(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		strict     bool
		path, want string // a chat field, raw; "" when absent
		err        string // substring of the 400, when refused
	}{
		{"string prompt", `{"model":"m","prompt":"hi"}`, true, "messages", `[{"role":"user","content":"hi"}]`, ""},
		{"one-prompt array", `{"model":"m","prompt":["a\"b"]}`, true, "messages.0.content", `"a\"b"`, ""},
		{"sampling kept", `{"model":"m","prompt":"x","max_tokens":7,"stop":"\n","temperature":0}`, true, "max_tokens", `7`, ""},
		{"echo false is no echo", `{"model":"m","prompt":"x","echo":false}`, true, "echo", ``, ""},
		{"n 1 kept", `{"model":"m","prompt":"x","n":1}`, true, "n", `1`, ""},
		{"routing tolerates several prompts", `{"model":"m","prompt":["a","b"]}`, false, "messages.0.content", `"a"`, ""},
		{"several prompts", `{"model":"m","prompt":["a","b"]}`, true, "", "", "several prompts"},
		{"token ids", `{"model":"m","prompt":[1,2,3]}`, true, "", "", "token ids"},
		{"echo", `{"model":"m","prompt":"x","echo":true}`, true, "", "", "'echo'"},
		{"suffix", `{"model":"m","prompt":"x","suffix":"end"}`, true, "", "", "'suffix'"},
		{"n 2", `{"model":"m","prompt":"x","n":2}`, true, "", "", "'n' greater than 1"},
		{"best_of", `{"model":"m","prompt":"x","best_of":3}`, true, "", "", "'best_of'"},
		{"logprobs required", `{"model":"m","prompt":"x","logprobs":1,"provider":{"require_parameters":true}}`, true, "", "", "cannot honour: logprobs"},
		{"no prompt", `{"model":"m"}`, false, "", "", "'prompt' is required"},
		{"empty prompt array", `{"model":"m","prompt":[]}`, false, "", "", "must not be empty"},
		{"prompt object", `{"model":"m","prompt":{"a":1}}`, false, "", "", "string or an array"},
		{"no model", `{"prompt":"x"}`, false, "", "", "'model' is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chat, _, err := completionsChat([]byte(tc.body), tc.strict)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				if e, ok := err.(*APIError); !ok || e.Status != 400 {
					t.Fatalf("err = %#v, want a 400", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := gjson.GetBytes(chat, tc.path).Raw; got != tc.want {
				t.Errorf("%s = %s, want %s\n%s", tc.path, got, tc.want, chat)
			}
			if gjson.GetBytes(chat, "prompt").Exists() {
				t.Errorf("prompt left in the chat body: %s", chat)
			}
		})
	}
}

// On an OpenAI-schema host the body passes through, model swapped and
// gateway fields removed, to <prefix>/completions; a stream asks usage.
func TestCompletionsNativeRequest(t *testing.T) {
	x := completionsExchange(t, SchemaOpenAI, `{"model":"m","prompt":["a","b"],"echo":true,"suffix":"z","provider":{"sort":"price"},"stream":true}`)
	if !x.Native || x.Upstream.Path != "/v1/completions" {
		t.Fatalf("native %v path %s", x.Native, x.Upstream.Path)
	}
	if got, want := string(x.Upstream.Body), `{"model":"up-model","prompt":["a","b"],"echo":true,"suffix":"z","stream":true,"stream_options":{"include_usage":true}}`; got != want {
		t.Errorf("body\n%s\nwant\n%s", got, want)
	}
	if !x.Stream || x.IncludeUsage {
		t.Errorf("stream %v include_usage %v", x.Stream, x.IncludeUsage)
	}
	if !equalHeaders(x.Upstream.Headers, []Header{{"content-type", "application/json"}, {"authorization", "Bearer key-1"}}) {
		t.Errorf("headers %v", x.Upstream.Headers)
	}
	// Azure and every other schema translate through chat.
	az := completionsExchange(t, SchemaAnthropic, `{"model":"m","prompt":"hi","max_tokens":9,"logprobs":1}`)
	if az.Native || az.Upstream.Path != "/v1/messages" || gjson.GetBytes(az.Upstream.Body, "messages.0.content").Raw == "" {
		t.Errorf("anthropic: native %v %s %s", az.Native, az.Upstream.Path, az.Upstream.Body)
	}
	if strings.Join(az.Upstream.Dropped, ",") != "logprobs" {
		t.Errorf("dropped %v", az.Upstream.Dropped)
	}
	if _, err := Begin(completionsAPI, &specs[2], []byte(`{"model":"m","prompt":"x","echo":true}`), Target{Model: "c"}, "", Facts{}); err == nil || !strings.Contains(err.Error(), "echo") {
		t.Errorf("echo to anthropic: %v", err)
	}
}

// Whole answers: a chat answer becomes a text_completion; a native one
// passes with the provider named.
func TestCompletionsAnswerGolden(t *testing.T) {
	for _, tc := range []struct {
		name, provider, transcript string
		schema                     Schema
		text                       string
	}{
		{"anthropic", "anthropic", "text", SchemaAnthropic, ""},
		{"openai_native", "openai", "completions", SchemaOpenAI, "\n\nHello! How can I help you today?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := completionsExchange(t, tc.schema, `{"model":"m","prompt":"hi","max_tokens":64}`)
			x.Price = Price{Prompt: 1, Completion: 2}
			tr := readTranscript(t, tc.provider, tc.transcript)
			out, u, err := x.Answer(tr.body)
			if err != nil {
				t.Fatal(err)
			}
			root := gjson.ParseBytes(out)
			want := tc.text
			if want == "" {
				want = gjson.GetBytes(tr.body, `content.#(type=="text").text`).Str
			}
			if root.Get("object").Str != "text_completion" || root.Get("choices.0.text").Str != want ||
				root.Get("choices.0.finish_reason").Str != "stop" || root.Get("provider").Str != "p1" {
				t.Errorf("answer %s", out)
			}
			if u.CompletionTokens == 0 || root.Get("usage.completion_tokens").Int() != u.CompletionTokens || root.Get("usage.cost").Float() == 0 {
				t.Errorf("usage %+v in %s", u, root.Get("usage").Raw)
			}
			checkGolden(t, filepath.Join(testdata, completionsDir, "answer_"+tc.name+".json"), prettyJSON(t, normalize(out)))
		})
	}
	x := completionsExchange(t, SchemaOpenAI, `{"model":"m","prompt":"hi"}`)
	if _, _, err := x.Answer(readTranscript(t, "openai", "chat").body); err == nil {
		t.Error("a chat.completion passed as a text completion")
	}
}

// runExchangeStream feeds body to x's stream in pieces.
func runExchangeStream(x *Exchange, body []byte, next splitter) ([]byte, Usage) {
	st := x.NewStream()
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
	return st.Finish(out), st.Usage()
}

// Streams: every chunk is a text_completion, the text is the provider's,
// any split gives the same bytes, and the usage chunk comes only when
// asked.
func TestCompletionsStreamGolden(t *testing.T) {
	for _, tc := range []struct {
		name, provider, transcript string
		schema                     Schema
		includeUsage               bool
		text                       string
	}{
		{"anthropic", "anthropic", "text_stream", SchemaAnthropic, true, ""},
		{"openai_native", "openai", "completions_stream", SchemaOpenAI, false, "\n\nHello there!"},
		{"openai_native_usage", "openai", "completions_stream", SchemaOpenAI, true, "\n\nHello there!"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"model":"m","prompt":"hi","max_tokens":64,"stream":true}`
			if tc.includeUsage {
				body = `{"model":"m","prompt":"hi","max_tokens":64,"stream":true,"stream_options":{"include_usage":true}}`
			}
			x := completionsExchange(t, tc.schema, body)
			sse := readTranscript(t, tc.provider, tc.transcript).body
			out, u := runExchangeStream(x, sse, whole)
			out = normalize(out)
			checkSSE(t, out)
			for _, sp := range streamSplits {
				got, gu := runExchangeStream(x, sse, sp.next())
				if got = normalize(got); !bytes.Equal(got, out) || gu != u {
					t.Fatalf("fed %s, output differs:\n%s\n--- whole\n%s", sp.name, got, out)
				}
			}
			var text strings.Builder
			usageChunks := 0
			for _, d := range sseEvents(out) {
				if gjson.Get(d, "object").Str != "text_completion" || gjson.Get(d, "provider").Str != "p1" {
					t.Fatalf("chunk %s", d)
				}
				text.WriteString(gjson.Get(d, "choices.0.text").Str)
				if gjson.Get(d, "usage").IsObject() {
					usageChunks++
				}
			}
			want := tc.text
			if want == "" {
				for _, d := range sseEvents(sse) {
					text := gjson.Get(d, "delta.text")
					want += text.Str
				}
			}
			if text.String() != want || u.CompletionTokens == 0 {
				t.Errorf("text %q want %q, usage %+v", text.String(), want, u)
			}
			if wantUsage := map[bool]int{true: 1, false: 0}[tc.includeUsage]; usageChunks != wantUsage {
				t.Errorf("%d usage chunks, want %d", usageChunks, wantUsage)
			}
			checkGolden(t, filepath.Join(testdata, completionsDir, "stream_"+tc.name+".sse"), out)
		})
	}
}

// A translated stream cut short ends with an error chunk, still a
// text_completion, and [DONE].
func TestCompletionsStreamCut(t *testing.T) {
	x := completionsExchange(t, SchemaAnthropic, `{"model":"m","prompt":"hi","max_tokens":64,"stream":true}`)
	sse := readTranscript(t, "anthropic", "text_stream").body
	out, _ := runExchangeStream(x, sse[:len(sse)/2], whole)
	checkSSE(t, out)
	evs := sseEvents(out)
	last := evs[len(evs)-1]
	if gjson.Get(last, "object").Str != "text_completion" || gjson.Get(last, "choices.0.finish_reason").Str != "error" || !gjson.Get(last, "error.message").Exists() {
		t.Errorf("last chunk %s", last)
	}
}

// sseEvents returns the JSON data payloads of an SSE body ([DONE] left out).
func sseEvents(b []byte) []string {
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if d, ok := strings.CutPrefix(line, "data: "); ok && strings.HasPrefix(d, "{") {
			out = append(out, d)
		}
	}
	return out
}

// BenchmarkCompletionsStreamTextDelta: the steady state of a translated
// stream, one Anthropic text_delta in, one text_completion chunk out.
func BenchmarkCompletionsStreamTextDelta(b *testing.B) {
	x := completionsExchange(b, SchemaAnthropic, `{"model":"m","prompt":"hi","max_tokens":64,"stream":true}`)
	st := x.NewStream()
	start := readTranscript(b, "anthropic", "text_stream").body
	start = start[:bytes.Index(start, []byte("event: content_block_delta"))]
	ev := []byte("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" flow through—one door, many rivers met,\"}}\n\n")
	dst := st.Translate(nil, start)
	b.ReportAllocs()
	b.SetBytes(int64(len(ev)))
	for b.Loop() {
		dst = st.Translate(dst[:0], ev)
	}
	if !bytes.Contains(dst, []byte(`"text":" flow through`)) {
		b.Fatalf("unexpected chunk %s", dst)
	}
}

// BenchmarkCompletionsStreamNativeChunk: the steady state of a native
// stream, one text_completion chunk checked and passed.
func BenchmarkCompletionsStreamNativeChunk(b *testing.B) {
	x := completionsExchange(b, SchemaOpenAI, `{"model":"m","prompt":"hi","stream":true}`)
	st := x.NewStream()
	ev := []byte(`data: {"id":"cmpl-1","object":"text_completion","created":1762870013,"choices":[{"text":" flow through, one door","index":0,"logprobs":null,"finish_reason":null}],"model":"gpt-3.5-turbo-instruct","usage":null}` + "\n\n")
	dst := st.Translate(nil, ev)
	b.ReportAllocs()
	b.SetBytes(int64(len(ev)))
	for b.Loop() {
		dst = st.Translate(dst[:0], ev)
	}
	if !bytes.Contains(dst, []byte(`"text":" flow through`)) {
		b.Fatalf("unexpected chunk %s", dst)
	}
}

// FuzzCompletionsStream: any provider bytes, translated from Anthropic or
// passed natively, give a well-formed text_completion stream, the same
// however they are split.
func FuzzCompletionsStream(f *testing.F) {
	for i, b := range transcriptBodies(f, "anthropic") {
		f.Add(b, uint64(i), false)
	}
	for i, b := range transcriptBodies(f, "openai") {
		f.Add(b, uint64(i), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, seed uint64, native bool) {
		schema := SchemaAnthropic
		if native {
			schema = SchemaOpenAI
		}
		x := completionsExchange(t, schema, `{"model":"m","prompt":"hi","max_tokens":8,"stream":true,"stream_options":{"include_usage":true}}`)
		out, usage := runExchangeStream(x, body, whole)
		out = normalize(out)
		checkSSE(t, out)
		for _, d := range sseEvents(out) {
			if gjson.Get(d, "object").Str != "text_completion" {
				t.Fatalf("chunk %s", d)
			}
		}
		got, gotUsage := runExchangeStream(x, body, randomSplits(seed, 1+int(seed%64)))
		if got = normalize(got); !bytes.Equal(got, out) || gotUsage != usage {
			t.Fatalf("split output differs:\n--- split\n%s\n--- whole\n%s", got, out)
		}
	})
}
