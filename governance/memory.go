package governance

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Memory is the in-process Limiter: exact for one gateway replica. One
// mutex covers every counter, so a reservation across key and tenant is
// all or nothing; the section it guards is a few map lookups and integer
// sums.
//
// Rate limits are token buckets: a limit of N per minute holds N and
// refills N per minute continuously, so a full burst of N passes at once
// and the next waits 60s/N. Levels are integers in units·milliseconds
// (one request or token is 60000), which makes the refill of N per
// minute exactly N per millisecond: no rounding, no drift.
type Memory struct {
	now func() time.Time

	mu       sync.Mutex
	buckets  map[bucketKey]*bucket
	inflight map[Scope]int64
	spend    map[spendKey]*spendCounter
	day      Period // the day spend was last pruned in
}

type bucketKey struct {
	scope Scope
	kind  LimitKind
}

// bucket is a token bucket's level at a time.
type bucket struct {
	level int64 // units·ms; capacity is limit·minuteMS
	at    int64 // Unix ms
}

const minuteMS = 60_000

type spendKey struct {
	scope  Scope
	period Period
}

type spendCounter struct {
	spent, reserved NanoUSD
}

// NewMemory makes an in-process limiter reading time from now (time.Now
// when nil; tests pass a fake clock).
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, buckets: map[bucketKey]*bucket{}, inflight: map[Scope]int64{}, spend: map[spendKey]*spendCounter{}}
}

// Seed adds stored spend (Store.Spend for the current periods), so budgets
// hold across a restart.
func (m *Memory) Seed(rows []SpendRow) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range rows {
		m.counter(r.Scope, r.Period).spent += r.Spent
	}
}

// Spent is a scope's settled spend and reservations in flight in a period.
func (m *Memory) Spent(scope Scope, p Period) (spent, reserved NanoUSD) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.spend[spendKey{scope, p}]; c != nil {
		return c.spent, c.reserved
	}
	return 0, 0
}

func (m *Memory) counter(s Scope, p Period) *spendCounter {
	k := spendKey{s, p}
	c := m.spend[k]
	if c == nil {
		c = &spendCounter{}
		m.spend[k] = c
	}
	return c
}

