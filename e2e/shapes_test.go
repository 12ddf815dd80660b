package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

// tokens is the usage a client must be told.
type tokens struct{ prompt, completion, cached, reasoning int64 }

// answer is one recorded provider response and what the client must get
// from it: the text, the tool calls (as name + canonical JSON arguments),
// and the usage.
type answer struct {
	transcript string // "<provider dir>/<name>"
	text       string
	calls      []string
	usage      tokens
}

// schemaCase is one schema's model in schemasSetup: where its provider
// listens, how it is authenticated, and the transcripts that answer it.
type schemaCase struct {
	schema, model, provider string
	fake                    func(*schemasSetup) *fakeprovider.Server
	path, streamPath        string
	query, streamQuery      string
	// credHeader must start with credPrefix at the provider.
	credHeader, credPrefix string
	// price is the configured price (USD per million tokens).
	price                          struct{ prompt, completion, cached, request float64 }
	text, stream, tool, toolStream answer // tool "" where no transcript has one
}

const (
	bedrockStreamText = "Flow control keeps a fast sender from overwhelming a slow receiver. In HTTP/2 each stream, and the connection as a whole, has a window:" +
		" the receiver advertises how many bytes it can take, the sender stops when the window is spent—and \"WINDOW_UPDATE\" frames reopen it as the receiver drains its buffers."
	geminiStreamAnswer = "Flow control keeps a fast sender from overwhelming a slow receiver. TCP does it with a sliding window: the receiver advertises how many bytes it can take <right now>, and the sender never has more than that in flight."
	bothCities         = "I'll look up the weather in both cities."
	anthropicStreamAns = "Requests flow through—\none door, many rivers met,\ntokens find their way. 🌊"
)

var (
	sfWeather = `get_weather{"location":"San Francisco, CA"}`
	order1042 = `lookup_order{"order_id":"A-1042"}`
)

