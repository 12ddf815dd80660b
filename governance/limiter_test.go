package governance

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newClock() *fakeClock { return &fakeClock{t: day1} }

func scope(s Scope, r Rules) ScopeLimits { return ScopeLimits{Scope: s, Rules: r} }

func mustReserve(t *testing.T, m Limiter, req ReserveRequest) *Reservation {
	t.Helper()
	r, err := m.Reserve(context.Background(), req)
	if err != nil {
		t.Fatalf("Reserve: %v", err)
	}
	return r
}

func refusal(t *testing.T, m Limiter, req ReserveRequest) *LimitError {
	t.Helper()
	r, err := m.Reserve(context.Background(), req)
	var le *LimitError
	if !errors.As(err, &le) {
		t.Fatalf("Reserve = %+v, %v; want a *LimitError", r, err)
	}
	return le
}

// TestReserveExactUnderConcurrency: 50 requests at once against 10 per
// minute, from two replicas sharing the counters, exactly 10 pass; the key's own, looser limit is charged only for
// the ones that passed (all or nothing across scopes).
func TestReserveExactUnderConcurrency(t *testing.T) {
	forEachLimiter(t, func(t *testing.T, k limiterKind) {
		clock := newClock()
		replicas := k.replicas(t, clock.Now, 2)
		m := replicas[0]
		req := ReserveRequest{Scopes: []ScopeLimits{
			scope(KeyScope("k1"), Rules{RPM: 100}),
			scope(TenantScope("team"), Rules{RPM: 10}),
		}}
		var passed, refused atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 50 {
			wg.Go(func() {
				<-start
				_, err := replicas[i%2].Reserve(context.Background(), req)
				var le *LimitError
				switch {
				case err == nil:
					passed.Add(1)
				case errors.As(err, &le) && le.Scope == "tenant:team" && le.Kind == LimitRequests && le.RetryAfter == 6*time.Second:
					refused.Add(1)
				default:
					t.Errorf("unexpected refusal: %v", err)
				}
			})
		}
		close(start)
		wg.Wait()
		if passed.Load() != 10 || refused.Load() != 40 {
			t.Fatalf("passed %d, refused %d; want 10 and 40", passed.Load(), refused.Load())
		}
		// The key's bucket lost exactly the 10 that passed.
		r := mustReserve(t, m, ReserveRequest{Scopes: req.Scopes[:1]})
		if got := r.Status.Requests.Remaining; got != 89 {
			t.Errorf("key remaining %d after 10+1 requests, want 89", got)
		}
	})
}

// TestBudgetExactUnderConcurrency: 50 reservations of $0.10 at once
// against a hard $1 daily budget: exactly 10 pass.
func TestBudgetExactUnderConcurrency(t *testing.T) {
	forEachLimiter(t, func(t *testing.T, k limiterKind) {
		replicas := k.replicas(t, newClock().Now, 2)
		m := replicas[0]
		req := ReserveRequest{Cost: USD(0.10), Scopes: []ScopeLimits{scope(TenantScope("team"), Rules{Budgets: Budgets{Daily: Budget{USD: USD(1)}}})}}
		var passed atomic.Int64
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() {
				if _, err := replicas[i%2].Reserve(context.Background(), req); err == nil {
					passed.Add(1)
				}
			})
		}
		wg.Wait()
		if passed.Load() != 10 {
			t.Fatalf("%d reservations passed, want 10", passed.Load())
		}
		if _, reserved := k.spent(t, m, "tenant:team", "2026-12-03"); reserved != USD(1) {
			t.Errorf("reserved %v, want $1", reserved)
		}
	})
}

