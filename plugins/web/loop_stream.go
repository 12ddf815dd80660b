package web

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
	"go.uber.org/zap"
)

// A streamed turn is one message to the client: the first round's
// message_start, every round's blocks renumbered in one sequence, the
// server tool's blocks where the model searched, and one message_delta
// with the rounds' usage added up. The web_search tool_use blocks the
// model streams are kept from the client; their input is the query.

// maxEventBytes bounds one SSE event of a round.
const maxEventBytes = 16 << 20

// stream serves a request with a stream.
func (rt *loopRun) stream(t *messagesTurn) {
	s := &loopStream{rt: rt}
	for {
		t.next()
		resp, ok := rt.streamRound(MessagesPath, t.body, &t.unbilled, "error.type", func(typ, msg string) { s.fail(cmp.Or(typ, "api_error"), msg) })
		if !ok {
			return
		}
		r := s.round(resp.Body)
		resp.Body.Close()
		if r.err != nil {
			s.fail("api_error", "web search: a round's stream broke: "+errText(r.err))
			return
		}
		if r.failed {
			return // the round's error event reached the client
		}
		t.usage.add(r.usage)
		search := t.canSearch(r.calls)
		var results []ToolResult
		if search {
			results = rt.runSearches(&t.searchBudget, r.calls)
			for _, res := range results {
				use, result := serverBlocksFor(res.Call, res.Results, res.Err != "")
				s.serverBlocks(use, result)
			}
		}
		if search && r.others == 0 && r.stop == "tool_use" {
			if err := t.followUp(r.assistant(), results); err != nil {
				s.fail("api_error", "web search: building the next round: "+errText(err))
				return
			}
			continue
		}
		stop := r.stop
		if stop == "tool_use" && r.others == 0 {
			stop = "end_turn"
		}
		s.end(stop, t)
		return
	}
}

// streamRound sends a streamed round. False when the turn ends here:
// before the client's stream began the client gets the round's error as
// the gateway gave it, after that fail's event, with the error's code
// (read at codePath) and message.
func (rt *loopRun) streamRound(path string, body []byte, unbilled *billing, codePath string, fail func(code, msg string)) (*http.Response, bool) {
	resp, err := rt.send(path, body, unbilled)
	if err != nil {
		rt.l.log().Warn("web search loop: round failed", zap.Error(err))
		fail("", "web search: the gateway did not answer a round")
		return nil, false
	}
	if resp.StatusCode != 200 {
		if !rt.started {
			rt.passError(resp)
			return nil, false
		}
		msg, _ := readCapped(resp, 1<<20)
		fail(gjson.GetBytes(msg, codePath).Str, cmp.Or(gjson.GetBytes(msg, "error.message").Str, "a round of the web search failed with "+strconv.Itoa(resp.StatusCode)))
		return nil, false
	}
	rt.startStream(resp)
	return resp, true
}

// startStream sends the client the answer's status and headers, from
// the first round's, once.
func (rt *loopRun) startStream(resp *http.Response) {
	if rt.started {
		return
	}
	rt.copyHeaders(resp)
	rt.w.Header().Set("Content-Type", "text/event-stream")
	rt.w.Header().Set("Cache-Control", "no-cache")
	rt.w.WriteHeader(200)
	rt.started = true
}

// loopStream writes the client's stream.
type loopStream struct {
	rt      *loopRun
	next    int  // the client's next block index
	started bool // message_start sent
	buf     []byte
}

func (s *loopStream) event(typ string, data []byte) {
	s.buf = append(s.buf[:0], "event: "...)
	s.buf = append(s.buf, typ...)
	s.buf = append(s.buf, "\ndata: "...)
	s.buf = append(s.buf, data...)
	s.buf = append(s.buf, "\n\n"...)
	_, _ = s.rt.w.Write(s.buf)
	if s.rt.flush != nil {
		s.rt.flush.Flush()
	}
}

// fail ends the stream with an error event, as Anthropic does mid-stream
// (or answers with the error when nothing was sent).
func (s *loopStream) fail(typ, msg string) {
	if !s.rt.started {
		loopError(s.rt.w, 502, typ, msg)
		return
	}
	s.event("error", anthropicError(typ, msg))
}

