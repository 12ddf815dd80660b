package translators

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// openAIToAnthropic translates OpenAI chat completions to the Anthropic
// Messages API (https://docs.anthropic.com/en/api/messages).
type openAIToAnthropic struct{}

func (openAIToAnthropic) Request(body []byte, t Target) (Request, error) {
	if err := checkChatRequest(body); err != nil {
		return Request{}, err
	}
	var top members // the request's members read once
	// A view, not a copy (100 KB conversations): nothing read from it
	// outlives this call but through the encoded request.
	top.read(ParseView(body))
	root := &top
	if err := anthropicUnsupported(root); err != nil {
		return Request{}, err
	}
	req := anthropicRequest{Model: t.Model}
	maxTokens, maxSet, err := anthropicMaxTokens(root)
	if err != nil {
		return Request{}, err
	}
	budget, err := anthropicThinkingBudget(root, maxTokens, maxSet)
	if err != nil {
		return Request{}, err
	}
	req.MaxTokens = maxTokens
	if budget > 0 {
		req.Thinking = &anthropicThinking{Type: "enabled", BudgetTokens: budget}
		req.MaxTokens = anthropicThinkingMaxTokens(budget, maxTokens, maxSet)
	}
	conv, err := readChat(root.Get("messages"))
	if err != nil {
		return Request{}, err
	}
	var system []anthropicBlock
	if system, req.Messages, err = anthropicMessages(conv); err != nil {
		return Request{}, err
	}
	var jsonObject bool
	if system, req.OutputConfig, jsonObject, err = anthropicResponseFormat(root.Get("response_format"), system, req.Thinking != nil); err != nil {
		return Request{}, err
	}
	if len(system) > 0 {
		req.System = compactContent(system)
	}
	if req.Tools, err = anthropicTools(root.Get("tools")); err != nil {
		return Request{}, err
	}
	if req.ToolChoice, err = anthropicToolChoiceOf(root, len(req.Tools) > 0); err != nil {
		return Request{}, err
	}
	if req.Thinking != nil && req.ToolChoice != nil && (req.ToolChoice.Type == "any" || req.ToolChoice.Type == "tool") {
		return Request{}, BadRequest("unsupported_parameter", "'tool_choice' that forces a tool call cannot be combined with reasoning on Anthropic models: extended thinking allows only auto and none")
	}
	if jsonObject {
		req.Tools, req.ToolChoice = anthropicJSONObject(req.Tools, req.ToolChoice)
	}
	// OpenAI's web_search_options is Anthropic's web search server tool;
	// the sources it cites come back as url_citation annotations.
	if w := root.Get("web_search_options"); w.IsObject() {
		req.Tools = append(req.Tools, anthropicWebSearch(w))
	}
	dropped, err := anthropicSampling(root, &req)
	if err != nil {
		return Request{}, err
	}
	if req.StopSequences, err = stopSequences(root.Get("stop")); err != nil {
		return Request{}, err
	}
	if u := root.Get("user"); u.Type == gjson.String && u.Str != "" {
		req.Metadata = &anthropicMetadata{UserID: u.Str}
	}
	req.Stream = root.Get("stream").Type == gjson.True
	dropped = anthropicDropped(top.root, dropped)
	if conv.Names {
		dropped = append(dropped, droppedMessageNames) // the Messages API has no participant names
	}
	if len(dropped) > 0 {
		if dropped, err = dropOrReject(body, SchemaAnthropic, dropped...); err != nil {
			return Request{}, err
		}
	}

	var buf bytes.Buffer
	buf.Grow(len(body) + 512) // about the client's size: no regrowth copies
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // prompts keep their <, > and & as sent
	if err := enc.Encode(&req); err != nil {
		return Request{}, BadRequest("invalid_request", "cannot encode the Anthropic request: "+err.Error())
	}
	out := Request{
		Path:    t.PathPrefix + "/v1/messages",
		Headers: []Header{{"content-type", "application/json"}},
		Body:    bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}),
		Stream:  req.Stream,
		Dropped: dropped,
	}
	out.IncludeUsage = out.Stream && root.Get("stream_options.include_usage").Type == gjson.True
	out.Headers = append(out.Headers, Header{"anthropic-version", anthropicVersion})
	return out, nil
}

