package governance

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// FailureMode is what FailSafe does when the limiter's store (Redis)
// cannot answer.
type FailureMode string

const (
	// FailOpen admits the request unmetered: the gateway keeps serving,
	// and limits and budgets are not enforced until the store is back.
	// Spend is still recorded (the Recorder and the store), so it is
	// visible, and counted again once Redis is re-seeded.
	FailOpen FailureMode = "open"
	// FailClosed refuses the request with 503: no request passes that was
	// not counted, and a Redis outage is an outage of governed traffic.
	FailClosed FailureMode = "closed"
)

// UnavailableError is a request FailSafe refused because the limiter's
// store did not answer (FailClosed): 503, retry later. Its message names
// the operation and the store's error, never a credential.
type UnavailableError struct {
	Op  string
	Err error
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("governance: limits unavailable (%s failed): %v", e.Op, e.Err)
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// HTTPStatus is 503.
func (e *UnavailableError) HTTPStatus() int { return http.StatusServiceUnavailable }

// Code is the error code clients see.
func (e *UnavailableError) Code() string { return "limits_unavailable" }

// FailSafe wraps a shared Limiter with the configured failure mode. A
// *LimitError and the caller's own cancellation pass through; any other
// error is the store failing, counted (Failures, AdmittedUnmetered) and
// logged at most once per LogEvery.
type FailSafe struct {
	l        Limiter
	mode     FailureMode
	log      *zap.Logger
	logEvery time.Duration
	now      func() time.Time

	failures  atomic.Uint64
	unmetered atomic.Uint64
	lastLog   atomic.Int64 // Unix ns of the last failure logged
}

// NewFailSafe wraps l. logEvery bounds the failure log (default 10s).
func NewFailSafe(l Limiter, mode FailureMode, log *zap.Logger, logEvery time.Duration) *FailSafe {
	if logEvery <= 0 {
		logEvery = 10 * time.Second
	}
	return &FailSafe{l: l, mode: mode, log: log.Named("limits"), logEvery: logEvery, now: time.Now}
}

// Failures counts limiter calls the store failed (a metric's value).
func (f *FailSafe) Failures() uint64 { return f.failures.Load() }

// AdmittedUnmetered counts requests admitted unmetered (FailOpen).
func (f *FailSafe) AdmittedUnmetered() uint64 { return f.unmetered.Load() }

// storeFailure reports whether err is the store failing (not a refusal,
// not the caller giving up), and counts and logs it.
func (f *FailSafe) storeFailure(ctx context.Context, op string, err error) bool {
	var le *LimitError
	if err == nil || errors.As(err, &le) || ctx.Err() != nil {
		return false
	}
	f.failures.Add(1)
	now := f.now().UnixNano()
	last := f.lastLog.Load()
	if now-last >= int64(f.logEvery) && f.lastLog.CompareAndSwap(last, now) {
		f.log.Error("limiter store failed; requests are "+map[FailureMode]string{FailOpen: "admitted unmetered", FailClosed: "refused with 503"}[f.mode],
			zap.String("op", op), zap.Error(err), zap.Uint64("failures", f.failures.Load()), zap.Uint64("admitted_unmetered", f.unmetered.Load()))
	}
	return true
}

// Reserve implements Limiter.
func (f *FailSafe) Reserve(ctx context.Context, req ReserveRequest) (*Reservation, error) {
	r, err := f.l.Reserve(ctx, req)
	if !f.storeFailure(ctx, "reserve", err) {
		return r, err
	}
	if f.mode == FailClosed {
		return nil, &UnavailableError{Op: "reserve", Err: err}
	}
	f.unmetered.Add(1)
	return &Reservation{At: f.now().UTC(), Scopes: req.Scopes, Tokens: req.Tokens, Cost: req.Cost, unmetered: true}, nil
}

// Extend implements Limiter. An unmetered reservation extends freely; a
// store failure mid-stream lets it run on (open) or ends it (closed).
func (f *FailSafe) Extend(ctx context.Context, r *Reservation, cost NanoUSD) error {
	if r.unmetered {
		r.Cost += max(cost, 0)
		return nil
	}
	err := f.l.Extend(ctx, r, cost)
	if !f.storeFailure(ctx, "extend", err) {
		return err
	}
	if f.mode == FailClosed {
		return &UnavailableError{Op: "extend", Err: err}
	}
	return nil
}

// Settle implements Limiter. A failed Settle is reported in both modes;
// the reservation's lease gives its slot and hold back, and its cost is
// still in the usage record.
func (f *FailSafe) Settle(ctx context.Context, r *Reservation, used Usage) error {
	if r.unmetered {
		r.settled.Store(true)
		return nil
	}
	err := f.l.Settle(ctx, r, used)
	if !f.storeFailure(ctx, "settle", err) {
		return err
	}
	return &UnavailableError{Op: "settle", Err: err}
}

var _ Limiter = (*FailSafe)(nil)
