package translators

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// claudeChunk is an InvokeModelWithResponseStream chunk event carrying one
// Anthropic stream event, base64-encoded, with Bedrock's "p" padding.
func claudeChunk(event string, p int) esEvent {
	return esEvent{typ: "chunk", payload: `{"bytes":"` + base64.StdEncoding.EncodeToString([]byte(event)) + `","p":"` + pad(p) + `"}`}
}

// Anthropic stream events as Claude on Bedrock sends them: message_stop
// carries Bedrock's invocation metrics.
var (
	claudeTextEvents = []string{
		`{"type":"message_start","message":{"id":"msg_bdrk_01Tq8eWbV4yN2sLc6PzXh3Gk","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":18,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}}`,
		`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Bedrock streams Claude's events inside AWS frames—"}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"each chunk one event, base64-encoded,"}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" passed on as \"server-sent events\"."}}`,
		`{"type":"content_block_stop","index":0}`,
		`{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":24}}`,
		`{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":18,"outputTokenCount":24,"invocationLatency":1180,"firstByteLatency":402}}`,
	}
	claudeToolEvents = []string{
		`{"type":"message_start","message":{"id":"msg_bdrk_01Lw5RcZp8nKx2VbT7qHs9Jd","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":402,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":4}}}`,
		`{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Two cities, so two get_weather calls."}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqoBCkgIBxABGAIiQKx3b2Vk0Yp7TzW1n9LqC4sR6mF2hJ8dA0eG5iK3oU7vX1yZ9wQ2tB4cN6pM8rS0"}}`,
		`{"type":"content_block_stop","index":0}`,
		`{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}`,
		`{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"I'll look up the weather"}}`,
		`{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":" in both cities."}}`,
		`{"type":"content_block_stop","index":1}`,
		`{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_bdrk_01Gq4hXnZ7sLp2Vc9RtKm6Wb","name":"get_weather","input":{}}}`,
		`{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":""}}`,
		`{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Pa"}}`,
		`{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"ris\", \"unit\": \"celsius\"}"}}`,
		`{"type":"content_block_stop","index":2}`,
		`{"type":"content_block_start","index":3,"content_block":{"type":"tool_use","id":"toolu_bdrk_01Mv8kYpR3tNw5Xd2QsLf7Hc","name":"get_weather","input":{}}}`,
		`{"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Tokyo\", \"unit\": \"celsius\"}"}}`,
		`{"type":"content_block_stop","index":3}`,
		`{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":118}}`,
		`{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":402,"outputTokenCount":118,"invocationLatency":2650,"firstByteLatency":611}}`,
	}
)

func claudeChunks(events []string, extra ...esEvent) []esEvent {
	out := make([]esEvent, 0, len(events)+len(extra))
	for i, ev := range events {
		out = append(out, claudeChunk(ev, 7+i*11))
	}
	return append(out, extra...)
}

// bedrockNativeFixtures are the binary InvokeModelWithResponseStream
// transcripts, written with the AWS SDK's encoder like
// bedrockStreamFixtures (go test ./translators -run
// TestBedrockNativeTranscripts -bedrock-transcripts).
var bedrockNativeFixtures = []struct {
	name, requestID string
	events          []esEvent
	mangle          func([]byte) []byte
}{
	{name: "claude_text_stream", requestID: "b3e7d0a2-6c41-4f85-9d2e-7a1c5b8e3f60", events: claudeChunks(claudeTextEvents)},
	{name: "claude_tool_use_stream", requestID: "d41f8b26-0e73-4a9c-b5d8-2c6e9f1a7b34", events: claudeChunks(claudeToolEvents)},
	{
		name: "claude_stream_throttling", requestID: "7e2c9a14-5b38-4d60-8f1e-3a9d6c2b0e75",
		events: claudeChunks(claudeTextEvents[:3], esEvent{kind: "exception", typ: "throttlingException",
			payload: `{"message":"Too many tokens, please wait before trying again."}`}),
	},
	{
		name: "claude_stream_model_error", requestID: "2a8d5f31-9c07-4e6b-a4d3-8f0b1e7c6d29",
		events: claudeChunks(claudeTextEvents[:3], esEvent{kind: "exception", typ: "modelStreamErrorException",
			payload: `{"message":"The model encountered an error while streaming the response.","originalMessage":"{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}","originalStatusCode":529}`}),
	},
	{
		// Cut 30 bytes into the sixth message (content_block_stop).
		name: "claude_stream_truncated", requestID: "5f0b3c87-1d2e-4a96-b7c4-9e8a2d6f1c03", events: claudeChunks(claudeTextEvents),
		mangle: func(b []byte) []byte { return b[:messageOffset(b, 5)+30] },
	},
}