// anthropicDroppedParams are OpenAI and OpenRouter parameters the Messages
// API has no counterpart for. A request that sets one is still served, and
// the client learns which were left out (Request.Dropped), unless it sets
// provider.require_parameters.
var anthropicDroppedParams = []string{
	"frequency_penalty", "presence_penalty", "seed", "logit_bias", "top_logprobs",
	"repetition_penalty", "min_p", "top_a", "service_tier", "prediction", "verbosity",
	"store", "metadata",
}

// anthropicDropped appends the anthropicDroppedParams the request sets, in
// that list's order, reading the top-level keys once.
func anthropicDropped(root gjson.Result, dropped []string) []string {
	var set uint32
	root.ForEach(func(k, v gjson.Result) bool {
		if v.Type != gjson.Null {
			if i := slices.Index(anthropicDroppedParams, k.Str); i >= 0 {
				set |= 1 << i
			}
		}
		return true
	})
	for i, p := range anthropicDroppedParams {
		if set&(1<<i) != 0 {
			dropped = append(dropped, p)
		}
	}
	return dropped
}

// anthropicUnsupported rejects OpenAI parameters whose meaning Anthropic
// cannot honour; silently dropping them would return something else than
// what the client asked for.
func anthropicUnsupported(root getter) error {
	if n := root.Get("n"); n.Exists() && n.Type != gjson.Null && n.Num != 1 {
		return BadRequest("unsupported_parameter", "'n' other than 1 is not supported by Anthropic models: they return one choice")
	}
	if root.Get("logprobs").Type == gjson.True {
		return BadRequest("unsupported_parameter", "'logprobs' is not supported by Anthropic models")
	}
	if a := root.Get("audio"); a.Exists() && a.Type != gjson.Null {
		return BadRequest("unsupported_parameter", "'audio' output is not supported by Anthropic models")
	}
	return nil
}

// anthropicJSONInstruction is appended to the system prompt for
// response_format json_object while thinking: Anthropic allows no forced
// tool then, so JSON mode is asked for in words.
const anthropicJSONInstruction = "Respond with a single valid JSON object and nothing else: no text before or after it and no Markdown code fences."

// anthropicResponseFormat maps response_format: json_schema to Anthropic's
// JSON outputs (output_config.format, generally available without a beta
// header on Claude Sonnet 4.5, Opus 4.5, Haiku 4.5 and later; older models
// answer 400). json_object reports jsonObject, for anthropicJSONObject to
// force the JSON tool; with thinking, which rules out forcing a tool, it
// becomes a system instruction instead.
//
// JSON outputs cannot serve json_object: their schemas must set
// additionalProperties: false on every object, so the only object schema
// without properties admits nothing but {}.
func anthropicResponseFormat(rf gjson.Result, system []anthropicBlock, thinking bool) (_ []anthropicBlock, _ *anthropicOutput, jsonObject bool, _ error) {
	if !rf.Exists() || rf.Type == gjson.Null {
		return system, nil, false, nil
	}
	switch typ := rf.Get("type"); typ.String() {
	case "text":
		return system, nil, false, nil
	case "json_object":
		if thinking {
			return append(system[:len(system):len(system)], anthropicBlock{Type: "text", Text: anthropicJSONInstruction}), nil, false, nil
		}
		return system, nil, true, nil
	case "json_schema":
		schema := rf.Get("json_schema.schema")
		if !schema.IsObject() {
			return nil, nil, false, BadRequest("invalid_value", "'response_format.json_schema.schema' must be a JSON Schema object")
		}
		return system, &anthropicOutput{Format: &anthropicOutputFormat{Type: "json_schema", Schema: json.RawMessage(schema.Raw)}}, false, nil
	default:
		return nil, nil, false, BadRequest("unsupported_parameter", "'response_format' of type "+strconv.Quote(typ.String())+" is not supported by Anthropic models (text, json_object and json_schema are)")
	}
}

// anthropicJSONObject enforces response_format json_object with a tool
// whose input is any JSON object: the model is made to call it, and the
// response translators return its input as the message content. With the
// client's own tools the choice becomes any, so the model either answers
// through the JSON tool or calls one of them; a tool the client forces
// answers alone. Not used while thinking (see anthropicResponseFormat).
func anthropicJSONObject(tools []anthropicTool, choice *anthropicToolChoice) ([]anthropicTool, *anthropicToolChoice) {
	if choice != nil && choice.Type == "tool" {
		return tools, choice
	}
	tools = append(tools[:len(tools):len(tools)], anthropicTool{
		Name:        anthropicJSONTool,
		Description: "Give your answer as a JSON object by calling this tool.",
		InputSchema: json.RawMessage(`{"type":"object"}`),
	})
	c := &anthropicToolChoice{Type: "tool", Name: anthropicJSONTool}
	if len(tools) > 1 && (choice == nil || choice.Type != "none") {
		c = &anthropicToolChoice{Type: "any"}
	}
	if choice != nil {
		c.DisableParallelToolUse = choice.DisableParallelToolUse
	}
	return tools, c
}