// TestRequestLimitRefills: a bucket of 10 per minute refills one request
// every 6 s, to the millisecond.
func TestRequestLimitRefills(t *testing.T) {
	forEachLimiter(t, func(t *testing.T, k limiterKind) {
		clock := newClock()
		m := k.one(t, clock.Now)
		req := ReserveRequest{Scopes: []ScopeLimits{scope(KeyScope("k"), Rules{RPM: 10})}}
		var last *Reservation
		for range 10 {
			last = mustReserve(t, m, req)
		}
		if d := cmp.Diff(&RateStatus{Limit: 10, Remaining: 0, Reset: time.Minute}, last.Status.Requests); d != "" {
			t.Errorf("status after 10 (-want +got):\n%s", d)
		}
		want := http.Header{"X-Ratelimit-Limit-Requests": {"10"}, "X-Ratelimit-Remaining-Requests": {"0"}, "X-Ratelimit-Reset-Requests": {"1m0s"}}
		if d := cmp.Diff(want, last.Status.Headers()); d != "" {
			t.Errorf("headers (-want +got):\n%s", d)
		}
		clock.Add(5999 * time.Millisecond)
		le := refusal(t, m, req)
		if le.RetryAfter != time.Millisecond || le.HTTPStatus() != 429 || le.Code() != "rate_limit_exceeded" {
			t.Errorf("refusal at 5.999s: retry %v, status %d, code %s; want 1ms, 429, rate_limit_exceeded", le.RetryAfter, le.HTTPStatus(), le.Code())
		}
		if got, want := le.Error(), "key:k: 10 requests per minute exceeded; retry in 1ms"; got != want {
			t.Errorf("message %q, want %q", got, want)
		}
		if le.Status.Requests == nil || le.Status.Requests.Remaining != 0 {
			t.Errorf("refusal status %+v, want remaining 0 for the 429's headers", le.Status.Requests)
		}
		clock.Add(time.Millisecond)
		mustReserve(t, m, req)
		refusal(t, m, req)
		clock.Add(time.Hour) // a long pause refills to the limit, not past it
		for range 10 {
			mustReserve(t, m, req)
		}
		refusal(t, m, req)
	})
}

// TestTokenLimitSettles: tokens are taken at the estimate and corrected
// at settle, both ways.
func TestTokenLimitSettles(t *testing.T) {
	forEachLimiter(t, func(t *testing.T, k limiterKind) {
		clock := newClock()
		m := k.one(t, clock.Now)
		sc := []ScopeLimits{scope(TenantScope("t"), Rules{TPM: 1000})}
		ctx := context.Background()
		first := mustReserve(t, m, ReserveRequest{Scopes: sc, Tokens: 600})
		if got := first.Status.Tokens.Remaining; got != 400 {
			t.Errorf("remaining %d, want 400", got)
		}
		le := refusal(t, m, ReserveRequest{Scopes: sc, Tokens: 600})
		if le.Kind != LimitTokens || le.RetryAfter != 12*time.Second {
			t.Errorf("refusal %v (retry %v), want tokens, 12s", le, le.RetryAfter)
		}
		// The first used only 100: 500 come back.
		if err := m.Settle(ctx, first, Usage{Tokens: 100}); err != nil {
			t.Fatal(err)
		}
		second := mustReserve(t, m, ReserveRequest{Scopes: sc, Tokens: 600})
		if got := second.Status.Tokens.Remaining; got != 300 {
			t.Errorf("remaining %d, want 300", got)
		}
		// This one used 1300, 700 over its estimate: the bucket owes 400.
		if err := m.Settle(ctx, second, Usage{Tokens: 1300}); err != nil {
			t.Fatal(err)
		}
		le = refusal(t, m, ReserveRequest{Scopes: sc, Tokens: 1})
		if le.RetryAfter != 24060*time.Millisecond {
			t.Errorf("retry after a debt of 400 tokens: %v, want 24.06s", le.RetryAfter)
		}
		le = refusal(t, m, ReserveRequest{Scopes: sc, Tokens: 1001})
		if le.RetryAfter != 0 || le.Error() != "tenant:t: the request's estimated tokens exceed the whole limit of 1000 tokens per minute" {
			t.Errorf("over the whole limit: %q retry %v", le, le.RetryAfter)
		}
	})
}

