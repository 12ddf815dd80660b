package translators

import (
	"encoding/json"
	"slices"

	"github.com/tidwall/gjson"
)

// Custom (freeform) tools: a Responses tool of type "custom" takes free
// text rather than JSON arguments (the Codex CLI's apply_patch, a patch
// in its own grammar). Chat has function tools only, so through a chat
// provider a custom tool is a function of one string parameter, "input",
// whose description carries the tool's format; the model's call comes
// back as a custom_tool_call item with that string as its input, and the
// client's custom_tool_call and custom_tool_call_output items go back as
// the tool call and the tool message. ResponsesEcho.Custom names the
// custom tools, so the answer side knows which calls to render so.

// respCustomParameters is the JSON Schema of a custom tool as a function.
const respCustomParameters = `{"type":"object","properties":{"input":{"type":"string","description":"The tool's input, as free text in the format the tool's description gives."}},"required":["input"],"additionalProperties":false}`

// respCustomTool converts a custom tool to a function tool.
func respCustomTool(t gjson.Result, param string) (respChatTool, error) {
	name := t.Get("name")
	if name.Type != gjson.String || name.Str == "" {
		return respChatTool{}, responsesBad(param+".name", "invalid_value", param+".name is required")
	}
	desc := t.Get("description").Str
	if f := t.Get("format"); f.Get("type").Str == "grammar" {
		if desc != "" {
			desc += "\n\n"
		}
		desc += "The input must follow this " + f.Get("syntax").Str + " grammar:\n" + f.Get("definition").Str
	}
	return respChatTool{Type: "function", Function: respFunction{Name: name.Str, Description: desc, Parameters: json.RawMessage(respCustomParameters)}}, nil
}

// respCustomCallItem converts a client's custom_tool_call item to a chat
// tool call whose arguments hold its input.
func respCustomCallItem(item gjson.Result, param string) (respToolCall, error) {
	id, name, input := item.Get("call_id"), item.Get("name"), item.Get("input")
	if id.Type != gjson.String || id.Str == "" {
		return respToolCall{}, responsesBad(param+".call_id", "invalid_value", param+": custom_tool_call needs a 'call_id'")
	}
	if name.Type != gjson.String || name.Str == "" {
		return respToolCall{}, responsesBad(param+".name", "invalid_value", param+": custom_tool_call needs a 'name'")
	}
	if input.Exists() && input.Type != gjson.String {
		return respToolCall{}, responsesBad(param+".input", "invalid_type", param+".input must be a string")
	}
	args := appendJSONString([]byte(`{"input":`), input.Str)
	return respToolCall{ID: id.Str, Type: "function", Function: respFunctionCall{Name: name.Str, Arguments: string(append(args, '}'))}}, nil
}

// custom reports whether name is one of the request's custom tools.
func (e ResponsesEcho) custom(name string) bool { return slices.Contains(e.Custom, name) }

// customInput is the input of a custom tool call from its chat
// arguments: the "input" string, or the arguments as sent when the model
// wrote something else.
func customInput(args string) string {
	if in := gjson.Get(args, "input"); in.Type == gjson.String && gjson.Valid(args) {
		return in.Str
	}
	return args
}

// appendCustomCallItem appends a custom_tool_call output item; id is the
// item id.
func appendCustomCallItem(dst, id []byte, status, callID, name, input string) []byte {
	dst = append(dst, `{"id":"`...)
	dst = append(dst, id...)
	dst = append(dst, `","type":"custom_tool_call","status":"`...)
	dst = append(dst, status...)
	dst = append(dst, `","call_id":`...)
	dst = appendJSONString(dst, callID)
	dst = append(dst, `,"input":`...)
	dst = appendJSONString(dst, input)
	dst = append(dst, `,"name":`...)
	dst = appendJSONString(dst, name)
	return append(dst, '}')
}

// closeCustom sends a custom tool call's input, held until its arguments
// were whole: one response.custom_tool_call_input.delta and the .done.
func (s *responsesStream) closeCustom(dst []byte, it *respItem) []byte {
	var args string
	if err := json.Unmarshal(append(append([]byte{'"'}, it.text...), '"'), &args); err != nil {
		args = string(it.text)
	}
	it.input = customInput(args)
	for _, ev := range []string{"response.custom_tool_call_input.delta", "response.custom_tool_call_input.done"} {
		dst = s.ev(dst, ev)
		dst = s.itemRef(dst, it)
		if ev == "response.custom_tool_call_input.delta" {
			dst = append(dst, `,"delta":`...)
		} else {
			dst = append(dst, `,"input":`...)
		}
		dst = appendJSONString(dst, it.input)
		dst = append(dst, "}\n\n"...)
	}
	return dst
}