// Extended thinking budgets. Anthropic wants 1,024 tokens at least and fewer
// than max_tokens; the effort ratios are OpenRouter's (share of max_tokens,
// at most 32,000), and without a client max_tokens an effort gets a fixed
// budget on top of the usual answer room.
const (
	anthropicMinThinking = 1024
	anthropicMaxEffort   = 32000
)

var anthropicEfforts = map[string]struct {
	ratio  float64
	budget int64 // when the client set no max_tokens
}{
	"minimal": {0.1, 1024},
	"low":     {0.2, 2048},
	"medium":  {0.5, 8192},
	"high":    {0.8, 16384},
	"xhigh":   {0.95, 32000},
}

// anthropicThinkingBudget reads reasoning_effort and OpenRouter's reasoning
// object {effort, max_tokens, enabled, exclude} and returns the thinking
// budget, 0 for no thinking. reasoning wins over reasoning_effort.
func anthropicThinkingBudget(root getter, maxTokens int64, maxSet bool) (int64, error) {
	r := root.Get("reasoning")
	if r.Exists() && r.Type != gjson.Null && !r.IsObject() {
		return 0, BadRequest("invalid_value", "'reasoning' must be an object")
	}
	effort, budget := r.Get("effort"), r.Get("max_tokens")
	if effort.Exists() && effort.Type != gjson.Null && budget.Exists() && budget.Type != gjson.Null {
		return 0, BadRequest("invalid_value", "'reasoning.effort' and 'reasoning.max_tokens' are mutually exclusive")
	}
	if en := r.Get("enabled"); en.Type == gjson.False {
		return 0, nil
	}
	if budget.Exists() && budget.Type != gjson.Null {
		if budget.Type != gjson.Number || budget.Num < 1 || budget.Num != math.Trunc(budget.Num) || budget.Num > math.MaxInt32 {
			return 0, BadRequest("invalid_value", "'reasoning.max_tokens' must be a positive integer")
		}
		return max(int64(budget.Num), anthropicMinThinking), nil
	}
	name := "reasoning.effort"
	if !effort.Exists() || effort.Type == gjson.Null {
		effort, name = root.Get("reasoning_effort"), "reasoning_effort"
	}
	if !effort.Exists() || effort.Type == gjson.Null {
		if r.Get("enabled").Type != gjson.True {
			return 0, nil
		}
		effort = gjson.Result{Type: gjson.String, Str: "medium"}
	}
	if effort.Type == gjson.String && effort.Str == "none" {
		return 0, nil
	}
	e, ok := anthropicEfforts[effort.String()]
	if effort.Type != gjson.String || !ok {
		return 0, BadRequest("invalid_value", "'"+name+"' must be one of none, minimal, low, medium, high, xhigh: got "+effort.Raw)
	}
	if !maxSet {
		return e.budget, nil
	}
	return min(max(int64(float64(maxTokens)*e.ratio), anthropicMinThinking), anthropicMaxEffort), nil
}

// anthropicThinkingMaxTokens is max_tokens with thinking on. Thinking counts
// toward max_tokens and must stay below it, so when the budget does not fit
// under the client's limit the answer keeps the room the client gave it.
func anthropicThinkingMaxTokens(budget, maxTokens int64, maxSet bool) int64 {
	if !maxSet {
		return budget + anthropicDefaultMaxTokens
	}
	if budget >= maxTokens {
		return budget + maxTokens
	}
	return maxTokens
}

