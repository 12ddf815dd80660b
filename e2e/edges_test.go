package e2e

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

// wantError asserts the exact OpenAI error body a client got.
func wantError(t *testing.T, resp *http.Response, body []byte, status int, typ, code, message string) {
	t.Helper()
	assertOpenAIError(t, resp, body, status, code)
	e := gjson.GetBytes(body, "error")
	if e.Get("type").Str != typ || e.Get("message").Str != message {
		t.Fatalf("error type %q message %q, want %q %q", e.Get("type").Str, e.Get("message").Str, typ, message)
	}
	if strings.Contains(string(body), "ya29.") || strings.Contains(string(body), openAIKey) || strings.Contains(string(body), azureKey) {
		t.Fatalf("error body leaks a credential: %s", body)
	}
}

// brokenStream sends a streamed request through the SDK and checks that
// the stream ends with one error chunk of the given code after the text
// that arrived, then [DONE].
func brokenStream(t *testing.T, s *schemasSetup, model, wantText, code, message string) {
	t.Helper()
	var resp *http.Response
	stream := s.client.Chat.Completions.NewStreaming(ctxT(t), userParams(model, "hi"), option.WithResponseInto(&resp))
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	// The SDK reports the error chunk as a stream error.
	var se *ssestream.StreamError
	if err := stream.Err(); !errors.As(err, &se) || !strings.Contains(se.Message, code) {
		t.Fatalf("stream error %v, want a %s error chunk", err, code)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("content-type"), "text/event-stream") {
		t.Fatalf("status %d type %s", resp.StatusCode, resp.Header.Get("content-type"))
	}
	if len(acc.Choices) != 1 || acc.Choices[0].Message.Content != wantText {
		t.Fatalf("choices %+v, want the text so far %q", acc.Choices, wantText)
	}
	// The SDK stops reading at the error chunk: the same reply again,
	// read whole, shows what follows it on the wire.
	resp, raw := s.gw.post(t, "/v1/chat/completions", chatBody(model, `,"stream":true`))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, raw)
	}
	data := sseData(raw)
	if len(data) < 2 || data[len(data)-1] != "[DONE]" || strings.Count(string(raw), "[DONE]") != 1 {
		t.Fatalf("stream does not end with one [DONE]: %s", raw)
	}
	last := gjson.Parse(data[len(data)-2])
	if last.Get("choices.0.finish_reason").Str != "error" || last.Get("error.code").Str != code || last.Get("error.message").Str != message ||
		last.Get("object").Str != "chat.completion.chunk" {
		t.Fatalf("last chunk %s", last.Raw)
	}
	for _, d := range data[:len(data)-2] {
		if gjson.Get(d, "error").Exists() || gjson.Get(d, "choices.0.finish_reason").Type == gjson.String {
			t.Fatalf("an earlier chunk ends the stream: %s", d)
		}
	}
}

// streamOpt is chatBody's extra member for a streamed request.
func streamOpt(stream bool) string {
	if stream {
		return `,"stream":true`
	}
	return ""
}

