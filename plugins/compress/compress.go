// Package compress is the context-compression transform (OpenRouter's
// "middle-out"): when a chat prompt would not fit the model's context
// length, or has more messages than the model takes, messages are
// removed from the middle of the conversation — and, if that is not
// enough, the kept texts are cut in their middle, oldest first — until
// it fits. The system prompt, the first message after it and the latest
// turn are kept (the system prompt is never cut); an assistant tool call
// stays with its tool results. Without the transform, Check answers an
// over-long prompt with 400 context_length_exceeded before any provider
// is called (the gateway does not call it yet; routing skips providers
// whose context is too small, with tokens.Needs).
//
// It works on the OpenAI chat form and is pure: bytes in, bytes out.
//
// Tokens are counted by package tokens (OpenAI's tokenizers compiled
// into the binary, with a margin for models they only approximate).
package compress

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/switchboard-gw/switchboard/tokens"
	"github.com/switchboard-gw/switchboard/translators"
)

// TransformMiddleOut is the transforms entry that turns this on.
const TransformMiddleOut = "middle-out"

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

// promptRoom is the most counted prompt tokens that, with the margin,
// fit in room tokens.
func promptRoom(room int, margin float64) int {
	if margin <= 0 || room <= 0 {
		return room
	}
	p := int(float64(room) / (1 + margin))
	for p > 0 && tokens.WithMargin(p, margin) > room { // float rounding
		p--
	}
	return p
}

// Result is what MiddleOut did.
type Result struct {
	// Body is the request to send: the input itself when nothing changed,
	// else a new slice.
	Body []byte
	// Changed reports whether anything was removed or cut.
	Changed bool
	// TokensBefore and TokensAfter are the counted prompt tokens (before
	// any margin). Both are 0 when nothing had to be counted: no limit
	// applies, or the prompt's byte length shows that it fits.
	TokensBefore, TokensAfter int
	// Removed counts the messages removed, Truncated those cut short.
	Removed, Truncated int
}

// message is one entry of messages, with its counted cost.
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

// Check answers 400 context_length_exceeded when the request does not
// fit lim and middle-out was not asked for; nil when it fits. It counts
// tokens only when the byte length cannot show that the request fits.
func Check(body []byte, lim Limits, opts tokens.Options) error {
	n := int(gjson.GetBytes(body, "messages.#").Int())
	completion := tokens.CompletionBudget(body)
	if lim.ContextTokens <= 0 {
		return fitError(0, completion, n, lim, opts.Margin, false)
	}
	count, bounded := opts.Counter()
	if bounded && fitError(tokens.PromptTokens(body, tokens.BytesTally), completion, n, lim, opts.Margin, false) == nil {
		return nil
	}
	return fitError(tokens.PromptTokens(body, tokens.CountTally(count)), completion, n, lim, opts.Margin, false)
}

func fitError(prompt, completion, n int, lim Limits, margin float64, compressed bool) error {
	tail := `; add "transforms": ["middle-out"] to compress it`
	if compressed {
		tail = " even after middle-out compression"
	}
	if lim.MaxMessages > 0 && n > lim.MaxMessages {
		return translators.BadRequest("context_length_exceeded",
			"this model takes at most "+strconv.Itoa(lim.MaxMessages)+" messages, the request has "+strconv.Itoa(n)+tail)
	}
	if need := tokens.WithMargin(prompt, margin); lim.ContextTokens > 0 && need+completion > lim.ContextTokens {
		msg := "this model's context length is " + strconv.Itoa(lim.ContextTokens) + " tokens, the request needs about " +
			strconv.Itoa(need+completion) + " (" + strconv.Itoa(need) + " in the prompt"
		if margin > 0 {
			msg += ", counted with a " + strconv.Itoa(int(math.Round(margin*100))) + "% margin for the model's own tokenizer"
		}
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
func MiddleOut(body []byte, lim Limits, opts tokens.Options) (Result, error) {
	if lim.ContextTokens <= 0 && lim.MaxMessages <= 0 {
		return Result{Body: body}, nil
	}
	count, bounded := opts.Counter()
	completion := tokens.CompletionBudget(body)
	// room is the most counted prompt tokens that fit with the margin.
	room := promptRoom(lim.ContextTokens-completion, opts.Margin)
	tokensFit := func(total int) bool { return lim.ContextTokens <= 0 || total <= room }
	msgs := gjson.GetBytes(body, "messages")
	nmsgs := int(msgs.Get("#").Int())
	if lim.MaxMessages <= 0 || nmsgs <= lim.MaxMessages {
		if lim.ContextTokens <= 0 || bounded && tokensFit(tokens.FixedTokens(body, tokens.BytesTally)+tokens.MessagesTokens(msgs, tokens.BytesTally)) {
			return Result{Body: body}, nil
		}
	}

	t := tokens.CountTally(count)
	units := splitUnits(msgs, t)
	total := tokens.FixedTokens(body, t)
	for _, u := range units {
		total += u.tokens()
	}
	res := Result{Body: body, TokensBefore: total, TokensAfter: total}
	fits := func() bool { return tokensFit(total) && (lim.MaxMessages <= 0 || nmsgs <= lim.MaxMessages) }
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
	if !fits() && lim.ContextTokens > 0 && room > 0 && (lim.MaxMessages <= 0 || nmsgs <= lim.MaxMessages) {
		total, res.Truncated = truncate(kept, total, room, t)
	}
	if !fits() {
		return Result{}, fitError(total, completion, nmsgs, lim, opts.Margin, true)
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
func splitUnits(msgs gjson.Result, t tokens.Tally) []unit {
	var units []unit
	for _, m := range msgs.Array() {
		msg := message{raw: m.Raw, role: m.Get("role").String(), tokens: tokens.MessageTokens(m, t)}
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
func truncate(kept []message, total, budget int, t tokens.Tally) (int, int) {
	cut := map[int]bool{}
	var order []int
	for i, m := range kept {
		if m.role != "system" && m.role != "developer" {
			order = append(order, i)
		}
	}
	marker := t.Count(TruncationMarker)
	for _, i := range order {
		if total <= budget {
			break
		}
		orig := kept[i]
		path, text := longestText(gjson.Parse(orig.raw))
		if path == "" {
			continue
		}
		// Bytes a token, from this message: tokens are not a fixed number
		// of bytes (about 4 in English prose, 1 in digits, up to 15 in CJK).
		perToken := float64(len(text)) / float64(max(1, orig.tokens))
		keep, extra := len(text), marker
		// The cut is sized from the excess, then counted; a cut that fell
		// short is made deeper, from the same original text.
		for try := 0; try < 8 && total > budget && keep > 0; try++ {
			keep -= int(float64(total-budget+extra+1)*perToken) + 1
			extra = 0
			raw, err := sjson.Set(orig.raw, path, cutMiddle(text, keep))
			if err != nil {
				break
			}
			newTokens := tokens.MessageTokens(gjson.Parse(raw), t)
			total += newTokens - kept[i].tokens
			kept[i] = message{raw: raw, role: orig.role, tokens: newTokens}
			cut[i] = true
		}
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
