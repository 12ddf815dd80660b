package governance

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is the Limiter shared by every gateway replica: the counters live
// in one Redis, and each Reserve, Extend and Settle is one Lua script
// (redis_lua.go) that checks and changes every scope of the request at
// once, all or nothing, with Memory's integer maths. Results are the same
// as Memory's for the same calls at the same times (the shared test table
// runs both), with two differences a shared limiter needs:
//
//   - Every reservation has a lease (RedisOptions.Lease, renewed by
//     Extend). One not settled when it ends (its replica died) gives back
//     its concurrency slot and budget hold at the next Reserve or Extend
//     of the scope; a Settle after that charges the cost and refunds
//     nothing twice.
//   - Concurrency counts every reservation in flight on the scope, so a
//     limit set while requests run counts them too (Memory counts only
//     those made under a limit).
//
// Time is the caller's clock (RedisOptions.Now), so replicas need
// synchronized clocks (NTP): a clock d ahead refills a bucket up to d
// early. Keys are built inside the scripts from each scope's base key, so
// it needs a standalone (or Sentinel) Redis, not Cluster.
type Redis struct {
	c      redis.UniversalClient
	prefix string
	lease  time.Duration
	now    func() time.Time
}

// RedisOptions tune a Redis limiter.
type RedisOptions struct {
	// Prefix starts every key. Default "switchboard:".
	Prefix string
	// Lease is how long a reservation holds its slot and budget without
	// a Settle or Extend. Default 15 minutes: longer than any request the
	// gateway lets run unextended.
	Lease time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// NewRedis makes a limiter on client c; the caller closes c.
func NewRedis(c redis.UniversalClient, o RedisOptions) *Redis {
	if o.Prefix == "" {
		o.Prefix = "switchboard:"
	}
	if o.Lease <= 0 {
		o.Lease = 15 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Redis{c: c, prefix: o.Prefix, lease: o.Lease, now: o.Now}
}

func (l *Redis) base(s Scope) string { return l.prefix + string(s) }

func (l *Redis) bases(scopes []ScopeLimits) []string {
	keys := make([]string, len(scopes))
	for i, sl := range scopes {
		keys[i] = l.base(sl.Scope)
	}
	return keys
}

// periodArgs are a time's day and month and when their keys expire (a
// day after the period ends, so a reservation that spans midnight still
// finds its counter).
func periodArgs(at time.Time) []any {
	return []any{string(PeriodOf(Day, at)), string(PeriodOf(Month, at)),
		PeriodEnd(Day, at).Add(24 * time.Hour).UnixMilli(), PeriodEnd(Month, at).Add(24 * time.Hour).UnixMilli()}
}

func money(n NanoUSD) string { return strconv.FormatInt(int64(n), 10) }

// Reserve implements Limiter.
func (l *Redis) Reserve(ctx context.Context, req ReserveRequest) (*Reservation, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("governance: reserve: %w", err)
	}
	if req.Tokens < 0 || req.Cost < 0 {
		return nil, fmt.Errorf("governance: reserve: negative estimate (%d tokens, %d nano-USD)", req.Tokens, req.Cost)
	}
	now := l.now().UTC()
	id, err := randomBase62(16)
	if err != nil {
		return nil, fmt.Errorf("governance: reservation id: %w", err)
	}
	nowMS := now.UnixMilli()
	args := make([]any, 0, 9+9*len(req.Scopes))
	args = append(args, nowMS, l.lease.Milliseconds(), id, req.Tokens, money(req.Cost))
	args = append(args, periodArgs(now)...)
	for _, sl := range req.Scopes {
		r := sl.Rules
		args = append(args, r.RPM, r.TPM, r.Concurrent)
		for _, pk := range PeriodKinds {
			b := r.Budgets.Of(pk)
			args = append(args, money(max(b.USD, 0)), boolInt(b.Soft))
		}
	}
	reply, err := reserveScript.Run(ctx, l.c, l.bases(req.Scopes), args...).Slice()
	if err != nil {
		return nil, fmt.Errorf("governance: redis reserve: %w", err)
	}
	pre, admitted, err := parseReserve(reply, len(req.Scopes))
	if err != nil {
		return nil, fmt.Errorf("governance: redis reserve: %w", err)
	}
	refusals, st := judge(req, pre, now)
	switch {
	case admitted && len(refusals) > 0, !admitted && len(refusals) == 0:
		return nil, fmt.Errorf("governance: redis reserve: script admitted=%v but the client found %d refusals (limiter out of step)", admitted, len(refusals))
	case !admitted:
		e := pickRefusal(refusals)
		e.Status = rateStatus(req, pre, false, Status{})
		return nil, e
	}
	res := &Reservation{ID: id, At: now, Scopes: req.Scopes, Tokens: req.Tokens, Cost: req.Cost}
	res.Status = rateStatus(req, pre, true, st)
	return res, nil
}

// scopeState is one scope's counters before a Reserve, as the script
// read them.
type scopeState struct {
	rpm, tpm       *int64 // bucket levels (units·ms); nil when unlimited
	inflight       int64
	spent, reserve [3]NanoUSD // by PeriodKinds
}

func parseReserve(reply []any, n int) ([]scopeState, bool, error) {
	if len(reply) != 1+9*n {
		return nil, false, fmt.Errorf("reply of %d values for %d scopes", len(reply), n)
	}
	out := make([]scopeState, n)
	for i := range out {
		v := reply[1+9*i : 1+9*(i+1)]
		st := &out[i]
		for j, dst := range []**int64{&st.rpm, &st.tpm} {
			if v[j] == nil {
				continue
			}
			x, err := int64Of(v[j])
			if err != nil {
				return nil, false, err
			}
			*dst = &x
		}
		var err error
		if st.inflight, err = int64Of(v[2]); err != nil {
			return nil, false, err
		}
		for p := range 3 {
			s, err := int64Of(v[3+2*p])
			if err != nil {
				return nil, false, err
			}
			r, err := int64Of(v[4+2*p])
			if err != nil {
				return nil, false, err
			}
			st.spent[p], st.reserve[p] = NanoUSD(s), NanoUSD(r)
		}
	}
	ok, err := int64Of(reply[0])
	return out, ok == 1, err
}

func int64Of(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("script value %q: %w", x, err)
		}
		return n, nil
	}
	return 0, fmt.Errorf("script value %v (%T) is not an integer", v, v)
}

