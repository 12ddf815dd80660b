package translators

import (
	"bytes"
	"encoding/binary"
	"flag"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

var writeBedrockTranscripts = flag.Bool("bedrock-transcripts", false, "rewrite the binary Bedrock stream transcripts under testdata/transcripts/bedrock/ from bedrockStreamFixtures")

// bedrockStreamHead is the head of a ConverseStream response. The real one
// is also chunked (Transfer-Encoding: chunked); transcripts hold the body
// de-chunked, as the gateway sees it.
func bedrockStreamHead(requestID string) string {
	return "HTTP/1.1 200 OK\n" +
		"Date: Wed, 12 Nov 2025 09:14:03 GMT\n" +
		"Content-Type: application/vnd.amazon.eventstream\n" +
		"Connection: keep-alive\n" +
		"x-amzn-RequestId: " + requestID + "\n\n"
}

// pad is Bedrock's "p" field, which hides the length of what an event
// carries.
func pad(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	return alphabet[:n%len(alphabet)]
}

func textDelta(block, text string, p int) esEvent {
	return esEvent{typ: "contentBlockDelta", payload: `{"contentBlockIndex":` + block + `,"delta":{"text":` + text + `},"p":"` + pad(p) + `"}`}
}

func toolDelta(block, input string, p int) esEvent {
	return esEvent{typ: "contentBlockDelta", payload: `{"contentBlockIndex":` + block + `,"delta":{"toolUse":{"input":` + input + `}},"p":"` + pad(p) + `"}`}
}

func blockStop(block string, p int) esEvent {
	return esEvent{typ: "contentBlockStop", payload: `{"contentBlockIndex":` + block + `,"p":"` + pad(p) + `"}`}
}

var (
	bedrockMessageStart = esEvent{typ: "messageStart", payload: `{"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN","role":"assistant"}`}
	bedrockTextEvents   = []esEvent{
		bedrockMessageStart,
		textDelta("0", `"Flow"`, 41),
		textDelta("0", `" control keeps a fast sender from overwhelming a slow receiver."`, 7),
		textDelta("0", `" In HTTP/2 each stream, and the connection as a whole, has a window:"`, 12),
		textDelta("0", `" the receiver advertises how many bytes it can take, the sender stops"`, 30),
		textDelta("0", `" when the window is spent—and \"WINDOW_UPDATE\" frames reopen it"`, 3),
		textDelta("0", `" as the receiver drains its buffers."`, 50),
		blockStop("0", 22),
		{typ: "messageStop", payload: `{"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVW","stopReason":"end_turn"}`},
		{typ: "metadata", payload: `{"metrics":{"latencyMs":2210},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01","usage":{"inputTokens":19,"outputTokens":71,"totalTokens":90}}`},
	}
)

// bedrockStreamFixtures are the binary stream transcripts, written with
// the AWS SDK's encoder (go test ./translators -run TestBedrockTranscripts
// -bedrock-transcripts) so their framing and CRCs are real.
var bedrockStreamFixtures = []struct {
	name      string
	requestID string
	events    []esEvent
	mangle    func([]byte) []byte // corrupts the encoded body
}{
	{name: "text_stream", requestID: "3f6d2a9c-8e41-4b7a-9c15-0d2e7b6a4f91", events: bedrockTextEvents},
	{
		name: "tool_use_stream", requestID: "a81c5e07-2f93-4d6b-b0e4-6c9d1f7a2b38",
		events: []esEvent{
			bedrockMessageStart,
			textDelta("0", `"I'll look up the weather"`, 17),
			textDelta("0", `" in both cities."`, 40),
			blockStop("0", 9),
			{typ: "contentBlockStart", payload: `{"contentBlockIndex":1,"p":"abcdefghijklmnopqrstu","start":{"toolUse":{"name":"get_weather","toolUseId":"tooluse_kZJMlvQmRJ6eAyJE5GIl7Q"}}}`},
			toolDelta("1", `""`, 33),
			toolDelta("1", `"{\"city\": \"Pa"`, 11),
			toolDelta("1", `"ris\", \"unit\""`, 5),
			toolDelta("1", `": \"celsius\"}"`, 26),
			blockStop("1", 44),
			{typ: "contentBlockStart", payload: `{"contentBlockIndex":2,"p":"abcdefghijklmn","start":{"toolUse":{"name":"get_weather","toolUseId":"tooluse_Wc3xTq0pS8u1Vv9aZbLm4A"}}}`},
			toolDelta("2", `"{\"city\": \"Tokyo\", "`, 2),
			toolDelta("2", `"\"unit\": \"celsius\"}"`, 19),
			blockStop("2", 31),
			{typ: "messageStop", payload: `{"p":"abcdefghijklmnopqrstuvwxyzABC","stopReason":"tool_use"}`},
			{typ: "metadata", payload: `{"metrics":{"latencyMs":1874},"p":"abcdefghijklmnopqrstuvwxyz","usage":{"inputTokens":412,"outputTokens":118,"totalTokens":530}}`},
		},
	},
	{
		name: "reasoning_stream", requestID: "c2e94b71-5a0d-4f38-8b6e-17f3d9a0c5e2",
		events: []esEvent{
			bedrockMessageStart,
			{typ: "contentBlockDelta", payload: `{"contentBlockIndex":0,"delta":{"reasoningContent":{"text":"The user wants 17 × 23."}},"p":"abcdefghijklmnopqr"}`},
			{typ: "contentBlockDelta", payload: `{"contentBlockIndex":0,"delta":{"reasoningContent":{"text":" 17 × 20 = 340, 17 × 3 = 51, so 391."}},"p":"abcdefgh"}`},
			{typ: "contentBlockDelta", payload: `{"contentBlockIndex":0,"delta":{"reasoningContent":{"signature":"EqoBCkgIBxABGAIiQLmQ3m0p2n7H1e8Kc9wZf4y0xV6tR2sU1aB3cD5eF7gH9iJ0kL2mN4oP6qR8sT0uV2wX4yZ6aB8cD0eF2gH4iJ6k"}},"p":"abcdefghijklmnopqrstuvwxyzAB"}`},
			blockStop("0", 5),
			textDelta("1", `"17 × 23 = **391**."`, 36),
			blockStop("1", 14),
			{typ: "messageStop", payload: `{"p":"abcdefghijkl","stopReason":"end_turn"}`},
			{typ: "metadata", payload: `{"metrics":{"latencyMs":3120},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP","usage":{"cacheReadInputTokens":1843,"cacheWriteInputTokens":0,"inputTokens":24,"outputTokens":96,"totalTokens":1963}}`},
		},
	},
	{
		name: "structured_output_stream", requestID: "5b0f3e82-c7d1-49a6-9e20-8a4c6d1b7f03",
		events: []esEvent{
			bedrockMessageStart,
			{typ: "contentBlockStart", payload: `{"contentBlockIndex":0,"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJ","start":{"toolUse":{"name":"structured_output_weather_report","toolUseId":"tooluse_Hq8n2VfRTe6bXk1mPz4Ycw"}}}`},
			toolDelta("0", `""`, 27),
			toolDelta("0", `"{\"city\": \"Paris\", \"temperature_c\": 18"`, 9),
			toolDelta("0", `", \"conditions\": \"light rain\"}"`, 15),
			blockStop("0", 38),
			{typ: "messageStop", payload: `{"p":"abcdefghijklmnopqrstuvwxy","stopReason":"tool_use"}`},
			{typ: "metadata", payload: `{"metrics":{"latencyMs":1265},"p":"abcdefg","usage":{"inputTokens":506,"outputTokens":61,"totalTokens":567}}`},
		},
	},
	{
		// A guardrail on the output: the blocked-output message replaces
		// the answer and the stop reason says why.
		name: "guardrail_stream", requestID: "6a2f8d14-9c3e-4b70-a5d2-e81f0c7b3946",
		events: []esEvent{
			bedrockMessageStart,
			textDelta("0", `"Sorry, the model cannot answer this question."`, 23),
			blockStop("0", 8),
			{typ: "messageStop", payload: `{"p":"abcdefghijklmnopqrst","stopReason":"guardrail_intervened"}`},
			{typ: "metadata", payload: `{"metrics":{"latencyMs":688},"p":"abcdefghijklmnopq","usage":{"inputTokens":31,"outputTokens":12,"totalTokens":43}}`},
		},
	},
	{
		name: "stream_throttling", requestID: "e7a1d4c9-3b58-4f02-a6e1-92c0b8d35f74",
		events: []esEvent{
			bedrockMessageStart,
			textDelta("0", `"Flow"`, 41),
			textDelta("0", `" control keeps"`, 7),
			{kind: "exception", typ: "throttlingException", payload: `{"message":"Too many tokens, please wait before trying again."}`},
		},
	},
	{
		name: "stream_model_error", requestID: "0c93b7e5-6d2a-4e81-b4f7-3a5e9d0c1b26",
		events: []esEvent{
			bedrockMessageStart,
			textDelta("0", `"Flow"`, 41),
			{kind: "exception", typ: "modelStreamErrorException", payload: `{"message":"The model encountered an error while streaming the response.","originalMessage":"{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}","originalStatusCode":529}`},
		},
	},
	{
		// A bit flipped in the payload of the fourth message: its CRC no
		// longer matches.
		name: "stream_bad_crc", requestID: "9d4e2f17-b8c3-4a65-8e09-5f1a7c3d2b80", events: bedrockTextEvents,
		mangle: func(b []byte) []byte { b = bytes.Clone(b); b[messageOffset(b, 4)-10] ^= 0x20; return b },
	},
	{
		name: "stream_truncated", requestID: "41b8c6e2-0f7d-4a93-b5e1-8c2d6f9a0e47", events: bedrockTextEvents,
		mangle: func(b []byte) []byte { return b[:messageOffset(b, 5)+30] },
	},
}

// messageOffset is where message i of an encoded stream starts.
func messageOffset(b []byte, i int) int {
	off := 0
	for ; i > 0; i-- {
		off += int(uint32(b[off])<<24 | uint32(b[off+1])<<16 | uint32(b[off+2])<<8 | uint32(b[off+3]))
	}
	return off
}

// TestBedrockTranscripts checks the committed binary transcripts are what
// bedrockStreamFixtures encode to, or rewrites them with -bedrock-transcripts.
func TestBedrockTranscripts(t *testing.T) {
	for _, fx := range bedrockStreamFixtures {
		t.Run(fx.name, func(t *testing.T) {
			body := encodeEventStream(t, fx.events...)
			if fx.mangle != nil {
				body = fx.mangle(body)
			}
			want := append([]byte(bedrockStreamHead(fx.requestID)), body...)
			path := filepath.Join(testdata, "transcripts", "bedrock", fx.name+".http")
			if *writeBedrockTranscripts {
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test ./translators -run TestBedrockTranscripts -bedrock-transcripts writes it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s differs from its fixture (-bedrock-transcripts rewrites it)", path)
			}
			if tx := readTranscript(t, "bedrock", fx.name); !bytes.Equal(tx.body, body) || tx.header.Get("Content-Type") != "application/vnd.amazon.eventstream" {
				t.Fatalf("transcript does not parse back to its body")
			}
		})
	}
}

func TestBedrockStreamGolden(t *testing.T) {
	unknown := encodeEventStream(t,
		bedrockMessageStart,
		esEvent{typ: "brandNewEvent", payload: `{"x":1}`},
		esEvent{kind: "brand-new-kind", typ: "x", payload: `not json`},
		esEvent{typ: "contentBlockDelta", payload: `{"contentBlockIndex":0,"delta":{"citation":{"title":"x"}}}`},
		esEvent{typ: "contentBlockDelta", payload: `{"contentBlockIndex":0,"delta":{"text":""}}`},
		esEvent{typ: "contentBlockDelta", payload: `{"contentBlockIndex":0,"delta":{"reasoningContent":{"redactedContent":"ZW5jcnlwdGVk"}}}`},
		textDelta("1", `"<b>\"quoted\"</b>\u0000"`, 1),
		esEvent{typ: "messageStop", payload: `{"stopReason":"max_tokens"}`},
		esEvent{typ: "contentBlockDelta", payload: `{"contentBlockIndex":1,"delta":{"text":"ignored after messageStop"}}`},
		esEvent{typ: "metadata", payload: `{"usage":{"inputTokens":3,"outputTokens":9,"cacheWriteInputTokens":20}}`},
		esEvent{typ: "contentBlockDelta", payload: `{"contentBlockIndex":1,"delta":{"text":"ignored after metadata"}}`},
	)
	tests := []struct {
		name       string
		transcript string
		body       []byte // used when transcript is empty
		usage      bool
		exclude    bool   // reasoning.exclude
		wantFinish string // checked when set
		wantUsage  Usage
		wantErr    string // code of the error chunk
		wantErrMsg string
	}{
		{name: "text_stream", transcript: "text_stream", usage: true, wantUsage: Usage{PromptTokens: 19, CompletionTokens: 71}},
		{name: "text_stream.no_usage", transcript: "text_stream", wantUsage: Usage{PromptTokens: 19, CompletionTokens: 71}},
		{name: "tool_use_stream", transcript: "tool_use_stream", usage: true, wantUsage: Usage{PromptTokens: 412, CompletionTokens: 118}},
		{name: "reasoning_stream", transcript: "reasoning_stream", usage: true, wantUsage: Usage{PromptTokens: 1867, CompletionTokens: 96, CachedTokens: 1843}},
		{name: "reasoning_stream.exclude", transcript: "reasoning_stream", usage: true, exclude: true, wantUsage: Usage{PromptTokens: 1867, CompletionTokens: 96, CachedTokens: 1843}},
		{name: "structured_output_stream", transcript: "structured_output_stream", usage: true, wantUsage: Usage{PromptTokens: 506, CompletionTokens: 61}},
		{name: "guardrail_stream", transcript: "guardrail_stream", usage: true, wantUsage: Usage{PromptTokens: 31, CompletionTokens: 12}, wantFinish: "content_filter"},
		{
			name: "stream_throttling", transcript: "stream_throttling", usage: true,
			wantErr: "rate_limit_exceeded", wantErrMsg: "Too many tokens, please wait before trying again.",
		},
		{
			name: "stream_model_error", transcript: "stream_model_error", usage: true,
			wantErr: "provider_overloaded", wantErrMsg: "The model encountered an error while streaming the response.",
		},
		{
			name: "stream_bad_crc", transcript: "stream_bad_crc", usage: true,
			wantErr: "upstream_stream_error", wantErrMsg: "provider sent a corrupt event stream: eventstream: message CRC mismatch",
		},
		{
			name: "stream_truncated", transcript: "stream_truncated", usage: true,
			wantErr: "upstream_stream_error", wantErrMsg: "provider stream ended before the response was complete",
		},
		{
			name: "stream_unknown_events", body: unknown, usage: true,
			wantUsage: Usage{PromptTokens: 23, CompletionTokens: 9, CacheWriteTokens: 20},
		},
		{
			name: "stream_delta_before_start", body: encodeEventStream(t, textDelta("0", `"hi"`, 1)),
			wantErr: "upstream_stream_error", wantErrMsg: "provider stream did not start with messageStart",
		},
		{
			name: "stream_garbage_payload", body: encodeEventStream(t, bedrockMessageStart, esEvent{typ: "contentBlockDelta", payload: `<html>oops</html>`}),
			wantErr: "upstream_stream_error", wantErrMsg: "provider sent a stream event that is not JSON",
		},
		{
			name: "stream_tool_input_without_start", body: encodeEventStream(t, bedrockMessageStart, toolDelta("0", `"{}"`, 1)),
			wantErr: "upstream_stream_error", wantErrMsg: "provider sent tool input for a content block that is not a tool call",
		},
		{
			name: "stream_error_message", body: encodeEventStream(t, bedrockMessageStart, esEvent{kind: "error", typ: "InternalFailure", payload: "An internal error occurred."}),
			wantErr: "upstream_error", wantErrMsg: "An internal error occurred.",
		},
		{
			name: "stream_not_eventstream", body: []byte(`{"message":"this is JSON, not an event stream"}`),
			wantErr: "upstream_stream_error", wantErrMsg: "provider sent a corrupt event stream: eventstream: prelude CRC mismatch",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.body
			if tc.transcript != "" {
				body = readTranscript(t, "bedrock", tc.transcript).body
			}
			golden := filepath.Join(testdata, "openai_bedrock", tc.name+".resp.sse")
			out, usage := checkStreamGolden(t, openAIToBedrock{}, StreamOptions{IncludeUsage: tc.usage, ExcludeReasoning: tc.exclude}, body, golden)
			if usage != tc.wantUsage {
				t.Errorf("usage %+v, want %+v", usage, tc.wantUsage)
			}
			if got := streamFinishReason(out); tc.wantFinish != "" && got != tc.wantFinish {
				t.Errorf("finish_reason %q, want %q", got, tc.wantFinish)
			}
			if tc.exclude && (bytes.Contains(out, []byte(`"reasoning"`)) || bytes.Contains(out, []byte(`"reasoning_details"`))) {
				t.Errorf("reasoning not excluded:\n%s", out)
			}
			e := streamErrorOf(out)
			if e.Get("code").Str != tc.wantErr || e.Get("message").Str != tc.wantErrMsg {
				t.Errorf("error chunk %s, want code %q message %q", e.Raw, tc.wantErr, tc.wantErrMsg)
			}
			hasUsage := bytes.Contains(out, []byte(`"choices":[],"usage"`))
			if want := tc.usage && tc.wantErr == ""; hasUsage != want {
				t.Errorf("usage chunk present %v, want %v", hasUsage, want)
			}
			if n := bytes.Count(out, []byte(`"finish_reason":"`)); tc.wantErr == "" && n != 1 {
				t.Errorf("%d chunks with a finish_reason, want 1", n)
			}
		})
	}
}

