package translators

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// NewStream returns a converter from the OpenAI chunk stream a provider
// translator writes to Responses API stream events
// (https://platform.openai.com/docs/api-reference/responses-streaming).
// The value also implements StreamFailer. echo is what Request returned.
func (ResponsesIngress) NewStream(echo ResponsesEcho) StreamTranslator {
	return &responsesStream{echo: echo, cur: -1}
}

// StreamFailer is a client stream that can be ended with an error the
// caller found itself (an answer cut short by a limit), in the client's own
// terms: for a Responses stream, a response.failed event.
type StreamFailer interface {
	Fail(dst []byte, e *APIError) []byte
}

type respKind uint8

const (
	respReasoning respKind = iota + 1
	respMessage
	respCall
	respImage // an image_generation_call: a chat answer's images[] entry
)

// respItem is one output item of the stream. Texts are kept as the bodies
// of JSON string literals, copied from the chunks as they are: literals
// concatenate into a literal, so nothing is unescaped or escaped again.
type respItem struct {
	kind respKind
	out  int  // output_index
	n    int  // number within its kind, for the item id
	done bool // output_item.done was sent; final holds the item
	// final is the completed item's JSON, for response.completed.
	final []byte

	text []byte // the open content part's text, or a call's arguments
	// message: rendered completed content parts, the open part's kind
	// (0 none, 1 output_text, 2 refusal) and how many parts were opened.
	content []byte
	part    uint8
	parts   int
	// function call
	key          int64 // the chat tool call index
	callID, name string
	// custom: a custom (freeform) tool's call, whose arguments are held
	// until it ends and then sent as its input.
	custom bool
	input  string
	// reasoning: summary part texts, the reasoning_details index of the open
	// part, and the reasoning_details entries for encrypted_content.
	summaries [][]byte
	sumOpen   bool
	sumKey    int64
	details   []respDetail
}

// respDetail is one reasoning_details entry, merged from its pieces.
type respDetail struct {
	typ             string
	key             int64 // index; respNoKey when the provider sent none
	text, sig, data []byte
	id, format      string
}

const respNoKey = -1

// responsesStream is fed OpenAI SSE bytes and writes Responses events:
// response.created and response.in_progress at the first chunk, one
// reasoning or message item at a time with its parts and deltas, function
// call items open until the finish (providers interleave their arguments),
// and response.completed or response.incomplete at [DONE]. A failed stream
// ends with response.failed.
type responsesStream struct {
	dec     SSEDecoder
	echo    ResponsesEcho
	ids     responsesIDs
	model   string
	created int64
	seq     int64
	usage   Usage
	items   []respItem
	cur     int // the open reasoning or message item, -1 for none
	nums    [respImage + 1]int
	finish  string

	started  bool
	finished bool // a finish_reason was seen
	done     bool // the terminal event was sent
}

func (s *responsesStream) Usage() Usage { return s.usage }

func (s *responsesStream) Translate(dst, chunk []byte) []byte {
	if s.done {
		return dst
	}
	if err := s.dec.Write(chunk); err != nil {
		return s.fail(dst, "server_error", err.Error())
	}
	for !s.done {
		ev, ok := s.dec.Next()
		if !ok {
			break
		}
		dst = s.event(dst, ev.Data)
	}
	return dst
}

// Finish ends a stream that stopped without [DONE]: complete if its finish
// reason came, otherwise failed.
func (s *responsesStream) Finish(dst []byte) []byte {
	if s.done {
		return dst
	}
	if s.finished && !s.dec.Pending() {
		return s.end(dst)
	}
	return s.fail(dst, "server_error", "provider stream ended before the response was complete")
}

// Fail ends the stream with response.failed carrying e.
func (s *responsesStream) Fail(dst []byte, e *APIError) []byte {
	if s.done {
		return dst
	}
	return s.fail(dst, responsesFailedCode(e.Code, e.Status), e.Message)
}