// serverBlocks streams one search's two blocks as Anthropic does: the
// server_tool_use with an empty input that one input_json_delta fills,
// the result whole in its content_block_start.
func (s *loopStream) serverBlocks(use, result []byte) {
	u := gjson.ParseBytes(use)
	start, _ := sjson.SetRawBytes([]byte(`{"type":"content_block_start","index":0,"content_block":{"type":"server_tool_use","id":"","name":"web_search","input":{}}}`), "content_block.id", []byte(u.Get("id").Raw))
	start, _ = sjson.SetBytes(start, "index", s.next)
	s.event("content_block_start", start)
	delta, _ := sjson.SetBytes([]byte(`{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":""}}`), "delta.partial_json", u.Get("input").Raw)
	delta, _ = sjson.SetBytes(delta, "index", s.next)
	s.event("content_block_delta", delta)
	s.stop()
	start, _ = sjson.SetRawBytes([]byte(`{"type":"content_block_start","index":0,"content_block":null}`), "content_block", result)
	start, _ = sjson.SetBytes(start, "index", s.next)
	s.event("content_block_start", start)
	s.stop()
}

func (s *loopStream) stop() {
	s.event("content_block_stop", []byte(`{"type":"content_block_stop","index":`+strconv.Itoa(s.next)+`}`))
	s.next++
}

// end sends the turn's message_delta and message_stop.
func (s *loopStream) end(stop string, t *messagesTurn) {
	d, _ := sjson.SetBytes([]byte(`{"type":"message_delta","delta":{"stop_reason":"","stop_sequence":null},"usage":null}`), "delta.stop_reason", stop)
	d, _ = sjson.SetRawBytes(d, "usage", t.usage.json(t.searches))
	s.event("message_delta", d)
	s.event("message_stop", []byte(`{"type":"message_stop"}`))
}

// roundResult is what one streamed round said.
type roundResult struct {
	stop   string
	usage  gjson.Result
	calls  []Call
	others int
	blocks []*histBlock // every block of the round, for the next round
	failed bool         // an error event ended it
	err    error
}

// histBlock is one block of a round as the next round's history carries
// it.
type histBlock struct {
	start                            gjson.Result // its content_block
	ours                             bool
	client                           int // its index in the client's stream
	text, thinking, signature, input []byte
}

// assistant is the round's assistant content for the history.
func (r *roundResult) assistant() []byte {
	out := []byte{'['}
	for _, b := range r.blocks {
		var blk []byte
		switch b.start.Get("type").Str {
		case "text":
			if len(b.text) == 0 {
				continue // Anthropic refuses empty text blocks
			}
			blk, _ = sjson.SetBytes([]byte(`{"type":"text","text":""}`), "text", b.text)
		case "thinking":
			blk, _ = sjson.SetBytes([]byte(`{"type":"thinking","thinking":"","signature":""}`), "thinking", b.thinking)
			blk, _ = sjson.SetBytes(blk, "signature", b.signature)
		case "tool_use":
			in := b.input
			if !gjson.ValidBytes(in) || len(bytes.TrimSpace(in)) == 0 {
				in = []byte(`{}`)
			}
			blk, _ = sjson.SetBytes([]byte(`{"type":"tool_use","id":"","name":"","input":{}}`), "id", b.start.Get("id").Str)
			blk, _ = sjson.SetBytes(blk, "name", b.start.Get("name").Str)
			blk, _ = sjson.SetRawBytes(blk, "input", in)
		default:
			blk = []byte(b.start.Raw) // redacted_thinking and the like, whole
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, blk...)
	}
	return append(out, ']')
}