// schemaCases are the seven columns of docs/providers.md. Transcripts of
// one wire format are replayed for another provider of the same format
// where the second has no recording of its own: Vertex's Gemini stream is
// Gemini's streamGenerateContent, and its Claude stream is Anthropic's.
func schemaCases() []schemaCase {
	cs := []schemaCase{
		{
			schema: "openai", model: mxOpenAI, provider: "fake-openai",
			fake: func(s *schemasSetup) *fakeprovider.Server { return s.openai },
			path: mxOpenAIPath, streamPath: mxOpenAIPath,
			credHeader: "authorization", credPrefix: "Bearer " + openAIKey,
			text:   answer{"openai/chat", "The capital of France is Paris.", nil, tokens{24, 8, 0, 0}},
			stream: answer{"openai/chat_stream", "Requests flow through—one door, many rivers met.", nil, tokens{19, 9, 0, 0}},
			toolStream: answer{"openai/tool_calls_stream", "", []string{sfWeather, `get_weather{"location":"Tokyo, Japan"}`},
				tokens{88, 52, 0, 0}},
		},
		{
			schema: "azure-openai", model: mxAzure, provider: "fake-azure",
			fake: func(s *schemasSetup) *fakeprovider.Server { return s.azure },
			path: mxAzurePath, streamPath: mxAzurePath, query: mxAzureAPIVersion, streamQuery: mxAzureAPIVersion,
			credHeader: "api-key", credPrefix: azureKey,
			text:   answer{"azure/chat", "The capital of France is Paris.", nil, tokens{24, 8, 0, 0}},
			stream: answer{"azure/chat_stream", "Requests enter one door, many rivers meet.", nil, tokens{19, 9, 0, 0}},
			toolStream: answer{"azure/tool_calls_stream", "", []string{`get_weather{"location":"Paris, France"}`, `get_weather{"location":"Tokyo, Japan"}`},
				tokens{84, 49, 64, 0}},
		},
		{
			schema: "anthropic", model: mxAnthropic, provider: "fake-anthropic",
			fake: func(s *schemasSetup) *fakeprovider.Server { return s.anthropic },
			path: mxAnthropicPath, streamPath: mxAnthropicPath,
			credHeader: "x-api-key", credPrefix: anthropicKey,
			text: answer{"anthropic/text", "The capital of France is Paris. It has been the country's capital since 987 AD, when Hugh Capet made it the seat of the \"Capetian\" dynasty.",
				nil, tokens{27, 41, 0, 0}},
			stream: answer{"anthropic/text_stream", anthropicStreamAns, nil, tokens{18, 24, 0, 0}},
			tool: answer{"anthropic/tool_use", "I'll check the current weather in San Francisco for you.",
				[]string{`get_weather{"location":"San Francisco, CA","unit":"celsius"}`}, tokens{412, 93, 0, 0}},
			toolStream: answer{"anthropic/tool_use_stream", bothCities, []string{`get_weather{"location":"San Francisco, CA","unit":"fahrenheit"}`,
				`get_weather{"location":"Tokyo, Japan","unit":"celsius"}`}, tokens{472, 118, 0, 0}},
		},
		{
			schema: "gemini", model: mxGemini, provider: "fake-gemini",
			fake: func(s *schemasSetup) *fakeprovider.Server { return s.gemini },
			path: mxGeminiPath, streamPath: mxGeminiStreamPath, streamQuery: "alt=sse",
			credHeader: "x-goog-api-key", credPrefix: geminiKey,
			text: answer{"gemini/text", "The capital of France is **Paris**. It has been the seat of French government for most of the country's history, and it sits on the Seine in the north of the country.",
				nil, tokens{9, 38 + 565, 0, 565}},
			stream: answer{"gemini/text_stream", geminiStreamAnswer, nil, tokens{8, 41 + 302, 0, 302}},
			tool: answer{"gemini/tool_call", "", []string{`get_weather{"city":"Paris","unit":"celsius"}`, `get_weather{"city":"Tokyo","unit":"celsius"}`},
				tokens{126, 42 + 97, 0, 97}},
			toolStream: answer{"gemini/tool_call_stream", "", []string{`get_weather{"city":"Paris","unit":"celsius"}`, `get_weather{"city":"Tokyo","unit":"celsius"}`},
				tokens{131, 42 + 88, 0, 88}},
		},
		{
			schema: "vertex-ai gemini", model: mxVertexGemini, provider: "fake-vertex",
			fake: func(s *schemasSetup) *fakeprovider.Server { return s.vertex },
			path: mxVertexGeminiPath, streamPath: mxVertexGeminiStream, streamQuery: "alt=sse",
			credHeader: "authorization", credPrefix: "Bearer ya29.e2e-token-",
			text: answer{"vertex/gemini_text", "A region is a geographic area such as us-central1; each region has several zones, which are isolated failure domains inside it.",
				nil, tokens{12, 30 + 368, 0, 368}},
			stream:     answer{"gemini/text_stream", geminiStreamAnswer, nil, tokens{8, 41 + 302, 0, 302}},
			toolStream: answer{"vertex/gemini_tool_stream", "", []string{order1042}, tokens{74, 18 + 59, 0, 59}},
		},
		{
			schema: "vertex-ai claude", model: mxVertexClaude, provider: "fake-vertex",
			fake: func(s *schemasSetup) *fakeprovider.Server { return s.vertex },
			path: mxVertexClaudePath, streamPath: mxVertexClaudeStream,
			credHeader: "authorization", credPrefix: "Bearer ya29.e2e-token-",
			text: answer{"vertex/claude_text", "Vertex AI serves Claude through the rawPredict method; the request body is the Messages API body without the model field.",
				nil, tokens{21, 35, 0, 0}},
			stream:     answer{"anthropic/text_stream", anthropicStreamAns, nil, tokens{18, 24, 0, 0}},
			toolStream: answer{"vertex/claude_tool_stream", "Let me look that order up.", []string{order1042}, tokens{402, 61, 0, 0}},
		},
		{
			schema: "bedrock", model: mxBedrock, provider: "fake-bedrock",
			fake: func(s *schemasSetup) *fakeprovider.Server { return s.bedrock },
			path: mxBedrockPath, streamPath: mxBedrockStreamPath,
			credHeader: "authorization", credPrefix: "Bearer " + bedrockAPIKey,
			text:   answer{"bedrock/text", "Hello! I'm Claude, an AI assistant. How can I help you today?", nil, tokens{12, 21, 0, 0}},
			stream: answer{"bedrock/text_stream", bedrockStreamText, nil, tokens{19, 71, 0, 0}},
			tool: answer{"bedrock/tool_use", bothCities, []string{`get_weather{"city":"Paris","unit":"celsius"}`, `get_weather{"city":"Tokyo","unit":"celsius"}`},
				tokens{412, 118, 0, 0}},
			toolStream: answer{"bedrock/tool_use_stream", bothCities, []string{`get_weather{"city":"Paris","unit":"celsius"}`, `get_weather{"city":"Tokyo","unit":"celsius"}`},
				tokens{412, 118, 0, 0}},
		},
	}
	// The prices of schemasSetup's config.
	prices := map[string][4]float64{
		mxOpenAI: {2, 8, 0.5, 0}, mxAzure: {0.15, 0.6, 0, 0}, mxAnthropic: {3, 15, 0.3, 0}, mxGemini: {0.3, 2.5, 0, 0},
		mxVertexGemini: {1.25, 10, 0, 0}, mxVertexClaude: {3, 15, 0, 0.001}, mxBedrock: {3, 15, 0, 0},
	}
	for i := range cs {
		p := prices[cs[i].model]
		cs[i].price.prompt, cs[i].price.completion, cs[i].price.cached, cs[i].price.request = p[0], p[1], p[2], p[3]
	}
	return cs
}