// anthropicSampling sets temperature, top_p and top_k and returns those it
// could not honour as given. Anthropic takes temperature in 0..1, so a higher
// one is sent as 1; extended thinking takes no temperature other than 1, no
// top_k and top_p only from 0.95, so those are left out.
func anthropicSampling(root getter, req *anthropicRequest) ([]string, error) {
	var dropped []string
	temp, err := numberParam(root, "temperature", false)
	if err != nil {
		return nil, err
	}
	if req.TopP, err = numberParam(root, "top_p", false); err != nil {
		return nil, err
	}
	if req.TopK, err = numberParam(root, "top_k", true); err != nil {
		return nil, err
	}
	if temp != nil {
		switch v := root.Get("temperature").Num; {
		case v < 0 || v > 2:
			return nil, BadRequest("invalid_value", "'temperature' must be between 0 and 2")
		case req.Thinking != nil:
			if v != 1 {
				dropped = append(dropped, "temperature")
			}
		case v > 1:
			req.Temperature = json.RawMessage("1")
			dropped = append(dropped, "temperature")
		default:
			req.Temperature = temp
		}
	}
	if req.Thinking != nil {
		if req.TopP != nil && root.Get("top_p").Num < 0.95 {
			req.TopP = nil
			dropped = append(dropped, "top_p")
		}
		if req.TopK != nil {
			req.TopK = nil
			dropped = append(dropped, "top_k")
		}
	}
	return dropped, nil
}

// anthropicMaxTokens returns max_tokens and whether the client set it.
func anthropicMaxTokens(root getter) (int64, bool, error) {
	// max_completion_tokens replaced the deprecated max_tokens; it wins.
	for _, k := range []string{"max_completion_tokens", "max_tokens"} {
		r := root.Get(k)
		if !r.Exists() || r.Type == gjson.Null {
			continue
		}
		if r.Type != gjson.Number || r.Num < 1 || r.Num != math.Trunc(r.Num) || r.Num > math.MaxInt32 {
			return 0, false, BadRequest("invalid_value", "'"+k+"' must be a positive integer")
		}
		return int64(r.Num), true, nil
	}
	return anthropicDefaultMaxTokens, false, nil
}

// anthropicTurn is one message being built; same-role neighbours merge into
// one turn because Anthropic requires user and assistant to alternate.
type anthropicTurn struct {
	role   string
	blocks []anthropicBlock
}

// anthropicMessages renders the conversation as the top-level system blocks
// and alternating user/assistant turns.
func anthropicMessages(conv chatConversation) ([]anthropicBlock, []anthropicMessage, error) {
	var system []anthropicBlock
	var turns []anthropicTurn
	add := func(role string, blocks []anthropicBlock) {
		if len(blocks) == 0 {
			return
		}
		if n := len(turns); n > 0 && turns[n-1].role == role {
			turns[n-1].blocks = append(turns[n-1].blocks, blocks...)
			return
		}
		turns = append(turns, anthropicTurn{role: role, blocks: blocks})
	}
	for i := range conv.Messages {
		m := &conv.Messages[i]
		var blocks []anthropicBlock
		var err error
		role := "user" // tool results travel in a user turn
		switch m.Role {
		case roleSystem:
			system = append(system, anthropicCached(m, anthropicTextBlocks(m.Parts))...)
			continue
		case roleUser:
			blocks, err = anthropicUserBlocks(m.Parts)
		case roleAssistant:
			role, blocks = "assistant", anthropicAssistantBlocks(m)
		case roleTool:
			blocks = []anthropicBlock{anthropicToolResult(m)}
		default:
			return nil, nil, m.unsupportedRole()
		}
		if err != nil {
			return nil, nil, err
		}
		add(role, anthropicCached(m, blocks))
	}
	if len(turns) == 0 {
		return nil, nil, errNoTurns()
	}
	out := make([]anthropicMessage, len(turns))
	for i, t := range turns {
		out[i] = anthropicMessage{Role: t.role, Content: compactContent(t.blocks)}
	}
	return system, out, nil
}

// compactContent renders a lone text block as a plain string, the shorter
// form Anthropic accepts for content and system alike.
func compactContent(blocks []anthropicBlock) any {
	if len(blocks) == 1 && blocks[0].Type == "text" && blocks[0].CacheControl == nil {
		return blocks[0].Text
	}
	return blocks
}

// anthropicCached applies a cache_control set on a whole message to its
// last block.
func anthropicCached(m *chatMessage, blocks []anthropicBlock) []anthropicBlock {
	if m.CacheControl != nil && len(blocks) > 0 {
		blocks[len(blocks)-1].CacheControl = m.CacheControl
	}
	return blocks
}

func anthropicTextBlocks(parts []chatPart) []anthropicBlock {
	if len(parts) == 0 {
		return nil
	}
	out := make([]anthropicBlock, len(parts))
	for i, p := range parts {
		out[i] = anthropicBlock{Type: "text", Text: p.Text, CacheControl: p.CacheControl}
	}
	return out
}