// round passes one round's stream to the client.
func (s *loopStream) round(body io.Reader) roundResult {
	var r roundResult
	byIdx := map[int64]*histBlock{}
	br := bufio.NewReaderSize(body, 64<<10)
	for {
		data, ev, err := nextEvent(br, "message_stop")
		if err != nil {
			r.err = err
			return r
		}
		// The data's own type decides, as clients read it; the event
		// line is written from it.
		typ := ev.Get("type").Str
		switch typ {
		case "message_start":
			if !s.started {
				s.started = true
				s.event(typ, data)
			}
		case "content_block_start":
			cb := ev.Get("content_block")
			b := &histBlock{start: cb, client: -1}
			if cb.Get("type").Str == "tool_use" {
				if cb.Get("name").Str == ToolName {
					b.ours = true
				} else {
					r.others++
				}
			}
			byIdx[ev.Get("index").Int()] = b
			r.blocks = append(r.blocks, b)
			if !b.ours {
				b.client = s.next
				s.next++
				s.event(typ, reindex(data, b.client))
			}
		case "content_block_delta":
			b := byIdx[ev.Get("index").Int()]
			if b == nil {
				continue
			}
			d := ev.Get("delta")
			switch d.Get("type").Str {
			case "text_delta":
				b.text = append(b.text, d.Get("text").Str...)
			case "thinking_delta":
				b.thinking = append(b.thinking, d.Get("thinking").Str...)
			case "signature_delta":
				b.signature = append(b.signature, d.Get("signature").Str...)
			case "input_json_delta":
				if len(b.input) < maxArgBytes {
					b.input = append(b.input, d.Get("partial_json").Str...)
				}
			}
			if !b.ours {
				s.event(typ, reindex(data, b.client))
			}
		case "content_block_stop":
			if b := byIdx[ev.Get("index").Int()]; b != nil && !b.ours {
				s.event(typ, reindex(data, b.client))
			}
		case "message_delta":
			r.stop = ev.Get("delta.stop_reason").Str
			r.usage = ev.Get("usage")
		case "message_stop":
			for _, b := range r.blocks {
				if b.ours {
					r.calls = append(r.calls, newCall(b.start.Get("id").Str, string(b.input)))
				}
			}
			return r
		case "error":
			s.event(typ, data)
			r.failed = true
			return r
		case "":
			// An event with no type is no event of the API: dropped.
		default: // ping and events to come
			s.event(typ, data)
		}
	}
}

// reindex sets an event's block index.
func reindex(data []byte, i int) []byte {
	out, err := sjson.SetBytes(append([]byte(nil), data...), "index", i)
	if err != nil {
		return data
	}
	return out
}

// nextEvent reads a round's next event, parsed; a stream that ends
// before its end (the event that closes it) is an error.
func nextEvent(br *bufio.Reader, end string) ([]byte, gjson.Result, error) {
	data, err := readEvent(br)
	if err == io.EOF {
		return nil, gjson.Result{}, errors.New("the stream ended before " + end)
	}
	if err != nil {
		return nil, gjson.Result{}, err
	}
	if !gjson.ValidBytes(data) {
		return nil, gjson.Result{}, errors.New("a round's event is not JSON")
	}
	return data, gjson.ParseBytes(data), nil
}

// readEvent reads one SSE event's data (its data lines joined). The
// event line is not read: the data's own type names the event.
func readEvent(br *bufio.Reader) ([]byte, error) {
	var data []byte
	size := 0
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A long line: gather it whole, within the bound.
			full := append([]byte(nil), line...)
			for err == bufio.ErrBufferFull && len(full) < maxEventBytes {
				line, err = br.ReadSlice('\n')
				full = append(full, line...)
			}
			line = full
		}
		if err != nil && err != bufio.ErrBufferFull {
			if err == io.EOF && len(data) > 0 {
				return data, nil
			}
			return nil, err
		}
		size += len(line)
		if size > maxEventBytes {
			return nil, errors.New("an event over " + strconv.Itoa(maxEventBytes) + " bytes")
		}
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0:
			if len(data) > 0 {
				return data, nil
			}
		case bytes.HasPrefix(line, []byte("data:")):
			d := bytes.TrimPrefix(line[len("data:"):], []byte(" "))
			if len(data) > 0 {
				data = append(data, '\n')
			}
			data = append(data, d...)
		}
	}
}