func TestConcurrencyLimit(t *testing.T) {
	forEachLimiter(t, func(t *testing.T, k limiterKind) {
		m := k.one(t, newClock().Now)
		ctx := context.Background()
		req := ReserveRequest{Scopes: []ScopeLimits{scope(KeyScope("k"), Rules{Concurrent: 2})}}
		a, b := mustReserve(t, m, req), mustReserve(t, m, req)
		le := refusal(t, m, req)
		if le.Kind != LimitConcurrent || le.RetryAfter != time.Second || le.Error() != "key:k: 2 concurrent requests is the limit; retry when one finishes" {
			t.Errorf("refusal %q kind %s retry %v", le, le.Kind, le.RetryAfter)
		}
		if err := m.Settle(ctx, a, Usage{}); err != nil {
			t.Fatal(err)
		}
		// Settling twice must not free a second slot.
		if err := m.Settle(ctx, a, Usage{}); err != nil {
			t.Fatal(err)
		}
		mustReserve(t, m, req)
		refusal(t, m, req)
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		if err := m.Settle(cancelled, b, Usage{}); err != nil {
			t.Fatalf("Settle with a cancelled context: %v", err)
		}
		mustReserve(t, m, req)
	})
}

func TestBudgets(t *testing.T) {
	forEachLimiter(t, func(t *testing.T, k limiterKind) {
		clock := newClock()
		m := k.one(t, clock.Now)
		ctx := context.Background()
		rules := Rules{Budgets: Budgets{Daily: Budget{USD: USD(1)}, Monthly: Budget{USD: USD(1.5), Soft: true}}}
		sc := []ScopeLimits{scope(TenantScope("t"), rules)}

		a := mustReserve(t, m, ReserveRequest{Scopes: sc, Cost: USD(0.6)})
		le := refusal(t, m, ReserveRequest{Scopes: sc, Cost: USD(0.5)})
		wantMsg := "tenant:t: day budget of $1 reached; it resets at 2026-12-04T00:00:00Z"
		if le.HTTPStatus() != 402 || le.Code() != "budget_exceeded" || le.Period != Day || le.Error() != wantMsg {
			t.Errorf("refusal %d %s %s %q; want 402 budget_exceeded day %q", le.HTTPStatus(), le.Code(), le.Period, le, wantMsg)
		}
		// Settled at $0.30: the other $0.30 is refunded.
		if err := m.Settle(ctx, a, Usage{Cost: USD(0.3)}); err != nil {
			t.Fatal(err)
		}
		if spent, reserved := k.spent(t, m, "tenant:t", "2026-12-03"); spent != USD(0.3) || reserved != 0 {
			t.Errorf("spent %v reserved %v, want $0.3 and 0", spent, reserved)
		}
		b := mustReserve(t, m, ReserveRequest{Scopes: sc, Cost: USD(0.5)})
		if len(b.Status.Soft) != 0 {
			t.Errorf("soft budget flagged at $0.8 of $1.5: %+v", b.Status.Soft)
		}
		// Extending past the hard budget is refused, within it allowed.
		if err := m.Extend(ctx, b, USD(0.2)); err != nil {
			t.Fatalf("Extend within budget: %v", err)
		}
		if err := m.Extend(ctx, b, USD(0.01)); !errors.As(err, &le) || le.Period != Day {
			t.Fatalf("Extend past the daily budget = %v, want a day budget refusal", err)
		}
		if err := m.Settle(ctx, b, Usage{Cost: USD(0.7)}); err != nil {
			t.Fatal(err)
		}
		// Spent $1.00 of the day: even a request priced at zero is refused.
		if le := refusal(t, m, ReserveRequest{Scopes: sc}); le.Period != Day {
			t.Errorf("at the daily budget: %v", le)
		}

		// Next day: the daily budget starts afresh; the month has $1 of $1.5.
		clock.Add(14 * time.Hour)
		c := mustReserve(t, m, ReserveRequest{Scopes: sc, Cost: USD(0.6)})
		want := []BudgetState{{Scope: "tenant:t", Period: Month, Budget: USD(1.5), Spent: USD(1.6), ResetAt: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}}
		if d := cmp.Diff(want, c.Status.Soft); d != "" {
			t.Errorf("soft budgets crossed (-want +got):\n%s", d)
		}
		// Memory forgets past days; Redis lets their keys expire a day
		// after the period.
		if spent, _ := k.spent(t, m, "tenant:t", "2026-12-03"); k.name == "memory" && spent != 0 {
			t.Errorf("yesterday's spend still held in memory: %v", spent)
		}
	})
}

