package web

import (
	"bufio"
	"cmp"
	"io"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// A streamed Responses turn is one response to the client: the first
// round's response.created and response.in_progress, every round's
// visible items renumbered in one sequence (output_index and
// sequence_number), a web_search_call item where the model searched, and
// the last round's terminal event with the turn's output and usage.

// responsesStream serves a request with a stream.
func (rt *loopRun) responsesStream(t *responsesTurn) {
	s := &respLoopStream{rt: rt}
	for {
		t.next()
		resp, ok := rt.streamRound(ResponsesPath, t.body, &t.unbilled, "error.code", func(code, msg string) { s.fail(cmp.Or(code, "server_error"), msg) })
		if !ok {
			return
		}
		r := s.round(resp.Body)
		resp.Body.Close()
		if r.err != nil {
			s.fail("server_error", "web search: a round's stream broke: "+errText(r.err))
			return
		}
		if r.failed {
			return // the round's failure reached the client
		}
		final := gjson.Parse(r.final)
		t.usage.add(final.Get("usage"))
		search := t.canSearch(r.calls)
		var results []ToolResult
		if search {
			results = rt.runSearches(&t.searchBudget, r.calls)
			for _, res := range results {
				s.searchItem(webSearchCall(res))
			}
		}
		if search && r.others == 0 && r.terminal == "response.completed" {
			if err := t.followUp(r.all, results); err != nil {
				s.fail("server_error", "web search: building the next round: "+errText(err))
				return
			}
			continue
		}
		s.end(r.terminal, []byte(final.Raw), t.usage)
		return
	}
}

// respLoopStream writes the client's stream.
type respLoopStream struct {
	rt      *loopRun
	seq     int64    // the client's next sequence_number
	next    int64    // the client's next output_index
	items   [][]byte // the client's output items, done
	started bool     // a round began
	buf     []byte
}

// respRound is what one streamed round said.
type respRound struct {
	terminal string // response.completed or response.incomplete
	final    string // the terminal event's response object
	calls    []Call
	others   int
	all      []string // every output item, ours included, for the next round
	failed   bool
	err      error
}

// send writes an event with the client's sequence number.
func (s *respLoopStream) send(typ string, data []byte) {
	data, _ = sjson.SetBytes(data, "sequence_number", s.seq)
	s.seq++
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

// fail ends the stream with an error event (or answers with the error
// when nothing was sent).
func (s *respLoopStream) fail(code, msg string) {
	if !s.rt.started {
		openAILoopError(s.rt.w, 502, "server_error", msg)
		return
	}
	b, _ := sjson.SetBytes([]byte(`{"type":"error","code":"","message":"","param":null,"sequence_number":0}`), "code", code)
	b, _ = sjson.SetBytes(b, "message", msg)
	s.send("error", b)
}

// searchItem streams a search as OpenAI streams its web_search_call.
func (s *respLoopStream) searchItem(item []byte) {
	idx := s.next
	s.next++
	id := gjson.GetBytes(item, "id").Str
	added, _ := sjson.SetBytes([]byte(`{"type":"response.output_item.added","sequence_number":0,"output_index":0,"item":{"type":"web_search_call","id":"","status":"in_progress"}}`), "output_index", idx)
	added, _ = sjson.SetBytes(added, "item.id", id)
	s.send("response.output_item.added", added)
	for _, typ := range []string{"response.web_search_call.in_progress", "response.web_search_call.searching", "response.web_search_call.completed"} {
		ev, _ := sjson.SetBytes([]byte(`{"type":"","sequence_number":0,"output_index":0,"item_id":""}`), "type", typ)
		ev, _ = sjson.SetBytes(ev, "output_index", idx)
		ev, _ = sjson.SetBytes(ev, "item_id", id)
		s.send(typ, ev)
	}
	done, _ := sjson.SetBytes([]byte(`{"type":"response.output_item.done","sequence_number":0,"output_index":0,"item":null}`), "output_index", idx)
	done, _ = sjson.SetRawBytes(done, "item", item)
	s.send("response.output_item.done", done)
	s.items = append(s.items, item)
}

// end sends the terminal event: the last round's response with the
// turn's output and usage.
func (s *respLoopStream) end(typ string, last []byte, u responsesUsage) {
	ev, _ := sjson.SetRawBytes([]byte(`{"type":"","sequence_number":0,"response":null}`), "response", finalResponse(last, s.items, u))
	ev, _ = sjson.SetBytes(ev, "type", typ)
	s.send(typ, ev)
}

// round passes one round's stream to the client.
func (s *respLoopStream) round(body io.Reader) respRound {
	var r respRound
	first := !s.started // only the first round's response starts the client's
	s.started = true
	ours := map[int64]bool{} // the round's output indexes of our calls
	index := map[int64]int64{}
	br := bufio.NewReaderSize(body, 64<<10)
	for {
		data, ev, err := nextEvent(br, "the response did")
		if err != nil {
			r.err = err
			return r
		}
		typ := ev.Get("type").Str
		oi := ev.Get("output_index")
		switch {
		case typ == "":
			// An event with no type is no event of the API: dropped.
		case typ == "response.created" || typ == "response.in_progress":
			if first {
				s.send(typ, data)
			}
		case typ == "response.completed" || typ == "response.incomplete":
			r.terminal, r.final = typ, ev.Get("response").Raw
			return r
		case typ == "response.failed" || typ == "error":
			s.send(typ, data)
			r.failed = true
			return r
		case typ == "response.output_item.added":
			item := ev.Get("item")
			if _, ok := ourCall(item); ok {
				ours[oi.Int()] = true
				continue
			}
			if otherCall(item) {
				r.others++
			}
			index[oi.Int()] = s.next
			s.next++
			s.send(typ, setIndex(data, index[oi.Int()]))
		case typ == "response.output_item.done":
			item := ev.Get("item")
			r.all = append(r.all, item.Raw)
			if c, ok := ourCall(item); ok || ours[oi.Int()] {
				// Ours, even if it was added as something else.
				r.calls = append(r.calls, c)
				continue
			}
			if i, ok := index[oi.Int()]; ok {
				s.items = append(s.items, []byte(item.Raw))
				s.send(typ, setIndex(data, i))
			}
		case oi.Exists():
			if _, call := ourCall(ev.Get("item")); call {
				continue // never an item of ours, whatever the event
			}
			if i, ok := index[oi.Int()]; ok && !ours[oi.Int()] {
				s.send(typ, setIndex(data, i))
			}
		default:
			s.send(typ, data)
		}
	}
}

// setIndex sets an event's output_index.
func setIndex(data []byte, i int64) []byte {
	out, err := sjson.SetBytes(append([]byte(nil), data...), "output_index", i)
	if err != nil {
		return data
	}
	return out
}
