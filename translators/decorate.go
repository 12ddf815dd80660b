package translators

import (
	"bytes"
	"slices"
)

// addUsageFields adds JSON members (without braces) first in the first
// usage object in SSE bytes (translators send exactly one, in the last
// chunk; usage on other chunks is null or absent). It reports whether it
// found one.
func addUsageFields(b []byte, field string) ([]byte, bool) {
	const key = `"usage":{`
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return b, false
	}
	i += len(key)
	if i >= len(b) {
		return b, false
	}
	if b[i] != '}' {
		field += ","
	}
	return slices.Insert(b, i, []byte(field)...), true
}

// tagProvider copies SSE bytes, adding field as the first member of every
// event's JSON object ("data: {" -> "data: {<field>"); [DONE] and other
// lines pass unchanged.
func tagProvider(dst, src, field []byte) []byte {
	const prefix = "data: {"
	for len(src) > 0 {
		i := bytes.Index(src, []byte(prefix))
		if i < 0 || (i > 0 && src[i-1] != '\n') {
			if i < 0 {
				return append(dst, src...)
			}
			dst = append(dst, src[:i+len(prefix)]...)
			src = src[i+len(prefix):]
			continue
		}
		dst = append(dst, src[:i+len(prefix)]...)
		src = src[i+len(prefix):]
		if len(src) > 0 && src[0] == '}' {
			dst = append(dst, field[:len(field)-1]...) // an empty object: no comma
		} else {
			dst = append(dst, field...)
		}
	}
	return dst
}
