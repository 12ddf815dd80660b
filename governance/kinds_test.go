package governance

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// limiterKind makes limiters of one implementation for the shared test
// table: every test in limiter_test.go runs against each kind.
type limiterKind struct {
	name string
	// replicas makes n limiters sharing one set of counters (Memory: the
	// same one; Redis: n clients on one Redis, as n gateway replicas).
	replicas func(t *testing.T, now func() time.Time, n int) []Limiter
}

func (k limiterKind) one(t *testing.T, now func() time.Time) Limiter { return k.replicas(t, now, 1)[0] }

// spent and seed reach the implementation's own Spent and Seed.
func (k limiterKind) spent(t *testing.T, l Limiter, s Scope, p Period) (spent, reserved NanoUSD) {
	t.Helper()
	switch l := l.(type) {
	case *Memory:
		return l.Spent(s, p)
	case *Redis:
		spent, reserved, err := l.Spent(context.Background(), s, p)
		if err != nil {
			t.Fatal(err)
		}
		return spent, reserved
	}
	t.Fatalf("no Spent on %T", l)
	return 0, 0
}

func (k limiterKind) seed(t *testing.T, l Limiter, rows []SpendRow) {
	t.Helper()
	switch l := l.(type) {
	case *Memory:
		l.Seed(rows)
	case *Redis:
		if err := l.Seed(context.Background(), rows); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("no Seed on %T", l)
	}
}

var memoryKind = limiterKind{name: "memory", replicas: func(t *testing.T, now func() time.Time, n int) []Limiter {
	m := NewMemory(now)
	out := make([]Limiter, n)
	for i := range out {
		out[i] = m
	}
	return out
}}

// redisKind runs on the binary's shared Redis, each call under a fresh
// key prefix. The lease is long: the table moves its fake clock by hours
// and Memory has no leases (lease expiry has tests of its own).
var redisKind = limiterKind{name: "redis", replicas: func(t *testing.T, now func() time.Time, n int) []Limiter {
	addr := shared.redisAddr(t)
	prefix := uniquePrefix(t)
	out := make([]Limiter, n)
	for i := range out {
		c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 32})
		t.Cleanup(func() { c.Close() })
		out[i] = NewRedis(c, RedisOptions{Prefix: prefix, Lease: 72 * time.Hour, Now: now})
	}
	return out
}}

func forEachLimiter(t *testing.T, f func(t *testing.T, k limiterKind)) {
	for _, k := range []limiterKind{memoryKind, redisKind} {
		t.Run(k.name, func(t *testing.T) { f(t, k) })
	}
}
