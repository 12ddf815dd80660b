package translators

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// The OpenAI request reader: one pass over a chat request's messages into
// a neutral form that the Anthropic, Bedrock and Gemini writers render.
// What is malformed by OpenAI's own rules is refused here, once, with the
// path of the offending field; what a provider cannot take (an audio
// part, an http:// image) is refused by its writer, which knows why.

// chatRole is the role of one message, as the writers tell them apart.
type chatRole uint8

const (
	roleSystem    chatRole = iota + 1 // system and developer
	roleUser                          // user
	roleAssistant                     // assistant
	roleTool                          // tool: one tool call's result
	roleFunction                      // the legacy function-calling result
)

// chatConversation is the messages of one request, read.
type chatConversation struct {
	Messages []chatMessage
	// Names: a message other than a legacy function result carries a
	// participant name, which no writer's schema has.
	Names bool
}

// chatMessage is one message in neutral form.
type chatMessage struct {
	Role  chatRole
	Index int // in messages; path() names it in the writers' own errors
	// Parts is the content, empty text left out: text only, except in a
	// user message.
	Parts []chatPart
	// Plain: the content was a string, not an array of parts.
	Plain bool
	// CacheControl is set on the message itself, the way clients mark
	// a string content; the writers put it on the message's last block.
	CacheControl json.RawMessage
	ToolCalls    []assistantToolCall // assistant
	Reasoning    []reasoningDetail   // assistant: reasoning_details
	ToolCallID   string              // tool
	Name         string              // function: the function's name
}

// partKind is the type of one content part.
type partKind uint8

const (
	partText  partKind = iota // text, or an earlier refusal replayed
	partImage                 // image_url
	partAudio                 // input_audio
	partFile                  // file
)

// chatPart is one content part. MediaType and Data are set for an image
// or file sent inline as a base64 data: URL.
type chatPart struct {
	Kind partKind
	// Msg and Part place it: messages[Msg].content[Part], Part -1 for a
	// string content. Paths are built only for an error.
	Msg, Part int
	Text      string
	URL       string // image_url.url as sent
	// MediaType is as the data URL spells it; Data is base64. For
	// input_audio, Data and Format are the part's own fields.
	MediaType, Data, Format string
	FileName                string // file.filename
	CacheControl            json.RawMessage
}

// reasoningDetail is one reasoning_details entry of an assistant message:
// the reasoning an earlier answer returned, which a provider may need back
// to continue (signatures, encrypted reasoning).
type reasoningDetail struct {
	Type      string // reasoning.text, reasoning.encrypted, reasoning.summary
	Format    string // whose models made it; "" when not said
	Index     string // raw index: stream pieces of one block share it
	ID        string // the tool call a Gemini signature belongs to
	Text      string
	Signature string
	Data      string // of reasoning.encrypted
}

func msgPath(i int) string     { return "messages[" + strconv.Itoa(i) + "]" }
func partPath(i, j int) string { return msgPath(i) + ".content[" + strconv.Itoa(j) + "]" }

func (m chatMessage) path() string { return msgPath(m.Index) }

func (p chatPart) path() string {
	if p.Part < 0 {
		return msgPath(p.Msg)
	}
	return partPath(p.Msg, p.Part)
}

// readChat reads an OpenAI messages array, checked by checkChatRequest.
func readChat(msgs gjson.Result) (chatConversation, error) {
	arr := msgs.Array()
	conv := chatConversation{Messages: make([]chatMessage, 0, len(arr))}
	r := chatReader{parts: make([]chatPart, 0, len(arr)+4)}
	for i, m := range arr {
		if !m.IsObject() {
			return chatConversation{}, BadRequest("invalid_messages", msgPath(i)+" must be an object")
		}
		cm, n, err := r.message(m, i)
		if err != nil {
			return chatConversation{}, err
		}
		if cm.Role != roleFunction && n.Type == gjson.String && n.Str != "" {
			conv.Names = true
		}
		conv.Messages = append(conv.Messages, cm)
	}
	return conv, nil
}