// TestVertexEdges runs the vertex-ai cells no other e2e test reaches: a
// streamed Gemini chat with its tool call, context-length and overload
// errors, and Claude's credential failures and broken stream.
func TestVertexEdges(t *testing.T) {
	s := newSchemasSetup(t)

	t.Run("gemini streamed tool call", func(t *testing.T) {
		s.vertex.Handle("POST", mxVertexGeminiStream, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("vertex", "gemini_tool_stream"))})
		before := len(s.vertex.Requests())
		p := userParams(mxVertexGemini, "Where is order A-1042?")
		p.Tools = shapeTools()
		p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		stream := s.client.Chat.Completions.NewStreaming(ctxT(t), p)
		var acc openai.ChatCompletionAccumulator
		usageChunks, signature := 0, ""
		for stream.Next() {
			c := stream.Current()
			acc.AddChunk(c)
			if c.JSON.Usage.Valid() && c.Usage.TotalTokens > 0 {
				usageChunks++
			}
			if len(c.Choices) > 0 {
				signature += gjson.Get(c.Choices[0].Delta.RawJSON(), "reasoning_details.0.data").Str
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		calls := acc.Choices[0].Message.ToolCalls
		if len(calls) != 1 || calls[0].ID != "call_7VgcabWhKYuc2PgP0rLJsQ4_0" || calls[0].Function.Name != "lookup_order" ||
			calls[0].Function.Arguments != `{"order_id":"A-1042"}` || acc.Choices[0].FinishReason != "tool_calls" {
			t.Fatalf("tool calls %+v finish %q", calls, acc.Choices[0].FinishReason)
		}
		if signature != "CqkBAdHtim+H2pLq8zW4mX0vN6tB3yR9cK1jF5dS7gA2eU8oI4wQ0=" {
			t.Fatalf("thought signature %q", signature)
		}
		if usageChunks != 1 || acc.Usage.PromptTokens != 74 || acc.Usage.CompletionTokens != 18+59 || acc.Usage.CompletionTokensDetails.ReasoningTokens != 59 {
			t.Fatalf("usage chunks %d usage %+v", usageChunks, acc.Usage)
		}
		rec := onlyRequest(t, s.vertex, before)
		if rec.Path != mxVertexGeminiStream || rec.RawQuery != "alt=sse" || !strings.HasPrefix(rec.Header.Get("authorization"), "Bearer ya29.e2e-token-") ||
			rec.Header.Get("x-goog-api-key") != "" {
			t.Fatalf("provider got %s?%s authorization %q", rec.Path, rec.RawQuery, rec.Header.Get("authorization"))
		}
		body := gjson.ParseBytes(rec.Body)
		decl := body.Get("tools.0.functionDeclarations.#.name").Raw
		if body.Get("contents.0.parts.0.text").Str != "Where is order A-1042?" || decl != `["get_weather","lookup_order"]` || body.Get("model").Exists() || body.Get("stream").Exists() {
			t.Fatalf("provider got %s", rec.Body)
		}
	})

	for _, tc := range []struct {
		name, path, dir, file, model string
		stream                       bool
		status                       int
		typ, code, message           string
	}{
		{"gemini prompt too long", mxVertexGeminiPath, "gemini", "error_400_too_long", mxVertexGemini, false,
			400, "invalid_request_error", "context_length_exceeded", "The input token count (1184624) exceeds the maximum number of tokens allowed (1048576)."},
		{"gemini prompt too long, streamed", mxVertexGeminiStream, "gemini", "error_400_too_long", mxVertexGemini, true,
			400, "invalid_request_error", "context_length_exceeded", "The input token count (1184624) exceeds the maximum number of tokens allowed (1048576)."},
		{"claude prompt too long", mxVertexClaudePath, "anthropic", "error_400_prompt_too_long", mxVertexClaude, false,
			400, "invalid_request_error", "context_length_exceeded", "prompt is too long: 215843 tokens > 200000 maximum"},
		{"gemini overloaded", mxVertexGeminiPath, "gemini", "error_503", mxVertexGemini, false,
			503, "upstream_error", "provider_overloaded", "The model is overloaded. Please try again later."},
		{"claude rejected token", mxVertexClaudePath, "vertex", "error_401", mxVertexClaude, false,
			502, "upstream_error", "provider_auth_failed", "the gateway's credential for the provider was rejected (upstream status 401)"},
		{"claude rejected token, streamed", mxVertexClaudeStream, "vertex", "error_401", mxVertexClaude, true,
			502, "upstream_error", "provider_auth_failed", "the gateway's credential for the provider was rejected (upstream status 401)"},
	} {
		// Vertex passes Google's error bodies for Gemini models and
		// Anthropic's for Claude ones: the recordings of those schemas are
		// replayed on Vertex's paths.
		t.Run(tc.name, func(t *testing.T) {
			s.vertex.Handle("POST", tc.path, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript(tc.dir, tc.file))})
			before := len(s.vertex.Requests())
			resp, body := s.gw.post(t, "/v1/chat/completions", chatBody(tc.model, streamOpt(tc.stream)))
			wantError(t, resp, body, tc.status, tc.typ, tc.code, tc.message)
			if rec := onlyRequest(t, s.vertex, before); rec.Path != tc.path || !strings.HasPrefix(rec.Header.Get("authorization"), "Bearer ya29.e2e-token-") {
				t.Fatalf("provider got %s authorization %q", rec.Path, rec.Header.Get("authorization"))
			}
			if resp.Header.Get("x-switchboard-provider") != "fake-vertex" {
				t.Fatalf("headers %v", resp.Header)
			}
		})
	}

	t.Run("claude credentials the token endpoint refuses", func(t *testing.T) {
		before, grants := len(s.vertex.Requests()), s.tokens.count()
		_, err := s.client.Chat.Completions.New(ctxT(t), userParams(mxVertexBroken, "hi"))
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 502 || apiErr.Code != "provider_auth_failed" ||
			apiErr.Message != `the gateway could not obtain credentials for provider "vertex-refused"` {
			t.Fatalf("err = %v", err)
		}
		if n := len(s.vertex.Requests()); n != before {
			t.Fatalf("a request without credentials reached the provider (%d -> %d)", before, n)
		}
		if s.tokens.count() != grants {
			t.Fatal("the refused grant was counted as a token")
		}
	})

	t.Run("dropped parameters are reported", func(t *testing.T) {
		for _, tc := range []struct {
			name, model, path, dir, file, body, dropped string
			sent                                        func(b gjson.Result) bool
		}{
			{"gemini", mxVertexGemini, mxVertexGeminiPath, "vertex", "gemini_text",
				`{"model":"mx-vertex-gemini","logit_bias":{"1":2},"service_tier":"auto","messages":[{"role":"user","name":"ana","content":"hi"}]}`,
				"logit_bias,service_tier,messages[].name",
				func(b gjson.Result) bool {
					return !b.Get("logit_bias").Exists() && !b.Get("service_tier").Exists() && b.Get("contents.0.parts.0.text").Str == "hi"
				}},
			{"claude", mxVertexClaude, mxVertexClaudePath, "vertex", "claude_text",
				`{"model":"mx-vertex-claude","seed":7,"frequency_penalty":0.4,"temperature":1.5,"messages":[{"role":"user","content":"hi"}]}`,
				"temperature,frequency_penalty,seed",
				func(b gjson.Result) bool {
					return !b.Get("seed").Exists() && !b.Get("frequency_penalty").Exists() && b.Get("temperature").Raw == "1"
				}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s.vertex.Handle("POST", tc.path, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript(tc.dir, tc.file))})
				before := len(s.vertex.Requests())
				resp, out := s.gw.post(t, "/v1/chat/completions", []byte(tc.body))
				if resp.StatusCode != 200 {
					t.Fatalf("status %d: %s", resp.StatusCode, out)
				}
				if h := resp.Header.Get("x-switchboard-dropped-params"); h != tc.dropped {
					t.Fatalf("x-switchboard-dropped-params %q, want %q", h, tc.dropped)
				}
				if rec := onlyRequest(t, s.vertex, before); !tc.sent(gjson.ParseBytes(rec.Body)) {
					t.Fatalf("provider got %s", rec.Body)
				}
			})
		}
	})

	t.Run("claude require_parameters refuses a drop", func(t *testing.T) {
		before := len(s.vertex.Requests())
		resp, out := s.gw.post(t, "/v1/chat/completions", []byte(`{"model":"mx-vertex-claude","messages":[{"role":"user","content":"hi"}],"seed":7,"provider":{"require_parameters":true}}`))
		assertOpenAIError(t, resp, out, 400, "unsupported_parameter")
		if msg := gjson.GetBytes(out, "error.message").Str; !strings.Contains(msg, "cannot honour: seed") {
			t.Fatalf("message %q", msg)
		}
		if n := len(s.vertex.Requests()); n != before {
			t.Fatalf("provider received %d requests, want none", n-before)
		}
	})

	t.Run("claude stream truncated", func(t *testing.T) {
		s.vertex.Handle("POST", mxVertexClaudeStream, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("anthropic", "stream_truncated"))})
		brokenStream(t, s, mxVertexClaude, "Envoy filters run in the order they are listed in the", "upstream_stream_error",
			"provider stream ended before the response was complete")
	})
}

