package translators

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

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
	req := anthropicRequest{Model: t.Model, MaxTokens: anthropicDefaultMaxTokens}
	var err error
	if req.MaxTokens, err = anthropicMaxTokens(root); err != nil {
		return Request{}, err
	}
	if req.System, req.Messages, err = anthropicMessages(root.Get("messages")); err != nil {
		return Request{}, err
	}
	if req.Tools, err = anthropicTools(root.Get("tools")); err != nil {
		return Request{}, err
	}
	if req.ToolChoice, err = anthropicToolChoiceOf(root, len(req.Tools) > 0); err != nil {
		return Request{}, err
	}
	if req.Temperature, err = numberParam(root, "temperature", false); err != nil {
		return Request{}, err
	}
	if req.TopP, err = numberParam(root, "top_p", false); err != nil {
		return Request{}, err
	}
	if req.TopK, err = numberParam(root, "top_k", true); err != nil {
		return Request{}, err
	}
	if req.StopSequences, err = stopSequences(root.Get("stop")); err != nil {
		return Request{}, err
	}
	if u := root.Get("user"); u.Type == gjson.String && u.Str != "" {
		req.Metadata = &anthropicMetadata{UserID: u.Str}
	}
	req.Stream = root.Get("stream").Type == gjson.True

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
	}
	out.IncludeUsage = out.Stream && root.Get("stream_options.include_usage").Type == gjson.True
	if t.APIKey != "" {
		out.Headers = append(out.Headers, Header{"x-api-key", t.APIKey})
	}
	out.Headers = append(out.Headers, Header{"anthropic-version", anthropicVersion})
	return out, nil
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
	if t := root.Get("response_format.type"); t.Exists() && t.Str != "text" {
		return BadRequest("unsupported_parameter", "'response_format' of type "+strconv.Quote(t.String())+" is not supported by Anthropic models")
	}
	if a := root.Get("audio"); a.Exists() && a.Type != gjson.Null {
		return BadRequest("unsupported_parameter", "'audio' output is not supported by Anthropic models")
	}
	return nil
}

func anthropicMaxTokens(root gjson.Result) (int64, error) {
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
	return anthropicDefaultMaxTokens, nil
}

func numberParam(root gjson.Result, name string, integer bool) (json.RawMessage, error) {
	r := root.Get(name)
	if !r.Exists() || r.Type == gjson.Null {
		return nil, nil
	}
	if r.Type != gjson.Number || (integer && r.Num != math.Trunc(r.Num)) {
		kind := "a number"
		if integer {
			kind = "an integer"
		}
		return nil, BadRequest("invalid_value", "'"+name+"' must be "+kind)
	}
	return json.RawMessage(r.Raw), nil
}

func stopSequences(r gjson.Result) ([]string, error) {
	switch {
	case !r.Exists() || r.Type == gjson.Null:
		return nil, nil
	case r.Type == gjson.String:
		if r.Str == "" {
			return nil, nil
		}
		return []string{r.Str}, nil
	case r.IsArray():
		var out []string
		for _, s := range r.Array() {
			if s.Type != gjson.String {
				return nil, BadRequest("invalid_value", "'stop' must be a string or an array of strings")
			}
			if s.Str != "" {
				out = append(out, s.Str)
			}
		}
		return out, nil
	default:
		return nil, BadRequest("invalid_value", "'stop' must be a string or an array of strings")
	}
}

// anthropicTurn is one message being built; same-role neighbours merge into
// one turn because Anthropic requires user and assistant to alternate.
type anthropicTurn struct {
	role   string
	blocks []anthropicBlock
}

// anthropicMessages splits OpenAI messages into the top-level system prompt
// and alternating user/assistant turns.
func anthropicMessages(msgs gjson.Result) (any, []anthropicMessage, error) {
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
		add(role, blocks)
	}
	if len(turns) == 0 {
		return nil, nil, BadRequest("invalid_messages", "at least one user or assistant message with content is required")
	}
	out := make([]anthropicMessage, len(turns))
	for i, t := range turns {
		out[i] = anthropicMessage{Role: t.role, Content: compactContent(t.blocks)}
	}
	var sys any
	if len(system) > 0 {
		sys = compactContent(system)
	}
	return sys, out, nil
}