func (s *responsesStream) event(dst, data []byte) []byte {
	if bytes.Equal(data, ingressDoneData) {
		return s.end(dst)
	}
	if !validJSON(data) {
		return s.fail(dst, "server_error", "provider sent a stream event that is not JSON")
	}
	// data stays untouched until the next event, so gjson reads it in
	// place; what outlives the event is copied.
	root := gjson.Parse(bytesView(data))
	if !root.IsObject() {
		return s.fail(dst, "server_error", "provider sent a stream event that is not a JSON object")
	}
	var id, model, created, choices, usage, errv gjson.Result
	root.ForEach(func(k, v gjson.Result) bool { // one pass over the chunk
		switch k.Str {
		case "id":
			id = v
		case "model":
			model = v
		case "created":
			created = v
		case "choices":
			choices = v
		case "usage":
			usage = v
		case "error":
			errv = v
		}
		return true
	})
	if errv.Exists() && errv.Type != gjson.Null {
		msg := errv.Get("message").Str
		if msg == "" {
			msg = "provider reported an error mid-stream"
		}
		return s.fail(dst, responsesFailedCode(responsesErrorString(errv.Get("code")), 0), msg)
	}
	if !s.started {
		dst = s.start(dst, id.Str, model.Str, created.Int())
	}
	if usage.IsObject() {
		s.usage = openAIUsage(usage)
	}
	if s.finished {
		return dst // one choice only; nothing after its finish counts
	}
	c := choices.Get("0")
	if !c.Exists() {
		return dst
	}
	if d := c.Get("delta"); d.IsObject() {
		dst = s.delta(dst, d)
	}
	if fr := c.Get("finish_reason"); fr.Type == gjson.String && fr.Str != "" {
		if fr.Str == "error" {
			return s.fail(dst, "server_error", "provider stream failed")
		}
		s.finish, s.finished = strings.Clone(fr.Str), true
		dst = s.closeAll(dst)
	}
	return dst
}

func (s *responsesStream) start(dst []byte, id, model string, created int64) []byte {
	s.started = true
	s.ids = newResponsesIDs(strings.Clone(id))
	s.model = strings.Clone(model)
	if s.created = created; created == 0 {
		s.created = time.Now().Unix()
	}
	for _, typ := range []string{"response.created", "response.in_progress"} {
		dst = s.ev(dst, typ)
		dst = append(dst, `,"response":`...)
		dst = appendResponseHead(dst, s.ids.response(), s.created, "in_progress", "", nil, s.echo, s.model)
		dst = append(dst, `,"output":[],"usage":null}}`+"\n\n"...)
	}
	return dst
}

// ev starts an event: its SSE name and the JSON up to sequence_number.
// The caller appends the rest and "}\n\n".
func (s *responsesStream) ev(dst []byte, typ string) []byte {
	dst = append(dst, "event: "...)
	dst = append(dst, typ...)
	dst = append(dst, "\ndata: {\"type\":\""...)
	dst = append(dst, typ...)
	dst = append(dst, `","sequence_number":`...)
	dst = strconv.AppendInt(dst, s.seq, 10)
	s.seq++
	return dst
}

// itemRef appends an event's item_id and output_index.
func (s *responsesStream) itemRef(dst []byte, it *respItem) []byte {
	dst = append(dst, `,"item_id":"`...)
	dst = s.appendID(dst, it)
	dst = append(dst, `","output_index":`...)
	return strconv.AppendInt(dst, int64(it.out), 10)
}

func (s *responsesStream) appendID(dst []byte, it *respItem) []byte {
	switch it.kind {
	case respReasoning:
		return s.ids.appendItem(dst, "rs_", it.n)
	case respMessage:
		return s.ids.appendItem(dst, "msg_", it.n)
	case respImage:
		return s.ids.appendItem(dst, "ig_", it.n)
	}
	if it.custom {
		return s.ids.appendItem(dst, "ctc_", it.n+1)
	}
	return s.ids.appendItem(dst, "fc_", it.n+1)
}

