package translators

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// respUnsupported are Responses parameters that need state the gateway does
// not keep yet (its response store) or features no chat provider has: a
// request that relies on them cannot be answered correctly, so it is refused.
var respUnsupported = []struct{ param, why string }{
	{"previous_response_id", "needs the gateway's response store, which is not available; send the conversation in 'input' instead"},
	{"conversation", "needs the gateway's conversation store, which is not available; send the conversation in 'input' instead"},
	{"prompt", "prompt templates are stored by OpenAI and cannot be served through the gateway"},
}

// respDroppedParams are Responses parameters the chat form has no
// counterpart for: the request is served without them and the client is
// told (ResponsesRequest.Dropped).
var respDroppedParams = []string{"max_tool_calls", "top_logprobs", "prompt_cache_key", "prompt_cache_retention",
	"safety_identifier", "context_management", "truncation"}

// Request converts a Responses API request body to an OpenAI chat
// completions body. Errors are *APIError 400 with Param set. Unknown
// top-level fields are ignored, as new Responses features should not break
// old gateways.
func (ResponsesIngress) Request(body []byte) (ResponsesRequest, error) {
	if !validJSON(body) {
		return ResponsesRequest{}, BadRequest("invalid_json", "request body is not valid JSON")
	}
	root := gjson.ParseBytes(body)
	if !root.IsObject() {
		return ResponsesRequest{}, BadRequest("invalid_request", "request body must be a JSON object")
	}
	var req respChatRequest
	out := ResponsesRequest{Store: root.Get("store").Type != gjson.False}
	if m := root.Get("model"); m.Type != gjson.String || m.Str == "" {
		return ResponsesRequest{}, responsesBad("model", "invalid_request", "'model' is required and must be a non-empty string")
	} else {
		req.Model = m.Str
	}
	for _, u := range respUnsupported {
		if v := root.Get(u.param); v.Exists() && v.Type != gjson.Null {
			return ResponsesRequest{}, responsesBad(u.param, "unsupported_parameter", "'"+u.param+"' "+u.why)
		}
	}
	if root.Get("background").Type == gjson.True {
		return ResponsesRequest{}, responsesBad("background", "unsupported_parameter", "'background' responses need the gateway's response store, which is not available")
	}
	var err error
	if instr := root.Get("instructions"); instr.Exists() && instr.Type != gjson.Null {
		if instr.Type != gjson.String {
			return ResponsesRequest{}, responsesBad("instructions", "invalid_type", "'instructions' must be a string")
		}
		if instr.Str != "" {
			req.Messages = append(req.Messages, respChatMsg{Role: "system", Content: instr.Str})
		}
	}
	if req.Messages, err = respInput(req.Messages, root.Get("input")); err != nil {
		return ResponsesRequest{}, err
	}
	if len(req.Messages) == 0 {
		return ResponsesRequest{}, responsesBad("input", "invalid_request", "'input' is required: a string or a non-empty array of input items")
	}
	if v := root.Get("max_output_tokens"); v.Exists() && v.Type != gjson.Null {
		n, ok := positiveInt(v)
		if !ok {
			return ResponsesRequest{}, responsesBad("max_output_tokens", "invalid_value", "'max_output_tokens' must be a positive integer")
		}
		req.MaxCompletionTokens = n
	}
	for _, p := range []struct {
		name string
		dst  *json.RawMessage
	}{{"temperature", &req.Temperature}, {"top_p", &req.TopP}} {
		if v := root.Get(p.name); v.Exists() && v.Type != gjson.Null {
			if v.Type != gjson.Number {
				return ResponsesRequest{}, responsesBad(p.name, "invalid_type", "'"+p.name+"' must be a number")
			}
			*p.dst = json.RawMessage(v.Raw)
		}
	}
	if root.Get("stream").Type == gjson.True {
		// Usage always: response.completed carries it whether asked or not.
		req.Stream, req.StreamOptions, out.Stream = true, &respStreamOpts{IncludeUsage: true}, true
	}
	if v := root.Get("parallel_tool_calls"); v.IsBool() {
		b := v.Bool()
		req.ParallelToolCalls = &b
	} else if v.Exists() && v.Type != gjson.Null {
		return ResponsesRequest{}, responsesBad("parallel_tool_calls", "invalid_type", "'parallel_tool_calls' must be a boolean")
	}
	var custom []string
	if req.Tools, out.Dropped, custom, err = respTools(root.Get("tools")); err != nil {
		return ResponsesRequest{}, err
	}
	if respImageTool(root.Get("tools")) {
		// The image_generation tool is the chat form's image modality:
		// image models answer images[], which become
		// image_generation_call items.
		req.Modalities = []string{"image", "text"}
	}
	if err = respToolChoice(root.Get("tool_choice"), &req); err != nil {
		return ResponsesRequest{}, err
	}
	summary, err := respReasoningParams(root.Get("reasoning"), &req)
	if err != nil {
		return ResponsesRequest{}, err
	}
	if err = respTextParams(root.Get("text"), &req); err != nil {
		return ResponsesRequest{}, err
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"user", &req.User}, {"service_tier", &req.ServiceTier}, {"session_id", &req.SessionID}} {
		if v := root.Get(f.name); v.Type == gjson.String {
			*f.dst = v.Str
		} else if v.Exists() && v.Type != gjson.Null {
			return ResponsesRequest{}, responsesBad(f.name, "invalid_type", "'"+f.name+"' must be a string")
		}
	}
	// The gateway's own routing fields travel on, for the router to read.
	if v := root.Get("models"); v.Exists() && v.Type != gjson.Null {
		req.Models = json.RawMessage(v.Raw)
	}
	if v := root.Get("provider"); v.Exists() && v.Type != gjson.Null {
		req.Provider = json.RawMessage(v.Raw)
	}
	if md := root.Get("metadata"); md.Exists() && md.Type != gjson.Null && !md.IsObject() {
		return ResponsesRequest{}, responsesBad("metadata", "invalid_type", "'metadata' must be an object of string values")
	}
	out.Dropped = respDropped(root, out.Dropped)
	if len(out.Dropped) > 0 && RequireParameters(body) {
		return ResponsesRequest{}, responsesBad(out.Dropped[0], "unsupported_parameter",
			"the gateway cannot honour through a chat provider: "+strings.Join(out.Dropped, ", ")+" (provider.require_parameters is set)")
	}

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // prompts keep their <, > and & as sent
	if err := enc.Encode(&req); err != nil {
		return ResponsesRequest{}, BadRequest("invalid_request", "cannot encode the OpenAI request: "+err.Error())
	}
	out.Body = bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
	out.Echo = respEcho(root, req.Model, summary)
	out.Echo.Custom = custom
	return out, nil
}