func anthropicUserBlocks(parts []chatPart) ([]anthropicBlock, error) {
	out := make([]anthropicBlock, 0, len(parts))
	for _, p := range parts {
		var b anthropicBlock
		switch p.Kind {
		case partText:
			b = anthropicBlock{Type: "text", Text: p.Text}
		case partImage:
			src, err := imageSource(p)
			if err != nil {
				return nil, err
			}
			b = anthropicBlock{Type: "image", Source: src}
		case partFile:
			var err error
			if b, err = documentBlock(p); err != nil {
				return nil, err
			}
		case partAudio:
			return nil, BadRequest("unsupported_parameter", p.path()+`: content part type "input_audio" is not supported by Anthropic models`)
		}
		b.CacheControl = p.CacheControl
		out = append(out, b)
	}
	return out, nil
}

// imageSource maps an OpenAI image_url to an Anthropic image source: data:
// URLs are sent inline, http(s) URLs by reference.
func imageSource(p chatPart) (*anthropicImageSource, error) {
	if p.Data != "" {
		mediaType := p.MediaType
		if !strings.HasPrefix(mediaType, "image/") {
			return nil, BadRequest("invalid_value", p.path()+": data URL media type "+strconv.Quote(mediaType)+" is not an image")
		}
		switch mediaType = strings.ToLower(mediaType); mediaType {
		case "image/jpeg", "image/png", "image/gif", "image/webp":
		case "image/jpg": // a common misspelling Anthropic would reject
			mediaType = "image/jpeg"
		default:
			return nil, BadRequest("unsupported_parameter", p.path()+": image type "+strconv.Quote(mediaType)+" is not supported by Anthropic models (jpeg, png, gif and webp are)")
		}
		return &anthropicImageSource{Type: "base64", MediaType: mediaType, Data: p.Data}, nil
	}
	if l := strings.ToLower(p.URL); strings.HasPrefix(l, "https://") || strings.HasPrefix(l, "http://") {
		return &anthropicImageSource{Type: "url", URL: p.URL}, nil
	}
	return nil, BadRequest("invalid_value", p.path()+": image_url.url must be a data: URL or an http(s) URL")
}

// documentBlock maps an OpenAI file part to an Anthropic document block
// (https://docs.anthropic.com/en/docs/build-with-claude/pdf-support): a
// PDF as a base64 source, plain text as a text source. The filename
// becomes the title.
func documentBlock(p chatPart) (anthropicBlock, error) {
	if p.Data == "" {
		return anthropicBlock{}, fileIDError(p, "Anthropic")
	}
	b := anthropicBlock{Type: "document", Title: p.FileName}
	switch mediaType := strings.ToLower(p.MediaType); mediaType {
	case "application/pdf":
		b.Source = &anthropicImageSource{Type: "base64", MediaType: "application/pdf", Data: p.Data}
	case "text/plain":
		text, err := base64.StdEncoding.DecodeString(p.Data)
		if err != nil {
			return anthropicBlock{}, BadRequest("invalid_value", p.path()+": file_data is not valid base64")
		}
		b.Source = &anthropicImageSource{Type: "text", MediaType: "text/plain", Data: string(text)}
	default:
		return anthropicBlock{}, BadRequest("unsupported_parameter", p.path()+": file type "+strconv.Quote(p.MediaType)+" is not supported by Anthropic models (application/pdf and text/plain are)")
	}
	return b, nil
}

// anthropicAssistantBlocks puts the thinking Claude needs to continue,
// signatures included, before the text and tool calls it led to.
func anthropicAssistantBlocks(m *chatMessage) []anthropicBlock {
	thinking := claudeThinking(m.Reasoning, func(f string) bool { return f == "" || f == anthropicReasoningFormat })
	out := make([]anthropicBlock, 0, len(thinking)+len(m.Parts)+len(m.ToolCalls))
	for _, t := range thinking {
		if t.Redacted != "" {
			out = append(out, anthropicBlock{Type: "redacted_thinking", Data: t.Redacted})
			continue
		}
		text := t.Text
		out = append(out, anthropicBlock{Type: "thinking", Thinking: &text, Signature: t.Signature})
	}
	out = append(out, anthropicTextBlocks(m.Parts)...)
	for _, tc := range m.ToolCalls {
		out = append(out, anthropicBlock{Type: "tool_use", ID: tc.ID, Name: tc.Name, Input: tc.Input})
	}
	return out
}