// compactContent renders a lone text block as a plain string, the shorter
// form Anthropic accepts for content and system alike.
func compactContent(blocks []anthropicBlock) any {
	if len(blocks) == 1 && blocks[0].Type == "text" {
		return blocks[0].Text
	}
	return blocks
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
			if text.Str != "" { // Anthropic rejects empty text blocks
				out = append(out, anthropicBlock{Type: "text", Text: text.Str})
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
		switch typ := p.Get("type").String(); typ {
		case "text":
			t := p.Get("text")
			if t.Type != gjson.String {
				return nil, BadRequest("invalid_messages", pp+": text part needs a string 'text'")
			}
			if t.Str != "" {
				out = append(out, anthropicBlock{Type: "text", Text: t.Str})
			}
		case "image_url":
			src, err := imageSource(p.Get("image_url.url").String(), pp)
			if err != nil {
				return nil, err
			}
			out = append(out, anthropicBlock{Type: "image", Source: src})
		case "input_audio", "file":
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
		return &anthropicImageSource{Type: "base64", MediaType: mediaType, Data: data}, nil
	}
	if l := strings.ToLower(url); strings.HasPrefix(l, "https://") || strings.HasPrefix(l, "http://") {
		return &anthropicImageSource{Type: "url", URL: url}, nil
	}
	return nil, BadRequest("invalid_value", path+": image_url.url must be a data: URL or an http(s) URL")
}

func assistantBlocks(m gjson.Result, path string) ([]anthropicBlock, error) {
	if fc := m.Get("function_call"); fc.Exists() && fc.Type != gjson.Null {
		return nil, BadRequest("unsupported_parameter", path+": legacy 'function_call' is not supported, use 'tool_calls'")
	}
	out, err := textBlocks(m.Get("content"), path)
	if err != nil {
		return nil, err
	}
	for j, tc := range m.Get("tool_calls").Array() {
		pp := path + ".tool_calls[" + strconv.Itoa(j) + "]"
		if typ := tc.Get("type"); typ.Exists() && typ.Str != "function" {
			return nil, BadRequest("invalid_messages", pp+": unsupported tool call type "+strconv.Quote(typ.String()))
		}
		id, name := tc.Get("id").String(), tc.Get("function.name").String()
		if id == "" || name == "" {
			return nil, BadRequest("invalid_messages", pp+": tool call needs an id and a function name")
		}
		input, err := toolInput(tc.Get("function.arguments"), pp)
		if err != nil {
			return nil, err
		}
		out = append(out, anthropicBlock{Type: "tool_use", ID: id, Name: name, Input: input})
	}
	return out, nil
}

// toolInput parses the OpenAI arguments string into the object Anthropic
// wants as input.
func toolInput(args gjson.Result, path string) (json.RawMessage, error) {
	raw := ""
	switch args.Type {
	case gjson.String:
		raw = strings.TrimSpace(args.Str)
	case gjson.JSON:
		raw = args.Raw // some clients send the object itself
	}
	if raw == "" {
		return json.RawMessage("{}"), nil
	}
	if !gjson.Valid(raw) {
		return nil, BadRequest("invalid_value", path+".function.arguments is not valid JSON")
	}
	if !gjson.Parse(raw).IsObject() {
		return nil, BadRequest("invalid_value", path+".function.arguments must be a JSON object")
	}
	return json.RawMessage(raw), nil
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
	if !tools.Exists() || tools.Type == gjson.Null {
		return nil, nil
	}
	if !tools.IsArray() {
		return nil, BadRequest("invalid_value", "'tools' must be an array")
	}
	var out []anthropicTool
	for i, t := range tools.Array() {
		path := "tools[" + strconv.Itoa(i) + "]"
		if typ := t.Get("type").String(); typ != "function" {
			return nil, BadRequest("unsupported_parameter", path+": tool type "+strconv.Quote(typ)+" is not supported, only function")
		}
		fn := t.Get("function")
		name := fn.Get("name").String()
		if name == "" {
			return nil, BadRequest("invalid_value", path+".function.name is required")
		}
		schema := json.RawMessage(`{"type":"object","properties":{}}`)
		if p := fn.Get("parameters"); p.Exists() && p.Type != gjson.Null {
			if !p.IsObject() {
				return nil, BadRequest("invalid_value", path+".function.parameters must be a JSON Schema object")
			}
			schema = json.RawMessage(p.Raw)
		}
		out = append(out, anthropicTool{Name: name, Description: fn.Get("description").String(), InputSchema: schema})
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

func (openAIToAnthropic) Response(body []byte) ([]byte, Usage, error) {
	if !gjson.ValidBytes(body) {
		return nil, Usage{}, &APIError{Status: 502, Type: TypeUpstream, Code: "bad_upstream_response", Message: "provider returned a body that is not JSON"}
	}
	root := gjson.ParseBytes(body)
	if root.Get("type").Str == "error" {
		e := root.Get("error")
		return nil, Usage{}, anthropicAPIError(502, "", e.Get("type").Str, e.Get("message").Str)
	}
	var u anthropicUsage
	u.read(root.Get("usage"))
	usage := u.openAI()

	var text strings.Builder
	hasText := false
	var calls []gjson.Result
	for _, b := range root.Get("content").Array() {
		switch b.Get("type").Str {
		case "text":
			text.WriteString(b.Get("text").Str)
			hasText = true
		case "tool_use":
			calls = append(calls, b)
			// Thinking blocks are left out: reasoning output is a later issue.
		}
	}

	id := root.Get("id").String()
	if id == "" {
		h := chunkHeader{}
		h.fill()
		id = h.ID
	}
	out := make([]byte, 0, len(body)+256)
	out = append(out, `{"id":`...)
	out = appendJSONString(out, id)
	out = append(out, `,"object":"chat.completion","created":`...)
	out = strconv.AppendInt(out, time.Now().Unix(), 10)
	out = append(out, `,"model":`...)
	out = appendJSONString(out, root.Get("model").String())
	out = append(out, `,"choices":[{"index":0,"message":{"role":"assistant","content":`...)
	if hasText {
		out = appendJSONString(out, text.String())
	} else {
		out = append(out, "null"...)
	}
	if len(calls) > 0 {
		out = append(out, `,"tool_calls":[`...)
		var args bytes.Buffer
		for i, c := range calls {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, `{"id":`...)
			out = appendJSONString(out, c.Get("id").String())
			out = append(out, `,"type":"function","function":{"name":`...)
			out = appendJSONString(out, c.Get("name").String())
			out = append(out, `,"arguments":`...)
			args.Reset()
			if in := c.Get("input"); in.IsObject() && json.Compact(&args, []byte(in.Raw)) == nil {
				out = appendJSONString(out, args.String())
			} else {
				out = append(out, `"{}"`...)
			}
			out = append(out, "}}"...)
		}
		out = append(out, ']')
	}
	out = append(out, `},"logprobs":null,"finish_reason":"`...)
	out = append(out, anthropicFinishReason(root.Get("stop_reason").Str)...)
	out = append(out, `"}],"usage":`...)
	out = appendUsage(out, usage)
	out = append(out, '}')
	return out, usage, nil
}

func (openAIToAnthropic) Error(status int, retryAfter string, body []byte) *APIError {
	return anthropicAPIError(status, retryAfter, gjson.GetBytes(body, "error.type").Str, upstreamMessage(body))
}

// anthropicAPIError maps an Anthropic error type (or, for unknown types, the
// HTTP status) to the error the client sees. The type wins because it is
// what Anthropic documents, and it is all a mid-stream error event carries.
func anthropicAPIError(status int, retryAfter, typ, msg string) *APIError {
	switch typ {
	case "rate_limit_error":
		status = 429
	case "overloaded_error":
		status = 529
	case "authentication_error":
		status = 401
	case "permission_error":
		status = 403
	case "timeout_error":
		status = 504
	case "api_error":
		if status < 500 {
			status = 500
		}
	}
	e := UpstreamError(status, retryAfter, msg)
	if typ == "invalid_request_error" && strings.Contains(strings.ToLower(msg), "prompt is too long") {
		e.Status, e.Type, e.Code = 400, TypeInvalidRequest, "context_length_exceeded"
	}
	return e
}

// anthropicUsage holds Anthropic's counters; input_tokens excludes cached
// and cache-written tokens, which OpenAI counts as prompt tokens.
type anthropicUsage struct {
	input, cacheRead, cacheWrite, output int64
}

// read overwrites the counters u carries; message_delta counts are cumulative.
func (a *anthropicUsage) read(u gjson.Result) {
	if !u.IsObject() {
		return
	}
	set := func(dst *int64, r gjson.Result) {
		if r.Type == gjson.Number {
			*dst = r.Int()
		}
	}
	set(&a.input, u.Get("input_tokens"))
	set(&a.cacheRead, u.Get("cache_read_input_tokens"))
	set(&a.cacheWrite, u.Get("cache_creation_input_tokens"))
	set(&a.output, u.Get("output_tokens"))
}

func (a anthropicUsage) openAI() Usage {
	return Usage{
		PromptTokens:     a.input + a.cacheRead + a.cacheWrite,
		CompletionTokens: a.output,
		CachedTokens:     a.cacheRead,
		CacheWriteTokens: a.cacheWrite,
	}
}

func (openAIToAnthropic) NewStream(opts StreamOptions) StreamTranslator {
	return &anthropicStream{opts: opts}
}

var _ Translator = openAIToAnthropic{}