// judge is Memory.Reserve's checks on the state the script read: the
// refusals (empty when admitted) and the soft budgets crossed.
func judge(req ReserveRequest, pre []scopeState, now time.Time) ([]*LimitError, Status) {
	var refusals []*LimitError
	var st Status
	for i, sl := range req.Scopes {
		r, s := sl.Rules, &pre[i]
		if r.Concurrent > 0 && s.inflight >= r.Concurrent {
			refusals = append(refusals, &LimitError{Scope: sl.Scope, Kind: LimitConcurrent, Limit: r.Concurrent, RetryAfter: time.Second})
		}
		for _, rl := range []struct {
			kind        LimitKind
			limit, need int64
			level       *int64
		}{{LimitRequests, r.RPM, 1, s.rpm}, {LimitTokens, r.TPM, req.Tokens, s.tpm}} {
			if rl.limit <= 0 || rl.level == nil {
				continue
			}
			switch {
			case rl.need > rl.limit:
				refusals = append(refusals, &LimitError{Scope: sl.Scope, Kind: rl.kind, Limit: rl.limit})
			case *rl.level < rl.need*minuteMS:
				wait := ceilDiv(rl.need*minuteMS-*rl.level, rl.limit)
				refusals = append(refusals, &LimitError{Scope: sl.Scope, Kind: rl.kind, Limit: rl.limit, RetryAfter: time.Duration(wait) * time.Millisecond})
			}
		}
		for p, pk := range PeriodKinds {
			bud := r.Budgets.Of(pk)
			if !bud.Set() {
				continue
			}
			used := s.spent[p] + s.reserve[p]
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
	return refusals, st
}

// rateStatus is Memory.status on the script's levels, after this
// request's take when it was admitted.
func rateStatus(req ReserveRequest, pre []scopeState, taken bool, st Status) Status {
	for i, sl := range req.Scopes {
		for _, rl := range []struct {
			limit, need int64
			level       *int64
			out         **RateStatus
		}{{sl.Rules.RPM, 1, pre[i].rpm, &st.Requests}, {sl.Rules.TPM, req.Tokens, pre[i].tpm, &st.Tokens}} {
			if rl.limit <= 0 || rl.level == nil {
				continue
			}
			level := *rl.level
			if taken {
				level -= rl.need * minuteMS
			}
			rs := &RateStatus{Limit: rl.limit, Remaining: max(0, level/minuteMS),
				Reset: time.Duration(ceilDiv(rl.limit*minuteMS-level, rl.limit)) * time.Millisecond}
			if *rl.out == nil || rs.Remaining < (*rl.out).Remaining {
				*rl.out = rs
			}
		}
	}
	return st
}

// Extend implements Limiter.
func (l *Redis) Extend(ctx context.Context, r *Reservation, cost NanoUSD) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("governance: extend: %w", err)
	}
	if cost <= 0 {
		return nil
	}
	if r.settled.Load() {
		return fmt.Errorf("governance: extend reservation %s: already settled", r.ID)
	}
	args := []any{l.now().UnixMilli(), l.lease.Milliseconds(), r.ID, money(cost)}
	args = append(args, periodArgs(r.At)...)
	for _, sl := range r.Scopes {
		for _, pk := range PeriodKinds {
			b := sl.Rules.Budgets.Of(pk)
			if !b.Set() || b.Soft {
				args = append(args, "0")
			} else {
				args = append(args, money(b.USD))
			}
		}
	}
	reply, err := extendScript.Run(ctx, l.c, l.bases(r.Scopes), args...).Int64Slice()
	if err != nil {
		return fmt.Errorf("governance: redis extend: %w", err)
	}
	if len(reply) == 2 && reply[0] >= 1 && int(reply[0]) <= len(r.Scopes) && reply[1] >= 1 && reply[1] <= 3 {
		sl, pk := r.Scopes[reply[0]-1], PeriodKinds[reply[1]-1]
		return &LimitError{Scope: sl.Scope, Kind: LimitBudget, Period: pk, Limit: int64(sl.Rules.Budgets.Of(pk).USD), ResetAt: PeriodEnd(pk, r.At)}
	}
	if len(reply) != 1 || reply[0] != 0 {
		return fmt.Errorf("governance: redis extend: unexpected reply %v", reply)
	}
	r.Cost += cost
	return nil
}