// delta streams one chunk's delta: reasoning, then text, then tool calls.
func (s *responsesStream) delta(dst []byte, d gjson.Result) []byte {
	var details, reasoning, reasoningContent, content, refusal, toolCalls, images gjson.Result
	d.ForEach(func(k, v gjson.Result) bool { // one pass over the delta
		switch k.Str {
		case "images":
			images = v
		case "reasoning_details":
			details = v
		case "reasoning":
			reasoning = v
		case "reasoning_content":
			reasoningContent = v
		case "content":
			content = v
		case "refusal":
			refusal = v
		case "tool_calls":
			toolCalls = v
		}
		return true
	})
	n := 0 // reasoning_details entries; without any, the plain reasoning text
	details.ForEach(func(_, v gjson.Result) bool {
		dst = s.detail(dst, v)
		n++
		return true
	})
	if n == 0 {
		r := reasoning
		if r.Type != gjson.String || r.Str == "" {
			r = reasoningContent
		}
		if r.Type == gjson.String && r.Str != "" {
			dst = s.reasoningPiece(dst, "reasoning.text", respNoKey, r, gjson.Result{})
		}
	}
	if content.Type == gjson.String && content.Str != "" {
		dst = s.text(dst, content, 1)
	}
	if refusal.Type == gjson.String && refusal.Str != "" {
		dst = s.text(dst, refusal, 2)
	}
	images.ForEach(func(_, img gjson.Result) bool {
		dst = s.image(dst, img)
		return true
	})
	i := int64(0)
	toolCalls.ForEach(func(_, tc gjson.Result) bool {
		dst = s.toolCall(dst, tc, i)
		i++
		return true
	})
	return dst
}

// detail streams one reasoning_details entry.
func (s *responsesStream) detail(dst []byte, d gjson.Result) []byte {
	key := int64(respNoKey)
	if idx := d.Get("index"); idx.Type == gjson.Number {
		key = idx.Int()
	}
	// The types are passed as constants: the entry keeps them, and the
	// chunk's bytes are reused.
	switch d.Get("type").Str {
	case "reasoning.text":
		return s.reasoningPiece(dst, "reasoning.text", key, d.Get("text"), d)
	case "reasoning.summary":
		return s.reasoningPiece(dst, "reasoning.summary", key, d.Get("summary"), d)
	case "reasoning.encrypted":
		if data := d.Get("data"); data.Type == gjson.String && data.Str != "" {
			return s.reasoningPiece(dst, "reasoning.encrypted", key, data, d)
		}
	}
	return dst
}

// reasoningPiece adds a piece of reasoning to the open reasoning item:
// text (a JSON string value) to its entry and, when the client asked for
// summaries, to the summary part of its index; d is the entry it came in,
// for its signature, id and format.
func (s *responsesStream) reasoningPiece(dst []byte, typ string, key int64, text, d gjson.Result) []byte {
	it, dst := s.open(dst, respReasoning)
	var e *respDetail
	if k := len(it.details) - 1; k >= 0 && it.details[k].typ == typ && it.details[k].key == key && typ != "reasoning.encrypted" {
		e = &it.details[k]
	} else {
		it.details = append(it.details, respDetail{typ: typ, key: key})
		e = &it.details[len(it.details)-1]
	}
	body := literalBody(text)
	if typ == "reasoning.encrypted" {
		e.data = append(e.data, body...)
	} else {
		e.text = append(e.text, body...)
	}
	if d.Exists() {
		if sig := d.Get("signature"); sig.Type == gjson.String {
			e.sig = append(e.sig, literalBody(sig)...)
		}
		if v := d.Get("id"); v.Type == gjson.String && e.id == "" {
			e.id = strings.Clone(v.Str)
		}
		if v := d.Get("format"); v.Type == gjson.String && e.format == "" {
			e.format = strings.Clone(v.Str)
		}
	}
	if !s.echo.Summary || typ == "reasoning.encrypted" || len(body) == 0 {
		return dst
	}
	if !it.sumOpen || it.sumKey != key && key != respNoKey {
		dst = s.closeSummary(dst, it)
		it.sumOpen, it.sumKey = true, key
		it.summaries = append(it.summaries, nil)
		dst = s.ev(dst, "response.reasoning_summary_part.added")
		dst = s.itemRef(dst, it)
		dst = append(dst, `,"summary_index":`...)
		dst = strconv.AppendInt(dst, int64(len(it.summaries)-1), 10)
		dst = append(dst, `,"part":{"type":"summary_text","text":""}}`+"\n\n"...)
	}
	k := len(it.summaries) - 1
	it.summaries[k] = append(it.summaries[k], body...)
	dst = s.ev(dst, "response.reasoning_summary_text.delta")
	dst = s.itemRef(dst, it)
	dst = append(dst, `,"summary_index":`...)
	dst = strconv.AppendInt(dst, int64(k), 10)
	dst = append(dst, `,"delta":`...)
	dst = append(dst, text.Raw...)
	return append(dst, "}\n\n"...)
}

