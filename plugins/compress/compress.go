// Package compress is the context-compression transform (OpenRouter's
// "middle-out"): when a chat prompt would not fit the model's context
// length, or has more messages than the model takes, messages are
// removed from the middle of the conversation — and, if that is not
// enough, the kept texts are cut in their middle, oldest first — until
// it fits. The system prompt, the first message after it and the latest
// turn are kept (the system prompt is never cut); an assistant tool call
// stays with its tool results. Without the transform, Check answers an
// over-long prompt with 400 context_length_exceeded before any provider
// is called.
//
// It works on the OpenAI chat form and is pure: bytes in, bytes out.
//
// # Token estimate
//
// Tokens are estimated, not counted, unless the caller passes a real
// tokenizer as Options.Count. The default estimate of a string is its
// UTF-8 length divided by 4, rounded up (about right for English with
// BPE tokenizers, high for code, and roughly one token per character
// for CJK text, which is 3 bytes a character). On top of that each
// message costs 4 tokens, the request 3, each image part 765 (the cost
// of a 1024x1024 high-detail image at OpenAI), each tool definition
// its JSON length / 4. The completion budget (max_completion_tokens, or
// max_tokens) must fit too. The estimate leans high so that a prompt
// that "fits" is not rejected by the provider.
package compress

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/switchboard-gw/switchboard/translators"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// TransformMiddleOut is the transforms entry that turns this on.
const TransformMiddleOut = "middle-out"

// Per-item costs of the default estimate (see the package doc).
const (
	messageOverhead = 4
	requestOverhead = 3
	imageTokens     = 765
)

// TruncationMarker replaces the middle of a text that was cut.
const TruncationMarker = "\n[... truncated by middle-out ...]\n"

// Wants reports whether the request asks for middle-out in transforms.
func Wants(body []byte) bool {
	for _, t := range gjson.GetBytes(body, "transforms").Array() {
		if t.String() == TransformMiddleOut {
			return true
		}
	}
	return false
}

// Limits are the model's, from the catalog.
type Limits struct {
	// ContextTokens is the model's context length (prompt plus
	// completion); 0 means unknown, and no token limit applies.
	ContextTokens int
	// MaxMessages is the most messages the model takes; 0 means no limit.
	MaxMessages int
}

// Options tune the estimate.
type Options struct {
	// Count returns the tokens of a string. Nil means the default
	// estimate, EstimateText.
	Count func(string) int
}

func (o Options) count() func(string) int {
	if o.Count != nil {
		return o.Count
	}
	return EstimateText
}

// EstimateText is the default token estimate of a string: its UTF-8
// length / 4, rounded up.
func EstimateText(s string) int { return (len(s) + 3) / 4 }

// Result is what MiddleOut did.
type Result struct {
	// Body is the request to send: the input itself when nothing changed,
	// else a new slice.
	Body []byte
	// Changed reports whether anything was removed or cut.
	Changed bool
	// TokensBefore and TokensAfter are the estimated prompt tokens.
	TokensBefore, TokensAfter int
	// Removed counts the messages removed, Truncated those cut short.
	Removed, Truncated int
}

// message is one entry of messages, with its estimated cost.
type message struct {
	raw    string
	role   string
	tokens int
}

// unit is what is removed whole: one message, or an assistant message
// with the tool results that follow it.
type unit struct {
	msgs   []message
	pinned bool
}

func (u unit) tokens() int {
	n := 0
	for _, m := range u.msgs {
		n += m.tokens
	}
	return n
}

// Estimate returns the estimated prompt tokens of a chat request and
// the completion budget it asks for.
func Estimate(body []byte, opts Options) (prompt, completion int) {
	count := opts.count()
	prompt = fixedTokens(body, count)
	for _, m := range gjson.GetBytes(body, "messages").Array() {
		prompt += messageTokens(m, count)
	}
	return prompt, completionBudget(body)
}

// Check answers 400 context_length_exceeded when the request does not
// fit lim and middle-out was not asked for; nil when it fits.
func Check(body []byte, lim Limits, opts Options) error {
	prompt, completion := Estimate(body, opts)
	n := int(gjson.GetBytes(body, "messages.#").Int())
	return fitError(prompt, completion, n, lim, false)
}