// TestBedrockNativeTranscripts checks the committed binary transcripts
// are what bedrockNativeFixtures encode to, or rewrites them with
// -bedrock-transcripts.
func TestBedrockNativeTranscripts(t *testing.T) {
	for _, fx := range bedrockNativeFixtures {
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
				t.Fatalf("%v (go test ./translators -run TestBedrockNativeTranscripts -bedrock-transcripts writes it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s differs from its fixture (-bedrock-transcripts rewrites it)", path)
			}
		})
	}
}

func bedrockNativeExchange(t *testing.T, body string, target Target, key string) *Exchange {
	t.Helper()
	api, _ := APIFor("/v1/messages")
	spec, _ := SpecFor(SchemaBedrock)
	x, err := Begin(api, spec, []byte(body), target, key, Facts{Provider: "bedrock"})
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// Claude models on Bedrock take the Messages body natively; the rest of
// Bedrock's models, and Claude behind an application inference profile
// (whose ARN names no model), go through Converse.
func TestBedrockNativeFor(t *testing.T) {
	api, _ := APIFor("/v1/messages")
	chat, _ := APIFor("/v1/chat/completions")
	spec, _ := SpecFor(SchemaBedrock)
	for _, tc := range []struct {
		model string
		want  bool
	}{
		{"anthropic.claude-3-5-haiku-20241022-v1:0", true},
		{"us.anthropic.claude-sonnet-4-5-20250929-v1:0", true},
		{"global.anthropic.claude-opus-4-1-20250805-v1:0", true},
		{"arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-7-sonnet-20250219-v1:0", true},
		{"arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.anthropic.claude-sonnet-4-20250514-v1:0", true},
		{"arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6", false},
		{"amazon.nova-pro-v1:0", false},
		{"meta.llama3-3-70b-instruct-v1:0", false},
	} {
		if got := NativeFor(api, spec, Target{Model: tc.model}); got != tc.want {
			t.Errorf("messages to %s native %v, want %v", tc.model, got, tc.want)
		}
		if NativeFor(chat, spec, Target{Model: tc.model}) {
			t.Errorf("chat to %s taken as native", tc.model)
		}
	}
	// A non-Claude model on /v1/messages is translated to Converse.
	x := bedrockNativeExchange(t, `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`, Target{Model: "amazon.nova-pro-v1:0"}, "")
	if x.Native || x.Upstream.Path != "/model/amazon.nova-pro-v1%3A0/converse" {
		t.Errorf("nova: native %v path %s", x.Native, x.Upstream.Path)
	}
}

func TestBedrockNativeRequest(t *testing.T) {
	const model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
	wholeHeaders := []Header{{"content-type", "application/json"}, {"accept", "application/json"}}
	streamHeaders := []Header{{"content-type", "application/json"}, {"accept", "application/vnd.amazon.eventstream"}, {"x-amzn-bedrock-accept", "application/json"}}
	for _, tc := range []struct {
		name, in string
		target   Target
		key      string
		want     string
		path     string
		headers  []Header
		stream   bool
	}{
		{
			name: "whole, unknown fields kept in order", target: Target{Model: model},
			in:   `{"model":"m","max_tokens":5,"system":[{"type":"text","text":"s","cache_control":{"type":"ephemeral"}}],"thinking":{"type":"adaptive"},"context_management":{"edits":[]},"output_config":{"effort":"high"},"messages":[{"role":"user","content":"hi"},{"role":"system","content":"r"}]}`,
			want: `{"max_tokens":5,"system":[{"type":"text","text":"s","cache_control":{"type":"ephemeral"}}],"thinking":{"type":"adaptive"},"context_management":{"edits":[]},"output_config":{"effort":"high"},"messages":[{"role":"user","content":"hi"},{"role":"system","content":"r"}],"anthropic_version":"bedrock-2023-05-31"}`,
			path: "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke", headers: wholeHeaders,
		},
		{
			name: "stream: no stream member, the streaming operation", target: Target{Model: model},
			in:   `{"model":"m","stream":true,"max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`,
			want: `{"max_tokens":5,"messages":[{"role":"user","content":"hi"}],"anthropic_version":"bedrock-2023-05-31"}`,
			path: "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream", headers: streamHeaders, stream: true,
		},
		{
			name: "stream false is no stream", target: Target{Model: model},
			in:   `{"model":"m","stream":false,"max_tokens":5,"messages":[]}`,
			want: `{"max_tokens":5,"messages":[],"anthropic_version":"bedrock-2023-05-31"}`,
			path: "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke", headers: wholeHeaders,
		},
		{
			name:   "betas from the header, gateway fields removed, version replaced",
			target: Target{Model: model, PathPrefix: "/proxy", AnthropicBeta: "claude-code-20250219, context-1m-2025-08-07,,effort-2025-11-24"},
			in:     `{"model":"m","anthropic_version":"2023-06-01","provider":{"sort":"price"},"models":["a"],"session_id":"s","max_tokens":5,"messages":[]}`,
			want:   `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[],"anthropic_beta":["claude-code-20250219","context-1m-2025-08-07","effort-2025-11-24"]}`,
			path:   "/proxy/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke", headers: wholeHeaders,
		},
		{
			name: "betas of the body kept, the header's added once", target: Target{Model: model, AnthropicBeta: "context-1m-2025-08-07,effort-2025-11-24"},
			in:   `{"anthropic_beta":["context-1m-2025-08-07","token-efficient-tools-2025-02-19"],"max_tokens":5,"messages":[]}`,
			want: `{"anthropic_beta":["context-1m-2025-08-07","token-efficient-tools-2025-02-19","effort-2025-11-24"],"max_tokens":5,"messages":[],"anthropic_version":"bedrock-2023-05-31"}`,
			path: "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke", headers: wholeHeaders,
		},
		{
			name:   "server tools kept; an ARN escaped; the API key as bearer",
			target: Target{Model: "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0"}, key: "ABSKkey",
			in:      `{"model":"m","max_tokens":5,"tools":[{"type":"web_search_20250305","name":"web_search"},{"type":"text_editor_20250728","name":"str_replace_based_edit_tool"}],"messages":[]}`,
			want:    `{"max_tokens":5,"tools":[{"type":"web_search_20250305","name":"web_search"},{"type":"text_editor_20250728","name":"str_replace_based_edit_tool"}],"messages":[],"anthropic_version":"bedrock-2023-05-31"}`,
			path:    "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke",
			headers: append(wholeHeaders[:2:2], Header{"authorization", "Bearer ABSKkey"}),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			x := bedrockNativeExchange(t, tc.in, tc.target, tc.key)
			if !x.Native {
				t.Fatal("not native")
			}
			if string(x.Upstream.Body) != tc.want {
				t.Errorf("body\n%s\nwant\n%s", x.Upstream.Body, tc.want)
			}
			if x.Upstream.Path != tc.path || !equalHeaders(x.Upstream.Headers, tc.headers) || x.Stream != tc.stream {
				t.Errorf("path %s headers %v stream %v", x.Upstream.Path, x.Upstream.Headers, x.Stream)
			}
			if string(in) != tc.in {
				t.Error("input modified")
			}
		})
	}
	api, _ := APIFor("/v1/messages")
	spec, _ := SpecFor(SchemaBedrock)
	for _, bad := range []string{`[1]`, `{"model":`} {
		if _, err := Begin(api, spec, []byte(bad), Target{Model: model}, "", Facts{}); err == nil {
			t.Errorf("body %s passed", bad)
		}
	}
}