// literalBody is a string value's JSON literal without its quotes.
func literalBody(r gjson.Result) string {
	if r.Type != gjson.String || len(r.Raw) < 2 {
		return ""
	}
	return r.Raw[1 : len(r.Raw)-1]
}

// open returns the open reasoning or message item of kind, closing another
// and adding a new one if needed.
func (s *responsesStream) open(dst []byte, kind respKind) (*respItem, []byte) {
	if s.cur >= 0 && s.items[s.cur].kind == kind {
		return &s.items[s.cur], dst
	}
	dst = s.closeCurrent(dst, "completed")
	it := s.add(kind)
	s.cur = len(s.items) - 1
	dst = s.ev(dst, "response.output_item.added")
	dst = append(dst, `,"output_index":`...)
	dst = strconv.AppendInt(dst, int64(it.out), 10)
	dst = append(dst, `,"item":{"id":"`...)
	dst = s.appendID(dst, it)
	if kind == respReasoning {
		dst = append(dst, `","type":"reasoning","summary":[]}}`+"\n\n"...)
	} else {
		dst = append(dst, `","type":"message","status":"in_progress","content":[],"role":"assistant"}}`+"\n\n"...)
	}
	return it, dst
}

func (s *responsesStream) add(kind respKind) *respItem {
	s.items = append(s.items, respItem{kind: kind, out: len(s.items), n: s.nums[kind]})
	s.nums[kind]++
	return &s.items[len(s.items)-1]
}

// text streams a piece of message text; part is 1 for output_text, 2 for
// a refusal.
func (s *responsesStream) text(dst []byte, t gjson.Result, part uint8) []byte {
	it, dst := s.open(dst, respMessage)
	if it.part != part {
		dst = s.closePart(dst, it)
		it.part = part
		dst = s.ev(dst, "response.content_part.added")
		dst = s.itemRef(dst, it)
		dst = append(dst, `,"content_index":`...)
		dst = strconv.AppendInt(dst, int64(it.parts), 10)
		it.parts++
		if part == 1 {
			dst = append(dst, `,"part":{"type":"output_text","annotations":[],"logprobs":[],"text":""}}`+"\n\n"...)
		} else {
			dst = append(dst, `,"part":{"type":"refusal","refusal":""}}`+"\n\n"...)
		}
	}
	it.text = append(it.text, literalBody(t)...)
	if part == 1 {
		dst = s.ev(dst, "response.output_text.delta")
	} else {
		dst = s.ev(dst, "response.refusal.delta")
	}
	dst = s.itemRef(dst, it)
	dst = append(dst, `,"content_index":`...)
	dst = strconv.AppendInt(dst, int64(it.parts-1), 10)
	dst = append(dst, `,"delta":`...)
	dst = append(dst, t.Raw...)
	if part == 1 {
		dst = append(dst, `,"logprobs":[]`...)
	}
	return append(dst, "}\n\n"...)
}

