package translators

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// Response converts an OpenAI chat.completion body to a Responses API
// response object: a reasoning item, a message with output_text and the
// function_call items, in the order a Responses model answers. echo is
// what Request returned for the request.
func (ResponsesIngress) Response(chatBody []byte, echo ResponsesEcho) ([]byte, error) {
	if !validJSON(chatBody) {
		return nil, &APIError{Status: 502, Type: TypeUpstream, Code: "bad_upstream_response", Message: "provider answer is not JSON"}
	}
	root := gjson.ParseBytes(chatBody)
	if e := root.Get("error"); e.Exists() && e.Type != gjson.Null {
		msg := upstreamMessage(chatBody)
		if msg == "" {
			msg = "provider answered with an error"
		}
		return nil, &APIError{Status: 502, Type: TypeUpstream, Code: "upstream_error", Message: msg}
	}
	ids := newResponsesIDs(root.Get("id").Str)
	created := root.Get("created").Int()
	if created == 0 {
		created = time.Now().Unix()
	}
	choice := root.Get("choices.0")
	msg := choice.Get("message")
	status, reason := responsesStatus(choice.Get("finish_reason").Str)
	itemStatus := "completed"
	if status == "incomplete" {
		itemStatus = "incomplete"
	}

	out := make([]byte, 0, len(chatBody)+len(echo.Fields)+512)
	out = appendResponseHead(out, ids.response(), created, status, reason, nil, echo, root.Get("model").Str)
	out = append(out, `,"output":[`...)
	n := 0
	sep := func() {
		if n > 0 {
			out = append(out, ',')
		}
		n++
	}
	if details, summaries := respAnswerReasoning(msg); details != nil {
		sep()
		if !echo.Summary {
			summaries = nil
		}
		out = appendReasoningItem(out, ids, 0, summaries, details)
	}
	for i, img := range msg.Get("images").Array() {
		if b64, ok := imageResult(img); ok {
			sep()
			out = appendImageItem(out, ids.appendItem(nil, "ig_", i), b64)
		}
	}
	text, refusal := ingressTextOnly(msg), msg.Get("refusal").Str
	if text != "" || refusal != "" {
		sep()
		out = append(out, `{"id":"`...)
		out = ids.appendItem(out, "msg_", 0)
		out = append(out, `","type":"message","status":"`...)
		out = append(out, itemStatus...)
		out = append(out, `","content":[`...)
		if text != "" {
			out = appendOutputText(out, text, msg.Get("annotations"))
		}
		if refusal != "" {
			if text != "" {
				out = append(out, ',')
			}
			out = append(out, `{"type":"refusal","refusal":`...)
			out = appendJSONString(out, refusal)
			out = append(out, '}')
		}
		out = append(out, `],"role":"assistant"}`...)
	}
	for i, tc := range msg.Get("tool_calls").Array() {
		sep()
		callID := tc.Get("id").Str
		if callID == "" {
			callID = string(ids.appendItem([]byte("call_"), "", i+1))
		}
		args := tc.Get("function.arguments")
		a := args.Str
		if args.IsObject() { // a host that sent the object itself
			a = args.Raw
		}
		if name := tc.Get("function.name").Str; echo.custom(name) {
			out = appendCustomCallItem(out, ids.appendItem(nil, "ctc_", i+1), itemStatus, callID, name, customInput(a))
		} else {
			out = appendFunctionCallItem(out, ids, i, itemStatus, callID, name, a)
		}
	}
	out = append(out, `],"usage":`...)
	out = appendResponsesUsage(out, openAIUsage(root.Get("usage")))
	return append(out, '}'), nil
}

// imageResult is the base64 of a chat answer's images[] entry (a data
// URL, as OpenRouter and the gateway's translations give them); false for
// anything else, which an image_generation_call cannot carry.
func imageResult(img gjson.Result) (string, bool) {
	u := img.Get("image_url.url").Str
	rest, ok := strings.CutPrefix(u, "data:")
	if !ok {
		return "", false
	}
	meta, b64, ok := strings.Cut(rest, ",")
	if !ok || !strings.HasSuffix(meta, ";base64") || b64 == "" || strings.ContainsAny(b64, "\"\\") {
		return "", false
	}
	return b64, true
}

// appendImageItem renders a completed image_generation_call item.
func appendImageItem(dst, id []byte, b64 string) []byte {
	dst = append(dst, `{"id":"`...)
	dst = append(dst, id...)
	dst = append(dst, `","type":"image_generation_call","status":"completed","result":"`...)
	dst = append(dst, b64...)
	return append(dst, `"}`...)
}

