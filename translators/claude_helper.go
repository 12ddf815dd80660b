package translators

import "strings"

// Claude's thinking, sent back: shared by the anthropic schema and Claude
// on Bedrock, whose blocks differ only in their wire shape.

// thinkingBlock is one thinking block rebuilt from reasoning_details:
// text with its signature, or redacted thinking.
type thinkingBlock struct {
	Text, Signature string
	Redacted        string // the data of redacted thinking
}

// claudeThinking rebuilds the thinking blocks Claude needs to continue
// from an earlier answer's reasoning_details, those of a format ours
// accepts. A streamed answer echoed back piece by piece (consecutive
// text entries of one index) becomes one block. Text Claude cannot verify
// (no signature) is left out, as are summaries.
func claudeThinking(details []reasoningDetail, ours func(format string) bool) []thinkingBlock {
	var out []thinkingBlock
	var text strings.Builder
	lastIndex, open := "", false // open: out's last block still takes pieces
	flush := func() {
		if open {
			out[len(out)-1].Text = text.String()
			text.Reset()
			open = false
		}
	}
	for _, d := range details {
		if !ours(d.Format) {
			continue
		}
		switch d.Type {
		case "reasoning.text":
			if open && d.Index != "" && d.Index == lastIndex {
				text.WriteString(d.Text)
				if d.Signature != "" { // a streamed block's comes last
					out[len(out)-1].Signature = d.Signature
				}
				continue
			}
			flush()
			out = append(out, thinkingBlock{Signature: d.Signature})
			text.WriteString(d.Text)
			open, lastIndex = true, d.Index
		case "reasoning.encrypted":
			flush()
			out = append(out, thinkingBlock{Redacted: d.Data})
		}
	}
	flush()
	kept := out[:0]
	for _, b := range out {
		if b.Redacted != "" || b.Signature != "" {
			kept = append(kept, b)
		}
	}
	return kept
}
