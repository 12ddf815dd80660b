package translators

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// ingressStreamSources are OpenAI streams the provider translators write
// (their golden outputs), as the ingress receives them.
var ingressStreamSources = []struct{ dir, name string }{
	{"openai_openai", "chat_stream"},
	{"openai_openai", "chat_stream.no_usage"},
	{"openai_openai", "deepseek_reasoner_stream"},
	{"openai_openai", "groq_reasoning_stream"},
	{"openai_openai", "mistral_stream"},
	{"openai_openai", "openrouter_reasoning_stream"},
	{"openai_openai", "tool_calls_stream"},
	{"openai_openai", "stream_error_event"},
	{"openai_openai", "stream_garbage"},
	{"openai_openai", "stream_truncated"},
	{"openai_anthropic", "text_stream"},
	{"openai_anthropic", "text_stream.no_usage"},
	{"openai_anthropic", "thinking_stream"},
	{"openai_anthropic", "thinking_tool_use_stream"},
	{"openai_anthropic", "tool_use_stream"},
	{"openai_anthropic", "cache_usage_stream"},
	{"openai_anthropic", "structured_output_stream"},
	{"openai_anthropic", "stream_overloaded"},
	{"openai_anthropic", "stream_truncated"},
	{"openai_anthropic", "stream_delta_before_start"},
	// Every other schema's streams, as their translators write them.
	{"openai_azure", "chat_stream"},
	{"openai_azure", "tool_calls_stream"},
	{"openai_azure", "stream_content_filter"},
	{"openai_gemini", "text_stream"},
	{"openai_gemini", "tool_call_stream"},
	{"openai_gemini", "thinking_stream"},
	{"openai_gemini", "stream_safety"},
	{"openai_gemini", "stream_truncated"},
	{"openai_vertex", "gemini_tool_stream"},
	{"openai_vertex", "claude_tool_stream"},
	{"openai_vertex", "claude_stream_truncated"},
	{"openai_bedrock", "text_stream"},
	{"openai_bedrock", "tool_use_stream"},
	{"openai_bedrock", "reasoning_stream"},
	{"openai_bedrock", "guardrail_stream"},
	{"openai_bedrock", "stream_truncated"},
}

// runIngressStream feeds body to a new ingress stream in pieces, scribbling
// over each piece afterwards so a kept reference shows.
func runIngressStream(body []byte, next splitter) ([]byte, Usage) {
	st := AnthropicIngress{}.NewStream()
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
	return normalizeIngress(st.Finish(out)), st.Usage()
}