// toolCall streams one entry of delta.tool_calls; pos is its place in the
// array, the index when the provider sent none. A call's first entry adds
// its function_call item.
func (s *responsesStream) toolCall(dst []byte, tc gjson.Result, pos int64) []byte {
	key := pos
	if idx := tc.Get("index"); idx.Type == gjson.Number {
		key = idx.Int()
	}
	var it *respItem
	for i := len(s.items) - 1; i >= 0; i-- {
		if s.items[i].kind == respCall && s.items[i].key == key && !s.items[i].done {
			it = &s.items[i]
			break
		}
	}
	if it == nil {
		dst = s.closeCurrent(dst, "completed")
		it = s.add(respCall)
		it.key = key
		if id := tc.Get("id"); id.Type == gjson.String && id.Str != "" {
			it.callID = strings.Clone(id.Str)
		} else {
			it.callID = string(s.ids.appendItem([]byte("call_"), "", it.n+1))
		}
		it.name = strings.Clone(tc.Get("function.name").Str)
		it.custom = s.echo.custom(it.name)
		dst = s.ev(dst, "response.output_item.added")
		dst = append(dst, `,"output_index":`...)
		dst = strconv.AppendInt(dst, int64(it.out), 10)
		dst = append(dst, `,"item":`...)
		dst = s.appendCall(dst, it, "in_progress", "")
		dst = append(dst, "}\n\n"...)
	}
	args := tc.Get("function.arguments")
	switch {
	case it.custom:
		// Held: the input is the string inside the JSON arguments,
		// known once they are whole (closeItem).
		if args.Type == gjson.String {
			it.text = append(it.text, literalBody(args)...)
		} else if args.IsObject() {
			lit := appendJSONString(nil, args.Raw)
			it.text = append(it.text, lit[1:len(lit)-1]...)
		}
		return dst
	case args.Type == gjson.String && args.Str != "":
		dst = s.ev(dst, "response.function_call_arguments.delta")
		dst = s.itemRef(dst, it)
		dst = append(dst, `,"delta":`...)
		dst = append(dst, args.Raw...)
		it.text = append(it.text, literalBody(args)...)
	case args.IsObject(): // a host that sent the object itself
		lit := appendJSONString(nil, args.Raw)
		dst = s.ev(dst, "response.function_call_arguments.delta")
		dst = s.itemRef(dst, it)
		dst = append(dst, `,"delta":`...)
		dst = append(dst, lit...)
		it.text = append(it.text, lit[1:len(lit)-1]...)
	default:
		return dst
	}
	return append(dst, "}\n\n"...)
}

// appendCall appends a function_call item; args is the body of its
// arguments literal.
func (s *responsesStream) appendCall(dst []byte, it *respItem, status string, args string) []byte {
	if it.custom {
		return appendCustomCallItem(dst, s.appendID(nil, it), status, it.callID, it.name, it.input)
	}
	dst = append(dst, `{"id":"`...)
	dst = s.appendID(dst, it)
	dst = append(dst, `","type":"function_call","status":"`...)
	dst = append(dst, status...)
	dst = append(dst, `","arguments":"`...)
	dst = append(dst, args...)
	dst = append(dst, `","call_id":`...)
	dst = appendJSONString(dst, it.callID)
	dst = append(dst, `,"name":`...)
	dst = appendJSONString(dst, it.name)
	return append(dst, '}')
}

func (s *responsesStream) closeSummary(dst []byte, it *respItem) []byte {
	if !it.sumOpen {
		return dst
	}
	it.sumOpen = false
	k := len(it.summaries) - 1
	dst = s.ev(dst, "response.reasoning_summary_text.done")
	dst = s.itemRef(dst, it)
	dst = append(dst, `,"summary_index":`...)
	dst = strconv.AppendInt(dst, int64(k), 10)
	dst = append(dst, `,"text":"`...)
	dst = append(dst, it.summaries[k]...)
	dst = append(dst, "\"}\n\n"...)
	dst = s.ev(dst, "response.reasoning_summary_part.done")
	dst = s.itemRef(dst, it)
	dst = append(dst, `,"summary_index":`...)
	dst = strconv.AppendInt(dst, int64(k), 10)
	dst = append(dst, `,"part":{"type":"summary_text","text":"`...)
	dst = append(dst, it.summaries[k]...)
	return append(dst, "\"}}\n\n"...)
}

// closePart ends the message's open content part and keeps it for the item.
func (s *responsesStream) closePart(dst []byte, it *respItem) []byte {
	if it.part == 0 {
		return dst
	}
	start := len(it.content)
	if start > 0 {
		it.content = append(it.content, ',')
		start++
	}
	if it.part == 1 {
		it.content = append(it.content, `{"type":"output_text","annotations":[],"logprobs":[],"text":"`...)
		dst = s.ev(dst, "response.output_text.done")
	} else {
		it.content = append(it.content, `{"type":"refusal","refusal":"`...)
		dst = s.ev(dst, "response.refusal.done")
	}
	it.content = append(it.content, it.text...)
	it.content = append(it.content, `"}`...)
	dst = s.itemRef(dst, it)
	dst = append(dst, `,"content_index":`...)
	dst = strconv.AppendInt(dst, int64(it.parts-1), 10)
	if it.part == 1 {
		dst = append(dst, `,"text":"`...)
		dst = append(dst, it.text...)
		dst = append(dst, `","logprobs":[]}`+"\n\n"...)
	} else {
		dst = append(dst, `,"refusal":"`...)
		dst = append(dst, it.text...)
		dst = append(dst, "\"}\n\n"...)
	}
	dst = s.ev(dst, "response.content_part.done")
	dst = s.itemRef(dst, it)
	dst = append(dst, `,"content_index":`...)
	dst = strconv.AppendInt(dst, int64(it.parts-1), 10)
	dst = append(dst, `,"part":`...)
	dst = append(dst, it.content[start:]...)
	dst = append(dst, "}\n\n"...)
	it.part, it.text = 0, it.text[:0]
	return dst
}

