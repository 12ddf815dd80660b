// Package healing is the response-healing plugin (OpenRouter's
// "response-healing"): when a chat request asked for JSON
// (response_format json_object or json_schema), a model's almost-JSON
// answer is repaired — markdown fences and surrounding prose stripped,
// a truncated value closed, trailing commas, single quotes and unquoted
// keys fixed — and checked against the request's schema.
//
// It works on the OpenAI chat form only and is pure: bytes in, bytes out,
// no logging. What could not be healed is reported in a Report, never
// silently passed as healed.
package healing

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/kaptinlin/jsonrepair"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/tidwall/gjson"
)

// Limits bound the work done on one answer.
type Limits struct {
	// MaxBytes is the largest answer text healed; a longer one is left as
	// it is and reported. Default 1 MiB.
	MaxBytes int
	// MaxDepth is the deepest nesting of arrays and objects healed.
	// Default 128.
	MaxDepth int
}

const (
	defaultMaxBytes = 1 << 20
	defaultMaxDepth = 128
)

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = defaultMaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = defaultMaxDepth
	}
	return l
}

// Kind is the response_format type that asked for JSON.
type Kind string

const (
	KindJSONObject Kind = "json_object"
	KindJSONSchema Kind = "json_schema"
)

// Format is what a request asked its answer to be.
type Format struct {
	Kind Kind
	// Name is json_schema.name, for reports.
	Name string
	// Schema is the compiled json_schema.schema (nil for json_object or
	// a json_schema without a schema).
	Schema *jsonschema.Schema
}

// FormatFromRequest reads response_format from an OpenAI chat request.
// ok is false when the request did not ask for JSON. An error is a
// json_schema whose schema does not compile; the caller answers 400.
func FormatFromRequest(body []byte) (f Format, ok bool, err error) {
	rf := gjson.GetBytes(body, "response_format")
	switch Kind(rf.Get("type").String()) {
	case KindJSONObject:
		return Format{Kind: KindJSONObject}, true, nil
	case KindJSONSchema:
		js := rf.Get("json_schema")
		f = Format{Kind: KindJSONSchema, Name: js.Get("name").String()}
		if s := js.Get("schema"); s.Exists() {
			if f.Schema, err = compileSchema([]byte(s.Raw)); err != nil {
				return Format{}, false, fmt.Errorf("healing: response_format.json_schema.schema: %w", err)
			}
		}
		return f, true, nil
	}
	return Format{}, false, nil
}

// Status says what healing did to one answer.
type Status string

const (
	// StatusValid: the answer was valid as sent; nothing changed.
	StatusValid Status = "valid"
	// StatusHealed: the answer was repaired and now parses (and matches
	// the schema when there is one).
	StatusHealed Status = "healed"
	// StatusFailed: the answer could not be turned into valid JSON, or
	// the repaired JSON does not match the schema; it is left as sent.
	StatusFailed Status = "failed"
	// StatusSkipped: there was nothing to heal (no text content, a tool
	// call answer, a refusal) or the answer exceeds the limits.
	StatusSkipped Status = "skipped"
)

// Outcome is the result of healing one answer text.
type Outcome struct {
	Status Status
	// Text is the healed text, or the text as sent unless Status is
	// StatusHealed.
	Text string
	// Problem says why healing failed or was skipped, for the report.
	// It never quotes the answer.
	Problem string
}

// Heal repairs text so that it is the JSON f asks for.
func Heal(text string, f Format, lim Limits) Outcome {
	lim = lim.withDefaults()
	if len(text) > lim.MaxBytes {
		return Outcome{Status: StatusSkipped, Text: text, Problem: fmt.Sprintf("answer is %d bytes, over the %d-byte healing limit", len(text), lim.MaxBytes)}
	}
	if strings.TrimSpace(text) == "" {
		return Outcome{Status: StatusFailed, Text: text, Problem: "answer is empty"}
	}
	if json.Valid([]byte(text)) {
		if problem := check(text, f); problem != "" {
			return Outcome{Status: StatusFailed, Text: text, Problem: problem}
		}
		return Outcome{Status: StatusValid, Text: text}
	}
	candidate := extract(text)
	if d := maxDepth(candidate); d > lim.MaxDepth {
		return Outcome{Status: StatusFailed, Text: text, Problem: fmt.Sprintf("answer nests %d deep, over the limit of %d", d, lim.MaxDepth)}
	}
	repaired, err := repair(candidate)
	if err != nil || !json.Valid([]byte(repaired)) {
		return Outcome{Status: StatusFailed, Text: text, Problem: "answer could not be repaired into JSON"}
	}
	if !strings.ContainsAny(candidate, "{[") && gjson.Parse(repaired).Type == gjson.String {
		// The repairer quotes plain prose into a string; that is not healing.
		return Outcome{Status: StatusFailed, Text: text, Problem: "answer holds no JSON value"}
	}
	if problem := check(repaired, f); problem != "" {
		return Outcome{Status: StatusFailed, Text: text, Problem: "repaired answer " + problem}
	}
	return Outcome{Status: StatusHealed, Text: repaired}
}