// respDropped appends the parameters the request sets that the chat form
// cannot carry: respDroppedParams, include values other than
// reasoning.encrypted_content (always returned, see respReasoningItem).
func respDropped(root gjson.Result, dropped []string) []string {
	for _, p := range respDroppedParams {
		v := root.Get(p)
		if !v.Exists() || v.Type == gjson.Null || p == "truncation" && v.Str == "disabled" {
			continue
		}
		dropped = append(dropped, p)
	}
	for _, inc := range root.Get("include").Array() {
		if inc.Str != "reasoning.encrypted_content" {
			dropped = append(dropped, "include")
			break
		}
	}
	return dropped
}

// respInput appends the chat messages of the input: a string is one user
// message; items become messages in order, an assistant turn gathering its
// consecutive reasoning, message and function_call items.
func respInput(out []respChatMsg, input gjson.Result) ([]respChatMsg, error) {
	switch {
	case input.Type == gjson.String:
		return append(out, respChatMsg{Role: "user", Content: input.Str}), nil
	case input.IsArray():
	case !input.Exists() || input.Type == gjson.Null:
		return out, nil
	default:
		return nil, responsesBad("input", "invalid_type", "'input' must be a string or an array of input items")
	}
	var turn *respChatMsg        // the assistant turn being gathered
	var toolParts []respChatPart // images and files of tool outputs, sent after the tool messages
	flush := func() {
		if turn != nil {
			if turn.Content == nil && len(turn.ToolCalls) == 0 {
				turn.Content = ""
			}
			out = append(out, *turn)
			turn = nil
		}
	}
	flushTool := func() {
		if len(toolParts) > 0 {
			out = append(out, respChatMsg{Role: "user", Content: toolParts})
			toolParts = nil
		}
	}
	assistant := func() *respChatMsg {
		flushTool()
		if turn == nil {
			turn = &respChatMsg{Role: "assistant"}
		}
		return turn
	}
	for i, item := range input.Array() {
		param := "input[" + strconv.Itoa(i) + "]"
		if !item.IsObject() {
			return nil, responsesBad(param, "invalid_type", param+" must be an object")
		}
		typ := item.Get("type").Str
		if typ == "" && item.Get("role").Exists() {
			typ = "message" // EasyInputMessage leaves the type out
		}
		switch typ {
		case "message":
			role := item.Get("role").Str
			switch role {
			case "assistant":
				if err := respAssistantContent(assistant(), item.Get("content"), param); err != nil {
					return nil, err
				}
				continue
			case "user", "system", "developer":
			default:
				return nil, responsesBad(param+".role", "invalid_value", param+".role must be user, assistant, system or developer, got "+strconv.Quote(role))
			}
			flush()
			flushTool()
			content, err := respUserContent(item.Get("content"), param)
			if err != nil {
				return nil, err
			}
			if role == "developer" {
				role = "system" // every provider translator takes system; developer is OpenAI's name for it
			}
			out = append(out, respChatMsg{Role: role, Content: content})
		case "function_call":
			call, err := respFunctionCallItem(item, param)
			if err != nil {
				return nil, err
			}
			t := assistant()
			t.ToolCalls = append(t.ToolCalls, call)
		case "reasoning":
			t := assistant()
			d, err := respReasoningItem(item, len(t.ReasoningDetails), param)
			if err != nil {
				return nil, err
			}
			t.ReasoningDetails = append(t.ReasoningDetails, d...)
		case "custom_tool_call":
			call, err := respCustomCallItem(item, param)
			if err != nil {
				return nil, err
			}
			t := assistant()
			t.ToolCalls = append(t.ToolCalls, call)
		case "function_call_output", "custom_tool_call_output":
			flush()
			msg, parts, err := respFunctionOutput(item, param)
			if err != nil {
				return nil, err
			}
			out = append(out, msg)
			toolParts = append(toolParts, parts...)
		case "image_generation_call", "web_search_call":
			// What a hosted tool did on an earlier turn (OpenAI's, resent
			// by a client that moved to another model, or an image made
			// here): the chat form has no such items, and the assistant's
			// text that used them follows, so the turn goes on without.
		case "item_reference":
			return nil, responsesBad(param, "unsupported_parameter", param+": item references need the gateway's response store, which is not available; send the item itself")
		default:
			return nil, responsesBad(param+".type", "unsupported_parameter", param+": input item type "+strconv.Quote(typ)+" is not supported through a chat provider (message, function_call, function_call_output, custom_tool_call, custom_tool_call_output and reasoning are)")
		}
	}
	flush()
	flushTool()
	return out, nil
}