// Settle implements Limiter. It runs even when ctx is done (a cancelled
// request must still give its slot back and pay for what it used), with
// a bound of its own.
func (l *Redis) Settle(ctx context.Context, r *Reservation, used Usage) error {
	if !r.settled.CompareAndSwap(false, true) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	args := []any{l.now().UnixMilli(), r.ID, r.Tokens, used.Tokens, money(used.Cost)}
	args = append(args, periodArgs(r.At)...)
	for _, sl := range r.Scopes {
		args = append(args, sl.Rules.TPM)
	}
	if err := settleScript.Run(ctx, l.c, l.bases(r.Scopes), args...).Err(); err != nil {
		// Not settled after all: a retry may try again. The lease frees
		// the slot and hold if none succeeds; the cost is still in the
		// usage record.
		r.settled.Store(false)
		return fmt.Errorf("governance: redis settle %s: %w", r.ID, err)
	}
	return nil
}

// Seed raises the settled spend in Redis to the store's (Store.Spend for
// the current periods), so budgets hold across a Redis restart. Every
// replica may call it at start: spend is raised, never lowered or added.
func (l *Redis) Seed(ctx context.Context, rows []SpendRow) error {
	const batch = 500
	for len(rows) > 0 {
		n := min(len(rows), batch)
		keys := make([]string, n)
		args := make([]any, 0, 2*n)
		for i, r := range rows[:n] {
			keys[i] = l.base(r.Scope) + ":s:" + string(r.Period)
			args = append(args, money(r.Spent), periodExpiry(r.Period))
		}
		if err := seedScript.Run(ctx, l.c, keys, args...).Err(); err != nil {
			return fmt.Errorf("governance: redis seed spend: %w", err)
		}
		rows = rows[n:]
	}
	// The mark says these counters came from the store: a Redis that
	// lost it (a restart without persistence, a flush) lost them too.
	if err := l.c.Set(ctx, l.prefix+"seeded", l.now().UnixMilli(), 0).Err(); err != nil {
		return fmt.Errorf("governance: redis mark seeded: %w", err)
	}
	return nil
}

// Seeded reports whether Redis still holds the counters Seed loaded.
func (l *Redis) Seeded(ctx context.Context) (bool, error) {
	n, err := l.c.Exists(ctx, l.prefix+"seeded").Result()
	if err != nil {
		return false, fmt.Errorf("governance: redis seeded: %w", err)
	}
	return n == 1, nil
}

// periodExpiry is when a period's spend key expires (Unix ms; 0 never).
func periodExpiry(p Period) int64 {
	for _, f := range []struct {
		layout string
		kind   PeriodKind
	}{{"2006-01-02", Day}, {"2006-01", Month}} {
		if t, err := time.Parse(f.layout, string(p)); err == nil {
			return PeriodEnd(f.kind, t).Add(24 * time.Hour).UnixMilli()
		}
	}
	return 0
}

// Spent is a scope's settled spend and reservations in flight in a
// period, as Memory.Spent.
func (l *Redis) Spent(ctx context.Context, scope Scope, p Period) (spent, reserved NanoUSD, err error) {
	v, err := l.c.HMGet(ctx, l.base(scope)+":s:"+string(p), "s", "r").Result()
	if err != nil {
		return 0, 0, fmt.Errorf("governance: redis spend of %s: %w", scope, err)
	}
	var out [2]NanoUSD
	for i, x := range v {
		if x == nil {
			continue
		}
		n, err := int64Of(x)
		if err != nil {
			return 0, 0, fmt.Errorf("governance: redis spend of %s: %w", scope, err)
		}
		out[i] = NanoUSD(n)
	}
	return out[0], out[1], nil
}

// Ping checks the connection (for readiness).
func (l *Redis) Ping(ctx context.Context) error {
	if err := l.c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("governance: redis: %w", err)
	}
	return nil
}

var _ Limiter = (*Redis)(nil)
