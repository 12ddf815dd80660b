package translators

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// openAIToBedrock translates OpenAI chat completions to the Amazon Bedrock
// Converse and ConverseStream APIs
// (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html).
type openAIToBedrock struct{}

func (openAIToBedrock) Request(body []byte, t Target) (Request, error) {
	if err := checkChatRequest(body); err != nil {
		return Request{}, err
	}
	if t.Model == "" {
		return Request{}, BadRequest("invalid_request", "no Bedrock model id is configured for this model")
	}
	root := gjson.ParseBytes(body)
	fam := bedrockFamilyOf(t.Model)
	b := bedrockBuilder{root: root, fam: fam}
	req, err := b.build()
	if err != nil {
		return Request{}, err
	}
	if len(b.dropped) > 0 && RequireParameters(body) {
		return Request{}, unsupportedParams(SchemaBedrock, b.dropped)
	}

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // prompts keep their <, > and & as sent
	if err := enc.Encode(&req); err != nil {
		return Request{}, BadRequest("invalid_request", "cannot encode the Bedrock request: "+err.Error())
	}
	out := Request{
		Headers: []Header{{"content-type", "application/json"}},
		Body:    bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}),
		Stream:  root.Get("stream").Type == gjson.True,
		Dropped: b.dropped,
	}
	// The client's own Accept (application/json from OpenAI SDKs) would
	// otherwise reach ConverseStream.
	op, accept := "/converse", "application/json"
	if out.Stream {
		op, accept = "/converse-stream", "application/vnd.amazon.eventstream"
		out.IncludeUsage = root.Get("stream_options.include_usage").Type == gjson.True
	}
	out.Headers = append(out.Headers, Header{"accept", accept})
	out.Path = t.PathPrefix + "/model/" + bedrockEscapeModel(t.Model) + op
	return out, nil
}

// bedrockBuilder holds what one request translation gathers on the way.
type bedrockBuilder struct {
	root    gjson.Result
	fam     bedrockFamily
	dropped []string

	system []bedrockBlock
	msgs   []bedrockMessage
	// historyTools names the tools of toolUse blocks in the history, and
	// historyToolBlocks tells whether any toolUse or toolResult is there:
	// Bedrock refuses such a history without a toolConfig.
	historyTools      []string
	historyToolBlocks bool
	// docPaths is where each document came from, for errors; docNames the
	// names given so far (checkDocuments).
	docPaths map[*bedrockDocument]string
	docNames map[string]bool
}

func (b *bedrockBuilder) drop(name string) { b.dropped = append(b.dropped, name) }

func (b *bedrockBuilder) build() (bedrockRequest, error) {
	root := b.root
	conv, err := readChat(root.Get("messages"))
	if err != nil {
		return bedrockRequest{}, err
	}
	b.unsupported(conv.Names)
	if err := b.messages(conv); err != nil {
		return bedrockRequest{}, err
	}
	req := bedrockRequest{Messages: b.msgs, System: b.system}

	ic := bedrockInferenceConfig{}
	maxTokens, err := bedrockMaxTokens(root)
	if err != nil {
		return bedrockRequest{}, err
	}
	ic.MaxTokens = maxTokens
	if ic.StopSequences, err = stopSequences(root.Get("stop")); err != nil {
		return bedrockRequest{}, err
	}
	thinking, err := b.thinking(&ic.MaxTokens)
	if err != nil {
		return bedrockRequest{}, err
	}
	var extra bedrockAdditionalFields
	extra.Thinking = thinking
	if err := b.sampling(&ic, &extra); err != nil {
		return bedrockRequest{}, err
	}

	if req.ToolConfig, err = b.toolConfig(thinking != nil); err != nil {
		return bedrockRequest{}, err
	}
	if ic.MaxTokens != 0 || ic.Temperature != nil || ic.TopP != nil || len(ic.StopSequences) > 0 {
		req.InferenceConfig = &ic
	}
	if extra.TopK != nil || extra.Thinking != nil || extra.InferenceConfig != nil {
		req.AdditionalModelRequestFields = &extra
	}
	return req, nil
}

