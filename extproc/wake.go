package extproc

import (
	"sync"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"go.uber.org/zap"
)

// A hop answers Envoy's messages as they come, but one answer cannot
// wait for a message: a direct stream's headers are held for its first
// byte (router_answer.go), and when that byte does not come within the
// per-try timeout, the hop itself must answer 504. Envoy's own per-try
// timer has stopped by then: its router has seen the headers.

// waker is a processor that may have to answer with no new message.
type waker interface {
	// wakeAt is when to call wake; zero: nothing to wait for.
	wakeAt() time.Time
	// wake returns the answer to send now, or nil.
	wake() *extprocv3.ProcessingResponse
}

// sender serialises what goes to Envoy on one stream: the loop's answers
// and a wake's (gRPC allows one sender at a time).
type sender struct {
	mu      sync.Mutex
	stream  extprocv3.ExternalProcessor_ProcessServer
	log     *zap.Logger
	timer   *time.Timer
	at      time.Time // when timer fires
	stopped bool
}

// arm sets the wake timer for the time the processor asks for, and
// stops it when it asks for none. Called with o.mu held.
func (o *sender) arm(w waker) {
	at := w.wakeAt()
	if at.Equal(o.at) && (o.timer != nil || at.IsZero()) {
		return
	}
	if o.timer != nil {
		o.timer.Stop()
		o.timer = nil
	}
	o.at = at
	if !at.IsZero() {
		o.timer = time.AfterFunc(time.Until(at), func() { o.fire(w) })
	}
}

func (o *sender) fire(w waker) {
	o.mu.Lock()
	defer o.mu.Unlock()
	// A panic here is outside the gRPC handler's recover: it would take
	// the process down.
	defer func() {
		if r := recover(); r != nil {
			o.log.Error("extproc: panic in a wake", zap.Any("panic", r), zap.Stack("stack"))
		}
	}()
	o.timer = nil
	if o.stopped {
		return
	}
	if r := w.wake(); r != nil {
		// An error means the stream is going anyway: the loop sees it.
		_ = o.stream.Send(r)
	}
	if !w.wakeAt().Equal(o.at) {
		o.arm(w) // the next wake the processor wants, never the same twice
	}
}

// stop ends the wakes when the stream ends.
func (o *sender) stop() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.stopped = true
	if o.timer != nil {
		o.timer.Stop()
	}
}

// patience is a held answer's wait for what it needs (a request body, a
// response body, a stream's first byte). Envoy's 10 s message timeout
// covers most of them, so the hop asks Envoy to wait until the end
// (override_message_timeout) only once bodyPatience has passed: one
// message fewer in the common case.
type patience struct {
	since, until time.Time
	asked        bool
}

// start begins a wait that Envoy must allow until until.
func (q *patience) start(until time.Time) { *q = patience{since: time.Now(), until: until} }

// due is when to ask Envoy to wait longer; zero once asked, or with no
// wait started.
func (q *patience) due() time.Time {
	if q.asked || q.since.IsZero() {
		return time.Time{}
	}
	return q.since.Add(bodyPatience)
}

// ask is the request to wait until the end, once it is due; else nil.
func (q *patience) ask() *extprocv3.ProcessingResponse {
	if d := q.due(); d.IsZero() || time.Now().Before(d) {
		return nil
	}
	q.asked = true
	return waitLonger(time.Until(q.until))
}
