package e2e

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	aoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

// canonicalJSON re-encodes a JSON text with sorted keys and no spacing, so
// that two bodies compare by value; text that is not JSON is returned
// marked as such, so that it never equals a wanted value.
func canonicalJSON(s string) string {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return "(invalid JSON " + s + ")"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// fatalAPIError stops a test on err, with the error body the gateway sent
// when there is one.
func fatalAPIError(t *testing.T, err error) {
	t.Helper()
	var apiErr *openai.Error
	if errors.As(err, &apiErr) {
		t.Fatalf("%v: %s", err, apiErr.RawJSON())
	}
	t.Fatal(err)
}

// caseOf is the schemaCases entry of a schema.
func caseOf(t *testing.T, schema string) schemaCase {
	t.Helper()
	for _, c := range schemaCases() {
		if c.schema == schema {
			return c
		}
	}
	t.Fatalf("no schema case %q", schema)
	return schemaCase{}
}

// TestJSONObjectOnClaude: response_format {"type":"json_object"} from an
// openai-go client to Claude (Anthropic's API and Vertex AI's rawPredict).
// The gateway forces a tool named structured_output_json whose input
// schema is any object, and hands the tool's input back as the message
// content, as OpenAI would: JSON text, finish_reason "stop", no tool calls.
func TestJSONObjectOnClaude(t *testing.T) {
	s := newSchemasSetup(t)
	const (
		system = "You classify support tickets."
		user   = `Ticket: my invoice shows the wrong VAT number. Reply with {"category", "urgency"}.`
		// The transcripts' tool input, compacted (whole) and as streamed.
		wholeJSON    = `{"category":"billing","urgency":"medium"}`
		streamedJSON = `{"category": "billing", "urgency": "medium"}`
	)
	wantObject := map[string]any{"category": "billing", "urgency": "medium"}
	usage := tokens{642, 41, 0, 0}
	params := func(model string) openai.ChatCompletionNewParams {
		return openai.ChatCompletionNewParams{
			Model:          model,
			Messages:       []openai.ChatCompletionMessageParamUnion{openai.SystemMessage(system), openai.UserMessage(user)},
			ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &shared.ResponseFormatJSONObjectParam{}},
		}
	}
	// sent checks the Anthropic Messages body the provider got: the JSON
	// tool alone, forced, and the conversation as the client wrote it.
	sent := func(t *testing.T, c schemaCase, rec fakeprovider.Recorded, stream bool) {
		t.Helper()
		checkSent(t, c, rec, stream)
		b := gjson.ParseBytes(rec.Body)
		if got := b.Get("tools.#").Int(); got != 1 {
			t.Errorf("provider got %d tools, want 1: %s", got, b.Get("tools").Raw)
		}
		if got := b.Get("tools.0.name").Str; got != "structured_output_json" {
			t.Errorf("tools[0].name %q, want structured_output_json", got)
		}
		if got := canonicalJSON(b.Get("tools.0.input_schema").Raw); got != `{"type":"object"}` {
			t.Errorf("tools[0].input_schema %s, want {\"type\":\"object\"}", got)
		}
		if got := canonicalJSON(b.Get("tool_choice").Raw); got != `{"name":"structured_output_json","type":"tool"}` {
			t.Errorf("tool_choice %s, want the JSON tool forced", got)
		}
		sys := b.Get("system")
		if pt := sys.Get("0.text"); pt.Exists() {
			sys = pt
		}
		if sys.String() != system {
			t.Errorf("system %s, want %q (nothing added in words)", b.Get("system").Raw, system)
		}
		msg := b.Get("messages.0.content")
		if pt := msg.Get("0.text"); pt.Exists() {
			msg = pt
		}
		if b.Get("messages.#").Int() != 1 || b.Get("messages.0.role").Str != "user" || msg.String() != user {
			t.Errorf("messages %s", b.Get("messages").Raw)
		}
		for _, k := range []string{"response_format", "output_config", "output_format"} {
			if b.Get(k).Exists() {
				t.Errorf("provider got %s %s", k, b.Get(k).Raw)
			}
		}
		if b.Get("stream").Bool() != stream {
			t.Errorf("stream %s, want %v", b.Get("stream").Raw, stream)
		}
		switch c.schema {
		case "anthropic":
			if b.Get("model").Str != "claude-sonnet-4-5-20250929" {
				t.Errorf("model %s", b.Get("model").Raw)
			}
		case "vertex-ai claude":
			if b.Get("anthropic_version").Str != "vertex-2023-10-16" || b.Get("model").Exists() {
				t.Errorf("anthropic_version %s model %s", b.Get("anthropic_version").Raw, b.Get("model").Raw)
			}
		}
	}
	isObject := func(t *testing.T, content string) {
		t.Helper()
		var got map[string]any
		if err := json.Unmarshal([]byte(content), &got); err != nil {
			t.Errorf("content %q is not a JSON object: %v", content, err)
		} else if !reflect.DeepEqual(got, wantObject) {
			t.Errorf("content object %v, want %v", got, wantObject)
		}
	}

	whole := func(t *testing.T, c schemaCase) {
		fake := c.fake(s)
		fake.Handle("POST", c.path, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("anthropic", "json_object"))})
		before := len(fake.Requests())
		var raw *http.Response
		got, err := s.client.Chat.Completions.New(ctxT(t), params(c.model), option.WithResponseInto(&raw))
		if err != nil {
			t.Fatal(err)
		}
		sent(t, c, onlyRequest(t, fake, before), false)
		if raw.Header.Get("x-switchboard-provider") != c.provider {
			t.Errorf("x-switchboard-provider %q, want %q", raw.Header.Get("x-switchboard-provider"), c.provider)
		}
		b := gjson.Parse(got.RawJSON())
		m := b.Get("choices.0.message")
		if ct := m.Get("content"); ct.Type != gjson.String || ct.Str != wholeJSON {
			t.Errorf("content %s, want %q", ct.Raw, wholeJSON)
		}
		isObject(t, m.Get("content").Str)
		if f := b.Get("choices.0.finish_reason").Str; f != "stop" {
			t.Errorf("finish_reason %q, want stop", f)
		}
		if tc := m.Get("tool_calls"); tc.Exists() && tc.Type != gjson.Null && len(tc.Array()) > 0 {
			t.Errorf("tool_calls %s, want none", tc.Raw)
		}
		if len(got.Choices) != 1 || len(got.Choices[0].Message.ToolCalls) != 0 || got.Choices[0].Message.Content != wholeJSON {
			t.Errorf("SDK message %+v", got.Choices)
		}
		checkUsage(t, b.Get("usage"), usage)
		if cost, want := b.Get("usage.cost").Float(), c.cost(usage); math.Abs(cost-want) > 1e-12 {
			t.Errorf("usage.cost %v, want %v", cost, want)
		}
	}

	streamed := func(t *testing.T, c schemaCase) {
		fake := c.fake(s)
		fake.Handle("POST", c.streamPath, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("anthropic", "json_object_stream"))})
		before := len(fake.Requests())
		p := params(c.model)
		p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		var tap rawTap
		stream := s.client.Chat.Completions.NewStreaming(ctxT(t), p, tap.middleware())
		var acc openai.ChatCompletionAccumulator
		var content strings.Builder
		for stream.Next() {
			ch := stream.Current()
			acc.AddChunk(ch)
			if len(ch.Choices) > 0 {
				content.WriteString(ch.Choices[0].Delta.Content)
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		sent(t, c, onlyRequest(t, fake, before), true)
		if content.String() != streamedJSON {
			t.Errorf("content deltas join to %q, want %q", content.String(), streamedJSON)
		}
		isObject(t, content.String())
		sh, chunks := shapeOfStream(tap.Bytes())
		if sh.Finishes != "stop" || sh.Calls != "" || sh.Done != 1 || !sh.DoneLast || sh.UsageChunks != 1 || !sh.UsageLast || sh.Providers != c.provider {
			t.Errorf("stream shape %+v\nstream %s", sh, tap.Bytes())
		}
		for i, ch := range chunks {
			if tc := ch.Get("choices.0.delta.tool_calls"); tc.Exists() {
				t.Errorf("chunk %d has tool_calls %s", i, tc.Raw)
			}
		}
		if len(acc.Choices) != 1 {
			t.Fatalf("%d choices", len(acc.Choices))
		}
		if ch := acc.Choices[0]; ch.FinishReason != "stop" || ch.Message.Content != streamedJSON || len(ch.Message.ToolCalls) != 0 {
			t.Errorf("accumulated finish %q content %q tool calls %v", ch.FinishReason, ch.Message.Content, ch.Message.ToolCalls)
		}
		if len(chunks) > 0 {
			checkUsage(t, chunks[len(chunks)-1].Get("usage"), usage)
		}
	}

	for _, schema := range []string{"anthropic", "vertex-ai claude"} {
		c := caseOf(t, schema)
		t.Run(schema, func(t *testing.T) {
			t.Run("non-streamed", func(t *testing.T) { whole(t, c) })
			t.Run("streamed", func(t *testing.T) { streamed(t, c) })
		})
	}
}

