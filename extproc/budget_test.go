package extproc

import (
	"strconv"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/xds"
)

// TestInflightBudget: concurrent large bodies are bounded by
// limits.max_inflight_bytes. A body that would pass it is refused with
// 503 overloaded and Retry-After from its content-length, before it is
// sent to ext_proc; once the body holding the budget is answered, the
// next one fits.
func TestInflightBudget(t *testing.T) {
	cfg := mustLoad(t, testYAML+"limits: {max_request_bytes: 4096, max_inflight_bytes: 5000}\n")
	h := newHarness(t, cfg)
	body := []byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"` + strings.Repeat("x", 3000) + `"}]}`)
	size := strconv.Itoa(len(body))

	a := h.open(t, xds.HopRouter)
	continued(t, a.send(postHeaders("content-length", size)))

	b := h.open(t, xds.HopRouter)
	resp := b.send(postHeaders("content-length", size))
	checkImmediate(t, resp, 503, "overloaded")
	if m := readMutation(resp.GetImmediateResponse().GetHeaders()); m.set["retry-after"] != "1" {
		t.Errorf("retry-after = %q, want 1", m.set["retry-after"])
	}
	b.close()

	// The upstream hop holds its own reservation while it translates.
	u := h.open(t, xds.HopUpstream)
	checkImmediate(t, u.send(attempt{provider: "openai", model: "gpt-4o", n: 1}.headers("content-length", size)), 503, "overloaded")
	u.close()

	// A's body is answered: its bytes are free again.
	continued(t, a.send(requestBody(body)))
	a.close()
	c := h.open(t, xds.HopRouter)
	continued(t, c.send(postHeaders("content-length", size)))
	continued(t, c.send(requestBody(body)))
	c.close()

	// An unsized body is counted on arrival.
	d := h.open(t, xds.HopRouter)
	e := h.open(t, xds.HopRouter)
	continued(t, d.send(postHeaders("content-length", size)))
	continued(t, e.send(postHeaders()))
	checkImmediate(t, e.send(requestBody(body)), 503, "overloaded")
	d.close()
	e.close()
	for range 6 { // a, b, u, c, d, e
		if err := h.waitEnded(t); err != nil {
			t.Errorf("Process returned %v", err)
		}
	}
	if n := h.srv.bodies.used.Load(); n != 0 {
		t.Errorf("%d bytes still reserved after every stream ended", n)
	}
}