// ingressTextOnly is a message's text content: a string or text parts.
func ingressTextOnly(msg gjson.Result) string {
	c := msg.Get("content")
	if c.Type == gjson.String {
		return c.Str
	}
	var b []byte
	for _, p := range c.Array() {
		b = append(b, p.Get("text").Str...)
	}
	return string(b)
}

// respAnswerReasoning reads a whole answer's reasoning: the compact
// reasoning_details array to carry in encrypted_content (plain reasoning
// text becomes one reasoning.text entry), and the summary texts, one per
// reasoning_details index. details is nil when the answer has no reasoning.
func respAnswerReasoning(msg gjson.Result) (details []byte, summaries []string) {
	if d := msg.Get("reasoning_details"); d.IsArray() && len(d.Array()) > 0 {
		var buf bytes.Buffer
		if json.Compact(&buf, []byte(d.Raw)) != nil {
			return nil, nil
		}
		key, open := "", false
		for _, e := range d.Array() {
			var t string
			switch e.Get("type").Str {
			case "reasoning.text":
				t = e.Get("text").Str
			case "reasoning.summary":
				t = e.Get("summary").Str
			default:
				continue
			}
			idx := e.Get("index").Raw
			if !open || idx == "" || idx != key {
				summaries = append(summaries, "")
				open, key = true, idx
			}
			summaries[len(summaries)-1] += t
		}
		kept := summaries[:0]
		for _, s := range summaries {
			if s != "" {
				kept = append(kept, s)
			}
		}
		return buf.Bytes(), kept
	}
	r := ingressReasoningText(msg)
	if r == "" {
		return nil, nil
	}
	d := append([]byte(`[{"type":"reasoning.text","text":`), appendJSONString(nil, r)...)
	return append(d, `}]`...), []string{r}
}

// appendReasoningItem appends a reasoning output item. details, the
// reasoning_details array, becomes its encrypted_content.
func appendReasoningItem(dst []byte, ids responsesIDs, n int, summaries []string, details []byte) []byte {
	dst = append(dst, `{"id":"`...)
	dst = ids.appendItem(dst, "rs_", n)
	dst = append(dst, `","type":"reasoning","summary":[`...)
	for i, s := range summaries {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"type":"summary_text","text":`...)
		dst = appendJSONString(dst, s)
		dst = append(dst, '}')
	}
	dst = append(dst, `],"encrypted_content":`...)
	if len(details) == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = appendReasoningEnvelope(dst, details)
	}
	return append(dst, '}')
}

// appendOutputText appends an output_text content part, with the chat
// message's url_citation annotations in the Responses form.
func appendOutputText(dst []byte, text string, annotations gjson.Result) []byte {
	dst = append(dst, `{"type":"output_text","annotations":[`...)
	n := 0
	annotations.ForEach(func(_, a gjson.Result) bool {
		c := a.Get("url_citation")
		if a.Get("type").Str != "url_citation" || !c.IsObject() {
			return true
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = append(dst, `{"type":"url_citation","start_index":`...)
		dst = strconv.AppendInt(dst, c.Get("start_index").Int(), 10)
		dst = append(dst, `,"end_index":`...)
		dst = strconv.AppendInt(dst, c.Get("end_index").Int(), 10)
		dst = append(dst, `,"title":`...)
		dst = appendJSONString(dst, c.Get("title").Str)
		dst = append(dst, `,"url":`...)
		dst = appendJSONString(dst, c.Get("url").Str)
		dst = append(dst, '}')
		return true
	})
	dst = append(dst, `],"logprobs":[],"text":`...)
	dst = appendJSONString(dst, text)
	return append(dst, '}')
}

// appendFunctionCallItem appends a function_call output item; n numbers
// the call within the answer.
func appendFunctionCallItem(dst []byte, ids responsesIDs, n int, status, callID, name, args string) []byte {
	dst = append(dst, `{"id":"`...)
	dst = ids.appendItem(dst, "fc_", n+1)
	dst = append(dst, `","type":"function_call","status":"`...)
	dst = append(dst, status...)
	dst = append(dst, `","arguments":`...)
	if args == "" {
		args = "{}"
	}
	dst = appendJSONString(dst, args)
	dst = append(dst, `,"call_id":`...)
	dst = appendJSONString(dst, callID)
	dst = append(dst, `,"name":`...)
	dst = appendJSONString(dst, name)
	return append(dst, '}')
}