// bedrockAccumulate folds a client stream the way SDK accumulators do.
type bedrockAccumulated struct {
	content, reasoning, finish string
	toolIDs, toolNames, args   map[int64]string
	details                    map[int64]string // reasoning_details type|text|signature|data per index
}

func accumulateBedrock(out []byte) bedrockAccumulated {
	a := bedrockAccumulated{toolIDs: map[int64]string{}, toolNames: map[int64]string{}, args: map[int64]string{}, details: map[int64]string{}}
	for _, ev := range bytes.Split(out, []byte("\n\n")) {
		data, _ := bytes.CutPrefix(ev, []byte("data: "))
		c := gjson.GetBytes(data, "choices.0")
		a.content += c.Get("delta.content").Str
		a.reasoning += c.Get("delta.reasoning").Str
		if f := c.Get("finish_reason").Str; f != "" {
			a.finish = f
		}
		for _, tc := range c.Get("delta.tool_calls").Array() {
			i := tc.Get("index").Int()
			a.args[i] += tc.Get("function.arguments").Str
			if id := tc.Get("id").Str; id != "" {
				a.toolIDs[i] = id
				a.toolNames[i] = tc.Get("function.name").Str
			}
		}
		for _, d := range c.Get("delta.reasoning_details").Array() {
			i := d.Get("index").Int()
			a.details[i] += d.Get("type").Str + "|" + d.Get("text").Str + "|" + d.Get("signature").Str + "|" + d.Get("data").Str + ";"
		}
	}
	return a
}

