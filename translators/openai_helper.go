package translators

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// chunkHeader is what every OpenAI chunk of one stream repeats.
type chunkHeader struct {
	ID      string
	Model   string
	Created int64
}

func (h *chunkHeader) fill() {
	if h.ID == "" {
		h.ID = "chatcmpl-switchboard-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	if h.Created == 0 {
		h.Created = time.Now().Unix()
	}
}

// appendChunk appends one chat.completion.chunk event. choice is the raw
// JSON fields of choices[0] (delta, finish_reason); an empty choice emits a
// chunk with no choices (the usage chunk).
func appendChunk(dst []byte, h *chunkHeader, choice string, usage *Usage) []byte {
	dst = appendChunkPrefix(dst, h)
	if choice != "" {
		dst = append(dst, `{"index":0,`...)
		dst = append(dst, choice...)
		dst = append(dst, '}')
	}
	dst = append(dst, ']')
	if usage != nil {
		dst = append(dst, `,"usage":`...)
		dst = appendUsage(dst, *usage)
	}
	return append(dst, "}\n\n"...)
}

// appendChunkPrefix appends the part of a chunk event every chunk of a stream
// repeats, up to and including `"choices":[`. Stream translators render it
// once and copy it per chunk.
func appendChunkPrefix(dst []byte, h *chunkHeader) []byte {
	h.fill()
	dst = append(dst, `data: {"id":`...)
	dst = appendJSONString(dst, h.ID)
	dst = append(dst, `,"object":"chat.completion.chunk","created":`...)
	dst = strconv.AppendInt(dst, h.Created, 10)
	dst = append(dst, `,"model":`...)
	dst = appendJSONString(dst, h.Model)
	return append(dst, `,"choices":[`...)
}

// appendJSONString appends s as a JSON string literal. strconv.Quote is not
// a substitute: its \x escapes are not JSON. Invalid UTF-8 becomes U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendUsage appends the OpenAI usage object.
func appendUsage(dst []byte, u Usage) []byte {
	dst = append(dst, `{"prompt_tokens":`...)
	dst = strconv.AppendInt(dst, u.PromptTokens, 10)
	dst = append(dst, `,"completion_tokens":`...)
	dst = strconv.AppendInt(dst, u.CompletionTokens, 10)
	dst = append(dst, `,"total_tokens":`...)
	dst = strconv.AppendInt(dst, u.Total(), 10)
	dst = append(dst, `,"prompt_tokens_details":{"cached_tokens":`...)
	dst = strconv.AppendInt(dst, u.CachedTokens, 10)
	if u.CacheWriteTokens > 0 {
		dst = append(dst, `,"cache_write_tokens":`...)
		dst = strconv.AppendInt(dst, u.CacheWriteTokens, 10)
	}
	dst = append(dst, `},"completion_tokens_details":{"reasoning_tokens":`...)
	dst = strconv.AppendInt(dst, u.ReasoningTokens, 10)
	dst = append(dst, '}')
	if u.WebSearches > 0 {
		dst = append(dst, `,"server_tool_use":{"web_search_requests":`...)
		dst = strconv.AppendInt(dst, u.WebSearches, 10)
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// appendErrorChunk ends a broken stream the way OpenRouter does: a last chunk
// with finish_reason "error" and a top-level error object.
func appendErrorChunk(dst []byte, h *chunkHeader, e *APIError) []byte {
	h.fill()
	b := []byte(`{"id":"","object":"chat.completion.chunk","created":0,"model":"","choices":[{"index":0,"delta":{},"finish_reason":"error"}],"error":{}}`)
	b, _ = sjson.SetBytes(b, "id", h.ID)
	b, _ = sjson.SetBytes(b, "created", h.Created)
	b, _ = sjson.SetBytes(b, "model", h.Model)
	b, _ = sjson.SetRawBytes(b, "error", []byte(gjson.GetBytes(e.Body(), "error").Raw))
	return appendSSEData(dst, b)
}

// openAIUsage reads an OpenAI usage object.
func openAIUsage(u gjson.Result) Usage {
	return Usage{
		PromptTokens:     u.Get("prompt_tokens").Int(),
		CompletionTokens: u.Get("completion_tokens").Int(),
		CachedTokens:     u.Get("prompt_tokens_details.cached_tokens").Int(),
		CacheWriteTokens: u.Get("prompt_tokens_details.cache_write_tokens").Int(),
		ReasoningTokens:  u.Get("completion_tokens_details.reasoning_tokens").Int(),
	}
}

// checkChatRequest validates what every translator needs from a chat request.
// nonEmpty reports whether the array a has an element, without
// building the array (a long conversation has thousands).
func nonEmpty(a gjson.Result) bool {
	n := false
	a.ForEach(func(_, _ gjson.Result) bool { n = true; return false })
	return n
}

func checkChatRequest(body []byte) error {
	if !validJSON(body) {
		return BadRequest("invalid_json", "request body is not valid JSON")
	}
	return checkChatShape(body)
}

// checkChatShape is checkChatRequest's shape checks on valid JSON.
func checkChatShape(body []byte) error {
	root := ParseView(body)
	if !root.IsObject() {
		return BadRequest("invalid_request", "request body must be a JSON object")
	}
	if m := root.Get("messages"); !m.IsArray() || !nonEmpty(m) {
		return BadRequest("invalid_messages", "'messages' must be a non-empty array")
	}
	return nil
}