// sampling sets temperature, top_p and top_k. Anthropic models take
// temperature in 0..1, so a higher one is sent as 1; while thinking they
// take no temperature other than 1, no top_k and top_p only from 0.95, so
// those are left out (and reported), as the anthropic schema does.
func (b *bedrockBuilder) sampling(ic *bedrockInferenceConfig, extra *bedrockAdditionalFields) error {
	root := b.root
	var err error
	if ic.Temperature, err = numberParam(root, "temperature", false); err != nil {
		return err
	}
	if ic.TopP, err = numberParam(root, "top_p", false); err != nil {
		return err
	}
	topK, err := numberParam(root, "top_k", true)
	if err != nil {
		return err
	}
	if ic.Temperature != nil {
		if v := root.Get("temperature").Num; v < 0 || v > 2 {
			return BadRequest("invalid_value", "'temperature' must be between 0 and 2")
		}
	}
	if b.fam == bedrockAnthropic {
		temp := root.Get("temperature").Num
		switch {
		case ic.Temperature == nil:
		case extra.Thinking != nil:
			if temp != 1 {
				ic.Temperature = nil
				b.drop("temperature")
			}
		case temp > 1:
			ic.Temperature = json.RawMessage("1")
			b.drop("temperature")
		}
		if extra.Thinking != nil {
			if ic.TopP != nil && root.Get("top_p").Num < 0.95 {
				ic.TopP = nil
				b.drop("top_p")
			}
			if topK != nil {
				topK = nil
				b.drop("top_k")
			}
		}
	}
	if topK != nil {
		switch b.fam {
		case bedrockAnthropic:
			extra.TopK = topK
		case bedrockNova:
			extra.InferenceConfig = &bedrockNovaInference{TopK: topK}
		default:
			b.drop("top_k")
		}
	}
	return nil
}

// unsupported lists the OpenAI parameters Converse has no field for.
func (b *bedrockBuilder) unsupported(names bool) {
	root := b.root
	set := func(p string) bool { r := root.Get(p); return r.Exists() && r.Type != gjson.Null }
	for _, p := range []string{"seed", "logit_bias", "top_logprobs", "prediction", "audio", "web_search_options"} {
		if set(p) {
			b.drop(p)
		}
	}
	for _, p := range []string{"frequency_penalty", "presence_penalty"} {
		if r := root.Get(p); r.Exists() && r.Type != gjson.Null && r.Num != 0 {
			b.drop(p)
		}
	}
	if root.Get("logprobs").Type == gjson.True {
		b.drop("logprobs")
	}
	if n := root.Get("n"); n.Exists() && n.Type != gjson.Null && n.Num != 1 {
		b.drop("n") // one choice comes back
	}
	if root.Get("parallel_tool_calls").Type == gjson.False {
		b.drop("parallel_tool_calls")
	}
	if names {
		b.drop(droppedMessageNames) // Converse has no participant names
	}
}

func bedrockMaxTokens(root gjson.Result) (int64, error) {
	// max_completion_tokens replaced the deprecated max_tokens; it wins.
	for _, k := range []string{"max_completion_tokens", "max_tokens"} {
		r := root.Get(k)
		if !r.Exists() || r.Type == gjson.Null {
			continue
		}
		if r.Type != gjson.Number || r.Num < 1 || r.Num != math.Trunc(r.Num) || r.Num > math.MaxInt32 {
			return 0, BadRequest("invalid_value", "'"+k+"' must be a positive integer")
		}
		return int64(r.Num), nil
	}
	return 0, nil // Bedrock applies the model's default
}