// The whole answer is Claude's message as Bedrock sent it; usage is read.
// Errors come back in Anthropic's shape.
func TestBedrockNativeAnswer(t *testing.T) {
	x := bedrockNativeExchange(t, `{"model":"m","max_tokens":5,"messages":[]}`, Target{Model: "anthropic.claude-3-5-haiku-20241022-v1:0"}, "")
	tr := readTranscript(t, "bedrock", "claude_text")
	got, u, err := x.Answer(tr.body)
	if err != nil || !bytes.Equal(got, tr.body) {
		t.Fatalf("answer %s err %v", got, err)
	}
	if u != (Usage{PromptTokens: 21, CompletionTokens: 35}) {
		t.Errorf("usage %+v", u)
	}
	if _, _, err := x.Answer([]byte(`{"message":"not a message"}`)); err == nil {
		t.Error("a body that is no message passed as an answer")
	}
	for _, tc := range []struct {
		transcript, typ string
		status          int
	}{
		{"error_throttling", "rate_limit_error", 429},
		{"error_too_long", "invalid_request_error", 400},
		{"error_unavailable", "overloaded_error", 503},
	} {
		et := readTranscript(t, "bedrock", tc.transcript)
		e := x.Error(et.status, "", et.header.Get, et.body)
		b := gjson.ParseBytes(x.ErrorBody(e))
		if e.Status != tc.status || b.Get("type").Str != "error" || b.Get("error.type").Str != tc.typ || b.Get("error.message").Str == "" {
			t.Errorf("%s: status %d body %s", tc.transcript, e.Status, b.Raw)
		}
	}
}