// respUserContent converts a user, system or developer message's content:
// a string, or input_text, input_image and input_file parts.
func respUserContent(c gjson.Result, param string) (any, error) {
	if c.Type == gjson.String {
		return c.Str, nil
	}
	if !c.IsArray() {
		return nil, responsesBad(param+".content", "invalid_type", param+".content must be a string or an array of content parts")
	}
	var parts []respChatPart
	for j, p := range c.Array() {
		pp := param + ".content[" + strconv.Itoa(j) + "]"
		part, err := respPart(p, pp)
		if err != nil {
			return nil, err
		}
		parts = append(parts, part)
	}
	if len(parts) == 1 && parts[0].Type == "text" {
		return parts[0].Text, nil // the form every OpenAI-compatible host takes
	}
	if parts == nil {
		return "", nil
	}
	return parts, nil
}

// respPart converts one input content part.
func respPart(p gjson.Result, param string) (respChatPart, error) {
	switch typ := p.Get("type").Str; typ {
	case "input_text", "output_text":
		t := p.Get("text")
		if t.Type != gjson.String {
			return respChatPart{}, responsesBad(param+".text", "invalid_type", param+": "+typ+" needs a string 'text'")
		}
		return respChatPart{Type: "text", Text: t.Str}, nil
	case "input_image":
		if p.Get("file_id").Type == gjson.String {
			return respChatPart{}, responsesBad(param+".file_id", "unsupported_parameter", param+": images by file_id need OpenAI's Files API; send image_url (a URL or a data URL)")
		}
		u := p.Get("image_url")
		if u.Type != gjson.String || u.Str == "" {
			return respChatPart{}, responsesBad(param+".image_url", "invalid_value", param+": input_image needs an 'image_url'")
		}
		img := &respImageURL{URL: u.Str}
		if d := p.Get("detail").Str; d != "" && d != "auto" {
			img.Detail = d
		}
		return respChatPart{Type: "image_url", ImageURL: img}, nil
	case "input_file":
		if p.Get("file_id").Type == gjson.String {
			return respChatPart{}, responsesBad(param+".file_id", "unsupported_parameter", param+": files by file_id need OpenAI's Files API; send file_data")
		}
		if p.Get("file_url").Exists() {
			return respChatPart{}, responsesBad(param+".file_url", "unsupported_parameter", param+": files by file_url are not supported through a chat provider; send file_data")
		}
		data := p.Get("file_data")
		if data.Type != gjson.String || data.Str == "" {
			return respChatPart{}, responsesBad(param+".file_data", "invalid_value", param+": input_file needs 'file_data'")
		}
		name := p.Get("filename").Str
		fd := data.Str
		if !strings.HasPrefix(fd, "data:") {
			// The Responses API also takes bare base64; chat wants a data URL.
			fd = "data:" + mediaTypeOf(name) + ";base64," + fd
		}
		return respChatPart{Type: "file", File: &respFile{Filename: name, FileData: fd}}, nil
	default:
		return respChatPart{}, responsesBad(param+".type", "unsupported_parameter", param+": content part type "+strconv.Quote(typ)+" is not supported")
	}
}