func fitError(prompt, completion, n int, lim Limits, compressed bool) error {
	tail := `; add "transforms": ["middle-out"] to compress it`
	if compressed {
		tail = " even after middle-out compression"
	}
	if lim.MaxMessages > 0 && n > lim.MaxMessages {
		return translators.BadRequest("context_length_exceeded",
			"this model takes at most "+strconv.Itoa(lim.MaxMessages)+" messages, the request has "+strconv.Itoa(n)+tail)
	}
	if lim.ContextTokens > 0 && prompt+completion > lim.ContextTokens {
		msg := "this model's context length is " + strconv.Itoa(lim.ContextTokens) + " tokens, the request needs about " +
			strconv.Itoa(prompt+completion) + " (" + strconv.Itoa(prompt) + " in the prompt"
		if completion > 0 {
			msg += ", " + strconv.Itoa(completion) + " for the completion"
		}
		return translators.BadRequest("context_length_exceeded", msg+")"+tail)
	}
	return nil
}

// MiddleOut compresses the request until it fits lim. The error is a
// 400 context_length_exceeded when even the kept messages, cut short,
// cannot fit (a system prompt or tool definitions larger than the
// context). body is never modified.
func MiddleOut(body []byte, lim Limits, opts Options) (Result, error) {
	count := opts.count()
	completion := completionBudget(body)
	fixed := fixedTokens(body, count)
	units := splitUnits(gjson.GetBytes(body, "messages"), count)

	total, nmsgs := fixed, 0
	for _, u := range units {
		total += u.tokens()
		nmsgs += len(u.msgs)
	}
	res := Result{Body: body, TokensBefore: total, TokensAfter: total}
	fits := func() bool {
		return (lim.ContextTokens <= 0 || total+completion <= lim.ContextTokens) &&
			(lim.MaxMessages <= 0 || nmsgs <= lim.MaxMessages)
	}
	if fits() {
		return res, nil
	}

	removed := make([]bool, len(units))
	for _, i := range middleOutOrder(units) {
		if fits() {
			break
		}
		removed[i] = true
		total -= units[i].tokens()
		nmsgs -= len(units[i].msgs)
		res.Removed += len(units[i].msgs)
	}
	var kept []message
	for i, u := range units {
		if !removed[i] {
			kept = append(kept, u.msgs...)
		}
	}
	if !fits() && lim.ContextTokens > 0 && (lim.MaxMessages <= 0 || nmsgs <= lim.MaxMessages) {
		total, res.Truncated = truncate(kept, total, lim.ContextTokens-completion, count)
	}
	if !fits() {
		return Result{}, fitError(total, completion, nmsgs, lim, true)
	}

	var b strings.Builder
	b.WriteByte('[')
	for i, m := range kept {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(m.raw)
	}
	b.WriteByte(']')
	out, err := sjson.SetRawBytes(slices.Clone(body), "messages", []byte(b.String()))
	if err != nil {
		return Result{}, translators.BadRequest("invalid_request", "messages: "+err.Error())
	}
	res.Body, res.Changed, res.TokensAfter = out, true, total
	return res, nil
}

// splitUnits groups messages: tool (and legacy function) results join
// the unit before them, so a call is never kept without its results or
// the other way round. System and developer messages, the first other
// unit and the last unit are pinned.
func splitUnits(msgs gjson.Result, count func(string) int) []unit {
	var units []unit
	for _, m := range msgs.Array() {
		msg := message{raw: m.Raw, role: m.Get("role").String(), tokens: messageTokens(m, count)}
		if (msg.role == "tool" || msg.role == "function") && len(units) > 0 {
			last := &units[len(units)-1]
			last.msgs = append(last.msgs, msg)
			continue
		}
		units = append(units, unit{msgs: []message{msg}, pinned: msg.role == "system" || msg.role == "developer"})
	}
	for i := range units {
		if !units[i].pinned {
			units[i].pinned = true // the first message after the system prompt
			break
		}
	}
	if len(units) > 0 {
		units[len(units)-1].pinned = true
	}
	return units
}

// middleOutOrder lists the unpinned units from the middle outwards:
// the one at the centre first, then alternately its neighbours after
// and before it, so what goes first is furthest from both ends.
func middleOutOrder(units []unit) []int {
	var cands []int
	for i, u := range units {
		if !u.pinned {
			cands = append(cands, i)
		}
	}
	order := make([]int, 0, len(cands))
	mid := len(cands) / 2
	for d := 0; len(order) < len(cands); d++ {
		if j := mid + d; j < len(cands) {
			order = append(order, cands[j])
		}
		if j := mid - d - 1; j >= 0 {
			order = append(order, cands[j])
		}
	}
	return order
}

