package extproc

import (
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-gw/switchboard/translators"
)

// byteBudget bounds the request body bytes this process holds across all
// requests at once (limits.max_inflight_bytes). A hop reserves a body's
// size from its content-length before the body is sent to it, so a
// refused body never crosses to ext_proc at all; an unsized one is
// counted when it arrives.
type byteBudget struct {
	used     atomic.Int64
	refused  prometheus.Counter
	inflight prometheus.GaugeFunc
}

func newByteBudget() *byteBudget {
	b := &byteBudget{refused: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "switchboard_overload_rejections_total",
		Help: "Requests refused with 503 overloaded because the in-flight request body budget (limits.max_inflight_bytes) was spent.",
	})}
	b.inflight = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "switchboard_inflight_request_bytes",
		Help: "Request body bytes ext_proc holds now, against limits.max_inflight_bytes.",
	}, func() float64 { return float64(b.used.Load()) })
	return b
}

// reserve takes n bytes if they fit under limit.
func (b *byteBudget) reserve(n, limit int64) bool {
	if n <= 0 {
		return true
	}
	if b.used.Add(n) > limit {
		b.used.Add(-n)
		b.refused.Inc()
		return false
	}
	return true
}

func (b *byteBudget) release(n int64) { b.used.Add(-n) }

// overloaded is the answer when the budget is spent: the client should
// come back shortly, as other requests finish.
func overloaded() *translators.APIError {
	return &translators.APIError{Status: 503, Type: translators.TypeServer, Code: "overloaded", RetryAfter: "1",
		Message: "the gateway is holding too many large request bodies at once; retry shortly"}
}

// reservation is one hop's hold on the budget.
type reservation struct {
	b *byteBudget
	n int64
}

// take reserves a body's size: from its content-length before the body
// comes (sized), or on arrival.
func (r *reservation) take(b *byteBudget, n, limit int64) bool {
	if r.n > 0 || n <= 0 {
		return true
	}
	if !b.reserve(n, limit) {
		return false
	}
	r.b, r.n = b, n
	return true
}

// takeLength is take for a content-length header value.
func (r *reservation) takeLength(b *byteBudget, contentLength string, limit int64) bool {
	n, err := strconv.ParseInt(contentLength, 10, 64)
	if err != nil {
		return true // unsized: counted when the body arrives
	}
	return r.take(b, n, limit)
}

func (r *reservation) drop() {
	if r.n > 0 {
		r.b.release(r.n)
		r.n = 0
	}
}