// mediaTypeOf guesses a file's media type from its name, for bare base64.
func mediaTypeOf(name string) string {
	switch strings.ToLower(name[strings.LastIndexByte(name, '.')+1:]) {
	case "txt", "md":
		return "text/plain"
	case "csv":
		return "text/csv"
	case "html":
		return "text/html"
	}
	return "application/pdf"
}

// respAssistantContent adds an assistant message item's text (output_text
// parts, refusals) to the turn.
func respAssistantContent(turn *respChatMsg, c gjson.Result, param string) error {
	var text strings.Builder
	if s, ok := turn.Content.(string); ok {
		text.WriteString(s)
	}
	switch {
	case c.Type == gjson.String:
		text.WriteString(c.Str)
	case c.IsArray():
		for j, p := range c.Array() {
			pp := param + ".content[" + strconv.Itoa(j) + "]"
			switch typ := p.Get("type").Str; typ {
			case "output_text", "input_text":
				text.WriteString(p.Get("text").Str)
			case "refusal":
				text.WriteString(p.Get("refusal").Str)
			default:
				return responsesBad(pp+".type", "unsupported_parameter", pp+": content part type "+strconv.Quote(typ)+" is not supported in an assistant message")
			}
		}
	default:
		return responsesBad(param+".content", "invalid_type", param+".content must be a string or an array of content parts")
	}
	if text.Len() > 0 {
		turn.Content = text.String()
	}
	return nil
}

func respFunctionCallItem(item gjson.Result, param string) (respToolCall, error) {
	id, name := item.Get("call_id"), item.Get("name")
	if id.Type != gjson.String || id.Str == "" {
		return respToolCall{}, responsesBad(param+".call_id", "invalid_value", param+": function_call needs a 'call_id'")
	}
	if name.Type != gjson.String || name.Str == "" {
		return respToolCall{}, responsesBad(param+".name", "invalid_value", param+": function_call needs a 'name'")
	}
	args := item.Get("arguments")
	a := args.Str
	if args.IsObject() {
		a = args.Raw
	} else if args.Exists() && args.Type != gjson.String {
		return respToolCall{}, responsesBad(param+".arguments", "invalid_type", param+".arguments must be a JSON string")
	}
	return respToolCall{ID: id.Str, Type: "function", Function: respFunctionCall{Name: name.Str, Arguments: a}}, nil
}