// sseOf renders Anthropic events as the SSE Anthropic's API sends.
func sseOf(events []string) []byte {
	var b []byte
	for _, ev := range events {
		b = append(b, "event: "+gjson.Get(ev, "type").Str+"\ndata: "+ev+"\n\n"...)
	}
	return b
}

// runNativeStream feeds body to a new Bedrock pass-through stream in
// pieces (each scribbled over after use) and finishes it.
func runNativeStream(body []byte, next splitter) ([]byte, Usage) {
	st := newBedrockNativeStream()
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

const cutEvent = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"provider stream ended before the response was complete\"}}\n\n"

// TestBedrockNativeStreamGolden: each chunk becomes the Anthropic event it
// carries, byte for byte; exceptions, corruption and cuts end the stream
// with Anthropic's error event. Every split gives the same output.
func TestBedrockNativeStreamGolden(t *testing.T) {
	textSSE := sseOf(claudeTextEvents)
	for _, tc := range []struct {
		name       string
		transcript string
		body       []byte // when transcript is empty
		want       []byte // the whole output, when known exactly
		wantPrefix []byte
		wantUsage  Usage
		errType    string // the final error event's error.type
		errMsg     string
	}{
		{name: "claude_text_stream", transcript: "claude_text_stream", want: textSSE, wantUsage: Usage{PromptTokens: 18, CompletionTokens: 24}},
		{name: "claude_tool_use_stream", transcript: "claude_tool_use_stream", want: sseOf(claudeToolEvents), wantUsage: Usage{PromptTokens: 402, CompletionTokens: 118}},
		{
			name: "claude_stream_throttling", transcript: "claude_stream_throttling", wantPrefix: sseOf(claudeTextEvents[:3]),
			wantUsage: Usage{PromptTokens: 18, CompletionTokens: 1}, errType: "rate_limit_error", errMsg: "Too many tokens, please wait before trying again.",
		},
		{
			name: "claude_stream_model_error", transcript: "claude_stream_model_error", wantPrefix: sseOf(claudeTextEvents[:3]),
			wantUsage: Usage{PromptTokens: 18, CompletionTokens: 1}, errType: "overloaded_error", errMsg: "The model encountered an error while streaming the response.",
		},
		{
			name: "claude_stream_truncated", transcript: "claude_stream_truncated", want: append(sseOf(claudeTextEvents[:5]), cutEvent...),
			wantUsage: Usage{PromptTokens: 18, CompletionTokens: 1}, errType: "api_error", errMsg: "provider stream ended before the response was complete",
		},
		{
			name: "claude_stream_bad_crc", body: func() []byte {
				b := encodeEventStream(t, claudeChunks(claudeTextEvents)...)
				b[messageOffset(b, 4)-10] ^= 0x20
				return b
			}(),
			wantPrefix: sseOf(claudeTextEvents[:3]), wantUsage: Usage{PromptTokens: 18, CompletionTokens: 1},
			errType: "api_error", errMsg: "provider sent a corrupt event stream: eventstream: message CRC mismatch",
		},
		{
			name: "claude_stream_error_message", body: encodeEventStream(t, claudeChunk(claudeTextEvents[0], 3), esEvent{kind: "error", typ: "InternalFailure", payload: "An internal error occurred."}),
			wantPrefix: sseOf(claudeTextEvents[:1]), wantUsage: Usage{PromptTokens: 18, CompletionTokens: 1}, errType: "api_error", errMsg: "An internal error occurred.",
		},
		{
			name: "claude_stream_not_base64", body: encodeEventStream(t, esEvent{typ: "chunk", payload: `{"bytes":"%%%not base64"}`}),
			errType: "api_error", errMsg: "provider sent a chunk that is not base64: illegal base64 data at input byte 0",
		},
		{
			name: "claude_stream_not_json", body: encodeEventStream(t, claudeChunk(`<html>oops</html>`, 1)),
			errType: "api_error", errMsg: "provider sent a stream event that is not JSON",
		},
		{
			name: "claude_stream_untyped", body: encodeEventStream(t, claudeChunk(`{"type":"a\nb"}`, 1)),
			errType: "api_error", errMsg: "provider sent a stream event without a type",
		},
		{
			// Other event types and message types are skipped; pretty
			// JSON is compacted onto one data line.
			name: "claude_stream_unknown", body: encodeEventStream(t, append([]esEvent{
				{typ: "brandNewEvent", payload: `{"x":1}`},
				{kind: "brand-new-kind", typ: "x", payload: `not json`},
				claudeChunk("{\n  \"type\": \"ping\"\n}", 2),
			}, claudeChunks(claudeTextEvents)...)...),
			want: append([]byte("event: ping\ndata: {\"type\":\"ping\"}\n\n"), textSSE...), wantUsage: Usage{PromptTokens: 18, CompletionTokens: 24},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.body
			if tc.transcript != "" {
				body = readTranscript(t, "bedrock", tc.transcript).body
			}
			out, usage := runNativeStream(body, whole)
			for _, sp := range streamSplits {
				got, gotUsage := runNativeStream(body, sp.next())
				if !bytes.Equal(got, out) || gotUsage != usage {
					t.Fatalf("fed %s, output differs from one write:\n--- split\n%s\n--- whole\n%s", sp.name, got, out)
				}
			}
			checkGolden(t, filepath.Join(testdata, "bedrock_native", tc.name+".sse"), out)
			if tc.want != nil && !bytes.Equal(out, tc.want) {
				t.Errorf("stream\n%s\nwant\n%s", out, tc.want)
			}
			if !bytes.HasPrefix(out, tc.wantPrefix) {
				t.Errorf("stream\n%s\ndoes not start with\n%s", out, tc.wantPrefix)
			}
			if usage != tc.wantUsage {
				t.Errorf("usage %+v, want %+v", usage, tc.wantUsage)
			}
			events := strings.Split(strings.TrimSuffix(string(out), "\n\n"), "\n\n")
			for _, ev := range events {
				name, data, ok := strings.Cut(ev, "\n")
				data, isData := strings.CutPrefix(data, "data: ")
				if !ok || !strings.HasPrefix(name, "event: ") || !isData || strings.Contains(data, "\n") || gjson.Get(data, "type").Str != strings.TrimPrefix(name, "event: ") {
					t.Fatalf("malformed event %q", ev)
				}
			}
			last := strings.TrimPrefix(events[len(events)-1], "event: error\ndata: ")
			if errs := strings.Count(string(out), "event: error\n"); tc.errType == "" && errs != 0 || tc.errType != "" && errs != 1 {
				t.Fatalf("%d error events", errs)
			}
			if tc.errType != "" && (gjson.Get(last, "error.type").Str != tc.errType || gjson.Get(last, "error.message").Str != tc.errMsg) {
				t.Errorf("last event %s, want error %s %q", last, tc.errType, tc.errMsg)
			}
		})
	}
}