func TestAnthropicIngressStreamGolden(t *testing.T) {
	type tcase struct{ name, in, golden string }
	var cases []tcase
	for _, s := range ingressStreamSources {
		cases = append(cases, tcase{s.dir + "/" + s.name, filepath.Join(testdata, s.dir, s.name+".resp.sse"),
			filepath.Join(testdata, ingressDir, "stream", s.dir+"."+s.name+".anthropic.sse")})
	}
	own, _ := filepath.Glob(filepath.Join(testdata, ingressDir, "stream", "*.openai.sse"))
	for _, p := range own {
		name := strings.TrimSuffix(filepath.Base(p), ".openai.sse")
		cases = append(cases, tcase{name, p, filepath.Join(testdata, ingressDir, "stream", name+".anthropic.sse")})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in, err := os.ReadFile(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			out, usage := runIngressStream(in, whole)
			checkAnthropicSSE(t, out)
			for _, sp := range streamSplits {
				got, gotUsage := runIngressStream(in, sp.next())
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

// TestAnthropicIngressStreamMessage accumulates streams the way the
// Anthropic SDKs do and checks the message they build.
func TestAnthropicIngressStreamMessage(t *testing.T) {
	tests := []struct {
		in   string
		want string // the accumulated message's content, stop_reason and usage
	}{
		{filepath.Join("openai_anthropic", "thinking_tool_use_stream.resp.sse"),
			`{"content":[{"type":"thinking","thinking":"The user wants the current weather in Paris. I have a get_weather tool that takes a location. I'll call it with \"Paris, France\" and celsius.","signature":"ErcBCkYIBxgCKkCkP2wN9sF5vCIwR4tJ6hD1mK8pZ3cX0nB7wE2qL5vG9yU4sA1fT6rO3iM8jH0kN7dP2eW5bQ9zS1oV9iS4fC7dW2xE5jY8lEgw3vH8mD0qL9cX1sJ4pQ7wGgyT2uN8eR6aG3hB0kM1oViMJ4tR6hD1mK8pZ3cX0nB7wE2qL5vG9yU4sA1fT6rO3iM8jH0kN7dP2eW5bQ9zSoR7iN0lM3fG6jP9aE2dS5uW8bH1qK4zY7tC0xV3nL6GAE="},{"type":"text","text":"Let me check the current weather in Paris."},{"type":"tool_use","id":"toolu_01B7sQm4Wy2XnRp8TkLv3HdZ","name":"get_weather","input":{"location":"Paris, France","unit":"celsius"}}],"stop_reason":"tool_use","usage":{"input_tokens":528,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":158}}`},
		{filepath.Join(ingressDir, "stream", "interleaved_tools.openai.sse"),
			`{"content":[{"type":"tool_use","id":"call_a","name":"a","input":{"x":1}},{"type":"tool_use","id":"call_b","name":"b","input":{"y":2}}],"stop_reason":"tool_use","usage":{"input_tokens":5,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":9}}`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			in := readIngress(t, tc.in)
			out, _ := runIngressStream(in, randomSplits(7, 9))
			if got := accumulateAnthropic(t, out); got != tc.want {
				t.Errorf("accumulated\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// accumulateAnthropic builds the message an SDK would from the stream.
func accumulateAnthropic(tb testing.TB, out []byte) string {
	tb.Helper()
	type block struct {
		raw                     []byte
		text, thinking, sig, js string
	}
	var blocks []*block
	stop, usage := "", ""
	for _, ev := range bytes.Split(bytes.TrimSuffix(out, []byte("\n\n")), []byte("\n\n")) {
		_, data, _ := bytes.Cut(ev, []byte("\ndata: "))
		d := gjson.ParseBytes(data)
		switch d.Get("type").Str {
		case "content_block_start":
			blocks = append(blocks, &block{raw: []byte(d.Get("content_block").Raw)})
		case "content_block_delta":
			b := blocks[d.Get("index").Int()]
			dl := d.Get("delta")
			b.text += dl.Get("text").Str
			b.thinking += dl.Get("thinking").Str
			b.sig += dl.Get("signature").Str
			b.js += dl.Get("partial_json").Str
		case "message_delta":
			stop, usage = d.Get("delta.stop_reason").Str, d.Get("usage").Raw
		}
	}
	var sb strings.Builder
	sb.WriteString(`{"content":[`)
	for i, b := range blocks {
		if i > 0 {
			sb.WriteByte(',')
		}
		r := gjson.ParseBytes(b.raw)
		switch r.Get("type").Str {
		case "text":
			sb.Write(appendJSONString([]byte(`{"type":"text","text":`), b.text))
			sb.WriteByte('}')
		case "thinking":
			sb.Write(appendJSONString([]byte(`{"type":"thinking","thinking":`), b.thinking))
			sb.Write(appendJSONString([]byte(`,"signature":`), b.sig))
			sb.WriteByte('}')
		case "tool_use":
			var input bytes.Buffer
			if err := json.Compact(&input, []byte(b.js)); err != nil {
				tb.Fatalf("tool input %q is not JSON: %v", b.js, err)
			}
			sb.WriteString(`{"type":"tool_use","id":` + r.Get("id").Raw + `,"name":` + r.Get("name").Raw + `,"input":` + input.String() + `}`)
		default:
			sb.Write(b.raw)
		}
	}
	sb.WriteString(`],"stop_reason":"` + stop + `","usage":` + usage + `}`)
	return sb.String()
}

// checkAnthropicSSE asserts a client stream is well formed: every event
// "event: X\ndata: {JSON of type X}", message_start first, blocks started,
// streamed and stopped in order, and one final message_stop or error.
func checkAnthropicSSE(tb testing.TB, out []byte) {
	tb.Helper()
	if !bytes.HasSuffix(out, []byte("\n\n")) {
		tb.Fatalf("stream does not end with a blank line:\n%q", out)
	}
	events := bytes.Split(bytes.TrimSuffix(out, []byte("\n\n")), []byte("\n\n"))
	open, next := -1, 0
	started := false
	for i, ev := range events {
		name, data, ok := bytes.Cut(ev, []byte("\ndata: "))
		name, ok2 := bytes.CutPrefix(name, []byte("event: "))
		if !ok || !ok2 || bytes.ContainsAny(data, "\r\n") {
			tb.Fatalf("malformed event %q in\n%s", ev, out)
		}
		if !gjson.ValidBytes(data) {
			tb.Fatalf("event payload is not JSON: %q", data)
		}
		d := gjson.ParseBytes(data)
		typ := d.Get("type").Str
		if typ != string(name) {
			tb.Fatalf("event %q carries type %q", name, typ)
		}
		last := i == len(events)-1
		if (typ == "message_stop" || typ == "error") != last {
			tb.Fatalf("event %d of %d is %s:\n%s", i+1, len(events), typ, out)
		}
		if typ != "message_start" && typ != "error" && !started {
			tb.Fatalf("%s before message_start:\n%s", typ, out)
		}
		idx := int(d.Get("index").Int())
		switch typ {
		case "message_start":
			if started || i != 0 {
				tb.Fatalf("message_start is event %d", i)
			}
			started = true
		case "content_block_start":
			if open >= 0 || idx != next {
				tb.Fatalf("block %d starts while %d is open, next is %d:\n%s", idx, open, next, out)
			}
			open, next = idx, next+1
		case "content_block_delta":
			if idx >= next || idx != open && d.Get("delta.type").Str != "input_json_delta" {
				tb.Fatalf("delta for block %d, open %d:\n%s", idx, open, out)
			}
		case "content_block_stop":
			if idx != open {
				tb.Fatalf("stop for block %d, open %d:\n%s", idx, open, out)
			}
			open = -1
		case "message_delta":
			if open >= 0 {
				tb.Fatalf("message_delta with block %d open", open)
			}
			if !d.Get("delta.stop_reason").Exists() || !d.Get("usage.output_tokens").Exists() {
				tb.Fatalf("message_delta without stop_reason or usage: %s", data)
			}
		case "message_stop":
			if !bytes.Contains(events[i-1], []byte("event: message_delta\n")) {
				tb.Fatalf("message_stop not after message_delta:\n%s", out)
			}
		case "error":
			if t := d.Get("error.type").Str; t == "" || d.Get("error.message").Str == "" {
				tb.Fatalf("error event without type or message: %s", data)
			}
		default:
			tb.Fatalf("unexpected event %q", typ)
		}
	}
}

func TestAnthropicIngressStreamEventTooLarge(t *testing.T) {
	st := AnthropicIngress{}.NewStream()
	out := st.Translate(nil, []byte(`data: {"id":"c","choices":[{"delta":{"content":"`))
	out = st.Translate(out, bytes.Repeat([]byte("a"), maxEventBytes+1))
	out = st.Finish(out)
	checkAnthropicSSE(t, out)
	if !bytes.Contains(out, []byte(`"type":"api_error","message":"sse: event exceeds size limit"`)) {
		t.Errorf("no size error event:\n%s", out)
	}
	if again := st.Translate(nil, []byte("data: [DONE]\n\n")); len(again) != 0 {
		t.Errorf("output after the end: %q", again)
	}
}

// ingressFuzzSeeds are the OpenAI streams of every provider translator's
// goldens and the ingress's own.
func ingressFuzzSeeds(tb testing.TB) [][]byte {
	var seeds [][]byte
	for _, pat := range []string{"openai_*/*.resp.sse", ingressDir + "/stream/*.openai.sse"} {
		paths, _ := filepath.Glob(filepath.Join(testdata, pat))
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				tb.Fatal(err)
			}
			seeds = append(seeds, b)
		}
	}
	return seeds
}

func FuzzAnthropicIngressStream(f *testing.F) {
	for i, b := range ingressFuzzSeeds(f) {
		f.Add(b, uint64(i))
	}
	f.Fuzz(func(t *testing.T, body []byte, seed uint64) {
		out, usage := runIngressStream(body, whole)
		if len(out) == 0 {
			t.Fatal("no output")
		}
		checkAnthropicSSE(t, out)
		got, gotUsage := runIngressStream(body, randomSplits(seed, 1+int(seed%64)))
		if !bytes.Equal(got, out) || gotUsage != usage {
			t.Fatalf("split output differs:\n--- split\n%s\n--- whole\n%s", got, out)
		}
	})
}

// BenchmarkAnthropicIngressStreamChunk measures one text chunk, the bulk of
// every stream.
func BenchmarkAnthropicIngressStreamChunk(b *testing.B) {
	st := AnthropicIngress{}.NewStream()
	chunk := []byte(`data: {"id":"chatcmpl-CaB2mR8tY1uI3oP5aS7dF9gH0jKl","object":"chat.completion.chunk","created":1762879219,"model":"gpt-4.1-mini-2025-04-14","choices":[{"index":0,"delta":{"content":" requests across several"},"logprobs":null,"finish_reason":null}]}` + "\n\n")
	dst := st.Translate(nil, chunk)
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		dst = st.Translate(dst[:0], chunk)
	}
}

// BenchmarkAnthropicIngressStreamToolChunk measures one tool argument chunk.
func BenchmarkAnthropicIngressStreamToolChunk(b *testing.B) {
	st := AnthropicIngress{}.NewStream()
	dst := st.Translate(nil, []byte(`data: {"id":"c","model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]}}]}`+"\n\n"))
	chunk := []byte(`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"location\": \"Paris, "}}]},"finish_reason":null}]}` + "\n\n")
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		dst = st.Translate(dst[:0], chunk)
	}
}

func BenchmarkAnthropicIngressStreamTranscript(b *testing.B) {
	in := readIngress(b, "openai_anthropic", "thinking_tool_use_stream.resp.sse")
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	var dst []byte
	for b.Loop() {
		st := AnthropicIngress{}.NewStream()
		dst = st.Finish(st.Translate(dst[:0], in))
	}
}