// Reserve implements Limiter.
func (m *Memory) Reserve(ctx context.Context, req ReserveRequest) (*Reservation, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("governance: reserve: %w", err)
	}
	if req.Tokens < 0 || req.Cost < 0 {
		return nil, fmt.Errorf("governance: reserve: negative estimate (%d tokens, %d nano-USD)", req.Tokens, req.Cost)
	}
	now := m.now().UTC()
	id, err := randomBase62(16)
	if err != nil {
		return nil, fmt.Errorf("governance: reservation id: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.prune(now)
	nowMS := now.UnixMilli()

	// Check everything first, change nothing until all scopes pass.
	var refusals []*LimitError
	var st Status
	for _, sl := range req.Scopes {
		r := sl.Rules
		if r.Concurrent > 0 && m.inflight[sl.Scope] >= r.Concurrent {
			refusals = append(refusals, &LimitError{Scope: sl.Scope, Kind: LimitConcurrent, Limit: r.Concurrent, RetryAfter: time.Second})
		}
		for _, rl := range []struct {
			kind  LimitKind
			limit int64
			need  int64
		}{{LimitRequests, r.RPM, 1}, {LimitTokens, r.TPM, req.Tokens}} {
			if rl.limit <= 0 {
				continue
			}
			b := m.bucket(sl.Scope, rl.kind, rl.limit, nowMS)
			switch {
			case rl.need > rl.limit:
				// Never passes, however long the caller waits.
				refusals = append(refusals, &LimitError{Scope: sl.Scope, Kind: rl.kind, Limit: rl.limit})
			case b.level < rl.need*minuteMS:
				wait := ceilDiv(rl.need*minuteMS-b.level, rl.limit)
				refusals = append(refusals, &LimitError{Scope: sl.Scope, Kind: rl.kind, Limit: rl.limit, RetryAfter: time.Duration(wait) * time.Millisecond})
			}
		}
		for _, pk := range PeriodKinds {
			bud := r.Budgets.Of(pk)
			if !bud.Set() {
				continue
			}
			c := m.spend[spendKey{sl.Scope, PeriodOf(pk, now)}]
			var used NanoUSD
			if c != nil {
				used = c.spent + c.reserved
			}
			if used >= bud.USD || used+req.Cost > bud.USD {
				state := BudgetState{Scope: sl.Scope, Period: pk, Budget: bud.USD, Spent: used + req.Cost, ResetAt: PeriodEnd(pk, now)}
				if bud.Soft {
					st.Soft = append(st.Soft, state)
				} else {
					refusals = append(refusals, &LimitError{Scope: sl.Scope, Kind: LimitBudget, Period: pk, Limit: int64(bud.USD), ResetAt: state.ResetAt})
				}
			}
		}
	}
	if len(refusals) > 0 {
		e := pickRefusal(refusals)
		e.Status = m.status(req.Scopes, nowMS, Status{})
		return nil, e
	}

	for _, sl := range req.Scopes {
		r := sl.Rules
		if r.Concurrent > 0 {
			m.inflight[sl.Scope]++
		}
		if r.RPM > 0 {
			m.buckets[bucketKey{sl.Scope, LimitRequests}].level -= minuteMS
		}
		if r.TPM > 0 {
			m.buckets[bucketKey{sl.Scope, LimitTokens}].level -= req.Tokens * minuteMS
		}
		// Spend is counted whether or not a budget is set, so one set
		// later starts from the truth.
		for _, pk := range PeriodKinds {
			m.counter(sl.Scope, PeriodOf(pk, now)).reserved += req.Cost
		}
	}
	res := &Reservation{ID: id, At: now, Scopes: req.Scopes, Tokens: req.Tokens, Cost: req.Cost}
	res.Status = m.status(req.Scopes, nowMS, st)
	return res, nil
}

// pickRefusal reports a budget first (waiting does not help), then a
// limit the request can never pass, else the longest wait, so a retry at
// Retry-After can pass.
func pickRefusal(rs []*LimitError) *LimitError {
	rank := func(e *LimitError) (int, time.Duration) {
		switch {
		case e.Kind == LimitBudget:
			return 2, 0
		case e.RetryAfter == 0:
			return 1, 0
		}
		return 0, e.RetryAfter
	}
	best := rs[0]
	for _, r := range rs[1:] {
		br, bw := rank(best)
		rr, rw := rank(r)
		if rr > br || rr == br && rw > bw {
			best = r
		}
	}
	return best
}

// bucket returns the scope's bucket refilled to nowMS, creating it full.
// A limit changed since is taken as it is now: same level, new capacity.
func (m *Memory) bucket(s Scope, kind LimitKind, limit, nowMS int64) *bucket {
	k := bucketKey{s, kind}
	b := m.buckets[k]
	if b == nil {
		b = &bucket{level: limit * minuteMS, at: nowMS}
		m.buckets[k] = b
		return b
	}
	if elapsed := nowMS - b.at; elapsed > 0 {
		// A minute refills any bucket: capping elapsed keeps the
		// product far from overflow.
		b.level += min(elapsed, minuteMS) * limit
		b.at = nowMS
	}
	b.level = min(b.level, limit*minuteMS)
	return b
}

// status reports the tightest scope's standing per kind of rate limit.
func (m *Memory) status(scopes []ScopeLimits, nowMS int64, st Status) Status {
	for _, sl := range scopes {
		for _, rl := range []struct {
			kind  LimitKind
			limit int64
			out   **RateStatus
		}{{LimitRequests, sl.Rules.RPM, &st.Requests}, {LimitTokens, sl.Rules.TPM, &st.Tokens}} {
			if rl.limit <= 0 {
				continue
			}
			b := m.bucket(sl.Scope, rl.kind, rl.limit, nowMS)
			rs := &RateStatus{Limit: rl.limit, Remaining: max(0, b.level/minuteMS),
				Reset: time.Duration(ceilDiv(rl.limit*minuteMS-b.level, rl.limit)) * time.Millisecond}
			if *rl.out == nil || rs.Remaining < (*rl.out).Remaining {
				*rl.out = rs
			}
		}
	}
	return st
}

// Extend implements Limiter.
func (m *Memory) Extend(ctx context.Context, r *Reservation, cost NanoUSD) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("governance: extend: %w", err)
	}
	if cost <= 0 {
		return nil
	}
	if r.settled.Load() {
		return fmt.Errorf("governance: extend reservation %s: already settled", r.ID)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, sl := range r.Scopes {
		for _, pk := range PeriodKinds {
			bud := sl.Rules.Budgets.Of(pk)
			if !bud.Set() || bud.Soft {
				continue
			}
			c := m.counter(sl.Scope, PeriodOf(pk, r.At))
			if c.spent+c.reserved+cost > bud.USD {
				return &LimitError{Scope: sl.Scope, Kind: LimitBudget, Period: pk, Limit: int64(bud.USD), ResetAt: PeriodEnd(pk, r.At)}
			}
		}
	}
	for _, sl := range r.Scopes {
		for _, pk := range PeriodKinds {
			m.counter(sl.Scope, PeriodOf(pk, r.At)).reserved += cost
		}
	}
	r.Cost += cost
	return nil
}

// Settle implements Limiter.
func (m *Memory) Settle(ctx context.Context, r *Reservation, used Usage) error {
	// Settle runs even when ctx is done: a request the client cancelled
	// must still give its slot back and pay for what it used.
	if !r.settled.CompareAndSwap(false, true) {
		return nil
	}
	nowMS := m.now().UnixMilli()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, sl := range r.Scopes {
		rules := sl.Rules
		if rules.Concurrent > 0 && m.inflight[sl.Scope] > 0 {
			m.inflight[sl.Scope]--
			if m.inflight[sl.Scope] == 0 {
				delete(m.inflight, sl.Scope)
			}
		}
		if rules.TPM > 0 {
			// Refund an overestimate, charge an underestimate: the
			// bucket may go below zero and the scope waits it off.
			b := m.bucket(sl.Scope, LimitTokens, rules.TPM, nowMS)
			b.level = min(b.level+(r.Tokens-used.Tokens)*minuteMS, rules.TPM*minuteMS)
		}
		for _, pk := range PeriodKinds {
			c := m.counter(sl.Scope, PeriodOf(pk, r.At))
			c.reserved -= r.Cost
			c.spent += used.Cost
		}
	}
	return nil
}

// prune drops spend of past days and months once a day, keeping any that
// still has a reservation in flight.
func (m *Memory) prune(now time.Time) {
	today := PeriodOf(Day, now)
	if today == m.day {
		return
	}
	m.day = today
	month := PeriodOf(Month, now)
	for k, c := range m.spend {
		if k.period != today && k.period != month && k.period != "lifetime" && c.reserved == 0 {
			delete(m.spend, k)
		}
	}
}

func ceilDiv(a, b int64) int64 {
	if a <= 0 {
		return 0
	}
	return (a + b - 1) / b
}

var _ Limiter = (*Memory)(nil)
