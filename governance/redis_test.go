package governance

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestRedisMatchesMemory drives Memory and Redis with the same random
// reservations, extensions, settlements and clock moves, and requires the
// same answer from both at every step: admitted or the same refusal, the
// same x-ratelimit status and soft budgets, the same spend.
func TestRedisMatchesMemory(t *testing.T) {
	clock := newClock()
	mem := memoryKind.one(t, clock.Now)
	red := redisKind.one(t, clock.Now)
	rng := rand.New(rand.NewPCG(10, 10))
	scopes := []ScopeLimits{
		scope(KeyScope("a"), Rules{RPM: 4, TPM: 900, Concurrent: 2, Budgets: Budgets{Daily: Budget{USD: 45000}}}),
		scope(KeyScope("b"), Rules{RPM: 2, Budgets: Budgets{Lifetime: Budget{USD: 20000, Soft: true}}}),
		scope(TenantScope("t"), Rules{TPM: 1500, Concurrent: 6, Budgets: Budgets{Monthly: Budget{USD: 150000}, Daily: Budget{USD: 9000, Soft: true}}}),
	}
	type pair struct{ m, r *Reservation }
	var open []pair
	ctx := context.Background()
	ignore := cmp.Options{cmpopts.IgnoreFields(Reservation{}, "ID", "settled"), cmp.AllowUnexported(Reservation{})}
	outcomes := map[string]int{}
	for step := range 1200 {
		switch op := rng.IntN(10); {
		case op < 4:
			req := ReserveRequest{Scopes: []ScopeLimits{scopes[rng.IntN(2)], scopes[2]}, Tokens: rng.Int64N(400), Cost: NanoUSD(rng.Int64N(1500))}
			rm, errM := mem.Reserve(ctx, req)
			rr, errR := red.Reserve(ctx, req)
			if d := cmp.Diff(fmt.Sprint(errM), fmt.Sprint(errR)); d != "" {
				t.Fatalf("step %d reserve: errors differ (-memory +redis):\n%s", step, d)
			}
			var lm, lr *LimitError
			if errM == nil {
				outcomes["admitted"]++
			} else if errors.As(errM, &lm) {
				outcomes[string(lm.Kind)]++
			}
			if errors.As(errM, &lm) && errors.As(errR, &lr) {
				if d := cmp.Diff(lm, lr); d != "" {
					t.Fatalf("step %d reserve: refusals differ (-memory +redis):\n%s", step, d)
				}
			}
			if errM == nil {
				if d := cmp.Diff(rm, rr, ignore); d != "" {
					t.Fatalf("step %d reserve: reservations differ (-memory +redis):\n%s", step, d)
				}
				open = append(open, pair{rm, rr})
			}
		case op < 5 && len(open) > 0:
			p := open[rng.IntN(len(open))]
			cost := NanoUSD(rng.Int64N(800))
			if d := cmp.Diff(fmt.Sprint(mem.Extend(ctx, p.m, cost)), fmt.Sprint(red.Extend(ctx, p.r, cost))); d != "" {
				t.Fatalf("step %d extend: (-memory +redis):\n%s", step, d)
			}
		case op < 8 && len(open) > 0:
			i := rng.IntN(len(open))
			p := open[i]
			open = append(open[:i], open[i+1:]...)
			used := Usage{Tokens: rng.Int64N(600), Cost: NanoUSD(rng.Int64N(2000))}
			if err := mem.Settle(ctx, p.m, used); err != nil {
				t.Fatal(err)
			}
			if err := red.Settle(ctx, p.r, used); err != nil {
				t.Fatal(err)
			}
		default:
			clock.Add(time.Duration(rng.Int64N(20_000)) * time.Millisecond)
		}
		for _, sl := range scopes {
			for _, pk := range PeriodKinds {
				p := PeriodOf(pk, clock.Now())
				ms, mr := memoryKind.spent(t, mem, sl.Scope, p)
				rs, rr := redisKind.spent(t, red, sl.Scope, p)
				if ms != rs || mr != rr {
					t.Fatalf("step %d: %s %s spend memory %d+%d, redis %d+%d", step, sl.Scope, p, ms, mr, rs, rr)
				}
			}
		}
	}
	// The walk must reach every kind of refusal, or it proves little.
	t.Logf("outcomes %v", outcomes)
	for _, k := range []string{"admitted", string(LimitRequests), string(LimitTokens), string(LimitConcurrent), string(LimitBudget)} {
		if outcomes[k] < 5 {
			t.Errorf("only %d reservations %s (outcomes %v): tune the walk", outcomes[k], k, outcomes)
		}
	}
}

