package translators

import (
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// The gateway keeps the Responses API's state itself (previous_response_id,
// GET /v1/responses/{id}) for answers it translated: a provider that only
// speaks chat keeps nothing. What follows is the pure part: reading a
// request's turn, expanding a follow-up into the conversation it continues,
// and catching the final response object of a stream. The store and the
// hops that use it live in governance and extproc.

// ResponsesTurn is what the response store needs of a Responses request.
type ResponsesTurn struct {
	// Previous is previous_response_id, empty without one.
	Previous string
	// Store is the store flag; the Responses default is true.
	Store bool
	// Input is the request's own input as a JSON array of items (a string
	// input becomes one user message), "[]" without input.
	Input []byte
}

// ReadResponsesTurn reads a Responses request body's turn. A body that is
// not a JSON object, or a previous_response_id or input of the wrong type,
// is a 400 naming the parameter.
func ReadResponsesTurn(body []byte) (ResponsesTurn, error) {
	if !validJSON(body) {
		return ResponsesTurn{}, BadRequest("invalid_json", "request body is not valid JSON")
	}
	root := gjson.ParseBytes(body)
	if !root.IsObject() {
		return ResponsesTurn{}, BadRequest("invalid_request", "request body must be a JSON object")
	}
	t := ResponsesTurn{Store: root.Get("store").Type != gjson.False}
	switch prev := root.Get("previous_response_id"); {
	case prev.Type == gjson.String:
		t.Previous = prev.Str
	case prev.Exists() && prev.Type != gjson.Null:
		return ResponsesTurn{}, responsesBad("previous_response_id", "invalid_type", "'previous_response_id' must be a string")
	}
	switch in := root.Get("input"); {
	case in.Type == gjson.String:
		t.Input = appendUserItem(make([]byte, 0, len(in.Raw)+48), in.Str)
	case in.IsArray():
		t.Input = []byte(in.Raw)
	case !in.Exists() || in.Type == gjson.Null:
		t.Input = []byte("[]")
	default:
		return ResponsesTurn{}, responsesBad("input", "invalid_type", "'input' must be a string or an array of input items")
	}
	return t, nil
}

// appendUserItem appends a one-item array: a user message of text.
func appendUserItem(dst []byte, text string) []byte {
	dst = append(dst, `[{"type":"message","role":"user","content":`...)
	dst = appendJSONString(dst, text)
	return append(dst, "}]"...)
}

// ResponsesHistory is the conversation a follow-up on a stored response
// continues: the input that led to it, then its output items. input is a
// JSON array of items; response a response object. A response without an
// output array adds nothing.
func ResponsesHistory(input, response []byte) []byte {
	out := gjson.GetBytes(response, "output")
	return JoinItems(input, []byte(out.Raw))
}

// JoinItems concatenates JSON arrays of items; an empty or non-array
// argument adds nothing.
func JoinItems(arrays ...[]byte) []byte {
	n := 2
	for _, a := range arrays {
		n += len(a)
	}
	dst := make([]byte, 0, n)
	dst = append(dst, '[')
	first := true
	for _, a := range arrays {
		r := gjson.ParseBytes(a)
		if !r.IsArray() {
			continue
		}
		r.ForEach(func(_, item gjson.Result) bool {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = append(dst, item.Raw...)
			return true
		})
	}
	return append(dst, ']')
}

// ExpandResponses returns a Responses body whose previous_response_id is
// replaced by the conversation it names: input becomes history followed
// by the body's own input. The body itself is not modified.
func ExpandResponses(body, history []byte, own ResponsesTurn) ([]byte, error) {
	out, err := sjson.SetRawBytes(append([]byte(nil), body...), "input", JoinItems(history, own.Input))
	if err == nil {
		out, err = sjson.DeleteBytes(out, "previous_response_id")
	}
	if err != nil {
		return nil, BadRequest("invalid_request", "cannot expand previous_response_id: "+err.Error())
	}
	return out, nil
}

// NativeFor reports whether an attempt of api on a provider of spec at
// t's host passes the client's body through (Spec.Native), as Begin
// decides.
func NativeFor(api *API, spec *Spec, t Target) bool {
	return spec.IsNative(api.Endpoint) && (spec.NativeFor == nil || spec.NativeFor(api.Endpoint, t))
}

// ResponsesCapture reads a Responses event stream as the client gets it
// and keeps the response object of its terminal event, the one a store
// keeps. Feed it the translated bytes in order.
type ResponsesCapture struct {
	dec    SSEDecoder
	final  []byte
	status string
	broken bool
}

// Write feeds stream bytes. An event too large for the decoder stops the
// capture: nothing is kept.
func (c *ResponsesCapture) Write(sse []byte) {
	if c.broken || len(sse) == 0 {
		return
	}
	if err := c.dec.Write(sse); err != nil {
		c.broken, c.final = true, nil
		return
	}
	for {
		ev, ok := c.dec.Next()
		if !ok {
			return
		}
		switch typ := gjson.GetBytes(ev.Data, "type").Str; typ {
		case "response.completed", "response.incomplete", "response.failed":
			c.final = append(c.final[:0], gjson.GetBytes(ev.Data, "response").Raw...)
			c.status = typ[len("response."):]
		}
	}
}

// Final is the terminal event's response object and its status
// (completed, incomplete or failed); ok is false before one came.
func (c *ResponsesCapture) Final() (response []byte, status string, ok bool) {
	if c.broken || len(c.final) == 0 {
		return nil, "", false
	}
	return c.final, c.status, true
}