// TestAllOrNothing: a refusal by one scope changes no counter of another.
func TestAllOrNothing(t *testing.T) {
	forEachLimiter(t, func(t *testing.T, k limiterKind) {
		m := k.one(t, newClock().Now)
		key := scope(KeyScope("k"), Rules{RPM: 5, TPM: 100, Concurrent: 1, Budgets: Budgets{Lifetime: Budget{USD: USD(10)}}})
		tenant := scope(TenantScope("t"), Rules{Budgets: Budgets{Lifetime: Budget{USD: USD(1)}}})
		k.seed(t, m, []SpendRow{{Scope: "tenant:t", Period: "lifetime", Spent: USD(0.95)}})
		le := refusal(t, m, ReserveRequest{Scopes: []ScopeLimits{key, tenant}, Tokens: 50, Cost: USD(0.1)})
		if le.Scope != "tenant:t" || le.Period != Lifetime || !le.ResetAt.IsZero() {
			t.Fatalf("refusal %v, want the tenant's lifetime budget with no reset", le)
		}
		if got, want := le.Error(), "tenant:t: lifetime budget of $1 reached"; got != want {
			t.Errorf("message %q, want %q", got, want)
		}
		r := mustReserve(t, m, ReserveRequest{Scopes: []ScopeLimits{key}, Tokens: 50, Cost: USD(0.1)})
		if r.Status.Requests.Remaining != 4 || r.Status.Tokens.Remaining != 50 {
			t.Errorf("key's limits after one admitted request: %+v %+v; want 4 requests and 50 tokens left", r.Status.Requests, r.Status.Tokens)
		}
		if _, reserved := k.spent(t, m, "key:k", "lifetime"); reserved != USD(0.1) {
			t.Errorf("key reserved %v, want only the admitted $0.1", reserved)
		}
	})
}

// TestPickRefusal: the refusal reported is the one a retry must wait for.
func TestPickRefusal(t *testing.T) {
	forEachLimiter(t, func(t *testing.T, k limiterKind) {
		m := k.one(t, newClock().Now)
		sc := []ScopeLimits{
			scope(KeyScope("k"), Rules{RPM: 1}),
			scope(TenantScope("t"), Rules{RPM: 60, Budgets: Budgets{Daily: Budget{USD: 10}}}),
		}
		mustReserve(t, m, ReserveRequest{Scopes: sc[:1]})
		// The key waits 60 s, the tenant's rpm has room: the key's wait.
		if le := refusal(t, m, ReserveRequest{Scopes: sc}); le.Scope != "key:k" || le.RetryAfter != time.Minute {
			t.Errorf("refusal %v retry %v, want the key's 60s", le, le.RetryAfter)
		}
		// Over the tenant's budget too: the 402 wins, waiting would not help.
		if le := refusal(t, m, ReserveRequest{Scopes: sc, Cost: 11}); le.Kind != LimitBudget {
			t.Errorf("refusal %v, want the budget", le)
		}
	})
}

func TestReserveRejectsNegativeEstimates(t *testing.T) {
	forEachLimiter(t, func(t *testing.T, k limiterKind) {
		m := k.one(t, nil)
		if _, err := m.Reserve(context.Background(), ReserveRequest{Cost: -1}); err == nil {
			t.Fatal("negative cost reserved")
		}
	})
}