// TestRedisLeaseFreesDeadReplica: a replica that reserved and died never
// settles; when the lease runs out the slot and the budget hold come back
// to the others. A Settle arriving after that charges the cost and
// refunds nothing twice.
func TestRedisLeaseFreesDeadReplica(t *testing.T) {
	clock := newClock()
	addr := shared.redisAddr(t)
	prefix := uniquePrefix(t)
	mk := func() *Redis {
		l := redisKind.one(t, clock.Now).(*Redis)
		l.prefix, l.lease = prefix, time.Minute
		_ = addr
		return l
	}
	dead, alive := mk(), mk()
	ctx := context.Background()
	sc := []ScopeLimits{scope(TenantScope("t"), Rules{Concurrent: 1, Budgets: Budgets{Daily: Budget{USD: 100}}})}
	held, err := dead.Reserve(ctx, ReserveRequest{Scopes: sc, Cost: 60})
	if err != nil {
		t.Fatal(err)
	}
	le := refusal(t, alive, ReserveRequest{Scopes: sc, Cost: 10})
	if le.Kind != LimitConcurrent {
		t.Fatalf("refusal %v, want the concurrency limit while the dead replica holds the slot", le)
	}
	clock.Add(time.Minute)
	r := mustReserve(t, alive, ReserveRequest{Scopes: sc, Cost: 90})
	if spent, reserved := redisKind.spent(t, alive, "tenant:t", "2026-12-03"); spent != 0 || reserved != 90 {
		t.Errorf("after the lease: spent %d reserved %d, want 0 and 90 (the dead hold refunded)", spent, reserved)
	}
	// The "dead" replica was only slow: its Settle charges what it used.
	if err := dead.Settle(ctx, held, Usage{Cost: 5}); err != nil {
		t.Fatal(err)
	}
	if err := alive.Settle(ctx, r, Usage{Cost: 20}); err != nil {
		t.Fatal(err)
	}
	if spent, reserved := redisKind.spent(t, alive, "tenant:t", "2026-12-03"); spent != 25 || reserved != 0 {
		t.Errorf("after both settled: spent %d reserved %d, want 25 and 0", spent, reserved)
	}
	// Extend renews a lease: a long stream that extends keeps its slot.
	s := mustReserve(t, alive, ReserveRequest{Scopes: sc, Cost: 1})
	clock.Add(50 * time.Second)
	if err := alive.Extend(ctx, s, 1); err != nil {
		t.Fatal(err)
	}
	clock.Add(50 * time.Second)
	if le := refusal(t, dead, ReserveRequest{Scopes: sc}); le.Kind != LimitConcurrent {
		t.Errorf("refusal %v, want the extended stream still holding its slot", le)
	}
}

// TestRedisMoneyExactBeyondDoubles: budgets near $1e9 (1e18 nano-USD,
// far past a double's 2^53) are compared exactly, to the nano-dollar.
func TestRedisMoneyExactBeyondDoubles(t *testing.T) {
	for _, k := range []limiterKind{memoryKind, redisKind} {
		t.Run(k.name, func(t *testing.T) {
			m := k.one(t, newClock().Now)
			sc := []ScopeLimits{scope(TenantScope("rich"), Rules{Budgets: Budgets{Lifetime: Budget{USD: USD(1e9)}}})}
			k.seed(t, m, []SpendRow{{Scope: "tenant:rich", Period: "lifetime", Spent: USD(1e9) - 2}})
			mustReserve(t, m, ReserveRequest{Scopes: sc, Cost: 1})
			if le := refusal(t, m, ReserveRequest{Scopes: sc, Cost: 2}); le.Kind != LimitBudget {
				t.Errorf("refusal %v, want the budget one nano-dollar over", le)
			}
			mustReserve(t, m, ReserveRequest{Scopes: sc, Cost: 1})
			refusal(t, m, ReserveRequest{Scopes: sc})
			if spent, reserved := k.spent(t, m, "tenant:rich", "lifetime"); spent != USD(1e9)-2 || reserved != 2 {
				t.Errorf("spent %d reserved %d", spent, reserved)
			}
		})
	}
}
