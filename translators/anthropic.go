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
	root := gjson.ParseBytes(body)
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
	var system []anthropicBlock
	if system, req.Messages, err = anthropicMessages(root.Get("messages")); err != nil {
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
	dropped = anthropicDropped(root, dropped)
	if hasMessageNames(root.Get("messages")) {
		dropped = append(dropped, droppedMessageNames) // the Messages API has no participant names
	}
	if len(dropped) > 0 {
		if dropped, err = dropOrReject(body, SchemaAnthropic, dropped...); err != nil {
			return Request{}, err
		}
	}

	var buf bytes.Buffer
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
	"web_search_options", "store", "metadata",
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
func anthropicUnsupported(root gjson.Result) error {
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
func anthropicThinkingBudget(root gjson.Result, maxTokens int64, maxSet bool) (int64, error) {
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
func anthropicSampling(root gjson.Result, req *anthropicRequest) ([]string, error) {
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
func anthropicMaxTokens(root gjson.Result) (int64, bool, error) {
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

// anthropicMessages splits OpenAI messages into the top-level system blocks
// and alternating user/assistant turns.
func anthropicMessages(msgs gjson.Result) ([]anthropicBlock, []anthropicMessage, error) {
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
	for i, m := range msgs.Array() {
		path := "messages[" + strconv.Itoa(i) + "]"
		if !m.IsObject() {
			return nil, nil, BadRequest("invalid_messages", path+" must be an object")
		}
		var blocks []anthropicBlock
		var err error
		role := m.Get("role").String()
		switch role {
		case "system", "developer":
			if blocks, err = textBlocks(m.Get("content"), path); err != nil {
				return nil, nil, err
			}
			if blocks, err = anthropicMessageCacheControl(m, blocks, path); err != nil {
				return nil, nil, err
			}
			system = append(system, blocks...)
			continue
		case "user":
			blocks, err = userBlocks(m.Get("content"), path)
		case "assistant":
			blocks, err = assistantBlocks(m, path)
		case "tool":
			blocks, err = toolResultBlocks(m, path)
			role = "user" // tool results travel in a user turn
		default:
			return nil, nil, BadRequest("invalid_messages", path+".role: unsupported role "+strconv.Quote(role))
		}
		if err != nil {
			return nil, nil, err
		}
		if blocks, err = anthropicMessageCacheControl(m, blocks, path); err != nil {
			return nil, nil, err
		}
		add(role, blocks)
	}
	if len(turns) == 0 {
		return nil, nil, BadRequest("invalid_messages", "at least one user or assistant message with content is required")
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

// anthropicCacheControl reads the cache_control of a content part, message or tool:
// an object passed through as sent ({"type":"ephemeral","ttl":"1h"}).
func anthropicCacheControl(r gjson.Result, path string) (json.RawMessage, error) {
	c := r.Get("cache_control")
	if !c.Exists() || c.Type == gjson.Null {
		return nil, nil
	}
	if !c.IsObject() {
		return nil, BadRequest("invalid_value", path+".cache_control must be an object such as {\"type\":\"ephemeral\"}")
	}
	return json.RawMessage(c.Raw), nil
}

// anthropicMessageCacheControl applies a cache_control set on a whole message (the
// way clients mark a string content) to its last block.
func anthropicMessageCacheControl(m gjson.Result, blocks []anthropicBlock, path string) ([]anthropicBlock, error) {
	cc, err := anthropicCacheControl(m, path)
	if err != nil || cc == nil || len(blocks) == 0 {
		return blocks, err
	}
	blocks[len(blocks)-1].CacheControl = cc
	return blocks, nil
}

// textBlocks reads content that may only hold text: a string or text parts.
func textBlocks(c gjson.Result, path string) ([]anthropicBlock, error) {
	switch {
	case !c.Exists() || c.Type == gjson.Null:
		return nil, nil
	case c.Type == gjson.String:
		if c.Str == "" {
			return nil, nil
		}
		return []anthropicBlock{{Type: "text", Text: c.Str}}, nil
	case c.IsArray():
		var out []anthropicBlock
		for j, p := range c.Array() {
			pp := path + ".content[" + strconv.Itoa(j) + "]"
			var text gjson.Result
			switch typ := p.Get("type").String(); typ {
			case "text":
				text = p.Get("text")
			case "refusal": // an assistant's earlier refusal, replayed as text
				text = p.Get("refusal")
			default:
				return nil, BadRequest("invalid_messages", pp+": content part type "+strconv.Quote(typ)+" is not allowed here, only text")
			}
			if text.Type != gjson.String {
				return nil, BadRequest("invalid_messages", pp+": text part needs a string 'text'")
			}
			cc, err := anthropicCacheControl(p, pp)
			if err != nil {
				return nil, err
			}
			if text.Str != "" { // Anthropic rejects empty text blocks
				out = append(out, anthropicBlock{Type: "text", Text: text.Str, CacheControl: cc})
			}
		}
		return out, nil
	default:
		return nil, BadRequest("invalid_messages", path+".content must be a string or an array of content parts")
	}
}

func userBlocks(c gjson.Result, path string) ([]anthropicBlock, error) {
	if !c.IsArray() {
		return textBlocks(c, path)
	}
	var out []anthropicBlock
	for j, p := range c.Array() {
		pp := path + ".content[" + strconv.Itoa(j) + "]"
		cc, err := anthropicCacheControl(p, pp)
		if err != nil {
			return nil, err
		}
		switch typ := p.Get("type").String(); typ {
		case "text":
			t := p.Get("text")
			if t.Type != gjson.String {
				return nil, BadRequest("invalid_messages", pp+": text part needs a string 'text'")
			}
			if t.Str != "" {
				out = append(out, anthropicBlock{Type: "text", Text: t.Str, CacheControl: cc})
			}
		case "image_url":
			src, err := imageSource(p.Get("image_url.url").String(), pp)
			if err != nil {
				return nil, err
			}
			out = append(out, anthropicBlock{Type: "image", Source: src, CacheControl: cc})
		case "file":
			b, err := documentBlock(p.Get("file"), pp)
			if err != nil {
				return nil, err
			}
			b.CacheControl = cc
			out = append(out, b)
		case "input_audio":
			return nil, BadRequest("unsupported_parameter", pp+": content part type "+strconv.Quote(typ)+" is not supported by Anthropic models")
		default:
			return nil, BadRequest("invalid_messages", pp+": unknown content part type "+strconv.Quote(typ))
		}
	}
	return out, nil
}

// imageSource maps an OpenAI image_url to an Anthropic image source: data:
// URLs are sent inline, http(s) URLs by reference.
func imageSource(url, path string) (*anthropicImageSource, error) {
	if rest, ok := strings.CutPrefix(url, "data:"); ok {
		meta, data, ok := strings.Cut(rest, ",")
		if !ok || !strings.HasSuffix(meta, ";base64") || data == "" {
			return nil, BadRequest("invalid_value", path+": image data URL must be base64 (data:image/...;base64,...)")
		}
		mediaType, _, _ := strings.Cut(meta, ";")
		if !strings.HasPrefix(mediaType, "image/") {
			return nil, BadRequest("invalid_value", path+": data URL media type "+strconv.Quote(mediaType)+" is not an image")
		}
		switch mediaType = strings.ToLower(mediaType); mediaType {
		case "image/jpeg", "image/png", "image/gif", "image/webp":
		case "image/jpg": // a common misspelling Anthropic would reject
			mediaType = "image/jpeg"
		default:
			return nil, BadRequest("unsupported_parameter", path+": image type "+strconv.Quote(mediaType)+" is not supported by Anthropic models (jpeg, png, gif and webp are)")
		}
		return &anthropicImageSource{Type: "base64", MediaType: mediaType, Data: data}, nil
	}
	if l := strings.ToLower(url); strings.HasPrefix(l, "https://") || strings.HasPrefix(l, "http://") {
		return &anthropicImageSource{Type: "url", URL: url}, nil
	}
	return nil, BadRequest("invalid_value", path+": image_url.url must be a data: URL or an http(s) URL")
}

// documentBlock maps an OpenAI file part to an Anthropic document block
// (https://docs.anthropic.com/en/docs/build-with-claude/pdf-support): a
// PDF data URL as a base64 source, plain text as a text source. The
// filename becomes the title.
func documentBlock(f gjson.Result, path string) (anthropicBlock, error) {
	fd := f.Get("file_data").String()
	if fd == "" {
		return anthropicBlock{}, BadRequest("unsupported_parameter", path+": a file part needs 'file_data' (a data: URL); 'file_id' refers to OpenAI's file store, which Anthropic cannot read")
	}
	meta, data, ok := strings.Cut(strings.TrimPrefix(fd, "data:"), ",")
	if !strings.HasPrefix(fd, "data:") || !ok || !strings.HasSuffix(meta, ";base64") || data == "" {
		return anthropicBlock{}, BadRequest("invalid_value", path+": file_data must be a base64 data URL (data:application/pdf;base64,...)")
	}
	b := anthropicBlock{Type: "document", Title: f.Get("filename").String()}
	switch mediaType, _, _ := strings.Cut(meta, ";"); strings.ToLower(mediaType) {
	case "application/pdf":
		b.Source = &anthropicImageSource{Type: "base64", MediaType: "application/pdf", Data: data}
	case "text/plain":
		text, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			return anthropicBlock{}, BadRequest("invalid_value", path+": file_data is not valid base64")
		}
		b.Source = &anthropicImageSource{Type: "text", MediaType: "text/plain", Data: string(text)}
	default:
		return anthropicBlock{}, BadRequest("unsupported_parameter", path+": file type "+strconv.Quote(mediaType)+" is not supported by Anthropic models (application/pdf and text/plain are)")
	}
	return b, nil
}

func assistantBlocks(m gjson.Result, path string) ([]anthropicBlock, error) {
	calls, err := assistantToolCalls(m, path)
	if err != nil {
		return nil, err
	}
	out, err := anthropicThinkingBlocks(m.Get("reasoning_details"), path)
	if err != nil {
		return nil, err
	}
	text, err := textBlocks(m.Get("content"), path)
	if err != nil {
		return nil, err
	}
	out = append(out, text...)
	for _, tc := range calls {
		out = append(out, anthropicBlock{Type: "tool_use", ID: tc.ID, Name: tc.Name, Input: tc.Input})
	}
	return out, nil
}

// anthropicThinkingBlocks turns the reasoning_details of an earlier assistant answer
// back into the thinking and redacted_thinking blocks Claude needs to
// continue, signatures included, placed before the text and tool calls.
// Details Claude cannot verify (no signature, or another provider's format)
// are left out, as are summaries. A streamed answer echoed back piece by
// piece, consecutive entries of one index, is joined into one block.
func anthropicThinkingBlocks(details gjson.Result, path string) ([]anthropicBlock, error) {
	if !details.Exists() || details.Type == gjson.Null {
		return nil, nil
	}
	if !details.IsArray() {
		return nil, BadRequest("invalid_messages", path+".reasoning_details must be an array")
	}
	var out []anthropicBlock
	var text strings.Builder
	lastIndex, open := "", false // open: out's last block is a thinking block still taking pieces
	flush := func() {
		if open {
			t := text.String()
			out[len(out)-1].Thinking = &t
			text.Reset()
			open = false
		}
	}
	for j, d := range details.Array() {
		if f := d.Get("format"); f.Exists() && f.Type != gjson.Null && f.String() != anthropicReasoningFormat {
			continue
		}
		idx := d.Get("index").Raw
		switch d.Get("type").String() {
		case "reasoning.text":
			if open && idx != "" && idx == lastIndex {
				text.WriteString(d.Get("text").String())
				if sig := d.Get("signature").String(); sig != "" {
					out[len(out)-1].Signature = sig
				}
				continue
			}
			flush()
			out = append(out, anthropicBlock{Type: "thinking", Signature: d.Get("signature").String()})
			text.WriteString(d.Get("text").String())
			open, lastIndex = true, idx
		case "reasoning.encrypted":
			flush()
			data := d.Get("data")
			if data.Type != gjson.String || data.Str == "" {
				return nil, BadRequest("invalid_messages", path+".reasoning_details["+strconv.Itoa(j)+"]: reasoning.encrypted needs a string 'data'")
			}
			out = append(out, anthropicBlock{Type: "redacted_thinking", Data: data.Str})
		}
	}
	flush()
	kept := out[:0]
	for _, b := range out {
		if b.Type == "redacted_thinking" || b.Signature != "" {
			kept = append(kept, b)
		}
	}
	return kept, nil
}

func toolResultBlocks(m gjson.Result, path string) ([]anthropicBlock, error) {
	id := m.Get("tool_call_id").String()
	if id == "" {
		return nil, BadRequest("invalid_messages", path+": tool message needs a 'tool_call_id'")
	}
	b := anthropicBlock{Type: "tool_result", ToolUseID: id}
	c := m.Get("content")
	if c.Type == gjson.String {
		if c.Str != "" {
			b.Content = c.Str
		}
	} else {
		texts, err := textBlocks(c, path)
		if err != nil {
			return nil, err
		}
		if len(texts) > 0 {
			b.Content = texts
		}
	}
	return []anthropicBlock{b}, nil
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
		cc, err := anthropicCacheControl(t.Entry, t.Path)
		if err != nil {
			return nil, err
		}
		out = append(out, anthropicTool{Name: t.Name, Description: t.Description, InputSchema: t.schemaOrDefault(), CacheControl: cc})
	}
	return out, nil
}

func anthropicToolChoiceOf(root gjson.Result, hasTools bool) (*anthropicToolChoice, error) {
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