// respFunctionOutput converts a function_call_output to a tool message, and
// the images and files of an array output, which chat tool messages cannot
// carry, to parts of a user message that follows the tool messages.
func respFunctionOutput(item gjson.Result, param string) (respChatMsg, []respChatPart, error) {
	id := item.Get("call_id")
	if id.Type != gjson.String || id.Str == "" {
		return respChatMsg{}, nil, responsesBad(param+".call_id", "invalid_value", param+": function_call_output needs a 'call_id'")
	}
	msg := respChatMsg{Role: "tool", ToolCallID: id.Str}
	o := item.Get("output")
	switch {
	case o.Type == gjson.String:
		msg.Content = o.Str
	case o.IsArray():
		var text strings.Builder
		var media []respChatPart
		for j, p := range o.Array() {
			part, err := respPart(p, param+".output["+strconv.Itoa(j)+"]")
			if err != nil {
				return respChatMsg{}, nil, err
			}
			if part.Type != "text" {
				media = append(media, part)
				continue
			}
			if text.Len() > 0 {
				text.WriteByte('\n')
			}
			text.WriteString(part.Text)
		}
		msg.Content = text.String()
		return msg, media, nil
	default:
		return respChatMsg{}, nil, responsesBad(param+".output", "invalid_type", param+".output must be a string or an array of content parts")
	}
	return msg, nil, nil
}

// respReasoningItem turns a reasoning item into the reasoning_details
// entries the provider translators read back: the gateway's own envelope
// restores the entries it carries (Claude's signatures, Gemini's thought
// signatures); OpenAI's encrypted_content and summaries travel as
// OpenRouter's openai-responses-v1 entries. next is the index of the turn's
// next entry, so entries of different items never merge.
func respReasoningItem(item gjson.Result, next int, param string) ([]json.RawMessage, error) {
	enc := item.Get("encrypted_content")
	if enc.Exists() && enc.Type != gjson.Null && enc.Type != gjson.String {
		return nil, responsesBad(param+".encrypted_content", "invalid_type", param+".encrypted_content must be a string")
	}
	entries, ok, err := openReasoningEnvelope(enc.Str, param+".encrypted_content")
	if err != nil {
		return nil, err
	}
	var out []json.RawMessage
	if ok {
		for _, e := range entries {
			if !e.IsObject() {
				return nil, responsesBad(param+".encrypted_content", "invalid_encrypted_content", param+".encrypted_content: reasoning data from the gateway was altered and cannot be restored")
			}
			out = append(out, json.RawMessage(e.Raw))
		}
		return out, nil
	}
	id := item.Get("id").Str
	entry := func(typ, field, value string) json.RawMessage {
		d := []byte(`{"type":"` + typ + `","` + field + `":`)
		d = appendJSONString(d, value)
		if id != "" {
			d = append(d, `,"id":`...)
			d = appendJSONString(d, id)
		}
		d = append(d, `,"format":"`+responsesReasoningFormat+`","index":`...)
		d = strconv.AppendInt(d, int64(next), 10)
		return append(d, '}')
	}
	for _, s := range item.Get("summary").Array() {
		if t := s.Get("text"); t.Type == gjson.String && t.Str != "" {
			out = append(out, entry("reasoning.summary", "summary", t.Str))
		}
	}
	for _, c := range item.Get("content").Array() {
		if t := c.Get("text"); t.Type == gjson.String && t.Str != "" {
			out = append(out, entry("reasoning.text", "text", t.Str))
		}
	}
	if enc.Str != "" {
		out = append(out, entry("reasoning.encrypted", "data", enc.Str))
	}
	return out, nil
}

// respImageTool reports whether tools declare OpenAI's image_generation
// tool.
func respImageTool(tools gjson.Result) bool {
	found := false
	tools.ForEach(func(_, t gjson.Result) bool {
		found = t.Get("type").Str == "image_generation"
		return !found
	})
	return found
}