// image streams one images[] entry of a chat delta (always whole) as a
// completed image_generation_call item.
func (s *responsesStream) image(dst []byte, img gjson.Result) []byte {
	b64, ok := imageResult(img)
	if !ok {
		return dst
	}
	dst = s.closeCurrent(dst, "completed")
	it := s.add(respImage)
	it.text = append(it.text[:0], b64...)
	dst = s.ev(dst, "response.output_item.added")
	dst = append(dst, `,"output_index":`...)
	dst = strconv.AppendInt(dst, int64(it.out), 10)
	dst = append(dst, `,"item":{"id":"`...)
	dst = s.appendID(dst, it)
	dst = append(dst, `","type":"image_generation_call","status":"in_progress","result":null}}`+"\n\n"...)
	for _, typ := range []string{"response.image_generation_call.in_progress", "response.image_generation_call.generating", "response.image_generation_call.completed"} {
		dst = s.ev(dst, typ)
		dst = s.itemRef(dst, it)
		dst = append(dst, "}\n\n"...)
	}
	return s.closeItem(dst, it, "completed")
}

func (s *responsesStream) closeCurrent(dst []byte, status string) []byte {
	if s.cur < 0 {
		return dst
	}
	it := &s.items[s.cur]
	s.cur = -1
	return s.closeItem(dst, it, status)
}

// closeAll ends every open item, as the answer finished.
func (s *responsesStream) closeAll(dst []byte) []byte {
	status, _ := responsesStatus(s.finish)
	s.cur = -1
	for i := range s.items {
		if !s.items[i].done {
			dst = s.closeItem(dst, &s.items[i], status)
		}
	}
	return dst
}

// closeItem sends an item's closing events and output_item.done.
func (s *responsesStream) closeItem(dst []byte, it *respItem, status string) []byte {
	switch it.kind {
	case respReasoning:
		dst = s.closeSummary(dst, it)
	case respMessage:
		dst = s.closePart(dst, it)
	case respCall:
		if it.custom {
			dst = s.closeCustom(dst, it)
			break
		}
		if len(it.text) == 0 {
			it.text = append(it.text, "{}"...) // a call without arguments takes none
		}
		dst = s.ev(dst, "response.function_call_arguments.done")
		dst = s.itemRef(dst, it)
		dst = append(dst, `,"arguments":"`...)
		dst = append(dst, it.text...)
		dst = append(dst, `","name":`...)
		dst = appendJSONString(dst, it.name)
		dst = append(dst, "}\n\n"...)
	}
	it.final = s.appendItem(it.final[:0], it, status)
	it.done, it.text, it.details, it.summaries = true, nil, nil, nil
	dst = s.ev(dst, "response.output_item.done")
	dst = append(dst, `,"output_index":`...)
	dst = strconv.AppendInt(dst, int64(it.out), 10)
	dst = append(dst, `,"item":`...)
	dst = append(dst, it.final...)
	return append(dst, "}\n\n"...)
}

