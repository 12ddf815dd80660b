package translators

import (
	"encoding/json"
	"strings"

	"github.com/tidwall/gjson"
)

// geminiSchemaKeys are the JSON Schema keywords Gemini's Schema object
// (an OpenAPI 3.0 subset) takes as they are.
var geminiSchemaKeys = map[string]bool{
	"title": true, "description": true, "pattern": true, "example": true, "default": true,
	"minimum": true, "maximum": true, "minItems": true, "maxItems": true, "minLength": true,
	"maxLength": true, "minProperties": true, "maxProperties": true, "required": true,
	"propertyOrdering": true,
}

// geminiSchemaFormats are the formats Gemini accepts; others are dropped.
var geminiSchemaFormats = map[string]bool{"date-time": true, "enum": true, "float": true, "double": true, "int32": true, "int64": true}

// geminiSchemaMaxDepth bounds $ref expansion of recursive schemas.
const geminiSchemaMaxDepth = 24

// geminiSchema rewrites a JSON Schema into the subset Gemini accepts:
// local $refs are inlined, type arrays and null members become nullable,
// oneOf becomes anyOf, const a one-value enum, and keywords Gemini rejects
// (additionalProperties, $schema, patternProperties, ...) are left out.
func geminiSchema(s gjson.Result) json.RawMessage {
	w := geminiSchemaWriter{root: s}
	return w.write(nil, s, 0)
}

type geminiSchemaWriter struct{ root gjson.Result }

// resolve follows a local reference ("#/$defs/Name", "#/definitions/Name").
func (w *geminiSchemaWriter) resolve(ref string) gjson.Result {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return gjson.Result{}
	}
	cur := w.root
	for _, seg := range strings.Split(rest, "/") {
		seg = strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")
		next := gjson.Result{}
		cur.ForEach(func(k, v gjson.Result) bool {
			if k.Str == seg {
				next = v
				return false
			}
			return true
		})
		if !next.Exists() {
			return gjson.Result{}
		}
		cur = next
	}
	return cur
}

func (w *geminiSchemaWriter) write(dst []byte, s gjson.Result, depth int) []byte {
	if !s.IsObject() || depth > geminiSchemaMaxDepth {
		return append(dst, "{}"...)
	}
	// A reference, or allOf of one schema, stands for that schema.
	var target gjson.Result
	s.ForEach(func(k, v gjson.Result) bool {
		switch {
		case k.Str == "$ref" && v.Type == gjson.String:
			target = w.resolve(v.Str)
		case k.Str == "allOf" && v.IsArray() && len(v.Array()) == 1:
			target = v.Get("0")
		}
		return !target.Exists()
	})
	if target.Exists() {
		return w.write(dst, target, depth+1)
	}
	dst = append(dst, '{')
	n := 0
	key := func(k string) {
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = appendJSONString(dst, k)
		dst = append(dst, ':')
	}
	nullable, anyOf, enum := false, false, false
	s.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "type":
			switch {
			case v.Type == gjson.String && v.Str == "null":
				nullable = true
			case v.Type == gjson.String:
				key("type")
				dst = append(dst, v.Raw...)
			case v.IsArray():
				typ := ""
				for _, t := range v.Array() {
					if t.Str == "null" {
						nullable = true
					} else if typ == "" {
						typ = t.Str
					}
				}
				if typ != "" {
					key("type")
					dst = appendJSONString(dst, typ)
				}
			}
		case "nullable":
			nullable = nullable || v.Type == gjson.True
		case "format":
			if geminiSchemaFormats[v.Str] {
				key("format")
				dst = append(dst, v.Raw...)
			}
		case "enum", "const":
			vals := []gjson.Result{v}
			if k.Str == "enum" {
				vals = v.Array()
			}
			if enum || len(vals) == 0 {
				break
			}
			strs := 0
			for _, e := range vals {
				switch e.Type {
				case gjson.String:
					strs++
				case gjson.Null: // OpenAI strict mode's optional enum: nullable
				default:
					return true // Gemini takes string enums only
				}
			}
			if strs < len(vals) {
				nullable = true
			}
			if strs == 0 {
				break
			}
			enum = true
			if !s.Get("type").Exists() {
				key("type") // Gemini takes enums on strings only
				dst = append(dst, `"string"`...)
			}
			key("enum")
			dst = append(dst, '[')
			i := 0
			for _, e := range vals {
				if e.Type != gjson.String {
					continue
				}
				if i > 0 {
					dst = append(dst, ',')
				}
				i++
				dst = append(dst, e.Raw...)
			}
			dst = append(dst, ']')
		case "properties":
			if !v.IsObject() || len(v.Map()) == 0 {
				break // Gemini rejects an empty properties object
			}
			key("properties")
			dst = append(dst, '{')
			i := 0
			v.ForEach(func(pk, pv gjson.Result) bool {
				if i > 0 {
					dst = append(dst, ',')
				}
				i++
				dst = appendJSONString(dst, pk.String())
				dst = append(dst, ':')
				dst = w.write(dst, pv, depth+1)
				return true
			})
			dst = append(dst, '}')
		case "items":
			it := v
			if v.IsArray() { // a tuple: Gemini has one item schema
				it = v.Get("0")
			}
			if it.IsObject() {
				key("items")
				dst = w.write(dst, it, depth+1)
			}
		case "anyOf", "oneOf":
			if anyOf || !v.IsArray() {
				break
			}
			var members []gjson.Result
			for _, m := range v.Array() {
				if m.Get("type").Str == "null" && len(m.Map()) == 1 {
					nullable = true
				} else {
					members = append(members, m)
				}
			}
			if len(members) == 0 {
				break
			}
			anyOf = true
			if len(members) == 1 {
				// One schema or null: the schema itself, nullable. Its
				// keywords join the parent's, which win.
				gjson.ParseBytes(w.write(nil, members[0], depth+1)).ForEach(func(mk, mv gjson.Result) bool {
					if mk.Str == "nullable" {
						nullable = nullable || mv.Type == gjson.True
					} else if !s.Get(mk.Str).Exists() { // sanitized keys need no escaping
						key(mk.Str)
						dst = append(dst, mv.Raw...)
					}
					return true
				})
				break
			}
			key("anyOf")
			dst = append(dst, '[')
			for i, m := range members {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = w.write(dst, m, depth+1)
			}
			dst = append(dst, ']')
		default:
			if geminiSchemaKeys[k.Str] {
				key(k.Str)
				dst = append(dst, v.Raw...)
			}
		}
		return true
	})
	if nullable {
		key("nullable")
		dst = append(dst, "true"...)
	}
	return append(dst, '}')
}