// TestMessagesBedrockDocument: an Anthropic client (anthropic-sdk-go) on
// /v1/messages sends a PDF document block to a Bedrock model served
// through Converse (Nova; Claude takes the Messages body natively, its
// documents as sent: TestBedrockMessagesPassThrough). Bedrock gets
// a Converse document block; a document type Converse does not take is
// refused with a 400 in Anthropic's error shape, before any provider call.
func TestMessagesBedrockDocument(t *testing.T) {
	s := newSchemasSetup(t)
	c := caseOf(t, "bedrock")
	c.model, c.path = mxBedrockNova, "/model/"+bedrockNova+"/converse"
	client := anthropic.NewClient(aoption.WithBaseURL(s.gw.url("/")), aoption.WithAPIKey(clientKey), aoption.WithMaxRetries(0))
	// A minimal PDF: the bytes matter only in that they arrive unchanged.
	pdf := base64.StdEncoding.EncodeToString([]byte("%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n" +
		"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"))
	const (
		title    = "Lease_2024 (signed).pdf"
		wantName = "Lease-2024 (signed)" // the extension dropped, '_' not allowed
		question = "What is the notice period in this lease?"
	)
	params := func() anthropic.MessageNewParams {
		doc := anthropic.NewDocumentBlock(anthropic.Base64PDFSourceParam{Data: pdf})
		doc.OfDocument.Title = anthropic.String(title)
		return anthropic.MessageNewParams{
			Model:     anthropic.Model(c.model),
			MaxTokens: 256,
			System:    []anthropic.TextBlockParam{{Text: "Be brief."}},
			Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(doc, anthropic.NewTextBlock(question))},
		}
	}
	// Converse's rule for document names.
	validName := regexp.MustCompile(`^[A-Za-z0-9()\[\]-]+( [A-Za-z0-9()\[\]-]+)*$`)

	t.Run("pdf document", func(t *testing.T) {
		c.fake(s).Handle("POST", c.path, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("bedrock", "text"))})
		before := len(c.fake(s).Requests())
		var raw *http.Response
		m, err := client.Messages.New(ctxT(t), params(), aoption.WithResponseInto(&raw))
		if err != nil {
			t.Fatal(err)
		}
		rec := onlyRequest(t, c.fake(s), before)
		checkSent(t, c, rec, false)
		b := gjson.ParseBytes(rec.Body)
		content := b.Get("messages.0.content")
		if b.Get("messages.#").Int() != 1 || b.Get("messages.0.role").Str != "user" || content.Get("#").Int() != 2 {
			t.Fatalf("provider got messages %s", b.Get("messages").Raw)
		}
		doc := content.Get("0.document")
		if doc.Get("format").Str != "pdf" {
			t.Errorf("document format %s, want pdf", doc.Get("format").Raw)
		}
		if name := doc.Get("name").Str; name != wantName || !validName.MatchString(name) || len(name) > 200 {
			t.Errorf("document name %q, want %q", name, wantName)
		}
		if got := doc.Get("source.bytes").Str; got != pdf {
			t.Errorf("document source.bytes %q, want the base64 sent %q", got, pdf)
		}
		if keys := canonicalJSON(doc.Raw); keys != canonicalJSON(`{"format":"pdf","name":"`+wantName+`","source":{"bytes":"`+pdf+`"}}`) {
			t.Errorf("document %s", doc.Raw)
		}
		if got := canonicalJSON(content.Get("1").Raw); got != canonicalJSON(`{"text":"`+question+`"}`) {
			t.Errorf("second block %s, want the question", content.Get("1").Raw)
		}
		if b.Get("system.0.text").Str != "Be brief." || b.Get("inferenceConfig.maxTokens").Int() != 256 {
			t.Errorf("system %s inferenceConfig %s", b.Get("system").Raw, b.Get("inferenceConfig").Raw)
		}

		text, calls := anthropicCalls(m)
		if want := "Hello! I'm Claude, an AI assistant. How can I help you today?"; text != want || len(calls) != 0 {
			t.Errorf("text %q calls %v, want %q", text, calls, want)
		}
		if m.Type != "message" || m.Role != "assistant" || !strings.HasPrefix(m.ID, "msg_") || m.StopReason != anthropic.StopReasonEndTurn {
			t.Errorf("message type %q role %q id %q stop %q", m.Type, m.Role, m.ID, m.StopReason)
		}
		if m.Usage.InputTokens != 12 || m.Usage.OutputTokens != 21 || m.Usage.CacheReadInputTokens != 0 {
			t.Errorf("usage %+v, want 12 in 21 out", m.Usage)
		}
		if raw.Header.Get("x-switchboard-provider") != c.provider {
			t.Errorf("headers %v", raw.Header)
		}
		if j := gjson.Parse(m.RawJSON()); j.Get("choices").Exists() || j.Get("object").Exists() || j.Get("usage.prompt_tokens").Exists() {
			t.Errorf("message %s", j.Raw)
		}
	})

	// The error names the block as the client numbered it: the system
	// prompt is not a message in Anthropic's API, so the document is
	// messages[0].content[0] with a system prompt or without.
	unsupported := func(t *testing.T, system bool) {
		c.fake(s).Handle("POST", c.path, fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("bedrock", "text"))})
		before := len(c.fake(s).Requests())
		p := params()
		if !system {
			p.System = nil
		}
		_, err := client.Messages.New(ctxT(t), p, aoption.WithJSONSet("messages.0.content.0.source.media_type", "text/x-foo"))
		var apiErr *anthropic.Error
		if !errors.As(err, &apiErr) {
			t.Fatalf("err = %v, want an API error", err)
		}
		raw := gjson.Parse(apiErr.RawJSON())
		const wantMsg = `messages[0].content[0]: file type "text/x-foo" is not supported by Bedrock (pdf, csv, doc, docx, xls, xlsx, html, txt and md documents are)`
		if apiErr.StatusCode != 400 || raw.Get("type").Str != "error" || raw.Get("error.type").Str != "invalid_request_error" ||
			raw.Get("error.message").Str != wantMsg {
			t.Errorf("status %d body %s, want 400 invalid_request_error %q", apiErr.StatusCode, raw.Raw, wantMsg)
		}
		// Anthropic's shape, not OpenAI's.
		if raw.Get("error.code").Exists() || raw.Get("error.param").Exists() {
			t.Errorf("body %s has OpenAI error members", raw.Raw)
		}
		if ct := apiErr.Response.Header.Get("content-type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("content-type %q", ct)
		}
		if n := len(c.fake(s).Requests()); n != before {
			t.Errorf("provider received %d requests, want none", n-before)
		}
	}
	t.Run("unsupported document type", func(t *testing.T) { unsupported(t, true) })
	t.Run("unsupported document type without system prompt", func(t *testing.T) { unsupported(t, false) })
}