// anthropicToolResult keeps a string result a string; parts stay blocks,
// with their cache breakpoints.
func anthropicToolResult(m *chatMessage) anthropicBlock {
	b := anthropicBlock{Type: "tool_result", ToolUseID: m.ToolCallID}
	switch {
	case m.Plain && len(m.Parts) == 1:
		b.Content = m.Parts[0].Text
	case len(m.Parts) > 0:
		b.Content = anthropicTextBlocks(m.Parts)
	}
	return b
}

func anthropicTools(tools gjson.Result) ([]anthropicTool, error) {
	fts, err := functionTools(tools)
	if err != nil {
		return nil, err
	}
	var out []anthropicTool
	for _, t := range fts {
		if t.Name == anthropicJSONTool {
			return nil, BadRequest("invalid_value", t.Path+".function.name: the name "+strconv.Quote(anthropicJSONTool)+" is reserved for response_format json_object")
		}
		cc, ok := cacheControl(t.Entry)
		if !ok {
			return nil, cacheControlError(t.Path)
		}
		out = append(out, anthropicTool{Name: t.Name, Description: t.Description, InputSchema: t.schemaOrDefault(), CacheControl: cc})
	}
	return out, nil
}

func anthropicToolChoiceOf(root getter, hasTools bool) (*anthropicToolChoice, error) {
	tc := root.Get("tool_choice")
	var c *anthropicToolChoice
	switch {
	case !tc.Exists() || tc.Type == gjson.Null:
	case tc.Type == gjson.String:
		switch tc.Str {
		case "auto":
			c = &anthropicToolChoice{Type: "auto"}
		case "none":
			c = &anthropicToolChoice{Type: "none"}
		case "required":
			c = &anthropicToolChoice{Type: "any"}
		default:
			return nil, BadRequest("invalid_value", "'tool_choice' must be auto, none, required or a function: got "+strconv.Quote(tc.Str))
		}
	case tc.IsObject() && tc.Get("type").Str == "function":
		name := tc.Get("function.name").String()
		if name == "" {
			return nil, BadRequest("invalid_value", "'tool_choice.function.name' is required")
		}
		c = &anthropicToolChoice{Type: "tool", Name: name}
	default:
		return nil, BadRequest("unsupported_parameter", "'tool_choice' must be auto, none, required or {\"type\":\"function\",...}")
	}
	if !hasTools {
		if c != nil && c.Type != "auto" && c.Type != "none" {
			return nil, BadRequest("invalid_value", "'tool_choice' requires 'tools'")
		}
		return nil, nil // nothing to choose from; auto and none mean the same
	}
	if root.Get("parallel_tool_calls").Type == gjson.False {
		if c == nil {
			c = &anthropicToolChoice{Type: "auto"}
		}
		if c.Type != "none" { // the none choice takes no options
			c.DisableParallelToolUse = true
		}
	}
	return c, nil
}

func (openAIToAnthropic) NewStream(opts StreamOptions) StreamTranslator {
	return &anthropicStream{opts: opts, excludeReasoning: opts.ExcludeReasoning}
}

var _ Translator = openAIToAnthropic{}

// anthropicWebSearchUses bounds the searches of one answer (Anthropic's
// max_uses) when web_search_options asks for a search.
const anthropicWebSearchUses = 5

// anthropicWebSearch is the server tool for web_search_options; its
// approximate user_location carries over ({"type":"approximate",
// "approximate":{"city",...}} becomes {"type":"approximate","city",...}).
func anthropicWebSearch(w gjson.Result) anthropicTool {
	t := anthropicTool{Type: "web_search_20250305", Name: "web_search", MaxUses: anthropicWebSearchUses}
	if a := w.Get("user_location.approximate"); a.IsObject() {
		loc := []byte(`{"type":"approximate"}`)
		for _, k := range []string{"city", "region", "country", "timezone"} {
			if v := a.Get(k); v.Type == gjson.String && v.Str != "" {
				loc = appendJSONMember(loc, k, v.Str)
			}
		}
		t.UserLocation = loc
	}
	return t
}

// appendJSONMember adds "k":"v" to the JSON object obj ends with.
func appendJSONMember(obj []byte, k, v string) []byte {
	obj = append(obj[:len(obj)-1], ',')
	obj = appendJSONString(obj, k)
	obj = append(obj, ':')
	obj = appendJSONString(obj, v)
	return append(obj, '}')
}