// repair runs the library repairer, turning its panics on odd input
// into errors.
func repair(s string) (out string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("repair failed")
		}
	}()
	return jsonrepair.Repair(s)
}

// check returns "" when valid JSON text is what f asks for, or why not.
func check(text string, f Format) string {
	if f.Kind == KindJSONObject && !gjson.Parse(text).IsObject() {
		return "is not a JSON object"
	}
	if f.Schema == nil {
		return ""
	}
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		return "does not parse"
	}
	if err := f.Schema.Validate(v); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return "does not match the schema at " + schemaLocation(ve)
		}
		return "does not match the schema"
	}
	return ""
}

// schemaLocation names where the first failure is, by instance path only
// (the library's messages quote values from the answer).
func schemaLocation(ve *jsonschema.ValidationError) string {
	for len(ve.Causes) > 0 {
		ve = ve.Causes[0]
	}
	if len(ve.InstanceLocation) == 0 {
		return "the root"
	}
	return "/" + strings.Join(ve.InstanceLocation, "/")
}

// extract cuts the JSON value out of an answer: the inside of the first
// markdown code fence if there is one, else from the first '{' or '['
// to the end of that value (prose after it dropped) or to the end of the
// text when the value is cut short.
func extract(text string) string {
	s := strings.TrimSpace(strings.TrimPrefix(text, "\uFEFF"))
	if i := strings.Index(s, "```"); i >= 0 {
		body := s[i+3:]
		// The info string (```json) runs to the end of the line.
		if nl := strings.IndexByte(body, '\n'); nl >= 0 && !strings.ContainsAny(body[:nl], "{[") {
			body = body[nl+1:]
		}
		if j := strings.Index(body, "```"); j >= 0 {
			body = body[:j]
		}
		s = strings.TrimSpace(body)
	}
	start := strings.IndexAny(s, "{[")
	if start < 0 {
		return s
	}
	s = s[start:]
	if end := valueEnd(s); end > 0 {
		return s[:end]
	}
	return s
}

// valueEnd returns the length of the balanced value s starts with, or 0
// when it never closes. It knows strings in double quotes only; single
// quoted ones are left for the repairer.
func valueEnd(s string) int {
	depth, inString, escaped := 0, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return 0
}

// maxDepth is the deepest bracket nesting of s, outside double-quoted
// strings. Linear and allocation-free, so it can run before the
// repairer (which recurses) on hostile input.
func maxDepth(s string) int {
	depth, deepest, inString, escaped := 0, 0, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			deepest = max(deepest, depth)
		case '}', ']':
			depth--
		}
	}
	return deepest
}

// denyLoader refuses every $ref that is not inside the schema itself: a
// request's schema must not make the gateway read files or URLs.
type denyLoader struct{}

func (denyLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("external $ref %q is not allowed", url)
}

const (
	schemaURL       = "urn:switchboard:response-schema"
	maxSchemaBytes  = 256 << 10
	schemaCacheSize = 256
)

// schemaCache keeps compiled schemas by content hash: a client sends the
// same schema with every request.
var schemaCache = struct {
	sync.Mutex
	m map[[32]byte]*jsonschema.Schema
}{m: map[[32]byte]*jsonschema.Schema{}}

func compileSchema(raw []byte) (*jsonschema.Schema, error) {
	if len(raw) > maxSchemaBytes {
		return nil, fmt.Errorf("schema is %d bytes, over the %d-byte limit", len(raw), maxSchemaBytes)
	}
	key := sha256.Sum256(raw)
	schemaCache.Lock()
	sch, ok := schemaCache.m[key]
	schemaCache.Unlock()
	if ok {
		return sch, nil
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(denyLoader{})
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, err
	}
	if sch, err = c.Compile(schemaURL); err != nil {
		return nil, err
	}
	schemaCache.Lock()
	if len(schemaCache.m) >= schemaCacheSize {
		clear(schemaCache.m)
	}
	schemaCache.m[key] = sch
	schemaCache.Unlock()
	return sch, nil
}