// truncate cuts the middle out of kept texts until total is at most
// budget: the oldest kept messages first, the latest turn last, the
// system prompt never (a system prompt that cannot fit is the caller's
// to shorten). It returns the new total and how many messages it cut.
func truncate(kept []message, total, budget int, count func(string) int) (int, int) {
	cut := map[int]bool{}
	var order []int
	for i, m := range kept {
		if m.role != "system" && m.role != "developer" {
			order = append(order, i)
		}
	}
	for _, i := range order {
		if total <= budget {
			break
		}
		m := gjson.Parse(kept[i].raw)
		path, text := longestText(m)
		if path == "" {
			continue
		}
		excess := total - budget
		// Bytes to drop: the excess in estimated tokens, with room for the
		// marker and rounding.
		drop := excess*4 + len(TruncationMarker) + 8
		if drop >= len(text) {
			drop = len(text)
		}
		short := cutMiddle(text, len(text)-drop)
		raw, err := sjson.Set(kept[i].raw, path, short)
		if err != nil {
			continue
		}
		newTokens := messageTokens(gjson.Parse(raw), count)
		total += newTokens - kept[i].tokens
		kept[i] = message{raw: raw, role: kept[i].role, tokens: newTokens}
		cut[i] = true
	}
	return total, len(cut)
}

// longestText finds the message's longest text: its string content or
// its longest text part. path is "" when it has none.
func longestText(m gjson.Result) (path, text string) {
	c := m.Get("content")
	if c.Type == gjson.String {
		return "content", c.String()
	}
	c.ForEach(func(k, p gjson.Result) bool {
		if p.Get("type").String() == "text" && len(p.Get("text").String()) > len(text) {
			path, text = "content."+k.String()+".text", p.Get("text").String()
		}
		return true
	})
	return path, text
}

// cutMiddle keeps about keep bytes of s, its head and tail, on rune
// boundaries, with the marker between them.
func cutMiddle(s string, keep int) string {
	if keep <= 0 {
		return strings.TrimSpace(TruncationMarker)
	}
	head := keep / 2
	for head > 0 && !utf8.RuneStart(s[head]) {
		head--
	}
	tail := len(s) - (keep - head)
	for tail < len(s) && !utf8.RuneStart(s[tail]) {
		tail++
	}
	return s[:head] + TruncationMarker + s[tail:]
}

// messageTokens estimates one message.
func messageTokens(m gjson.Result, count func(string) int) int {
	n := messageOverhead + count(m.Get("role").String()) + count(m.Get("name").String())
	c := m.Get("content")
	switch {
	case c.Type == gjson.String:
		n += count(c.String())
	case c.IsArray():
		c.ForEach(func(_, p gjson.Result) bool {
			switch p.Get("type").String() {
			case "text":
				n += count(p.Get("text").String())
			case "image_url", "input_image":
				n += imageTokens
			default:
				// Audio, files: by their JSON size, which leans high for
				// base64 data (the file parser turns PDFs into text first).
				n += count(p.Raw)
			}
			return true
		})
	}
	m.Get("tool_calls").ForEach(func(_, tc gjson.Result) bool {
		n += messageOverhead + count(tc.Get("function.name").String()) + count(tc.Get("function.arguments").String())
		return true
	})
	if fc := m.Get("function_call"); fc.Exists() {
		n += count(fc.Get("name").String()) + count(fc.Get("arguments").String())
	}
	n += count(m.Get("reasoning_content").String()) + count(m.Get("refusal").String())
	return n
}

// fixedTokens is what compression cannot remove: the request overhead,
// tool definitions and the response schema.
func fixedTokens(body []byte, count func(string) int) int {
	n := requestOverhead
	if t := gjson.GetBytes(body, "tools"); t.Exists() {
		n += count(t.Raw)
	}
	if t := gjson.GetBytes(body, "functions"); t.Exists() {
		n += count(t.Raw)
	}
	if s := gjson.GetBytes(body, "response_format.json_schema"); s.Exists() {
		n += count(s.Raw)
	}
	return n
}

func completionBudget(body []byte) int {
	if v := gjson.GetBytes(body, "max_completion_tokens"); v.Exists() {
		return max(0, int(v.Int()))
	}
	return max(0, int(gjson.GetBytes(body, "max_tokens").Int()))
}
