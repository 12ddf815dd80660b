package translators

import (
	"bytes"
	"errors"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/tidwall/gjson"
)

// MaxJSONDepth bounds the nesting of every JSON document the gateway
// parses, requests and provider answers alike. gjson and sjson recurse
// per level: ten million nested arrays overflowed the goroutine stack, a
// fatal error no recover catches. Real requests nest a few levels (tool
// schemas a few dozen); 128 leaves room.
const MaxJSONDepth = 128

// depthWithin reports whether b nests no deeper than limit. It is one
// linear pass that knows only strings and brackets, so it is safe on any
// input and runs before any recursive parser sees the bytes.
func depthWithin(b []byte, limit int) bool {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			if i = stringEnd(b, i+1); i < 0 {
				return true // unterminated: the parser refuses it
			}
		case '[', '{':
			if depth++; depth > limit {
				return false
			}
		case ']', '}':
			depth--
		}
	}
	return true
}

// stringEnd is the index of the quote that closes the string starting at
// b[from], or -1. Strings are most of a request's bytes, so the quote is
// found with IndexByte and an escaped one (an odd run of backslashes
// before it) skipped.
func stringEnd(b []byte, from int) int {
	for at := from; ; {
		j := bytes.IndexByte(b[at:], '"')
		if j < 0 {
			return -1
		}
		q := at + j
		k := q
		for k > from && b[k-1] == '\\' {
			k--
		}
		if (q-k)%2 == 0 {
			return q
		}
		at = q + 1
	}
}

// validJSON is gjson.ValidBytes made safe on hostile input: nesting is
// bounded before gjson recurses. Every parse of bytes from outside goes
// through it.
func validJSON(b []byte) bool {
	return depthWithin(b, MaxJSONDepth) && gjson.ValidBytes(b)
}

// CheckRequestJSON is the gate for a client body, before anything reads
// it: valid JSON (RFC 8259, UTF-8), nesting within MaxJSONDepth, and no
// object with a repeated member name at any depth. Duplicates are refused
// because parsers disagree on them: gjson reads the first, most providers
// the last, so {"model":"cheap","model":"expensive"} would be routed,
// priced and policed as one model and served as the other.
func CheckRequestJSON(body []byte) *APIError {
	if !depthWithin(body, MaxJSONDepth) {
		return BadRequest("json_too_deep", "request body nests deeper than "+strconv.Itoa(MaxJSONDepth)+" levels, the gateway's limit")
	}
	if jsontext.Value(body).IsValid() {
		return nil
	}
	// Invalid: decode again, slowly, only to say why.
	_, err := jsontext.NewDecoder(bytes.NewReader(body)).ReadValue()
	var se *jsontext.SyntacticError
	if errors.As(err, &se) && strings.Contains(se.Error(), "duplicate object member name") {
		msg := strings.TrimPrefix(se.Error(), "jsontext: ")
		return BadRequest("duplicate_key", "request body repeats a member name ("+msg+"); each key may appear once")
	}
	return BadRequest("invalid_json", "request body is not valid JSON")
}
