package translators

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// The OpenAI chat request the ingress writes; only what it sets.
type ingressChatRequest struct {
	Model             string                 `json:"model"`
	Messages          []ingressMessage       `json:"messages"`
	MaxTokens         int64                  `json:"max_tokens"`
	Temperature       json.RawMessage        `json:"temperature,omitempty"`
	TopP              json.RawMessage        `json:"top_p,omitempty"`
	TopK              json.RawMessage        `json:"top_k,omitempty"`
	Stop              []string               `json:"stop,omitempty"`
	Stream            bool                   `json:"stream,omitempty"`
	StreamOptions     *ingressStreamOptions  `json:"stream_options,omitempty"`
	Tools             []ingressTool          `json:"tools,omitempty"`
	ToolChoice        any                    `json:"tool_choice,omitempty"`
	ParallelToolCalls *bool                  `json:"parallel_tool_calls,omitempty"`
	Reasoning         *ingressReasoning      `json:"reasoning,omitempty"`
	ResponseFormat    *ingressResponseFormat `json:"response_format,omitempty"`
	User              string                 `json:"user,omitempty"`
}

type ingressStreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type ingressMessage struct {
	Role string `json:"role"`
	// Content is a string, []ingressPart, or nil (null) for an assistant
	// turn of tool calls only.
	Content          any               `json:"content"`
	ReasoningDetails []json.RawMessage `json:"reasoning_details,omitempty"`
	ToolCalls        []ingressToolCall `json:"tool_calls,omitempty"`
	ToolCallID       string            `json:"tool_call_id,omitempty"`
	// CacheControl marks a breakpoint on a block that has no content part
	// of its own (tool_result, tool_use); the Anthropic translator puts it
	// back on the message's last block.
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

type ingressPart struct {
	Type         string           `json:"type"` // text, image_url or file
	Text         string           `json:"text,omitempty"`
	ImageURL     *ingressImageURL `json:"image_url,omitempty"`
	File         *ingressFile     `json:"file,omitempty"`
	CacheControl json.RawMessage  `json:"cache_control,omitempty"`
}

type ingressImageURL struct {
	URL string `json:"url"`
}

type ingressFile struct {
	Filename string `json:"filename,omitempty"`
	FileData string `json:"file_data"`
}

type ingressToolCall struct {
	ID       string              `json:"id"`
	Type     string              `json:"type"`
	Function ingressFunctionCall `json:"function"`
}

type ingressFunctionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

type ingressNamedChoice struct {
	Type     string              `json:"type"`
	Function ingressFunctionName `json:"function"`
}

type ingressFunctionName struct {
	Name string `json:"name"`
}

type ingressTool struct {
	Type         string          `json:"type"`
	Function     ingressFunction `json:"function"`
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

type ingressFunction struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters"`
}

// ingressReasoning is OpenRouter's reasoning object.
type ingressReasoning struct {
	MaxTokens int64  `json:"max_tokens,omitempty"`
	Effort    string `json:"effort,omitempty"`
	Enabled   *bool  `json:"enabled,omitempty"`
}

type ingressResponseFormat struct {
	Type       string             `json:"type"`
	JSONSchema *ingressJSONSchema `json:"json_schema,omitempty"`
}

type ingressJSONSchema struct {
	Name   string          `json:"name"`
	Schema json.RawMessage `json:"schema"`
}

// Request converts an Anthropic Messages request body to an OpenAI chat
// completions body. Errors are *APIError 400. Unknown top-level fields are
// ignored, as new Anthropic features should not break old gateways.
func (a AnthropicIngress) Request(body []byte) ([]byte, error) {
	out, _, err := a.RequestWithOrigins(body)
	return out, err
}

// RequestWithOrigins is Request, with where each OpenAI message came from
// in the Anthropic request, so that a provider translator's error can name
// the client's own message (IngressOrigins.Relabel).
func (AnthropicIngress) RequestWithOrigins(body []byte) ([]byte, IngressOrigins, error) {
	out, origins, err := ingressRequest(body)
	return out, origins, err
}

func ingressRequest(body []byte) (_ []byte, origins IngressOrigins, _ error) {
	if !validJSON(body) {
		return nil, nil, BadRequest("invalid_json", "request body is not valid JSON")
	}
	root := gjson.ParseBytes(body)
	if !root.IsObject() {
		return nil, nil, BadRequest("invalid_request", "request body must be a JSON object")
	}
	var req ingressChatRequest
	if m := root.Get("model"); m.Type != gjson.String || m.Str == "" {
		return nil, nil, BadRequest("invalid_request", "'model' is required and must be a non-empty string")
	} else {
		req.Model = m.Str
	}
	mt, ok := positiveInt(root.Get("max_tokens"))
	if !ok {
		return nil, nil, BadRequest("invalid_request", "'max_tokens' is required and must be a positive integer")
	}
	req.MaxTokens = mt
	var err error
	if req.Messages, origins, err = ingressMessages(root); err != nil {
		return nil, nil, err
	}
	for _, p := range []struct {
		name string
		dst  *json.RawMessage
	}{{"temperature", &req.Temperature}, {"top_p", &req.TopP}, {"top_k", &req.TopK}} {
		if v := root.Get(p.name); v.Exists() && v.Type != gjson.Null {
			if v.Type != gjson.Number {
				return nil, nil, BadRequest("invalid_value", "'"+p.name+"' must be a number")
			}
			*p.dst = json.RawMessage(v.Raw)
		}
	}
	if req.Stop, err = ingressStopSequences(root.Get("stop_sequences")); err != nil {
		return nil, nil, err
	}
	if root.Get("stream").Type == gjson.True {
		// Usage always: message_delta carries it whether the client asks or not.
		req.Stream, req.StreamOptions = true, &ingressStreamOptions{IncludeUsage: true}
	}
	if req.Tools, err = ingressTools(root.Get("tools")); err != nil {
		return nil, nil, err
	}
	if err = ingressToolChoice(root.Get("tool_choice"), &req); err != nil {
		return nil, nil, err
	}
	if req.Reasoning, err = ingressThinking(root); err != nil {
		return nil, nil, err
	}
	if req.ResponseFormat, err = ingressOutputFormat(root); err != nil {
		return nil, nil, err
	}
	if u := root.Get("metadata.user_id"); u.Type == gjson.String {
		req.User = u.Str
	}

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // prompts keep their <, > and & as sent
	if err := enc.Encode(&req); err != nil {
		return nil, nil, BadRequest("invalid_request", "cannot encode the OpenAI request: "+err.Error())
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), origins, nil
}

// positiveInt reads a whole number from 1 to MaxInt32.
func positiveInt(r gjson.Result) (int64, bool) {
	if r.Type != gjson.Number || r.Num < 1 || r.Num != math.Trunc(r.Num) || r.Num > math.MaxInt32 {
		return 0, false
	}
	return int64(r.Num), true
}

func ingressStopSequences(r gjson.Result) ([]string, error) {
	if !r.Exists() || r.Type == gjson.Null {
		return nil, nil
	}
	if !r.IsArray() {
		return nil, BadRequest("invalid_value", "'stop_sequences' must be an array of strings")
	}
	var out []string
	for _, s := range r.Array() {
		if s.Type != gjson.String {
			return nil, BadRequest("invalid_value", "'stop_sequences' must be an array of strings")
		}
		out = append(out, s.Str)
	}
	return out, nil
}

// ingressCacheControl reads a block's cache_control, kept as sent.
func ingressCacheControl(b gjson.Result, path string) (json.RawMessage, error) {
	c := b.Get("cache_control")
	if !c.Exists() || c.Type == gjson.Null {
		return nil, nil
	}
	if !c.IsObject() {
		return nil, BadRequest("invalid_value", path+".cache_control must be an object such as {\"type\":\"ephemeral\"}")
	}
	return json.RawMessage(c.Raw), nil
}

// ingressContent renders parts as OpenAI content: a lone plain text part
// as a string, the form every OpenAI-compatible host takes.
func ingressContent(parts []ingressPart) any {
	if len(parts) == 1 && parts[0].Type == "text" && parts[0].CacheControl == nil {
		return parts[0].Text
	}
	return parts
}

func ingressMessages(root gjson.Result) ([]ingressMessage, IngressOrigins, error) {
	var out []ingressMessage
	var origins IngressOrigins
	if sys := root.Get("system"); sys.Exists() && sys.Type != gjson.Null {
		var err error
		if out, err = ingressSystem(out, sys, "system"); err != nil {
			return nil, nil, err
		}
	}
	for range out {
		origins = append(origins, ingressOrigin{path: "system"})
	}
	msgs := root.Get("messages")
	if !msgs.IsArray() || len(msgs.Array()) == 0 {
		return nil, nil, BadRequest("invalid_messages", "'messages' must be a non-empty array")
	}
	var err error
	for i, m := range msgs.Array() {
		path := "messages[" + strconv.Itoa(i) + "]"
		if !m.IsObject() {
			return nil, nil, BadRequest("invalid_messages", path+" must be an object")
		}
		before := len(out)
		c := m.Get("content")
		if c.Type != gjson.String && !c.IsArray() {
			return nil, nil, BadRequest("invalid_messages", path+".content must be a string or an array of content blocks")
		}
		switch role := m.Get("role").String(); role {
		case "user":
			if c.Type == gjson.String {
				out = append(out, ingressMessage{Role: "user", Content: c.Str})
				origins = append(origins, ingressOrigin{path: path, exact: true})
				continue
			}
			out, err = ingressUser(out, c, path)
		case "assistant":
			if c.Type == gjson.String {
				out = append(out, ingressMessage{Role: "assistant", Content: c.Str})
				origins = append(origins, ingressOrigin{path: path, exact: true})
				continue
			}
			out, err = ingressAssistant(out, c, path)
		case "system":
			// Claude Code sends system messages mid-conversation; OpenAI
			// has them too, where they stand.
			out, err = ingressSystem(out, c, path+".content")
		default:
			return nil, nil, BadRequest("invalid_messages", path+".role must be user, assistant or system, got "+strconv.Quote(role))
		}
		if err != nil {
			return nil, nil, err
		}
		// A user turn of plain blocks becomes one message whose parts
		// keep their indices; anything else names the turn only.
		exact := len(out)-before == 1 && m.Get("role").Str == "user" && keepsBlockIndices(c)
		for range out[before:] {
			origins = append(origins, ingressOrigin{path: path, exact: exact})
		}
	}
	return out, origins, nil
}

// ingressSystem appends system text (a string or text blocks at path) as
// one OpenAI system message; empty text adds none.
func ingressSystem(out []ingressMessage, sys gjson.Result, path string) ([]ingressMessage, error) {
	switch {
	case sys.Type == gjson.String:
		if sys.Str != "" {
			out = append(out, ingressMessage{Role: "system", Content: sys.Str})
		}
	case sys.IsArray():
		var parts []ingressPart
		for j, b := range sys.Array() {
			at := path + "[" + strconv.Itoa(j) + "]"
			if b.Get("type").Str != "text" || b.Get("text").Type != gjson.String {
				return nil, BadRequest("invalid_request", at+": system blocks must be text blocks with a string 'text'")
			}
			cc, err := ingressCacheControl(b, at)
			if err != nil {
				return nil, err
			}
			if t := b.Get("text").Str; t != "" {
				parts = append(parts, ingressPart{Type: "text", Text: t, CacheControl: cc})
			}
		}
		if len(parts) > 0 {
			out = append(out, ingressMessage{Role: "system", Content: ingressContent(parts)})
		}
	default:
		return nil, BadRequest("invalid_request", "'"+path+"' must be a string or an array of text blocks")
	}
	return out, nil
}

// keepsBlockIndices reports whether every block of a user turn becomes a
// content part, in order: no tool results, no empty texts.
func keepsBlockIndices(content gjson.Result) bool {
	keeps := true
	content.ForEach(func(_, b gjson.Result) bool {
		typ := b.Get("type").Str
		keeps = typ != "tool_result" && (typ != "text" || b.Get("text").Str != "")
		return keeps
	})
	return keeps
}

// IngressOrigins says, for each message of the OpenAI request made from an
// Anthropic one, which part of the client's request it came from.
type IngressOrigins []ingressOrigin

type ingressOrigin struct {
	path  string // "system" or "messages[i]"
	exact bool   // its content parts keep the client's block indices
}

// Relabel rewrites the location an error message starts with,
// "messages[k]" or "messages[k].content[p]" in the OpenAI request, into
// the client's terms; a content index that does not carry over is left
// out.
func (o IngressOrigins) Relabel(msg string) string {
	rest, ok := strings.CutPrefix(msg, "messages[")
	if !ok {
		return msg
	}
	end := strings.IndexByte(rest, ']')
	k, err := strconv.Atoi(rest[:max(end, 0)])
	if end < 0 || err != nil || k < 0 || k >= len(o) {
		return msg
	}
	rest = rest[end+1:]
	if !o[k].exact && strings.HasPrefix(rest, ".content[") {
		if e := strings.IndexByte(rest, ']'); e >= 0 {
			rest = rest[e+1:]
		}
	}
	return o[k].path + rest
}

// ingressUser appends a user turn: its tool_result blocks first, as tool
// messages (OpenAI wants them right after the assistant's tool calls), then
// one user message with the rest. Images inside tool results, which OpenAI
// tool messages cannot carry, lead that user message.
func ingressUser(out []ingressMessage, content gjson.Result, path string) ([]ingressMessage, error) {
	var parts, toolImages []ingressPart
	for j, b := range content.Array() {
		pp := path + ".content[" + strconv.Itoa(j) + "]"
		cc, err := ingressCacheControl(b, pp)
		if err != nil {
			return nil, err
		}
		switch typ := b.Get("type").String(); typ {
		case "tool_result":
			msg, images, err := ingressToolResult(b, pp)
			if err != nil {
				return nil, err
			}
			msg.CacheControl = cc
			out = append(out, msg)
			toolImages = append(toolImages, images...)
		default:
			part, err := ingressPartOf(b, typ, pp)
			if err != nil {
				return nil, err
			}
			if part.Type == "text" && part.Text == "" {
				continue
			}
			part.CacheControl = cc
			parts = append(parts, part)
		}
	}
	if parts = append(toolImages, parts...); len(parts) > 0 {
		out = append(out, ingressMessage{Role: "user", Content: ingressContent(parts)})
	}
	return out, nil
}

// ingressPartOf converts a text, image or document block to a content part.
func ingressPartOf(b gjson.Result, typ, path string) (ingressPart, error) {
	switch typ {
	case "text":
		t := b.Get("text")
		if t.Type != gjson.String {
			return ingressPart{}, BadRequest("invalid_messages", path+": text block needs a string 'text'")
		}
		return ingressPart{Type: "text", Text: t.Str}, nil
	case "image":
		src := b.Get("source")
		switch st := src.Get("type").String(); st {
		case "base64":
			media, data := src.Get("media_type").String(), src.Get("data").String()
			if !strings.HasPrefix(media, "image/") || data == "" {
				return ingressPart{}, BadRequest("invalid_messages", path+": base64 image source needs an image/* 'media_type' and 'data'")
			}
			return ingressPart{Type: "image_url", ImageURL: &ingressImageURL{URL: "data:" + media + ";base64," + data}}, nil
		case "url":
			url := src.Get("url").String()
			if url == "" {
				return ingressPart{}, BadRequest("invalid_messages", path+": url image source needs a 'url'")
			}
			return ingressPart{Type: "image_url", ImageURL: &ingressImageURL{URL: url}}, nil
		default:
			return ingressPart{}, BadRequest("unsupported_parameter", path+": image source type "+strconv.Quote(st)+" is not supported (base64 and url are)")
		}
	case "document":
		src := b.Get("source")
		switch st := src.Get("type").String(); st {
		case "text":
			return ingressPart{Type: "text", Text: src.Get("data").String()}, nil
		case "base64":
			media, data := src.Get("media_type").String(), src.Get("data").String()
			if media == "" || data == "" {
				return ingressPart{}, BadRequest("invalid_messages", path+": base64 document source needs 'media_type' and 'data'")
			}
			name := b.Get("title").String()
			if name == "" {
				name = "document.pdf"
			}
			return ingressPart{Type: "file", File: &ingressFile{Filename: name, FileData: "data:" + media + ";base64," + data}}, nil
		default:
			return ingressPart{}, BadRequest("unsupported_parameter", path+": document source type "+strconv.Quote(st)+" is not supported (base64 and text are)")
		}
	case "thinking", "redacted_thinking", "tool_use":
		return ingressPart{}, BadRequest("invalid_messages", path+": "+typ+" blocks belong in assistant messages")
	default:
		return ingressPart{}, BadRequest("unsupported_parameter", path+": content block type "+strconv.Quote(typ)+" is not supported")
	}
}

// ingressToolResult converts a tool_result block to a tool message and the
// images it holds. An error result is marked in the text, which is all an
// OpenAI tool message can say.
func ingressToolResult(b gjson.Result, path string) (ingressMessage, []ingressPart, error) {
	id := b.Get("tool_use_id")
	if id.Type != gjson.String || id.Str == "" {
		return ingressMessage{}, nil, BadRequest("invalid_messages", path+": tool_result needs a 'tool_use_id'")
	}
	msg := ingressMessage{Role: "tool", ToolCallID: id.Str}
	var parts, images []ingressPart
	c := b.Get("content")
	switch {
	case !c.Exists() || c.Type == gjson.Null:
	case c.Type == gjson.String:
		if c.Str != "" {
			parts = append(parts, ingressPart{Type: "text", Text: c.Str})
		}
	case c.IsArray():
		for k, cb := range c.Array() {
			pp := path + ".content[" + strconv.Itoa(k) + "]"
			typ := cb.Get("type").String()
			if typ != "text" && typ != "image" && typ != "document" {
				return ingressMessage{}, nil, BadRequest("unsupported_parameter", pp+": content block type "+strconv.Quote(typ)+" is not supported in a tool_result")
			}
			part, err := ingressPartOf(cb, typ, pp)
			if err != nil {
				return ingressMessage{}, nil, err
			}
			if part.Type != "text" {
				images = append(images, part)
				continue
			}
			if part.Text == "" {
				continue
			}
			if part.CacheControl, err = ingressCacheControl(cb, pp); err != nil {
				return ingressMessage{}, nil, err
			}
			parts = append(parts, part)
		}
	default:
		return ingressMessage{}, nil, BadRequest("invalid_messages", path+".content must be a string or an array of content blocks")
	}
	if b.Get("is_error").Type == gjson.True {
		if len(parts) == 0 {
			parts = []ingressPart{{Type: "text", Text: "Error"}}
		} else {
			parts[0].Text = "Error: " + parts[0].Text
		}
	}
	// Text is joined into one string, which every OpenAI-compatible host
	// takes for a tool message, unless a part carries a cache breakpoint.
	var text strings.Builder
	for i, p := range parts {
		if p.CacheControl != nil {
			msg.Content = parts
			return msg, images, nil
		}
		if i > 0 {
			text.WriteByte('\n')
		}
		text.WriteString(p.Text)
	}
	msg.Content = text.String()
	return msg, images, nil
}

// ingressAssistant appends an assistant turn: thinking blocks become
// reasoning_details, text the content, tool_use blocks tool calls.
func ingressAssistant(out []ingressMessage, content gjson.Result, path string) ([]ingressMessage, error) {
	msg := ingressMessage{Role: "assistant"}
	var parts []ingressPart
	blocks := content.Array()
	for j, b := range blocks {
		pp := path + ".content[" + strconv.Itoa(j) + "]"
		cc, err := ingressCacheControl(b, pp)
		if err != nil {
			return nil, err
		}
		switch typ := b.Get("type").String(); typ {
		case "text":
			t := b.Get("text")
			if t.Type != gjson.String {
				return nil, BadRequest("invalid_messages", pp+": text block needs a string 'text'")
			}
			if t.Str != "" {
				parts = append(parts, ingressPart{Type: "text", Text: t.Str, CacheControl: cc})
			}
		case "thinking", "redacted_thinking":
			d, err := ingressDetail(b, typ, len(msg.ReasoningDetails), pp)
			if err != nil {
				return nil, err
			}
			msg.ReasoningDetails = append(msg.ReasoningDetails, d)
		case "tool_use":
			id, name := b.Get("id"), b.Get("name")
			if id.Type != gjson.String || id.Str == "" || name.Type != gjson.String || name.Str == "" {
				return nil, BadRequest("invalid_messages", pp+": tool_use needs an 'id' and a 'name'")
			}
			args := "{}"
			if in := b.Get("input"); in.Exists() && in.Type != gjson.Null {
				if !in.IsObject() {
					return nil, BadRequest("invalid_messages", pp+".input must be an object")
				}
				var buf bytes.Buffer
				if json.Compact(&buf, []byte(in.Raw)) == nil {
					args = buf.String()
				}
			}
			msg.ToolCalls = append(msg.ToolCalls, ingressToolCall{ID: id.Str, Type: "function", Function: ingressFunctionCall{Name: name.Str, Arguments: args}})
			if j == len(blocks)-1 {
				msg.CacheControl = cc
			}
		default:
			return nil, BadRequest("unsupported_parameter", pp+": content block type "+strconv.Quote(typ)+" is not supported in an assistant message")
		}
	}
	switch {
	case len(parts) > 0:
		msg.Content = ingressContent(parts)
	case len(msg.ToolCalls) == 0:
		msg.Content = ""
	}
	return append(out, msg), nil
}

// ingressDetail turns a thinking or redacted_thinking block into the
// reasoning_details entry the provider translators read back (the Anthropic
// ones restore the block, signature included). index numbers the entries, so
// none merge.
func ingressDetail(b gjson.Result, typ string, index int, path string) (json.RawMessage, error) {
	if typ == "redacted_thinking" {
		data := b.Get("data")
		if data.Type != gjson.String || data.Str == "" {
			return nil, BadRequest("invalid_messages", path+": redacted_thinking needs a string 'data'")
		}
		if d, ok, err := openEnvelope(data.Str, path); ok || err != nil {
			return withIndex(d, "", false, index), err
		}
		var d []byte
		d = append(d, `{"type":"reasoning.encrypted","data":`...)
		d = appendJSONString(d, data.Str)
		return appendDetailEnd(d, index), nil
	}
	text, sig := b.Get("thinking"), b.Get("signature")
	if text.Type != gjson.String {
		return nil, BadRequest("invalid_messages", path+": thinking needs a string 'thinking'")
	}
	if sig.Exists() && sig.Type != gjson.String && sig.Type != gjson.Null {
		return nil, BadRequest("invalid_messages", path+": thinking 'signature' must be a string")
	}
	if d, ok, err := openEnvelope(sig.Str, path); ok || err != nil {
		return withIndex(d, text.Str, true, index), err
	}
	var d []byte
	d = append(d, `{"type":"reasoning.text","text":`...)
	d = appendJSONString(d, text.Str)
	if sig.Str != "" {
		d = append(d, `,"signature":`...)
		d = appendJSONString(d, sig.Str)
	}
	return appendDetailEnd(d, index), nil
}

func appendDetailEnd(d []byte, index int) []byte {
	d = append(d, `,"format":"`+anthropicReasoningFormat+`","index":`...)
	d = strconv.AppendInt(d, int64(index), 10)
	return append(d, '}')
}

// withIndex completes an entry restored from an envelope.
func withIndex(d []byte, text string, setText bool, index int) json.RawMessage {
	if d == nil {
		return nil
	}
	if setText {
		d, _ = sjson.SetBytes(d, "text", text)
	}
	d, _ = sjson.SetBytes(d, "index", index)
	return d
}

func ingressTools(tools gjson.Result) ([]ingressTool, error) {
	if !tools.Exists() || tools.Type == gjson.Null {
		return nil, nil
	}
	if !tools.IsArray() {
		return nil, BadRequest("invalid_value", "'tools' must be an array")
	}
	var out []ingressTool
	for i, t := range tools.Array() {
		path := "tools[" + strconv.Itoa(i) + "]"
		if typ := t.Get("type"); typ.Exists() && typ.Type != gjson.Null && typ.Str != "custom" {
			return nil, BadRequest("unsupported_parameter", path+": tool type "+strconv.Quote(typ.String())+" is an Anthropic server tool the gateway cannot serve; only custom tools with an input_schema are supported")
		}
		name := t.Get("name")
		if name.Type != gjson.String || name.Str == "" {
			return nil, BadRequest("invalid_value", path+".name is required")
		}
		schema := t.Get("input_schema")
		if !schema.IsObject() {
			return nil, BadRequest("invalid_value", path+".input_schema must be a JSON Schema object")
		}
		cc, err := ingressCacheControl(t, path)
		if err != nil {
			return nil, err
		}
		out = append(out, ingressTool{
			Type:         "function",
			Function:     ingressFunction{Name: name.Str, Description: t.Get("description").String(), Parameters: json.RawMessage(schema.Raw)},
			CacheControl: cc,
		})
	}
	return out, nil
}

func ingressToolChoice(tc gjson.Result, req *ingressChatRequest) error {
	if !tc.Exists() || tc.Type == gjson.Null {
		return nil
	}
	if !tc.IsObject() {
		return BadRequest("invalid_value", "'tool_choice' must be an object such as {\"type\":\"auto\"}")
	}
	switch typ := tc.Get("type").String(); typ {
	case "auto":
		req.ToolChoice = "auto"
	case "any":
		req.ToolChoice = "required"
	case "none":
		req.ToolChoice = "none"
	case "tool":
		name := tc.Get("name").String()
		if name == "" {
			return BadRequest("invalid_value", "'tool_choice.name' is required when its type is tool")
		}
		req.ToolChoice = ingressNamedChoice{Type: "function", Function: ingressFunctionName{Name: name}}
	default:
		return BadRequest("invalid_value", "'tool_choice.type' must be auto, any, tool or none, got "+strconv.Quote(typ))
	}
	if tc.Get("disable_parallel_tool_use").Type == gjson.True {
		f := false
		req.ParallelToolCalls = &f
	}
	return nil
}

// ingressEfforts maps output_config.effort to OpenRouter's reasoning.effort.
var ingressEfforts = map[string]string{"low": "low", "medium": "medium", "high": "high", "max": "xhigh"}

// ingressThinking maps thinking {type: enabled, budget_tokens} to
// reasoning.max_tokens, adaptive thinking to reasoning.enabled (with
// output_config.effort as reasoning.effort when set).
func ingressThinking(root gjson.Result) (*ingressReasoning, error) {
	th := root.Get("thinking")
	if !th.Exists() || th.Type == gjson.Null {
		return nil, nil
	}
	if !th.IsObject() {
		return nil, BadRequest("invalid_value", "'thinking' must be an object such as {\"type\":\"enabled\",\"budget_tokens\":2048}")
	}
	switch typ := th.Get("type").String(); typ {
	case "disabled":
		return nil, nil
	case "enabled":
		budget, ok := positiveInt(th.Get("budget_tokens"))
		if !ok {
			return nil, BadRequest("invalid_value", "'thinking.budget_tokens' must be a positive integer")
		}
		return &ingressReasoning{MaxTokens: budget}, nil
	case "adaptive":
		on := true
		r := &ingressReasoning{Enabled: &on}
		if e := root.Get("output_config.effort"); e.Exists() && e.Type != gjson.Null {
			effort, ok := ingressEfforts[e.String()]
			if !ok {
				return nil, BadRequest("invalid_value", "'output_config.effort' must be low, medium, high or max, got "+e.Raw)
			}
			r.Effort = effort
		}
		return r, nil
	default:
		return nil, BadRequest("invalid_value", "'thinking.type' must be enabled, adaptive or disabled, got "+strconv.Quote(typ))
	}
}

// ingressOutputFormat maps JSON outputs (output_config.format, or the beta's
// top-level output_format) to response_format json_schema.
func ingressOutputFormat(root gjson.Result) (*ingressResponseFormat, error) {
	f, name := root.Get("output_config.format"), "output_config.format"
	if !f.Exists() || f.Type == gjson.Null {
		f, name = root.Get("output_format"), "output_format"
	}
	if !f.Exists() || f.Type == gjson.Null {
		return nil, nil
	}
	if typ := f.Get("type").String(); typ != "json_schema" {
		return nil, BadRequest("invalid_value", "'"+name+".type' must be json_schema, got "+strconv.Quote(typ))
	}
	schema := f.Get("schema")
	if !schema.IsObject() {
		return nil, BadRequest("invalid_value", "'"+name+".schema' must be a JSON Schema object")
	}
	return &ingressResponseFormat{Type: "json_schema", JSONSchema: &ingressJSONSchema{Name: "response", Schema: json.RawMessage(schema.Raw)}}, nil
}