// chatReader keeps the parts of all messages in one backing array, each
// message's Parts a window on it: a request's parts cost a few
// allocations, not one per message.
type chatReader struct{ parts []chatPart }

// window is the parts appended since start, capped so that appending to
// it never overwrites the next message's.
func (r *chatReader) window(start int) []chatPart {
	if len(r.parts) == start {
		return nil
	}
	return r.parts[start:len(r.parts):len(r.parts)]
}

// message reads one message, and returns its name member too.
func (r *chatReader) message(m gjson.Result, i int) (chatMessage, gjson.Result, error) {
	cm := chatMessage{Index: i}
	var f members // one pass over the message, not one per field
	f.read(m)
	c := f.Get("content")
	var err error
	switch role := f.Get("role").String(); role {
	case "system", "developer":
		cm.Role = roleSystem
		cm.Parts, err = r.textContent(c, i)
	case "user":
		cm.Role = roleUser
		cm.Parts, err = r.userContent(c, i)
	case "assistant":
		cm.Role = roleAssistant
		if cm.ToolCalls, err = assistantToolCalls(f.Get("function_call"), f.Get("tool_calls"), i); err != nil {
			return chatMessage{}, gjson.Result{}, err
		}
		if cm.Reasoning, err = readReasoning(f.Get("reasoning_details"), i); err != nil {
			return chatMessage{}, gjson.Result{}, err
		}
		cm.Parts, err = r.textContent(c, i)
	case "tool":
		cm.Role = roleTool
		if cm.ToolCallID = f.Get("tool_call_id").String(); cm.ToolCallID == "" {
			return chatMessage{}, gjson.Result{}, BadRequest("invalid_messages", msgPath(i)+": tool message needs a 'tool_call_id'")
		}
		cm.Parts, err = r.textContent(c, i)
	case "function":
		// The name is checked by the one writer that takes the role.
		cm.Role, cm.Name = roleFunction, f.Get("name").String()
		cm.Parts, err = r.textContent(c, i)
	default:
		return chatMessage{}, gjson.Result{}, BadRequest("invalid_messages", msgPath(i)+".role: unsupported role "+strconv.Quote(role))
	}
	if err != nil {
		return chatMessage{}, gjson.Result{}, err
	}
	cm.Plain = c.Type == gjson.String
	var ok bool
	if cm.CacheControl, ok = cacheControlValue(f.Get("cache_control")); !ok {
		return chatMessage{}, gjson.Result{}, cacheControlError(msgPath(i))
	}
	return cm, f.Get("name"), nil
}

// unsupportedRole is the error of a writer whose schema has no legacy
// function messages.
func (m *chatMessage) unsupportedRole() error {
	return BadRequest("invalid_messages", m.path()+`.role: unsupported role "function"`)
}

// errNoTurns is the 400 for a conversation that renders to no turn.
func errNoTurns() error {
	return BadRequest("invalid_messages", "at least one user or assistant message with content is required")
}

// cacheControl reads the cache_control of a content part, message or
// tool: an object passed through as sent ({"type":"ephemeral","ttl":"1h"});
// false when it is something else.
func cacheControl(r gjson.Result) (json.RawMessage, bool) {
	return cacheControlValue(r.Get("cache_control"))
}

// cacheControlValue is cacheControl on the cache_control member itself.
func cacheControlValue(c gjson.Result) (json.RawMessage, bool) {
	if !c.Exists() || c.Type == gjson.Null {
		return nil, true
	}
	if !c.IsObject() {
		return nil, false
	}
	return json.RawMessage(c.Raw), true
}

func cacheControlError(path string) error {
	return BadRequest("invalid_value", path+".cache_control must be an object such as {\"type\":\"ephemeral\"}")
}