// appendItem renders an item as response objects list it.
func (s *responsesStream) appendItem(dst []byte, it *respItem, status string) []byte {
	if it.done {
		return append(dst, it.final...)
	}
	switch it.kind {
	case respImage:
		return appendImageItem(dst, s.appendID(nil, it), bytesView(it.text))
	case respCall:
		return s.appendCall(dst, it, status, bytesView(it.text))
	case respMessage:
		dst = append(dst, `{"id":"`...)
		dst = s.appendID(dst, it)
		dst = append(dst, `","type":"message","status":"`...)
		dst = append(dst, status...)
		dst = append(dst, `","content":[`...)
		dst = append(dst, it.content...)
		if it.part != 0 { // the part still open when the stream failed, as far as it got
			if len(it.content) > 0 {
				dst = append(dst, ',')
			}
			if it.part == 1 {
				dst = append(dst, `{"type":"output_text","annotations":[],"logprobs":[],"text":"`...)
			} else {
				dst = append(dst, `{"type":"refusal","refusal":"`...)
			}
			dst = append(dst, it.text...)
			dst = append(dst, `"}`...)
		}
		return append(dst, `],"role":"assistant"}`...)
	}
	dst = append(dst, `{"id":"`...)
	dst = s.appendID(dst, it)
	dst = append(dst, `","type":"reasoning","summary":[`...)
	for i, t := range it.summaries {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"type":"summary_text","text":"`...)
		dst = append(dst, t...)
		dst = append(dst, `"}`...)
	}
	dst = append(dst, `],"encrypted_content":`...)
	if len(it.details) == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = appendReasoningEnvelope(dst, appendDetails(nil, it.details))
	}
	return append(dst, '}')
}

// appendDetails renders merged reasoning_details entries as a JSON array.
func appendDetails(dst []byte, details []respDetail) []byte {
	dst = append(dst, '[')
	for i, d := range details {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"type":"`...)
		dst = append(dst, d.typ...)
		switch d.typ {
		case "reasoning.encrypted":
			dst = append(dst, `","data":"`...)
			dst = append(dst, d.data...)
		case "reasoning.summary":
			dst = append(dst, `","summary":"`...)
			dst = append(dst, d.text...)
		default:
			dst = append(dst, `","text":"`...)
			dst = append(dst, d.text...)
		}
		dst = append(dst, '"')
		if len(d.sig) > 0 {
			dst = append(dst, `,"signature":"`...)
			dst = append(dst, d.sig...)
			dst = append(dst, '"')
		}
		if d.id != "" {
			dst = append(dst, `,"id":`...)
			dst = appendJSONString(dst, d.id)
		}
		if d.format != "" {
			dst = append(dst, `,"format":`...)
			dst = appendJSONString(dst, d.format)
		}
		if d.key != respNoKey {
			dst = append(dst, `,"index":`...)
			dst = strconv.AppendInt(dst, d.key, 10)
		}
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

// appendResponse appends the whole response object of a terminal event.
func (s *responsesStream) appendResponse(dst []byte, status, reason string, errObj []byte) []byte {
	dst = appendResponseHead(dst, s.ids.response(), s.created, status, reason, errObj, s.echo, s.model)
	dst = append(dst, `,"output":[`...)
	for i := range s.items {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = s.appendItem(dst, &s.items[i], "incomplete")
	}
	dst = append(dst, `],"usage":`...)
	dst = appendResponsesUsage(dst, s.usage)
	return append(dst, '}')
}

// end completes the response: every item closed, then response.completed,
// or response.incomplete when the answer was cut by the token limit or a
// content filter.
func (s *responsesStream) end(dst []byte) []byte {
	if !s.started {
		return s.fail(dst, "server_error", "provider stream ended without an answer")
	}
	dst = s.closeAll(dst)
	s.done = true
	status, reason := responsesStatus(s.finish)
	dst = s.ev(dst, "response."+status)
	dst = append(dst, `,"response":`...)
	dst = s.appendResponse(dst, status, reason, nil)
	return append(dst, "}\n\n"...)
}

// fail ends the stream with response.failed, after response.created when
// nothing was sent yet: SDKs build the response from that first event.
func (s *responsesStream) fail(dst []byte, code, msg string) []byte {
	if !s.started {
		dst = s.start(dst, "", "", 0)
	}
	s.done = true
	errObj := append([]byte(`{"code":`), appendJSONString(nil, code)...)
	errObj = append(errObj, `,"message":`...)
	errObj = appendJSONString(errObj, msg)
	errObj = append(errObj, '}')
	dst = s.ev(dst, "response.failed")
	dst = append(dst, `,"response":`...)
	dst = s.appendResponse(dst, "failed", "", errObj)
	return append(dst, "}\n\n"...)
}

var (
	_ StreamTranslator = (*responsesStream)(nil)
	_ StreamFailer     = (*responsesStream)(nil)
)