// TestBedrockReasoningExclude: reasoning {"exclude": true} on a Bedrock
// Claude model still turns thinking on, but the client is given the
// answer without the reasoning; the reasoning is still paid for, in the
// completion tokens. The model is bedrockSetup's claude-bedrock: the
// shared mx-bedrock declares no reasoning capability, so the router
// refuses reasoning requests for it.
func TestBedrockReasoningExclude(t *testing.T) {
	s := newBedrockSetup(t)
	const (
		model      = "claude-bedrock"
		answerText = "17 × 23 = **391**."
		reasonText = "The user wants 17 × 23. 17 × 20 = 340, 17 × 3 = 51, so 391."
	)
	// Converse reports no reasoning count of its own: the thinking is in
	// outputTokens (96), and inputTokens 24 leave out 1843 cache reads.
	usage := tokens{24 + 1843, 96, 1843, 0}
	// sent checks that thinking was asked for at the default (medium)
	// budget, and that the OpenRouter object itself is not forwarded.
	sent := func(t *testing.T, op string, before int) {
		t.Helper()
		onlyRequest(t, s.signed, before)
		b := s.sent(t, op) // signed, on its path, no client credential
		if got := canonicalJSON(b.Get("additionalModelRequestFields.thinking").Raw); got != `{"budget_tokens":8192,"type":"enabled"}` {
			t.Errorf("thinking %s, want enabled with 8192 tokens", got)
		}
		if got := b.Get("inferenceConfig.maxTokens").Int(); got != 8192+4096 {
			t.Errorf("maxTokens %d, want %d", got, 8192+4096)
		}
		if b.Get("reasoning").Exists() || b.Get("reasoning_effort").Exists() || b.Get("additionalModelRequestFields.reasoning").Exists() {
			t.Errorf("provider got %s", b.Raw)
		}
	}
	exclude := option.WithJSONSet("reasoning", map[string]any{"exclude": true})

	t.Run("non-streamed", func(t *testing.T) {
		s.reply(t, "converse", "reasoning")
		before := len(s.signed.Requests())
		got, err := s.client.Chat.Completions.New(ctxT(t), userParams(model, "What is 17 × 23?"), exclude)
		if err != nil {
			fatalAPIError(t, err)
		}
		sent(t, "converse", before)
		b := gjson.Parse(got.RawJSON())
		m := b.Get("choices.0.message")
		for _, k := range []string{"reasoning", "reasoning_details", "reasoning_content", "thinking"} {
			if m.Get(k).Exists() {
				t.Errorf("message has %s: %s", k, m.Get(k).Raw)
			}
		}
		if strings.Contains(got.RawJSON(), "17 × 20 = 340") || strings.Contains(got.RawJSON(), "EqoBCkgI") || strings.Contains(got.RawJSON(), "RXFvQkNr") {
			t.Errorf("answer carries reasoning text or signatures: %s", got.RawJSON())
		}
		if _, ok := got.Choices[0].Message.JSON.ExtraFields["reasoning"]; ok {
			t.Errorf("SDK message has reasoning")
		}
		if m.Get("content").Str != answerText || b.Get("choices.0.finish_reason").Str != "stop" || m.Get("role").Str != "assistant" {
			t.Errorf("message %s finish %s", m.Raw, b.Get("choices.0.finish_reason").Raw)
		}
		checkUsage(t, b.Get("usage"), usage)
	})

	// Without exclude, the same answer carries its reasoning: the
	// transcript has some to leave out.
	t.Run("non-streamed without exclude", func(t *testing.T) {
		s.reply(t, "converse", "reasoning")
		before := len(s.signed.Requests())
		got, err := s.client.Chat.Completions.New(ctxT(t), userParams(model, "What is 17 × 23?"),
			option.WithJSONSet("reasoning", map[string]any{"exclude": false}))
		if err != nil {
			fatalAPIError(t, err)
		}
		sent(t, "converse", before)
		m := gjson.Get(got.RawJSON(), "choices.0.message")
		if m.Get("reasoning").Str != reasonText || m.Get("reasoning_details.#").Int() != 2 ||
			m.Get("reasoning_details.0.type").Str != "reasoning.text" || m.Get("reasoning_details.1.type").Str != "reasoning.encrypted" {
			t.Errorf("message %s, want the reasoning", m.Raw)
		}
		if m.Get("content").Str != answerText {
			t.Errorf("content %s", m.Get("content").Raw)
		}
		checkUsage(t, gjson.Get(got.RawJSON(), "usage"), usage)
	})

	t.Run("streamed", func(t *testing.T) {
		s.reply(t, "converse-stream", "reasoning_stream")
		before := len(s.signed.Requests())
		p := userParams(model, "What is 17 × 23?")
		p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		var tap rawTap
		stream := s.client.Chat.Completions.NewStreaming(ctxT(t), p, exclude, tap.middleware())
		var acc openai.ChatCompletionAccumulator
		for stream.Next() {
			acc.AddChunk(stream.Current())
		}
		if err := stream.Err(); err != nil {
			fatalAPIError(t, err)
		}
		sent(t, "converse-stream", before)
		sh, chunks := shapeOfStream(tap.Bytes())
		for i, ch := range chunks {
			d := ch.Get("choices.0.delta")
			for _, k := range []string{"reasoning", "reasoning_details", "reasoning_content"} {
				if d.Get(k).Exists() {
					t.Errorf("chunk %d has %s: %s", i, k, ch.Raw)
				}
			}
		}
		if sh.Finishes != "stop" || sh.UsageChunks != 1 || !sh.UsageLast || sh.Done != 1 {
			t.Errorf("stream shape %+v\nstream %s", sh, tap.Bytes())
		}
		if len(acc.Choices) != 1 || acc.Choices[0].Message.Content != answerText {
			t.Fatalf("accumulated %+v", acc.Choices)
		}
		if len(chunks) > 0 {
			checkUsage(t, chunks[len(chunks)-1].Get("usage"), usage)
		}
	})
}