// thinking maps reasoning_effort and the OpenRouter reasoning object to
// Anthropic's thinking config, and makes room for it in maxTokens.
func (b *bedrockBuilder) thinking(maxTokens *int64) (*bedrockThinking, error) {
	root := b.root
	effortParam, obj := root.Get("reasoning_effort"), root.Get("reasoning")
	if (!effortParam.Exists() || effortParam.Type == gjson.Null) && (!obj.Exists() || obj.Type == gjson.Null) {
		return nil, nil
	}
	if obj.Exists() && obj.Type != gjson.Null && !obj.IsObject() {
		return nil, BadRequest("invalid_value", "'reasoning' must be an object")
	}
	effort, name := "", "reasoning_effort"
	if e := obj.Get("effort"); e.Exists() && e.Type != gjson.Null {
		effort, name = e.String(), "reasoning.effort"
	} else if effortParam.Exists() && effortParam.Type != gjson.Null {
		effort = effortParam.String()
	}
	budget := int64(0)
	if mt := obj.Get("max_tokens"); mt.Exists() && mt.Type != gjson.Null {
		if mt.Type != gjson.Number || mt.Num < 1 || mt.Num != math.Trunc(mt.Num) || mt.Num > math.MaxInt32 {
			return nil, BadRequest("invalid_value", "'reasoning.max_tokens' must be a positive integer")
		}
		budget = int64(mt.Num)
	}
	switch {
	case obj.Get("enabled").Type == gjson.False, effort == "none":
		return nil, nil
	case effort == "":
		effort = "medium" // reasoning: {} or {"enabled": true}
	case bedrockEffortBudgets[effort] == 0:
		return nil, BadRequest("invalid_value", "'"+name+"' must be one of none, minimal, low, medium, high, xhigh: got "+strconv.Quote(effort))
	}
	if b.fam != bedrockAnthropic {
		// Other families take other fields (or always reason); without
		// knowing the model, the setting cannot be honoured.
		if effortParam.Exists() && effortParam.Type != gjson.Null {
			b.drop("reasoning_effort")
		}
		if obj.Exists() && obj.Type != gjson.Null {
			b.drop("reasoning")
		}
		return nil, nil
	}
	switch {
	case budget > 0:
	case *maxTokens > 0:
		budget = int64(float64(*maxTokens) * bedrockEffortShares[effort])
		budget = min(max(budget, bedrockMinThinkingBudget), 32000)
	default:
		budget = bedrockEffortBudgets[effort]
	}
	budget = max(budget, bedrockMinThinkingBudget)
	if *maxTokens == 0 {
		*maxTokens = budget + bedrockAnswerTokens
	}
	if budget >= *maxTokens {
		return nil, BadRequest("invalid_value", "'max_tokens' ("+strconv.FormatInt(*maxTokens, 10)+
			") must be greater than the reasoning budget ("+strconv.FormatInt(budget, 10)+" tokens, at least 1024)")
	}
	return &bedrockThinking{Type: "enabled", BudgetTokens: budget}, nil
}

// add appends blocks to the conversation, merging same-role neighbours:
// Bedrock wants user and assistant turns to alternate.
func (b *bedrockBuilder) add(role string, blocks []bedrockBlock) {
	if len(blocks) == 0 {
		return
	}
	if n := len(b.msgs); n > 0 && b.msgs[n-1].Role == role {
		b.msgs[n-1].Content = append(b.msgs[n-1].Content, blocks...)
		return
	}
	b.msgs = append(b.msgs, bedrockMessage{Role: role, Content: blocks})
}

func (b *bedrockBuilder) messages(conv chatConversation) error {
	for i := range conv.Messages {
		m := &conv.Messages[i]
		var blocks []bedrockBlock
		var err error
		role := "user" // tool results travel in a user turn
		switch m.Role {
		case roleSystem:
			b.system = append(b.system, bedrockTextBlocks(m.Parts)...)
			continue
		case roleUser:
			blocks, err = b.userBlocks(m.Parts)
		case roleAssistant:
			role, blocks = "assistant", b.assistantBlocks(m)
		case roleTool:
			blocks = b.toolResult(m)
		default:
			return m.unsupportedRole()
		}
		if err != nil {
			return err
		}
		b.add(role, blocks)
	}
	if len(b.msgs) == 0 {
		return errNoTurns()
	}
	return b.checkDocuments()
}

