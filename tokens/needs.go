package tokens

import "bytes"

// Needs answers how many tokens of a context one chat request needs on a
// given model, for a check that runs on every request (routing skips a
// provider whose context length is too small). It counts with the
// tokenizer only when two cheaper upper bounds cannot show the request
// fits: three times the body's length (free), then the byte length of
// its texts (a walk over the JSON). Counts are kept per encoding. Not
// safe for concurrent use.
type Needs struct {
	body       []byte
	completion int
	images     int // 1 when the body may have image parts, 0 when not, -1 until looked
	bound      int // the texts' byte bound, -1 until walked
	counted    map[Encoding]int
}

// NewNeeds prepares Needs for a chat body that asks for a completion
// budget of completion tokens; it reads nothing yet.
func NewNeeds(body []byte, completion int) *Needs {
	return &Needs{body: body, completion: max(0, completion), images: -1, bound: -1}
}

// Of returns the tokens the request needs on a provider model id with a
// context of limit tokens: the prompt with the model's margin
// (ForModels) plus the completion budget. When a bound shows the need is
// at most limit, the bound is returned instead, uncounted.
func (n *Needs) Of(model string, limit int) int {
	opts := ForModels(model)
	// Three tokens a byte of body bounds the texts (byteBound: at most 3
	// tokens a byte, for invalid UTF-8) and the overheads (4 a message or
	// tool call, whose JSON object takes at least 2 bytes, "{}"), as long
	// as no part costs the flat image figure.
	if n.images < 0 {
		n.images = 0
		if bytes.Contains(n.body, []byte("image_url")) || bytes.Contains(n.body, []byte("input_image")) {
			n.images = 1
		}
	}
	if n.images == 0 {
		if need := WithMargin(3*len(n.body), opts.Margin) + n.completion; need <= limit {
			return need
		}
	}
	if n.bound < 0 {
		n.bound = PromptTokens(n.body, BytesTally)
	}
	if need := WithMargin(n.bound, opts.Margin) + n.completion; need <= limit {
		return need
	}
	prompt, ok := n.counted[opts.Encoding]
	if !ok {
		count, _ := opts.Counter()
		prompt = PromptTokens(n.body, Tally{count: count})
		if n.counted == nil {
			n.counted = map[Encoding]int{}
		}
		n.counted[opts.Encoding] = prompt
	}
	return WithMargin(prompt, opts.Margin) + n.completion
}
