package middleware

import (
	"bytes"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// Total sums plugin usage.
func Total(us []Usage) Usage {
	var t Usage
	for _, u := range us {
		t.SearchCalls += u.SearchCalls
		t.Results += u.Results
		t.Cost += u.Cost
	}
	return t
}

// ApplyUsage adds what the plugins spent to a chat answer's (or a final
// usage chunk's) usage object: usage.server_tool_use.web_search_requests
// counts search calls as Anthropic and OpenRouter name them, and the cost
// is added to usage.cost when the answer has one or the plugins cost
// anything. An answer without a usage object is returned unchanged.
func ApplyUsage(body []byte, us []Usage) []byte {
	t := Total(us)
	if t.zero() {
		return body
	}
	u := gjson.GetBytes(body, "usage")
	if !u.IsObject() {
		return body
	}
	out := append([]byte(nil), body...)
	if t.SearchCalls > 0 {
		n := u.Get("server_tool_use.web_search_requests").Int() + int64(t.SearchCalls)
		out, _ = sjson.SetBytes(out, "usage.server_tool_use.web_search_requests", n)
	}
	if t.Cost > 0 {
		out, _ = sjson.SetBytes(out, "usage.cost", u.Get("cost").Float()+t.Cost)
	}
	return out
}

// WithUsage makes t add what the plugins spent (ApplyUsage) to the
// stream's usage chunk, as whole answers get it.
func WithUsage(t StreamTransformer, us []Usage) StreamTransformer {
	if Total(us).zero() {
		return t
	}
	s := &usageStream{next: t, us: us}
	s.out = func(c []byte) { s.emit(s.apply(c)) } // made once, not per chunk
	return s
}

type usageStream struct {
	next StreamTransformer
	us   []Usage
	emit func([]byte) // the caller's, for the call in progress
	out  func([]byte)
}

func (s *usageStream) Chunk(chunk []byte, emit func([]byte)) {
	s.emit = emit
	s.next.Chunk(chunk, s.out)
}

func (s *usageStream) Finish(emit func([]byte)) {
	s.emit = emit
	s.next.Finish(s.out)
}

// apply adds the plugins' usage to the usage chunk; other chunks, the
// most, pass after a byte search.
func (s *usageStream) apply(c []byte) []byte {
	if !bytes.Contains(c, usageKey) || !gjson.GetBytes(c, "usage").IsObject() {
		return c
	}
	return ApplyUsage(c, s.us)
}

var usageKey = []byte(`"usage"`)