// withCache appends a cache point after a part that carries cache_control.
func withCache(blocks []bedrockBlock, p chatPart) []bedrockBlock {
	if p.CacheControl != nil {
		blocks = append(blocks, bedrockBlock{CachePoint: &bedrockCachePoint{Type: "default"}})
	}
	return blocks
}

func bedrockTextBlocks(parts []chatPart) []bedrockBlock {
	var out []bedrockBlock
	for _, p := range parts {
		out = withCache(append(out, bedrockBlock{Text: p.Text}), p)
	}
	return out
}

func (b *bedrockBuilder) userBlocks(parts []chatPart) ([]bedrockBlock, error) {
	var out []bedrockBlock
	for _, p := range parts {
		var bl bedrockBlock
		switch p.Kind {
		case partText:
			bl = bedrockBlock{Text: p.Text}
		case partImage:
			img, err := bedrockImageOf(p)
			if err != nil {
				return nil, err
			}
			bl = bedrockBlock{Image: img}
		case partFile:
			d, err := bedrockDocumentOf(p)
			if err != nil {
				return nil, err
			}
			if b.docPaths == nil {
				b.docPaths = map[*bedrockDocument]string{}
			}
			b.docPaths[d] = p.path()
			bl = bedrockBlock{Document: d}
		case partAudio:
			return nil, BadRequest("unsupported_parameter", p.path()+`: content part type "input_audio" is not supported by the Bedrock translation`)
		}
		out = withCache(append(out, bl), p)
	}
	return out, nil
}

// bedrockImageOf maps an OpenAI image_url to a Converse image block. Only
// inline data: URLs work: Converse cannot fetch http(s) URLs.
func bedrockImageOf(p chatPart) (*bedrockImage, error) {
	if p.Data == "" {
		if l := strings.ToLower(p.URL); strings.HasPrefix(l, "https://") || strings.HasPrefix(l, "http://") {
			return nil, BadRequest("unsupported_parameter", p.path()+": image URLs are not supported by Bedrock; send the image inline as a base64 data: URL")
		}
		return nil, BadRequest("invalid_value", p.path()+": image_url.url must be a base64 data: URL")
	}
	format, ok := bedrockImageFormat(p.MediaType)
	if !ok {
		return nil, BadRequest("invalid_value", p.path()+": image media type "+strconv.Quote(p.MediaType)+" is not supported by Bedrock (png, jpeg, gif, webp)")
	}
	return &bedrockImage{Format: format, Source: bedrockImageSource{Bytes: p.Data}}, nil
}

func (b *bedrockBuilder) assistantBlocks(m *chatMessage) []bedrockBlock {
	// Reasoning comes first: Anthropic models want their thinking ahead of
	// the text and tool calls it led to.
	var out []bedrockBlock
	for _, t := range claudeThinking(m.Reasoning, bedrockReasoningFormat) {
		r := &bedrockReasoning{RedactedContent: t.Redacted}
		if t.Redacted == "" {
			r.ReasoningText = &bedrockReasoningText{Text: t.Text, Signature: t.Signature}
		}
		out = append(out, bedrockBlock{ReasoningContent: r})
	}
	out = append(out, bedrockTextBlocks(m.Parts)...)
	for _, tc := range m.ToolCalls {
		out = append(out, bedrockBlock{ToolUse: &bedrockToolUse{ToolUseID: tc.ID, Name: tc.Name, Input: tc.Input}})
		b.historyToolBlocks = true
		b.historyTools = append(b.historyTools, tc.Name)
	}
	return out
}

// bedrockReasoningFormat accepts the reasoning_details Claude on Bedrock
// can verify: Claude's own, and those of clients that name no format or
// an unknown one.
func bedrockReasoningFormat(f string) bool {
	return f == "" || f == anthropicReasoningFormat || f == "unknown"
}

