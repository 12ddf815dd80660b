package translators

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// RequireParameters reports whether the request asks that every parameter
// be honoured (OpenRouter's provider.require_parameters).
func RequireParameters(body []byte) bool {
	return gjson.GetBytes(body, "provider.require_parameters").Bool()
}

// droppedMessageNames is how every schema reports participant names
// (messages[].name) it leaves out. It is a report, not a gjson path.
const droppedMessageNames = "messages[].name"

// dropOrReject records unsupported parameters that the request sets. With
// provider.require_parameters it returns a 400 naming them instead.
// droppedMessageNames is kept as given: callers add it only when a message
// has a name.
func dropOrReject(body []byte, schema Schema, params ...string) ([]string, error) {
	var set []string
	for _, p := range params {
		if p == droppedMessageNames || gjson.GetBytes(body, p).Exists() {
			set = append(set, p)
		}
	}
	if len(set) > 0 && RequireParameters(body) {
		return nil, unsupportedParams(schema, set)
	}
	return set, nil
}

// unsupportedParams is the 400 for a request that sets
// provider.require_parameters and parameters the schema cannot honour.
func unsupportedParams(schema Schema, set []string) *APIError {
	return BadRequest("unsupported_parameter", "provider schema "+string(schema)+" cannot honour: "+strings.Join(set, ", ")+" (provider.require_parameters is set)")
}

func numberParam(root getter, name string, integer bool) (json.RawMessage, error) {
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

// functionTool is one validated entry of an OpenAI 'tools' array.
type functionTool struct {
	Path        string // tools[i], for error messages
	Name        string
	Description string
	// Params is the parameters JSON Schema object; it does not Exist when
	// the tool takes none.
	Params gjson.Result
	// Entry is the whole tools[i] object (cache_control and the like).
	Entry gjson.Result
}

// defaultToolSchema is what a tool without parameters declares where a
// schema is required.
var defaultToolSchema = json.RawMessage(`{"type":"object","properties":{}}`)

// functionTools checks an OpenAI 'tools' array: function tools only, each
// named, with an object schema if any. Every translator maps the result to
// its own tool shape.
func functionTools(tools gjson.Result) ([]functionTool, error) {
	if !tools.Exists() || tools.Type == gjson.Null {
		return nil, nil
	}
	if !tools.IsArray() {
		return nil, BadRequest("invalid_value", "'tools' must be an array")
	}
	var out []functionTool
	for i, t := range tools.Array() {
		path := "tools[" + strconv.Itoa(i) + "]"
		if typ := t.Get("type").String(); typ != "function" {
			return nil, BadRequest("unsupported_parameter", path+": tool type "+strconv.Quote(typ)+" is not supported, only function")
		}
		fn := t.Get("function")
		ft := functionTool{Path: path, Name: fn.Get("name").String(), Description: fn.Get("description").String(), Entry: t}
		if ft.Name == "" {
			return nil, BadRequest("invalid_value", path+".function.name is required")
		}
		if p := fn.Get("parameters"); p.Exists() && p.Type != gjson.Null {
			if !p.IsObject() {
				return nil, BadRequest("invalid_value", path+".function.parameters must be a JSON Schema object")
			}
			ft.Params = p
		}
		out = append(out, ft)
	}
	return out, nil
}

// schemaOrDefault is the tool's parameters, or defaultToolSchema.
func (t functionTool) schemaOrDefault() json.RawMessage {
	if t.Params.Exists() {
		return json.RawMessage(t.Params.Raw)
	}
	return defaultToolSchema
}