func TestBedrockStreamAccumulates(t *testing.T) {
	tests := []struct {
		transcript string
		check      func(t *testing.T, a bedrockAccumulated)
	}{
		{"tool_use_stream", func(t *testing.T, a bedrockAccumulated) {
			want := map[int64][3]string{
				0: {"tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "get_weather", `{"city": "Paris", "unit": "celsius"}`},
				1: {"tooluse_Wc3xTq0pS8u1Vv9aZbLm4A", "get_weather", `{"city": "Tokyo", "unit": "celsius"}`},
			}
			if len(a.args) != len(want) {
				t.Fatalf("tool calls %v, want %v", a.args, want)
			}
			for i, w := range want {
				if a.toolIDs[i] != w[0] || a.toolNames[i] != w[1] || a.args[i] != w[2] {
					t.Errorf("tool call %d: %q %q %q, want %q", i, a.toolIDs[i], a.toolNames[i], a.args[i], w)
				}
			}
			if a.content != "I'll look up the weather in both cities." || a.finish != "tool_calls" {
				t.Errorf("content %q finish %q", a.content, a.finish)
			}
		}},
		{"reasoning_stream", func(t *testing.T, a bedrockAccumulated) {
			if a.reasoning != "The user wants 17 × 23. 17 × 20 = 340, 17 × 3 = 51, so 391." || a.content != "17 × 23 = **391**." {
				t.Errorf("reasoning %q content %q", a.reasoning, a.content)
			}
			if len(a.details) != 1 || !strings.Contains(a.details[0], "|EqoBCkgIBxABGAIiQLmQ3m0p2n7H1e8Kc9wZf4y0xV6tR2sU1aB3cD5eF7gH9iJ0kL2mN4oP6qR8sT0uV2wX4yZ6aB8cD0eF2gH4iJ6k|") {
				t.Errorf("reasoning_details %v", a.details)
			}
		}},
		{"structured_output_stream", func(t *testing.T, a bedrockAccumulated) {
			if a.content != `{"city": "Paris", "temperature_c": 18, "conditions": "light rain"}` || len(a.args) != 0 || a.finish != "stop" {
				t.Errorf("content %q tool calls %v finish %q", a.content, a.args, a.finish)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.transcript, func(t *testing.T) {
			out, _ := runStream(openAIToBedrock{}, StreamOptions{}, readTranscript(t, "bedrock", tc.transcript).body, byteByByte)
			tc.check(t, accumulateBedrock(out))
		})
	}
}

// TestBedrockStreamDoneOnlyFromFinish pins the StreamTranslator contract:
// the usage chunk and [DONE] come from Finish, input after the end is
// ignored, and a second Finish writes nothing.
func TestBedrockStreamDoneOnlyFromFinish(t *testing.T) {
	for _, name := range []string{"text_stream", "tool_use_stream", "reasoning_stream"} {
		t.Run(name, func(t *testing.T) {
			st := openAIToBedrock{}.NewStream(StreamOptions{IncludeUsage: true})
			out := st.Translate(nil, readTranscript(t, "bedrock", name).body)
			out = st.Translate(out, encodeEventStream(t, esEvent{kind: "exception", typ: "throttlingException", payload: `{"message":"late"}`}))
			if bytes.Contains(out, []byte("[DONE]")) || bytes.Contains(out, []byte("late")) {
				t.Fatalf("Translate wrote [DONE] or input after the end:\n%s", out)
			}
			n := len(out)
			out = st.Finish(out)
			checkSSE(t, out)
			if !bytes.Contains(out[n:], []byte(`"choices":[],"usage":{`)) {
				t.Errorf("no usage chunk from Finish: %s", out[n:])
			}
			if again := st.Finish(out); len(again) != len(out) {
				t.Errorf("second Finish wrote %q", again[len(out):])
			}
		})
	}
}

func TestBedrockStreamTooLarge(t *testing.T) {
	st := openAIToBedrock{}.NewStream(StreamOptions{})
	out := st.Translate(nil, encodeEventStream(t, bedrockMessageStart))
	// A valid prelude claiming a message over 16 MiB fails at once rather
	// than have the decoder hold that much.
	prelude := make([]byte, 12)
	binary.BigEndian.PutUint32(prelude, maxEventStreamMessage+16)
	binary.BigEndian.PutUint32(prelude[4:], 64)
	binary.BigEndian.PutUint32(prelude[8:], crc32.ChecksumIEEE(prelude[:8]))
	out = st.Translate(out, prelude)
	checkSSE(t, out)
	if e := streamErrorOf(out); e.Get("message").Str != "provider sent a corrupt event stream: "+ErrEventStreamTooLarge.Error() {
		t.Errorf("error chunk %s", e.Raw)
	}
}

func FuzzBedrockStream(f *testing.F) {
	for i, b := range transcriptBodies(f, "bedrock") {
		f.Add(b, uint64(i), i%2 == 0)
	}
	f.Add(encodeEventStream(f, bedrockMessageStart, esEvent{typ: "contentBlockStart", payload: `{"contentBlockIndex":3,"start":{"toolUse":{"toolUseId":7,"name":null}}}`},
		esEvent{typ: "contentBlockDelta", payload: `{"contentBlockIndex":3,"delta":{"toolUse":{"input":5}}}`}), uint64(7), true)
	f.Fuzz(func(t *testing.T, body []byte, seed uint64, usage bool) {
		opts := StreamOptions{IncludeUsage: usage}
		out, u := runStream(openAIToBedrock{}, opts, body, whole)
		out = normalize(out)
		checkSSE(t, out)
		split, su := runStream(openAIToBedrock{}, opts, body, randomSplits(seed, 32))
		if !bytes.Equal(normalize(split), out) || su != u {
			t.Fatalf("split output differs:\n%s\n---\n%s", split, out)
		}
	})
}

// FuzzBedrockStreamEvents fuzzes what is inside well-framed messages, which
// random bytes seldom reach past the CRCs: event types (comma separated)
// and their payloads (separated by 0x1e).
func FuzzBedrockStreamEvents(f *testing.F) {
	f.Add("messageStart,contentBlockStart,contentBlockDelta,contentBlockDelta,messageStop,metadata",
		[]byte(`{"role":"assistant"}`+"\x1e"+`{"contentBlockIndex":0,"start":{"toolUse":{"toolUseId":"t","name":"f"}}}`+"\x1e"+
			`{"contentBlockIndex":0,"delta":{"toolUse":{"input":"{\"a\""}}}`+"\x1e"+`{"contentBlockIndex":1,"delta":{"reasoningContent":{"text":"x"}}}`+"\x1e"+
			`{"stopReason":"tool_use"}`+"\x1e"+`{"usage":{"inputTokens":1,"outputTokens":2}}`), uint64(1))
	f.Add("messageStart,contentBlockDelta,!throttlingException", []byte(`{}`+"\x1e"+`{"contentBlockIndex":0,"delta":{"text":"\ud83d"}}`+"\x1e"+`{"message":5}`), uint64(2))
	f.Fuzz(func(t *testing.T, types string, payloads []byte, seed uint64) {
		var events []esEvent
		ps := bytes.Split(payloads, []byte{0x1e})
		for i, typ := range strings.Split(types, ",") {
			ev := esEvent{typ: typ}
			if rest, ok := strings.CutPrefix(typ, "!"); ok {
				ev = esEvent{kind: "exception", typ: rest}
			}
			if i < len(ps) {
				ev.payload = string(ps[i])
			}
			events = append(events, ev)
		}
		body := encodeEventStream(t, events...)
		out, u := runStream(openAIToBedrock{}, StreamOptions{IncludeUsage: true}, body, whole)
		out = normalize(out)
		checkSSE(t, out)
		split, su := runStream(openAIToBedrock{}, StreamOptions{IncludeUsage: true}, body, randomSplits(seed, 32))
		if !bytes.Equal(normalize(split), out) || su != u {
			t.Fatalf("split output differs:\n%s\n---\n%s", split, out)
		}
	})
}

// BenchmarkBedrockStreamTextDelta measures the steady state: one
// contentBlockDelta message in, one chunk out, buffers already grown.
func BenchmarkBedrockStreamTextDelta(b *testing.B) {
	st := openAIToBedrock{}.NewStream(StreamOptions{IncludeUsage: true})
	ev := encodeEventStream(b, textDelta("0", `" flow through—one door, many rivers met,"`, 36))
	dst := st.Translate(nil, encodeEventStream(b, bedrockMessageStart))
	b.ReportAllocs()
	b.SetBytes(int64(len(ev)))
	for b.Loop() {
		dst = st.Translate(dst[:0], ev)
	}
	if !bytes.Contains(dst, []byte(`"content":" flow through`)) {
		b.Fatalf("unexpected chunk %s", dst)
	}
}

func BenchmarkBedrockStreamToolDelta(b *testing.B) {
	st := openAIToBedrock{}.NewStream(StreamOptions{IncludeUsage: true})
	ev := encodeEventStream(b, toolDelta("1", `"{\"city\": \"Pa"`, 11))
	dst := st.Translate(nil, encodeEventStream(b, bedrockMessageStart,
		esEvent{typ: "contentBlockStart", payload: `{"contentBlockIndex":1,"start":{"toolUse":{"name":"get_weather","toolUseId":"tooluse_1"}}}`}))
	b.ReportAllocs()
	b.SetBytes(int64(len(ev)))
	for b.Loop() {
		dst = st.Translate(dst[:0], ev)
	}
	if !bytes.Contains(dst, []byte(`"arguments":"{\"city\": \"Pa"`)) {
		b.Fatalf("unexpected chunk %s", dst)
	}
}

func BenchmarkBedrockStreamTranscript(b *testing.B) {
	body := readTranscript(b, "bedrock", "tool_use_stream").body
	var dst []byte
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		st := openAIToBedrock{}.NewStream(StreamOptions{IncludeUsage: true})
		dst = st.Finish(st.Translate(dst[:0], body))
	}
}

// TestBedrockStreamModel: Bedrock's events name no model; every chunk
// carries the one the gateway asked for, errors and usage included.
func TestBedrockStreamModel(t *testing.T) {
	const model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
	for _, name := range []string{"text_stream", "tool_use_stream", "stream_throttling"} {
		t.Run(name, func(t *testing.T) {
			out, _ := runStream(openAIToBedrock{}, StreamOptions{IncludeUsage: true, Model: model}, readTranscript(t, "bedrock", name).body, byteByByte)
			n := 0
			for _, line := range strings.Split(string(out), "\n") {
				data, ok := strings.CutPrefix(line, "data: ")
				if !ok || data == "[DONE]" {
					continue
				}
				n++
				if got := gjson.Get(data, "model").Str; got != model {
					t.Fatalf("chunk %s: model %q, want %q", data, got, model)
				}
			}
			if n == 0 {
				t.Fatal("no chunks")
			}
		})
	}
}