func (b *bedrockBuilder) toolResult(m *chatMessage) []bedrockBlock {
	// Cache points belong after the result block, not inside it.
	inner := make([]bedrockBlock, 0, len(m.Parts))
	cached := false
	for _, p := range m.Parts {
		inner = append(inner, bedrockBlock{Text: p.Text})
		cached = cached || p.CacheControl != nil
	}
	b.historyToolBlocks = true
	out := []bedrockBlock{{ToolResult: &bedrockToolResult{ToolUseID: m.ToolCallID, Content: inner}}}
	if cached {
		out = append(out, bedrockBlock{CachePoint: &bedrockCachePoint{Type: "default"}})
	}
	return out
}

// bedrockChoice is a parsed tool_choice.
type bedrockChoice struct {
	kind string // "", auto, none, required or tool
	name string
}

func bedrockToolChoiceOf(root gjson.Result) (bedrockChoice, error) {
	tc := root.Get("tool_choice")
	switch {
	case !tc.Exists() || tc.Type == gjson.Null:
		return bedrockChoice{}, nil
	case tc.Type == gjson.String:
		switch tc.Str {
		case "auto", "none", "required":
			return bedrockChoice{kind: tc.Str}, nil
		}
		return bedrockChoice{}, BadRequest("invalid_value", "'tool_choice' must be auto, none, required or a function: got "+strconv.Quote(tc.Str))
	case tc.IsObject() && tc.Get("type").Str == "function":
		name := tc.Get("function.name").String()
		if name == "" {
			return bedrockChoice{}, BadRequest("invalid_value", "'tool_choice.function.name' is required")
		}
		return bedrockChoice{kind: "tool", name: name}, nil
	}
	return bedrockChoice{}, BadRequest("unsupported_parameter", "'tool_choice' must be auto, none, required or {\"type\":\"function\",...}")
}

func bedrockTools(tools gjson.Result) ([]bedrockTool, error) {
	fts, err := functionTools(tools)
	if err != nil {
		return nil, err
	}
	var out []bedrockTool
	for _, t := range fts {
		if strings.HasPrefix(t.Name, bedrockStructuredPrefix) {
			return nil, BadRequest("invalid_value", t.Path+".function.name: the prefix "+strconv.Quote(bedrockStructuredPrefix)+" is reserved for structured output")
		}
		out = append(out, bedrockTool{ToolSpec: bedrockToolSpec{Name: t.Name, Description: t.Description, InputSchema: bedrockInputSchema{JSON: t.schemaOrDefault()}}})
	}
	return out, nil
}

// structuredTool maps response_format to the tool that carries the answer:
// Converse has no JSON mode, so the model is made to call a tool whose
// input schema is the wanted output, and the input becomes the content.
func (b *bedrockBuilder) structuredTool() (*bedrockTool, error) {
	rf := b.root.Get("response_format")
	if !rf.Exists() || rf.Type == gjson.Null {
		return nil, nil
	}
	switch typ := rf.Get("type").String(); typ {
	case "text":
		return nil, nil
	case "json_object":
		return &bedrockTool{ToolSpec: bedrockToolSpec{
			Name:        bedrockStructuredPrefix + "json",
			Description: "Give your answer as a JSON object by calling this tool.",
			InputSchema: bedrockInputSchema{JSON: json.RawMessage(`{"type":"object"}`)},
		}}, nil
	case "json_schema":
		js := rf.Get("json_schema")
		name := bedrockToolName(js.Get("name").String())
		schema := json.RawMessage(`{"type":"object"}`)
		if s := js.Get("schema"); s.Exists() && s.Type != gjson.Null {
			if !s.IsObject() {
				return nil, BadRequest("invalid_value", "'response_format.json_schema.schema' must be a JSON Schema object")
			}
			schema = json.RawMessage(s.Raw)
		}
		desc := js.Get("description").String()
		if desc == "" {
			desc = "Give your answer by calling this tool with input that matches its schema."
		}
		return &bedrockTool{ToolSpec: bedrockToolSpec{Name: name, Description: desc, InputSchema: bedrockInputSchema{JSON: schema}}}, nil
	default:
		return nil, BadRequest("invalid_value", "'response_format.type' must be text, json_object or json_schema: got "+strconv.Quote(typ))
	}
}

