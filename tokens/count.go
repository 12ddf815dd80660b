package tokens

import (
	"math"

	"github.com/tidwall/gjson"
)

// Per-item costs added to the texts' tokens (see the package doc).
const (
	messageOverhead = 4
	requestOverhead = 3
	imageTokens     = 765
)

// Options choose how tokens are counted. The zero value counts with
// o200k_base, no margin.
type Options struct {
	// Encoding is the tokenizer: O200k (also when empty) or Cl100k.
	Encoding Encoding
	// Margin is added to the counted prompt, as a fraction of it, before
	// it is compared with the context length: ApproxMargin for models the
	// encoding only approximates, 0 (the default) for exact counts.
	Margin float64
	// Count, when set, replaces the tokenizer (a caller's own, or a
	// test's). The byte-length shortcut is not taken with it.
	Count func(string) int
}

// counter returns the count to use, and whether byteBound bounds it.
func (o Options) Counter() (count func(string) int, bounded bool) {
	if o.Count != nil {
		return o.Count, false
	}
	// On a load failure Counter gives EstimateText, which byteBound
	// bounds too.
	count, _ = Counter(o.Encoding)
	return count, true
}

// EstimateText is the fallback token estimate of a string, used only if
// the tokenizer cannot be loaded: its UTF-8 length / 4, rounded up.
func EstimateText(s string) int { return (len(s) + 3) / 4 }

// withMargin is a counted prompt with the margin added, rounded up.
func WithMargin(n int, margin float64) int {
	if margin <= 0 {
		return n
	}
	return n + int(math.Ceil(float64(n)*margin))
}

// Estimate returns the counted prompt tokens of a chat request (without
// the margin) and the completion budget it asks for.
func Estimate(body []byte, opts Options) (prompt, completion int) {
	count, _ := opts.Counter()
	return PromptTokens(body, Tally{count: count}), CompletionBudget(body)
}

func PromptTokens(body []byte, t Tally) int {
	return FixedTokens(body, t) + MessagesTokens(gjson.GetBytes(body, "messages"), t)
}

func MessagesTokens(msgs gjson.Result, t Tally) int {
	n := 0
	msgs.ForEach(func(_, m gjson.Result) bool {
		n += MessageTokens(m, t)
		return true
	})
	return n
}

// tally counts a request's strings: with the tokenizer, or, for the
// upper bound, by the bytes of their JSON text (see byteBound; escapes
// only make the JSON text longer than the string, and measuring it
// saves unescaping).
type Tally struct {
	count func(string) int
	bound bool
}

var BytesTally = Tally{bound: true}

// of counts a JSON value: a string's text, any other value as JSON.
func (t Tally) Of(v gjson.Result) int {
	if t.bound {
		return ByteBound(v.Raw)
	}
	return t.count(v.String())
}

// json counts JSON text as text.
func (t Tally) JSON(raw string) int {
	if t.bound {
		return ByteBound(raw)
	}
	return t.count(raw)
}

// messageTokens counts one message, in one pass over its members.
func MessageTokens(m gjson.Result, t Tally) int {
	n := messageOverhead
	m.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "role", "name", "reasoning_content", "refusal":
			n += t.Of(v)
		case "content":
			n += ContentTokens(v, t)
		case "tool_calls":
			v.ForEach(func(_, tc gjson.Result) bool {
				n += messageOverhead + t.Of(tc.Get("function.name")) + t.Of(tc.Get("function.arguments"))
				return true
			})
		case "function_call":
			n += t.Of(v.Get("name")) + t.Of(v.Get("arguments"))
		}
		return true
	})
	return n
}

func ContentTokens(c gjson.Result, t Tally) int {
	if c.Type == gjson.String {
		return t.Of(c)
	}
	n := 0
	if c.IsArray() {
		c.ForEach(func(_, p gjson.Result) bool {
			switch p.Get("type").String() {
			case "text":
				n += t.Of(p.Get("text"))
			case "image_url", "input_image":
				n += imageTokens
			default:
				// Audio, files: by their JSON size, which leans high for
				// base64 data (the file parser turns PDFs into text first).
				n += t.JSON(p.Raw)
			}
			return true
		})
	}
	return n
}

// fixedTokens is what compression cannot remove: the request overhead,
// tool definitions and the response schema.
func FixedTokens(body []byte, t Tally) int {
	n := requestOverhead
	for _, path := range []string{"tools", "functions", "response_format.json_schema"} {
		if v := gjson.GetBytes(body, path); v.Exists() {
			n += t.JSON(v.Raw)
		}
	}
	return n
}

func CompletionBudget(body []byte) int {
	if v := gjson.GetBytes(body, "max_completion_tokens"); v.Exists() {
		return max(0, int(v.Int()))
	}
	return max(0, int(gjson.GetBytes(body, "max_tokens").Int()))
}

// CountTally is a Tally that counts with count.
func CountTally(count func(string) int) Tally { return Tally{count: count} }

// Count counts a string: with the tokenizer, or its byte bound.
func (t Tally) Count(s string) int {
	if t.bound {
		return ByteBound(s)
	}
	return t.count(s)
}