// textContent reads content that may only hold text: a string or text
// parts (system, assistant and tool messages).
func (r *chatReader) textContent(c gjson.Result, i int) ([]chatPart, error) {
	start := len(r.parts)
	switch {
	case !c.Exists() || c.Type == gjson.Null:
	case c.Type == gjson.String:
		if c.Str != "" { // no schema takes an empty text block
			r.parts = append(r.parts, chatPart{Kind: partText, Msg: i, Part: -1, Text: c.Str})
		}
	case c.IsArray():
		for j, p := range c.Array() {
			var text gjson.Result
			switch typ := p.Get("type").String(); typ {
			case "text":
				text = p.Get("text")
			case "refusal": // an assistant's earlier refusal, replayed as text
				text = p.Get("refusal")
			default:
				return nil, BadRequest("invalid_messages", partPath(i, j)+": content part type "+strconv.Quote(typ)+" is not allowed here, only text")
			}
			if text.Type != gjson.String {
				return nil, BadRequest("invalid_messages", partPath(i, j)+": text part needs a string 'text'")
			}
			cc, ok := cacheControl(p)
			if !ok {
				return nil, cacheControlError(partPath(i, j))
			}
			if text.Str != "" {
				r.parts = append(r.parts, chatPart{Kind: partText, Msg: i, Part: j, Text: text.Str, CacheControl: cc})
			}
		}
	default:
		return nil, BadRequest("invalid_messages", msgPath(i)+".content must be a string or an array of content parts")
	}
	return r.window(start), nil
}

// userContent reads a user message's content, which may hold media.
func (r *chatReader) userContent(c gjson.Result, i int) ([]chatPart, error) {
	if !c.IsArray() {
		return r.textContent(c, i)
	}
	start := len(r.parts)
	for j, p := range c.Array() {
		cc, ok := cacheControl(p)
		if !ok {
			return nil, cacheControlError(partPath(i, j))
		}
		part := chatPart{Msg: i, Part: j, CacheControl: cc}
		switch typ := p.Get("type").String(); typ {
		case "text":
			t := p.Get("text")
			if t.Type != gjson.String {
				return nil, BadRequest("invalid_messages", partPath(i, j)+": text part needs a string 'text'")
			}
			if t.Str == "" {
				continue
			}
			part.Kind, part.Text = partText, t.Str
		case "image_url":
			part.Kind, part.URL = partImage, p.Get("image_url.url").String()
			if strings.HasPrefix(part.URL, "data:") {
				if part.MediaType, part.Data, ok = cutDataURL(part.URL); !ok {
					return nil, BadRequest("invalid_value", partPath(i, j)+": image data URL must be base64 (data:image/...;base64,...)")
				}
			}
		case "input_audio":
			part.Kind = partAudio
			part.Data, part.Format = p.Get("input_audio.data").String(), p.Get("input_audio.format").String()
		case "file":
			f := p.Get("file")
			part.Kind, part.FileName = partFile, f.Get("filename").String()
			// Without file_data the writer says why it cannot read file_id.
			if fd := f.Get("file_data").String(); fd != "" {
				if part.MediaType, part.Data, ok = cutDataURL(fd); !ok {
					return nil, BadRequest("invalid_value", partPath(i, j)+": file_data must be a base64 data URL (data:application/pdf;base64,...)")
				}
			}
		default:
			return nil, BadRequest("invalid_messages", partPath(i, j)+": unknown content part type "+strconv.Quote(typ))
		}
		r.parts = append(r.parts, part)
	}
	return r.window(start), nil
}

// cutDataURL splits a base64 data: URL into its media type (as spelt,
// parameters cut) and data; false when u is no such URL.
func cutDataURL(u string) (mediaType, data string, ok bool) {
	rest, isData := strings.CutPrefix(u, "data:")
	meta, data, ok := strings.Cut(rest, ",")
	if !isData || !ok || !strings.HasSuffix(meta, ";base64") || data == "" {
		return "", "", false
	}
	mediaType, _, _ = strings.Cut(meta, ";")
	return mediaType, data, true
}