// cost is what the gateway must charge for u at the case's price: cached
// prompt tokens at the cached price when there is one.
func (c schemaCase) cost(u tokens) float64 {
	cached := c.price.cached
	if cached == 0 {
		cached = c.price.prompt
	}
	return (float64(u.prompt-u.cached)*c.price.prompt+float64(u.cached)*cached+float64(u.completion)*c.price.completion)/1e6 + c.price.request
}

// shapeTools are the tools every request offers, so that each transcript's
// call names a declared tool.
func shapeTools() []openai.ChatCompletionToolUnionParam {
	return []openai.ChatCompletionToolUnionParam{
		openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
			Name: "get_weather",
			Parameters: openai.FunctionParameters{"type": "object", "properties": map[string]any{
				"city": map[string]any{"type": "string"}, "location": map[string]any{"type": "string"}, "unit": map[string]any{"type": "string"},
			}},
		}),
		openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
			Name:       "lookup_order",
			Parameters: openai.FunctionParameters{"type": "object", "properties": map[string]any{"order_id": map[string]any{"type": "string"}}},
		}),
	}
}

// canonicalCall renders a tool call as name + its arguments re-encoded
// with sorted keys, so that spacing and key order do not matter.
func canonicalCall(name, args string) string {
	var v any
	if err := json.Unmarshal([]byte(args), &v); err != nil {
		return name + "(invalid JSON " + args + ")"
	}
	b, _ := json.Marshal(v)
	return name + string(b)
}

// jsonType names a JSON value's type as the contract speaks of it.
// modelType is jsonType, telling an empty model name apart: every answer
// names the model that served it (Bedrock's say none; the gateway fills it).
func modelType(r gjson.Result) string {
	if r.Type == gjson.String && r.Str == "" {
		return "empty string"
	}
	return jsonType(r)
}

func jsonType(r gjson.Result) string {
	switch {
	case !r.Exists():
		return "missing"
	case r.Type == gjson.Null:
		return "null"
	case r.Type == gjson.String:
		return "string"
	case r.Type == gjson.Number:
		return "number"
	case r.Type == gjson.True || r.Type == gjson.False:
		return "bool"
	case r.IsArray():
		return "array"
	}
	return "object"
}

// usageFields are the usage members every answer must carry, numbers all.
var usageFields = []string{"prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details.cached_tokens", "completion_tokens_details.reasoning_tokens"}

// usageShape lists the type of each required usage member, and whether
// the total adds up.
func usageShape(u gjson.Result) string {
	var parts []string
	for _, f := range usageFields {
		parts = append(parts, f+":"+jsonType(u.Get(f)))
	}
	adds := u.Get("prompt_tokens").Int()+u.Get("completion_tokens").Int() == u.Get("total_tokens").Int()
	return strings.Join(parts, " ") + fmt.Sprintf(" adds_up:%v", adds)
}

func checkUsage(t *testing.T, u gjson.Result, want tokens) {
	t.Helper()
	got := tokens{u.Get("prompt_tokens").Int(), u.Get("completion_tokens").Int(),
		u.Get("prompt_tokens_details.cached_tokens").Int(), u.Get("completion_tokens_details.reasoning_tokens").Int()}
	if got != want || u.Get("total_tokens").Int() != want.prompt+want.completion {
		t.Errorf("usage %s, want %+v", u.Raw, want)
	}
}

