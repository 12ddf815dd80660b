package extproc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"go.uber.org/zap"
)

// Local serves one request's stream of phases in this process, with no
// gRPC between Envoy and the hop: the in-process data path (an Envoy
// dynamic module, issue 12) hands it the messages Envoy's ext_proc filter
// would send and applies the answers as that filter would. The hops are
// the ones Process serves, built the same way (open), so both data paths
// share every unit.
//
// Not safe for concurrent use beyond what Envoy's worker thread does: one
// call at a time. Handle and Wake are serialised all the same, since a
// wake's timer is the caller's and may fire on another thread.
type Local struct {
	s   *Server
	ctx context.Context
	mu  sync.Mutex
	p   processor
	w   waker
	// join wraps the router hop for a body that comes in chunks
	// (joined.go), decided by the first message as in Process.
	join   func()
	first  bool
	closed bool
}

// ErrNoConfig is what OpenLocal returns before a config is loaded.
var ErrNoConfig = errors.New("extproc: no config loaded yet")

// OpenLocal starts one request's stream on a hop (xds.HopRouter,
// xds.HopUpstream), with the config Envoy's routes came from (version;
// "" for the current one). Close ends it.
func (s *Server) OpenLocal(ctx context.Context, hopName, version string) (*Local, error) {
	p, router, cfg := s.open(hopName, version)
	if cfg == nil {
		return nil, ErrNoConfig
	}
	l := &Local{s: s, ctx: ctx, p: p, first: true}
	l.w, _ = p.(waker)
	if router != nil {
		l.join = func() { l.p, l.w = joinBody(l.p, l.w, router, cfg) }
	}
	return l, nil
}

// Handle answers one message: the answers to apply, in order (answers
// held back for earlier messages first; none when this message is
// answered later), and done when the hop needs nothing more from this
// request (Envoy then goes on without it, as when the stream closes).
// The answers are the caller's to apply before the next call: a body's
// bytes may be reused for the next message's, as the gRPC path reuses
// them once an answer is sent.
func (l *Local) Handle(req *extprocv3.ProcessingRequest) (out []*extprocv3.ProcessingResponse, done bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	defer l.recover(&err)
	if l.closed || l.p.complete() {
		return nil, true, nil
	}
	if l.first {
		l.first = false
		if l.join != nil && streamsRequestBody(req) {
			l.join()
		}
	}
	resp, err := dispatch(l.ctx, l.p, req)
	if err != nil {
		return nil, true, err
	}
	for _, r := range append(l.p.pending(), resp) {
		if r != nil {
			out = append(out, r)
		}
	}
	return out, l.p.complete(), nil
}

// WakeAt is when the hop wants Wake called with no new message (a
// direct stream's first byte overdue, a held answer's patience); zero:
// never.
func (l *Local) WakeAt() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w == nil || l.closed {
		return time.Time{}
	}
	return l.w.wakeAt()
}

// Wake returns the answer the hop gives at its wake time, or nil.
func (l *Local) Wake() (resp *extprocv3.ProcessingResponse, done bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	defer l.recover(&err)
	if l.w == nil || l.closed || l.p.complete() {
		return nil, l.closed || l.p.complete(), nil
	}
	return l.w.wake(), l.p.complete(), nil
}

// Close ends the request's stream (Envoy's filter is done with it).
func (l *Local) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		l.p.done()
	}
}

// recover turns a panic in a hop into an error for this request alone,
// as Process does: in Envoy's process it would take every request down.
func (l *Local) recover(err *error) {
	if r := recover(); r != nil {
		l.s.log.Error("extproc: panic while processing a request in process", zap.Any("panic", r), zap.Stack("stack"))
		*err = fmt.Errorf("extproc: internal error: %v", r)
	}
}