// fileIDError refuses a file part without file_data: file_id refers to
// OpenAI's file store, which no other provider reads.
func fileIDError(p chatPart, provider string) error {
	return BadRequest("unsupported_parameter", p.path()+": a file part needs 'file_data' (a data: URL); 'file_id' refers to OpenAI's file store, which "+provider+" cannot read")
}

// readReasoning reads an assistant's reasoning_details. Entries are kept
// whatever their format: each writer keeps those its provider made.
func readReasoning(details gjson.Result, i int) ([]reasoningDetail, error) {
	if !details.Exists() || details.Type == gjson.Null {
		return nil, nil
	}
	if !details.IsArray() {
		return nil, BadRequest("invalid_messages", msgPath(i)+".reasoning_details must be an array")
	}
	arr := details.Array()
	out := make([]reasoningDetail, 0, len(arr))
	for j, d := range arr {
		rd := reasoningDetail{
			Type: d.Get("type").String(), Format: d.Get("format").String(), Index: d.Get("index").Raw,
			ID: d.Get("id").String(), Text: d.Get("text").String(), Signature: d.Get("signature").String(),
		}
		if rd.Type == "reasoning.encrypted" {
			data := d.Get("data")
			if data.Type != gjson.String || data.Str == "" {
				return nil, BadRequest("invalid_messages", msgPath(i)+".reasoning_details["+strconv.Itoa(j)+"]: reasoning.encrypted needs a string 'data'")
			}
			rd.Data = data.Str
		}
		out = append(out, rd)
	}
	return out, nil
}

// assistantToolCall is one tool call of an assistant message in the history.
type assistantToolCall struct {
	ID, Name string
	Input    json.RawMessage // the arguments as a JSON object
}

// assistantToolCalls reads an assistant message's tool_calls (and refuses
// the legacy function_call).
func assistantToolCalls(fc, calls gjson.Result, i int) ([]assistantToolCall, error) {
	if fc.Exists() && fc.Type != gjson.Null {
		return nil, BadRequest("unsupported_parameter", msgPath(i)+": legacy 'function_call' is not supported, use 'tool_calls'")
	}
	var out []assistantToolCall
	for j, tc := range calls.Array() {
		pp := func() string { return msgPath(i) + ".tool_calls[" + strconv.Itoa(j) + "]" }
		if typ := tc.Get("type"); typ.Exists() && typ.Str != "function" {
			return nil, BadRequest("invalid_messages", pp()+": unsupported tool call type "+strconv.Quote(typ.String()))
		}
		id, name := tc.Get("id").String(), tc.Get("function.name").String()
		if id == "" || name == "" {
			return nil, BadRequest("invalid_messages", pp()+": tool call needs an id and a function name")
		}
		input, problem := toolInput(tc.Get("function.arguments"))
		if problem != "" {
			return nil, BadRequest("invalid_value", pp()+".function.arguments "+problem)
		}
		out = append(out, assistantToolCall{ID: id, Name: name, Input: input})
	}
	return out, nil
}

// toolInput parses an OpenAI tool call's arguments string into the JSON
// object the writers send as the call's input; problem says what is
// wrong with arguments that are no such object.
func toolInput(args gjson.Result) (_ json.RawMessage, problem string) {
	raw := ""
	switch args.Type {
	case gjson.String:
		raw = strings.TrimSpace(args.Str)
	case gjson.JSON:
		raw = args.Raw // some clients send the object itself
	}
	if raw == "" {
		return json.RawMessage("{}"), ""
	}
	if !gjson.Valid(raw) {
		return nil, "is not valid JSON"
	}
	if !gjson.Parse(raw).IsObject() {
		return nil, "must be a JSON object"
	}
	return json.RawMessage(raw), ""
}