// answerShape is what a client sees of a whole chat answer, stripped of
// the values that differ by design (ids, text, numbers).
type answerShape struct {
	Object, ID, Created, Model, Provider string
	Choices                              int64
	Index, Role, Content, Finish         string
	Calls                                string // each call's type, id and name types and whether its arguments are JSON
	Usage                                string
	Cost                                 string
}

func shapeOfAnswer(b gjson.Result) answerShape {
	c := b.Get("choices.0")
	var calls []string
	for _, tc := range c.Get("message.tool_calls").Array() {
		calls = append(calls, fmt.Sprintf("%s/id:%s/name:%s/args_json:%v", tc.Get("type").Str, jsonType(tc.Get("id")),
			jsonType(tc.Get("function.name")), gjson.Valid(tc.Get("function.arguments").Str)))
	}
	return answerShape{
		Object: b.Get("object").Str, ID: jsonType(b.Get("id")), Created: jsonType(b.Get("created")), Model: modelType(b.Get("model")),
		Provider: jsonType(b.Get("provider")), Choices: b.Get("choices.#").Int(),
		Index: c.Get("index").Raw, Role: c.Get("message.role").Str, Content: jsonType(c.Get("message.content")),
		Finish: c.Get("finish_reason").Str, Calls: strings.Join(calls, " "), Usage: usageShape(b.Get("usage")), Cost: jsonType(b.Get("usage.cost")),
	}
}

// streamShape is what a client sees of a stream, likewise.
type streamShape struct {
	Objects     string // the distinct object values of the chunks
	OneID       bool   // one non-empty id throughout
	Created     string // the distinct types of created
	Model       string // the distinct types of model
	Providers   string // the distinct provider values
	FirstRole   string // the role in the first chunk with a choice
	Contents    string // "string", plus any other type delta.content had (null aside)
	Finishes    string // every finish_reason sent, in order
	AfterFinish int    // chunks with choices after the finish chunk
	UsageChunks int    // chunks with a usage object
	UsageLast   bool   // the usage chunk is the last, with no choices
	Usage       string
	Calls       string // per call index: id, type and name on its first delta
	Done        int    // data: [DONE] lines
	DoneLast    bool
}