// respTools converts function tools; built-in tools (web_search,
// file_search, code_interpreter, ...) have no chat counterpart and are
// dropped, reported as tools[].<type>.
func respTools(tools gjson.Result) (_ []respChatTool, dropped, custom []string, _ error) {
	if !tools.Exists() || tools.Type == gjson.Null {
		return nil, nil, nil, nil
	}
	if !tools.IsArray() {
		return nil, nil, nil, responsesBad("tools", "invalid_type", "'tools' must be an array")
	}
	var out []respChatTool
	for i, t := range tools.Array() {
		param := "tools[" + strconv.Itoa(i) + "]"
		typ := t.Get("type").Str
		if typ == "custom" {
			ct, err := respCustomTool(t, param)
			if err != nil {
				return nil, nil, nil, err
			}
			out = append(out, ct)
			custom = append(custom, ct.Function.Name)
			continue
		}
		if typ == "image_generation" {
			continue // respImageTool
		}
		if typ != "function" {
			if typ == "" {
				return nil, nil, nil, responsesBad(param+".type", "invalid_value", param+".type is required")
			}
			if d := "tools[]." + typ; !contains(dropped, d) {
				dropped = append(dropped, d)
			}
			continue
		}
		name := t.Get("name")
		if name.Type != gjson.String || name.Str == "" {
			return nil, nil, nil, responsesBad(param+".name", "invalid_value", param+".name is required")
		}
		fn := respFunction{Name: name.Str, Description: t.Get("description").Str, Parameters: json.RawMessage(`{"type":"object","properties":{}}`)}
		if p := t.Get("parameters"); p.IsObject() {
			fn.Parameters = json.RawMessage(p.Raw)
		} else if p.Exists() && p.Type != gjson.Null {
			return nil, nil, nil, responsesBad(param+".parameters", "invalid_type", param+".parameters must be a JSON Schema object")
		}
		if s := t.Get("strict"); s.IsBool() {
			b := s.Bool()
			fn.Strict = &b
		}
		out = append(out, respChatTool{Type: "function", Function: fn})
	}
	return out, dropped, custom, nil
}

// respToolChoice maps tool_choice. allowed_tools becomes its mode with the
// tools narrowed to the allowed functions, which is what it means.
func respToolChoice(tc gjson.Result, req *respChatRequest) error {
	if !tc.Exists() || tc.Type == gjson.Null {
		return nil
	}
	var choice any
	switch {
	case tc.Type == gjson.String:
		switch tc.Str {
		case "auto", "none", "required":
			choice = tc.Str
		default:
			return responsesBad("tool_choice", "invalid_value", "'tool_choice' must be auto, none, required or an object, got "+strconv.Quote(tc.Str))
		}
	case tc.IsObject():
		switch typ := tc.Get("type").Str; typ {
		case "function":
			name := tc.Get("name").Str
			if name == "" {
				return responsesBad("tool_choice.name", "invalid_value", "'tool_choice.name' is required when its type is function")
			}
			var nc respNamedChoice
			nc.Type, nc.Function.Name = "function", name
			choice = nc
		case "allowed_tools":
			mode := tc.Get("mode").Str
			if mode != "auto" && mode != "required" {
				return responsesBad("tool_choice.mode", "invalid_value", "'tool_choice.mode' must be auto or required, got "+strconv.Quote(mode))
			}
			allowed := map[string]bool{}
			for _, t := range tc.Get("tools").Array() {
				allowed[t.Get("name").Str] = true
			}
			kept := req.Tools[:0:0]
			for _, t := range req.Tools {
				if allowed[t.Function.Name] {
					kept = append(kept, t)
				}
			}
			req.Tools, choice = kept, mode
		default:
			return responsesBad("tool_choice.type", "unsupported_parameter", "'tool_choice' type "+strconv.Quote(typ)+" is not supported through a chat provider (only function tools are)")
		}
	default:
		return responsesBad("tool_choice", "invalid_type", "'tool_choice' must be a string or an object")
	}
	if len(req.Tools) > 0 { // chat refuses a tool_choice without tools
		req.ToolChoice = choice
	}
	return nil
}

// respEfforts are the reasoning efforts the provider translators take.
var respEfforts = []string{"none", "minimal", "low", "medium", "high", "xhigh"}