// bedrockToolName names the structured output tool after the schema,
// within Converse's tool name rules ([a-zA-Z0-9_-], 64 characters).
func bedrockToolName(schema string) string {
	var b strings.Builder
	b.WriteString(bedrockStructuredPrefix)
	for i := 0; i < len(schema) && b.Len() < 64; i++ {
		c := schema[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' {
			b.WriteByte(c)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == len(bedrockStructuredPrefix) {
		b.WriteString("response")
	}
	return b.String()
}

// toolConfig builds the tools and the tool choice. Anthropic models take
// only auto while thinking, so a forced structured output tool is offered
// with auto then.
func (b *bedrockBuilder) toolConfig(thinking bool) (*bedrockToolConfig, error) {
	userTools, err := bedrockTools(b.root.Get("tools"))
	if err != nil {
		return nil, err
	}
	choice, err := bedrockToolChoiceOf(b.root)
	if err != nil {
		return nil, err
	}
	if len(userTools) == 0 && (choice.kind == "required" || choice.kind == "tool") {
		return nil, BadRequest("invalid_value", "'tool_choice' requires 'tools'")
	}
	structured, err := b.structuredTool()
	if err != nil {
		return nil, err
	}
	var tools []bedrockTool
	if choice.kind != "none" {
		tools = userTools
	}
	var tc *bedrockToolChoice
	switch {
	case structured != nil:
		tools = append(tools, *structured)
		switch {
		case thinking:
			tc = &bedrockToolChoice{Auto: &struct{}{}}
		case choice.kind == "tool":
			tc = &bedrockToolChoice{Tool: &bedrockNamedTool{Name: choice.name}}
		case len(tools) == 1:
			tc = &bedrockToolChoice{Tool: &bedrockNamedTool{Name: structured.ToolSpec.Name}}
		default: // answer through the schema tool or call one of the client's
			tc = &bedrockToolChoice{Any: &struct{}{}}
		}
	case len(tools) > 0:
		switch choice.kind {
		case "auto":
			tc = &bedrockToolChoice{Auto: &struct{}{}}
		case "required":
			tc = &bedrockToolChoice{Any: &struct{}{}}
		case "tool":
			tc = &bedrockToolChoice{Tool: &bedrockNamedTool{Name: choice.name}}
		}
	}
	if len(tools) == 0 && b.historyToolBlocks {
		// Bedrock refuses toolUse and toolResult blocks without a
		// toolConfig: declare the client's tools (tool_choice none cannot
		// be honoured then) or, lacking those, the tools the history names.
		if len(userTools) > 0 {
			tools = userTools
			b.drop("tool_choice")
		} else {
			seen := map[string]bool{}
			for _, n := range b.historyTools {
				if !seen[n] {
					seen[n] = true
					tools = append(tools, bedrockTool{ToolSpec: bedrockToolSpec{Name: n,
						Description: "A tool used earlier in this conversation.",
						InputSchema: bedrockInputSchema{JSON: json.RawMessage(`{"type":"object"}`)}}})
				}
			}
			if len(tools) == 0 { // tool results whose calls are not in the history
				tools = append(tools, bedrockTool{ToolSpec: bedrockToolSpec{Name: "tool",
					Description: "A tool used earlier in this conversation.",
					InputSchema: bedrockInputSchema{JSON: json.RawMessage(`{"type":"object"}`)}}})
			}
		}
	}
	if len(tools) == 0 {
		return nil, nil
	}
	return &bedrockToolConfig{Tools: tools, ToolChoice: tc}, nil
}

func (openAIToBedrock) NewStream(opts StreamOptions) StreamTranslator {
	s := &bedrockStream{opts: opts}
	s.hdr.Model = opts.Model
	return s
}

var _ Translator = openAIToBedrock{}