func distinct(seen map[string]bool) string {
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func shapeOfStream(raw []byte) (streamShape, []gjson.Result) {
	var sh streamShape
	data := sseData(raw)
	objects, created, models, providers, contents := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	var chunks []gjson.Result
	var id string
	sh.OneID = true
	finished := false
	firstDelta := map[int64]bool{}
	var calls []string
	for i, d := range data {
		if d == "[DONE]" {
			sh.Done++
			sh.DoneLast = i == len(data)-1
			continue
		}
		c := gjson.Parse(d)
		chunks = append(chunks, c)
		objects[c.Get("object").Str] = true
		created[jsonType(c.Get("created"))] = true
		models[modelType(c.Get("model"))] = true
		providers[c.Get("provider").Str] = true
		if id == "" {
			id = c.Get("id").Str
		}
		if c.Get("id").Str != id || id == "" {
			sh.OneID = false
		}
		if c.Get("usage").IsObject() {
			sh.UsageChunks++
			sh.Usage = usageShape(c.Get("usage"))
			sh.UsageLast = i == len(data)-2 && c.Get("choices.#").Int() == 0
		}
		ch := c.Get("choices.0")
		if !ch.Exists() {
			continue
		}
		if finished {
			sh.AfterFinish++
		}
		if sh.FirstRole == "" {
			sh.FirstRole = ch.Get("delta.role").Str + "@" + jsonType(ch.Get("delta.role"))
		}
		if ct := ch.Get("delta.content"); ct.Exists() {
			contents[jsonType(ct)] = true
		}
		for _, tc := range ch.Get("delta.tool_calls").Array() {
			if n := tc.Get("index").Int(); !firstDelta[n] {
				firstDelta[n] = true
				calls = append(calls, fmt.Sprintf("%d:%s/id:%s/name:%s", n, tc.Get("type").Str, jsonType(tc.Get("id")), jsonType(tc.Get("function.name"))))
			}
		}
		if f := ch.Get("finish_reason"); f.Type == gjson.String {
			sh.Finishes += f.Str + " "
			finished = true
		}
	}
	// OpenAI sends "content": null beside a tool call's first delta;
	// translated streams send "" or leave it out. All read as no text.
	delete(contents, "null")
	contents["string"] = true
	sh.Objects, sh.Created, sh.Model, sh.Providers, sh.Contents = distinct(objects), distinct(created), distinct(models), distinct(providers), distinct(contents)
	sh.Finishes = strings.TrimSpace(sh.Finishes)
	sh.Calls = strings.Join(calls, " ")
	return sh, chunks
}

// checkSent asserts the provider got the request on its own path, with its
// own credential and none of the client's.
func checkSent(t *testing.T, c schemaCase, rec fakeprovider.Recorded, stream bool) {
	t.Helper()
	path, query := c.path, c.query
	if stream {
		path, query = c.streamPath, c.streamQuery
	}
	if rec.Path != path || rec.RawQuery != query {
		t.Errorf("provider got %s?%s, want %s?%s", rec.Path, rec.RawQuery, path, query)
	}
	if got := rec.Header.Get(c.credHeader); !strings.HasPrefix(got, c.credPrefix) {
		t.Errorf("provider got %s %q, want %q...", c.credHeader, got, c.credPrefix)
	}
	for k, vs := range rec.Header {
		if strings.Contains(strings.Join(vs, " "), clientKey) {
			t.Errorf("client credential forwarded in %s", k)
		}
	}
}

// TestSameShape sends the same openai-go requests to a model of every
// schema and holds the answers to one contract: what the SDK client sees
// does not depend on the provider that served it.
func TestSameShape(t *testing.T) {
	s := newSchemasSetup(t)
	cases := schemaCases()

	wantAnswer := func(finish, content string, calls int) answerShape {
		callShape := strings.TrimSpace(strings.Repeat("function/id:string/name:string/args_json:true ", calls))
		return answerShape{Object: "chat.completion", ID: "string", Created: "number", Model: "string", Provider: "string", Choices: 1,
			Index: "0", Role: "assistant", Content: content, Finish: finish, Calls: callShape,
			Usage: usageShape(gjson.Parse(`{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}`)),
			Cost:  "number"}
	}
	wantStream := func(provider, finish string, calls int, usage bool) streamShape {
		sh := streamShape{Objects: "chat.completion.chunk", OneID: true, Created: "number", Model: "string", Providers: provider,
			FirstRole: "assistant@string", Contents: "string", Finishes: finish, Done: 1, DoneLast: true}
		for i := range calls {
			sh.Calls += fmt.Sprintf("%d:function/id:string/name:string ", i)
		}
		sh.Calls = strings.TrimSpace(sh.Calls)
		if usage {
			sh.UsageChunks, sh.UsageLast = 1, true
			sh.Usage = wantAnswer("", "", 0).Usage
		}
		return sh
	}

	whole := func(t *testing.T, c schemaCase, a answer, tools bool) {
		fake := c.fake(s)
		tr := fakeprovider.MustLoad(t, transcript(strings.Split(a.transcript, "/")[0], strings.Split(a.transcript, "/")[1]))
		fake.Handle("POST", c.path, fakeprovider.Reply{Transcript: tr})
		before := len(fake.Requests())
		p := userParams(c.model, "What is the capital of France?")
		if tools {
			p.Tools = shapeTools()
		}
		var raw *http.Response
		got, err := s.client.Chat.Completions.New(ctxT(t), p, option.WithResponseInto(&raw))
		if err != nil {
			t.Fatal(err)
		}
		checkSent(t, c, onlyRequest(t, fake, before), false)
		if raw.Header.Get("x-switchboard-provider") != c.provider || raw.Header.Get("x-switchboard-model") != c.model ||
			!strings.HasPrefix(raw.Header.Get("content-type"), "application/json") {
			t.Errorf("headers %v", raw.Header)
		}
		b := gjson.Parse(got.RawJSON())
		finish, content := "stop", "string"
		if len(a.calls) > 0 {
			finish = "tool_calls"
			if a.text == "" {
				// OpenAI sends null beside tool calls; "" would do as well
				// for the SDK, but the shape is one or the other.
				content = jsonType(b.Get("choices.0.message.content"))
				if content != "null" && content != "string" {
					t.Errorf("content beside tool calls is %s", content)
				}
			}
		}
		if sh, want := shapeOfAnswer(b), wantAnswer(finish, content, len(a.calls)); sh != want {
			t.Errorf("shape\n got  %+v\n want %+v\nanswer %s", sh, want, b.Raw)
		}
		m := got.Choices[0].Message
		if m.Content != a.text {
			t.Errorf("content %q, want %q", m.Content, a.text)
		}
		var calls []string
		for _, tc := range m.ToolCalls {
			calls = append(calls, canonicalCall(tc.Function.Name, tc.Function.Arguments))
		}
		if strings.Join(calls, " ") != strings.Join(a.calls, " ") {
			t.Errorf("tool calls %v, want %v", calls, a.calls)
		}
		if got.Usage.TotalTokens != got.Usage.PromptTokens+got.Usage.CompletionTokens {
			t.Errorf("SDK usage %+v does not add up", got.Usage)
		}
		checkUsage(t, b.Get("usage"), a.usage)
		if cost, want := b.Get("usage.cost").Float(), c.cost(a.usage); math.Abs(cost-want) > 1e-12 {
			t.Errorf("usage.cost %v, want %v", cost, want)
		}
		if b.Get("provider").Str != c.provider {
			t.Errorf("provider %q, want %q", b.Get("provider").Str, c.provider)
		}
	}

	streamed := func(t *testing.T, c schemaCase, a answer, tools, usage bool) {
		fake := c.fake(s)
		tr := fakeprovider.MustLoad(t, transcript(strings.Split(a.transcript, "/")[0], strings.Split(a.transcript, "/")[1]))
		fake.Handle("POST", c.streamPath, fakeprovider.Reply{Transcript: tr})
		before := len(fake.Requests())
		p := userParams(c.model, "Explain flow control")
		if tools {
			p.Tools = shapeTools()
		}
		if usage {
			p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		}
		var tap rawTap
		var resp *http.Response
		stream := s.client.Chat.Completions.NewStreaming(ctxT(t), p, tap.middleware(), option.WithResponseInto(&resp))
		var acc openai.ChatCompletionAccumulator
		for stream.Next() {
			acc.AddChunk(stream.Current())
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		checkSent(t, c, onlyRequest(t, fake, before), true)
		if resp.Header.Get("x-switchboard-provider") != c.provider || !strings.HasPrefix(resp.Header.Get("content-type"), "text/event-stream") {
			t.Errorf("headers %v", resp.Header)
		}
		finish := "stop"
		if len(a.calls) > 0 {
			finish = "tool_calls"
		}
		sh, chunks := shapeOfStream(tap.Bytes())
		if want := wantStream(c.provider, finish, len(a.calls), usage); sh != want {
			t.Errorf("shape\n got  %+v\n want %+v\nstream %s", sh, want, tap.Bytes())
		}
		if len(acc.Choices) != 1 {
			t.Fatalf("%d choices", len(acc.Choices))
		}
		if m := acc.Choices[0].Message; m.Content != a.text || m.Role != "assistant" || acc.Choices[0].FinishReason != finish {
			t.Errorf("content %q role %q finish %q, want %q", m.Content, m.Role, acc.Choices[0].FinishReason, a.text)
		}
		var calls []string
		for _, tc := range acc.Choices[0].Message.ToolCalls {
			calls = append(calls, canonicalCall(tc.Function.Name, tc.Function.Arguments))
		}
		if strings.Join(calls, " ") != strings.Join(a.calls, " ") {
			t.Errorf("tool calls %v, want %v", calls, a.calls)
		}
		if usage {
			checkUsage(t, chunks[len(chunks)-1].Get("usage"), a.usage)
			if acc.Usage.TotalTokens != a.usage.prompt+a.usage.completion {
				t.Errorf("SDK usage %+v", acc.Usage)
			}
		}
		body := gjson.ParseBytes(lastRequest(t, fake).Body)
		if c.schema == "openai" || c.schema == "azure-openai" {
			// The gateway always asks for usage and strips it when the
			// client did not.
			if !body.Get("stream_options.include_usage").Bool() {
				t.Errorf("provider not asked for usage: %s", body.Raw)
			}
		}
	}

	for _, c := range cases {
		t.Run(c.schema, func(t *testing.T) {
			t.Run("non-streamed text", func(t *testing.T) { whole(t, c, c.text, false) })
			t.Run("streamed text with usage", func(t *testing.T) { streamed(t, c, c.stream, false, true) })
			t.Run("streamed text without usage", func(t *testing.T) { streamed(t, c, c.stream, false, false) })
			if c.tool.transcript != "" {
				t.Run("non-streamed tool call", func(t *testing.T) { whole(t, c, c.tool, true) })
			}
			t.Run("streamed tool call with usage", func(t *testing.T) { streamed(t, c, c.toolStream, true, true) })
		})
	}
}
