package healing

import (
	"strconv"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// Report says what healing did to one answer, per choice. The gateway
// puts it in a response header and the generation record; it never holds
// answer text.
type Report struct {
	Choices []ChoiceReport
}

// ChoiceReport is the outcome for one choice.
type ChoiceReport struct {
	Index   int
	Status  Status
	Problem string
}

// Healed reports whether any choice was changed.
func (r Report) Healed() bool {
	for _, c := range r.Choices {
		if c.Status == StatusHealed {
			return true
		}
	}
	return false
}

// Failed reports whether any choice could not be healed.
func (r Report) Failed() bool {
	for _, c := range r.Choices {
		if c.Status == StatusFailed {
			return true
		}
	}
	return false
}

// Summary renders the report as one header value, e.g.
// "healed" or "0=failed: answer could not be repaired into JSON".
func (r Report) Summary() string {
	if len(r.Choices) == 1 {
		c := r.Choices[0]
		if c.Problem == "" {
			return string(c.Status)
		}
		return string(c.Status) + ": " + c.Problem
	}
	s := ""
	for i, c := range r.Choices {
		if i > 0 {
			s += "; "
		}
		s += strconv.Itoa(c.Index) + "=" + string(c.Status)
		if c.Problem != "" {
			s += ": " + c.Problem
		}
	}
	return s
}

// HealResponse heals each choice's message.content in a whole OpenAI
// chat.completion body. It returns a new body (body itself is never
// modified) and the report. A choice that ends in tool calls or a
// refusal, or has no text content, is skipped.
func HealResponse(body []byte, f Format, lim Limits) ([]byte, Report) {
	var rep Report
	out := body
	copied := false
	gjson.GetBytes(body, "choices").ForEach(func(k, ch gjson.Result) bool {
		i := int(k.Int())
		idx := int(ch.Get("index").Int())
		msg := ch.Get("message")
		content := msg.Get("content")
		if content.Type != gjson.String || msg.Get("refusal").String() != "" || msg.Get("tool_calls.#").Int() > 0 {
			rep.Choices = append(rep.Choices, ChoiceReport{Index: idx, Status: StatusSkipped, Problem: "no text answer"})
			return true
		}
		o := Heal(content.String(), f, lim)
		rep.Choices = append(rep.Choices, ChoiceReport{Index: idx, Status: o.Status, Problem: o.Problem})
		if o.Status != StatusHealed {
			return true
		}
		if !copied {
			out = append([]byte(nil), body...)
			copied = true
		}
		if b, err := sjson.SetBytes(out, "choices."+strconv.Itoa(i)+".message.content", o.Text); err == nil {
			out = b
		}
		return true
	})
	return out, rep
}
