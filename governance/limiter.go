package governance

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Limiter holds the rate-limit and budget counters. One Reserve before a
// request goes upstream, one Settle when it is done: each is one atomic
// step across every scope of the request (key and tenant), all or
// nothing, so no check-then-increment race can overshoot a limit.
//
// The in-process Memory limiter implements it for one replica. A shared
// one (Redis) implements each method as one Lua script call taking every
// scope's keys and limits as arguments: the limits travel with the
// request (ScopeLimits), so the script never looks them up. It must also
// give each reservation a lease (expiry), so a replica that dies
// mid-request does not hold a concurrency slot or a budget reservation
// forever.
type Limiter interface {
	// Reserve admits a request or refuses it with a *LimitError. On
	// success it has taken one request and Tokens from every rate limit,
	// a concurrency slot from every scope that has a cap, and Cost from
	// every budget.
	Reserve(ctx context.Context, req ReserveRequest) (*Reservation, error)
	// Extend reserves more of the budgets while a request runs (a stream
	// past its estimate). A *LimitError means a hard budget would be
	// crossed: end the stream.
	Extend(ctx context.Context, r *Reservation, cost NanoUSD) error
	// Settle ends a reservation with what was really used: the budgets
	// are charged Used.Cost and the rest of the reservation refunded,
	// token limits are corrected to Used.Tokens, concurrency slots given
	// back. A second Settle of the same reservation does nothing.
	Settle(ctx context.Context, r *Reservation, used Usage) error
}

// ScopeLimits is one scope and its rules (only the rate, concurrency and
// budget fields count here).
type ScopeLimits struct {
	Scope Scope
	Rules Rules
}

// ReserveRequest is what one request asks of the counters.
type ReserveRequest struct {
	// Scopes is Principal.Scopes.
	Scopes []ScopeLimits
	// Tokens is the estimate taken from tokens-per-minute limits: the
	// prompt's tokens plus max_tokens (or a configured estimate).
	Tokens int64
	// Cost is the estimate reserved from budgets, at the model's prices.
	Cost NanoUSD
}

// Usage is what a request really used.
type Usage struct {
	Tokens int64
	Cost   NanoUSD
}

// Reservation is an admitted request's hold on the counters.
type Reservation struct {
	// ID names the reservation (a shared limiter's lease).
	ID string
	// At is when it was made; its budget periods are At's day and month,
	// the same the usage record is stored under.
	At     time.Time
	Scopes []ScopeLimits
	Tokens int64
	// Cost is the estimate plus every Extend.
	Cost NanoUSD
	// Status is the caller's rate limits after this request, for the
	// x-ratelimit-* headers, and the soft budgets it crossed.
	Status Status

	settled atomic.Bool
	// unmetered is a reservation FailSafe admitted with the counters
	// down: nothing to extend or settle.
	unmetered bool
}

// Unmetered reports a reservation admitted while the limiter's store was
// down (on_store_failure: open): no limit or budget was checked.
func (r *Reservation) Unmetered() bool { return r.unmetered }

// RateStatus is one kind of rate limit as the x-ratelimit-* headers
// report it, for the tightest of the request's scopes.
type RateStatus struct {
	Limit     int64
	Remaining int64
	// Reset is how long until the limit is back to full.
	Reset time.Duration
}

// Status is the caller's standing after a Reserve.
type Status struct {
	// Requests and Tokens are nil when no scope limits them.
	Requests *RateStatus
	Tokens   *RateStatus
	// Soft are the soft budgets this request crossed (to alert on).
	Soft []BudgetState
}

// BudgetState is one budget of one scope.
type BudgetState struct {
	Scope  Scope
	Period PeriodKind
	Budget NanoUSD
	// Spent is settled spend plus the reservations in flight, this
	// request's included.
	Spent NanoUSD
	// ResetAt is when the period ends (zero for lifetime).
	ResetAt time.Time
}

// Headers are the OpenAI-style x-ratelimit-* headers for the caller's own
// limits (never the provider's).
func (s Status) Headers() http.Header {
	h := http.Header{}
	for _, r := range []struct {
		name string
		rs   *RateStatus
	}{{"requests", s.Requests}, {"tokens", s.Tokens}} {
		if r.rs == nil {
			continue
		}
		h.Set("x-ratelimit-limit-"+r.name, strconv.FormatInt(r.rs.Limit, 10))
		h.Set("x-ratelimit-remaining-"+r.name, strconv.FormatInt(r.rs.Remaining, 10))
		h.Set("x-ratelimit-reset-"+r.name, formatReset(r.rs.Reset))
	}
	return h
}

// formatReset writes a duration as OpenAI does: "6s", "1m30s", "120ms".
func formatReset(d time.Duration) string {
	if d < time.Second {
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	}
	return d.Round(time.Second).String()
}

// LimitKind says which limit refused a request.
type LimitKind string

const (
	LimitRequests   LimitKind = "requests_per_minute"
	LimitTokens     LimitKind = "tokens_per_minute"
	LimitConcurrent LimitKind = "concurrent_requests"
	LimitBudget     LimitKind = "budget"
)

// LimitError is a refused reservation: 429 for a rate or concurrency
// limit (with Retry-After), 402 for a budget (naming it and when it
// resets). Its message names the scope, never a key's secret.
type LimitError struct {
	Scope Scope
	Kind  LimitKind
	// Period is the budget's period (Kind budget only).
	Period PeriodKind
	// Limit is the limit's value: requests, tokens or concurrent
	// requests; for a budget, nano-USD.
	Limit int64
	// RetryAfter is when the same request could pass (rate limits; one
	// second for concurrency, which frees when another request ends; zero
	// when it never can).
	RetryAfter time.Duration
	// ResetAt is when a budget's period ends (zero for lifetime).
	ResetAt time.Time
	// Status is the caller's standing, for the x-ratelimit-* headers of
	// the refusal.
	Status Status
}

// HTTPStatus is 402 for a budget and 429 otherwise.
func (e *LimitError) HTTPStatus() int {
	if e.Kind == LimitBudget {
		return http.StatusPaymentRequired
	}
	return http.StatusTooManyRequests
}

// Code is the error code clients see.
func (e *LimitError) Code() string {
	if e.Kind == LimitBudget {
		return "budget_exceeded"
	}
	return "rate_limit_exceeded"
}

func (e *LimitError) Error() string {
	who := string(e.Scope)
	switch e.Kind {
	case LimitBudget:
		s := fmt.Sprintf("%s: %s budget of %s reached", who, e.Period, NanoUSD(e.Limit))
		if !e.ResetAt.IsZero() {
			s += "; it resets at " + e.ResetAt.UTC().Format(time.RFC3339)
		}
		return s
	case LimitConcurrent:
		return fmt.Sprintf("%s: %d concurrent requests is the limit; retry when one finishes", who, e.Limit)
	case LimitTokens:
		if e.RetryAfter == 0 {
			return fmt.Sprintf("%s: the request's estimated tokens exceed the whole limit of %d tokens per minute", who, e.Limit)
		}
		return fmt.Sprintf("%s: %d tokens per minute exceeded; retry in %s", who, e.Limit, formatReset(e.RetryAfter))
	default:
		return fmt.Sprintf("%s: %d requests per minute exceeded; retry in %s", who, e.Limit, formatReset(e.RetryAfter))
	}
}