// respReasoningParams maps reasoning.effort to OpenRouter's reasoning.effort
// and reports whether summaries were asked for; summaries have no chat
// parameter, they decide how the answer shows reasoning.
func respReasoningParams(r gjson.Result, req *respChatRequest) (summary bool, _ error) {
	if !r.Exists() || r.Type == gjson.Null {
		return false, nil
	}
	if !r.IsObject() {
		return false, responsesBad("reasoning", "invalid_type", "'reasoning' must be an object")
	}
	if e := r.Get("effort"); e.Exists() && e.Type != gjson.Null {
		if e.Type != gjson.String || !contains(respEfforts, e.Str) {
			return false, responsesBad("reasoning.effort", "invalid_value", "'reasoning.effort' must be one of "+strings.Join(respEfforts, ", ")+", got "+e.Raw)
		}
		req.Reasoning = &respReasoningObj{Effort: e.Str}
	}
	for _, k := range []string{"summary", "generate_summary"} {
		s := r.Get(k)
		if !s.Exists() || s.Type == gjson.Null {
			continue
		}
		switch s.Str {
		case "auto", "concise", "detailed":
			summary = true
		default:
			return false, responsesBad("reasoning."+k, "invalid_value", "'reasoning."+k+"' must be auto, concise or detailed, got "+s.Raw)
		}
	}
	return summary, nil
}

// respTextParams maps text.format to response_format and text.verbosity to
// verbosity.
func respTextParams(t gjson.Result, req *respChatRequest) error {
	if !t.Exists() || t.Type == gjson.Null {
		return nil
	}
	if !t.IsObject() {
		return responsesBad("text", "invalid_type", "'text' must be an object")
	}
	if v := t.Get("verbosity"); v.Type == gjson.String {
		req.Verbosity = v.Str
	}
	f := t.Get("format")
	if !f.Exists() || f.Type == gjson.Null {
		return nil
	}
	switch typ := f.Get("type").Str; typ {
	case "text":
	case "json_object":
		req.ResponseFormat = &respChatFormat{Type: "json_object"}
	case "json_schema":
		name, schema := f.Get("name"), f.Get("schema")
		if name.Type != gjson.String || name.Str == "" {
			return responsesBad("text.format.name", "invalid_value", "'text.format.name' is required for json_schema")
		}
		if !schema.IsObject() {
			return responsesBad("text.format.schema", "invalid_value", "'text.format.schema' must be a JSON Schema object")
		}
		js := &respJSONSchema{Name: name.Str, Description: f.Get("description").Str, Schema: json.RawMessage(schema.Raw)}
		if s := f.Get("strict"); s.IsBool() {
			b := s.Bool()
			js.Strict = &b
		}
		req.ResponseFormat = &respChatFormat{Type: "json_schema", JSONSchema: js}
	default:
		return responsesBad("text.format.type", "invalid_value", "'text.format.type' must be text, json_object or json_schema, got "+strconv.Quote(typ))
	}
	return nil
}

// respEcho renders the request fields a response object repeats, with the
// Responses defaults for what the request leaves out.
func respEcho(root gjson.Result, model string, summary bool) ResponsesEcho {
	obj := []byte("{" + defaultEchoFields[1:] + "}")
	for _, k := range []string{"instructions", "max_output_tokens", "max_tool_calls", "parallel_tool_calls", "service_tier",
		"store", "temperature", "tool_choice", "tools", "top_logprobs", "top_p", "truncation", "user", "metadata"} {
		if v := root.Get(k); v.Exists() && v.Type != gjson.Null {
			obj, _ = sjson.SetRawBytes(obj, k, []byte(v.Raw))
		}
	}
	if r := root.Get("reasoning"); r.IsObject() {
		for _, k := range []string{"effort", "summary"} {
			if v := r.Get(k); v.Exists() {
				obj, _ = sjson.SetRawBytes(obj, "reasoning."+k, []byte(v.Raw))
			}
		}
	}
	if t := root.Get("text"); t.IsObject() {
		obj, _ = sjson.SetRawBytes(obj, "text", []byte(t.Raw))
		if !t.Get("format").Exists() {
			obj, _ = sjson.SetRawBytes(obj, "text.format", []byte(`{"type":"text"}`))
		}
	}
	obj[0] = ','
	return ResponsesEcho{Fields: obj[:len(obj)-1], Model: model, Summary: summary}
}