// The gateway can end a stream (StreamEnder) with its own error event;
// nothing the provider sends afterwards reaches the client.
func TestBedrockNativeStreamEnd(t *testing.T) {
	x := bedrockNativeExchange(t, `{"model":"m","stream":true,"max_tokens":5,"messages":[]}`, Target{Model: "anthropic.claude-3-5-haiku-20241022-v1:0"}, "")
	st := x.NewStream()
	body := readTranscript(t, "bedrock", "claude_text_stream").body
	half := messageOffset(body, 3)
	out := st.Translate(nil, body[:half])
	out = st.(StreamEnder).End(out, &APIError{Status: 402, Type: TypeInvalidRequest, Code: "budget_exceeded", Message: "the key's budget is spent"})
	out = st.Translate(out, body[half:])
	out = st.Finish(out)
	want := string(sseOf(claudeTextEvents[:3])) + "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"billing_error\",\"message\":\"the key's budget is spent\"}}\n\n"
	if string(out) != want {
		t.Errorf("stream\n%s\nwant\n%s", out, want)
	}
}

// FuzzBedrockNativeStream: any bytes, split anyhow, never panic, give the
// output of one write, and end in a complete Anthropic stream or exactly
// one error event.
func FuzzBedrockNativeStream(f *testing.F) {
	for _, fx := range bedrockNativeFixtures {
		f.Add(encodeEventStream(f, fx.events...), 7)
	}
	f.Add([]byte(`{"message":"JSON, not an event stream"}`), 3)
	f.Fuzz(func(t *testing.T, data []byte, split int) {
		split = max(1, split%64+1)
		out, _ := runNativeStream(data, whole)
		got, _ := runNativeStream(data, func(int) int { return split })
		if !bytes.Equal(got, out) {
			t.Fatalf("split %d gives\n%q\none write\n%q", split, got, out)
		}
		if n := bytes.Count(out, []byte("event: error\n")); n > 1 {
			t.Fatalf("%d error events", n)
		}
		if len(out) > 0 && !bytes.HasSuffix(out, []byte("\n\n")) {
			t.Fatalf("unterminated event: %q", out)
		}
	})
}