// TestAzureFailures: a cut Azure stream and Azure's 503, end to end.
func TestAzureFailures(t *testing.T) {
	s := newSchemasSetup(t)

	t.Run("truncated stream ends with an error chunk", func(t *testing.T) {
		s.azure.Handle("POST", mxAzurePath, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("azure", "stream_truncated"))})
		brokenStream(t, s, mxAzure, "Requests enter one", "upstream_stream_error", "provider stream ended before the response was complete")
	})

	// The body TestAzureError/overloaded maps: Azure's 503.
	const overloaded = `{"error":{"code":"ServiceUnavailable","message":"The service is temporarily unable to process your request. Please try again later."}}`
	for _, stream := range []bool{false, true} {
		name := "overloaded is 503"
		if stream {
			name += ", streamed"
		}
		t.Run(name, func(t *testing.T) {
			s.azure.Handle("POST", mxAzurePath, fakeprovider.Reply{Transcript: inlineTranscript(t, "azure 503", 503, "application/json", overloaded)})
			before := len(s.azure.Requests())
			resp, body := s.gw.post(t, "/v1/chat/completions", chatBody(mxAzure, streamOpt(stream)))
			wantError(t, resp, body, 503, "upstream_error", "provider_overloaded", "The service is temporarily unable to process your request. Please try again later.")
			if ra := resp.Header.Get("retry-after"); ra != "" {
				t.Fatalf("retry-after %q from a 503 without a hint", ra)
			}
			if rec := onlyRequest(t, s.azure, before); rec.Header.Get("api-key") != azureKey || rec.RawQuery != mxAzureAPIVersion {
				t.Fatalf("provider got %s?%s", rec.Path, rec.RawQuery)
			}
		})
	}
}

// TestOpenAIOverloaded: OpenAI's 503 becomes provider_overloaded end to
// end, for the SDK's whole and streamed calls.
func TestOpenAIOverloaded(t *testing.T) {
	s := newSchemasSetup(t)
	// OpenAI's 503 body (https://platform.openai.com/docs/guides/error-codes).
	tr := inlineTranscript(t, "openai 503", 503, "application/json",
		`{"error":{"message":"The engine is currently overloaded, please try again later.","type":"server_error","param":null,"code":null}}`)
	const msg = "The engine is currently overloaded, please try again later."

	t.Run("non-streamed", func(t *testing.T) {
		s.openai.Handle("POST", mxOpenAIPath, fakeprovider.Reply{Transcript: tr})
		before := len(s.openai.Requests())
		resp, body := s.gw.post(t, "/v1/chat/completions", chatBody(mxOpenAI, ""))
		wantError(t, resp, body, 503, "upstream_error", "provider_overloaded", msg)
		if rec := onlyRequest(t, s.openai, before); rec.Header.Get("authorization") != "Bearer "+openAIKey {
			t.Fatalf("provider got authorization %q", rec.Header.Get("authorization"))
		}
		if resp.Header.Get("x-switchboard-provider") != "fake-openai" || resp.Header.Get("retry-after") != "" {
			t.Fatalf("headers %v", resp.Header)
		}
	})

	t.Run("via the SDK, streamed and not", func(t *testing.T) {
		s.openai.Handle("POST", mxOpenAIPath, fakeprovider.Reply{Transcript: tr})
		_, err := s.client.Chat.Completions.New(ctxT(t), userParams(mxOpenAI, "hi"))
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 503 || apiErr.Code != "provider_overloaded" || apiErr.Message != msg {
			t.Fatalf("err = %v", err)
		}
		stream := s.client.Chat.Completions.NewStreaming(ctxT(t), userParams(mxOpenAI, "hi"))
		for stream.Next() {
			t.Fatalf("chunk from a 503: %s", stream.Current().RawJSON())
		}
		if err := stream.Err(); !errors.As(err, &apiErr) || apiErr.StatusCode != 503 || apiErr.Code != "provider_overloaded" {
			t.Fatalf("stream err = %v", err)
		}
	})
}

// TestEmbeddingsUnsupported: an embeddings model on a schema without an
// embeddings API is refused before any provider is asked.
func TestEmbeddingsUnsupported(t *testing.T) {
	s := newSchemasSetup(t)

	t.Run("anthropic", func(t *testing.T) {
		resp, body := s.gw.post(t, "/v1/embeddings", []byte(`{"model":"`+mxEmbedClaude+`","input":"hello"}`))
		wantError(t, resp, body, 400, "invalid_request_error", "embeddings_unsupported", `provider "fake-anthropic" (schema anthropic) does not serve embeddings`)
		_, err := s.client.Embeddings.New(ctxT(t), embedParams(mxEmbedClaude, 0, "hello"))
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Code != "embeddings_unsupported" {
			t.Fatalf("SDK err = %v", err)
		}
		if rs := s.anthropic.Requests(); len(rs) != 0 {
			t.Fatalf("the provider was asked: %s %s", rs[0].Method, rs[0].Path)
		}
	})

	t.Run("a chat model is not an embeddings model", func(t *testing.T) {
		resp, body := s.gw.post(t, "/v1/embeddings", []byte(`{"model":"`+mxAnthropic+`","input":"hello"}`))
		wantError(t, resp, body, 400, "invalid_request_error", "wrong_model_type", `model "mx-anthropic" is a chat model; it is not served on /v1/embeddings`)
		if rs := s.anthropic.Requests(); len(rs) != 0 {
			t.Fatalf("the provider was asked: %s %s", rs[0].Method, rs[0].Path)
		}
	})
}

// TestEmbeddingsOnVertexClaude: a vertex-ai Claude model has no
// embeddings, as an anthropic one has none: it must be refused with 400
// embeddings_unsupported before anything is sent to Vertex.
func TestEmbeddingsOnVertexClaude(t *testing.T) {
	s := newSchemasSetup(t)
	s.vertex.Handle("POST", vertexBase+"google/models/claude-sonnet-4-5@20250929:predict",
		fakeprovider.Reply{Transcript: inlineTranscript(t, "vertex 404", 404, "application/json",
			`{"error":{"code":404,"message":"Publisher Model was not found.","status":"NOT_FOUND"}}`)})
	resp, body := s.gw.post(t, "/v1/embeddings", []byte(`{"model":"`+mxEmbedVertexCl+`","input":"hello"}`))
	for _, r := range s.vertex.Requests() {
		t.Errorf("Vertex was asked: %s %s %s", r.Method, r.Path, r.Body)
	}
	assertOpenAIError(t, resp, body, 400, "embeddings_unsupported")
}
