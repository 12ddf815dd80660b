package governance

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"go.uber.org/zap"
)

// BenchmarkRequestPath is what governance adds per request: one
// Authenticate, one Reserve across key and tenant, one Settle.
func BenchmarkRequestPath(b *testing.B) {
	ctx := context.Background()
	secret, k, err := NewSecret(day1)
	if err != nil {
		b.Fatal(err)
	}
	k.Tenant, k.Rules = "t", Rules{RPM: 1e9, Concurrent: 1e6}
	a, err := NewAuthenticator(ctx, nil, zap.NewNop(), AuthOptions{})
	if err != nil {
		b.Fatal(err)
	}
	a.SetDeclared([]Tenant{{Name: "t", Rules: Rules{TPM: 1e9, Budgets: Budgets{Daily: Budget{USD: USD(1e6)}}}}}, []Key{k})
	m := NewMemory(nil)
	b.ReportAllocs()
	for b.Loop() {
		p, err := a.Authenticate(ctx, secret)
		if err != nil {
			b.Fatal(err)
		}
		r, err := m.Reserve(ctx, ReserveRequest{Scopes: p.Scopes, Tokens: 100, Cost: 10})
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Settle(ctx, r, Usage{Tokens: 80, Cost: 8}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReserveSettle is one Reserve across key and tenant (rpm, tpm,
// concurrency and a daily budget) and its Settle, per limiter; Redis on
// loopback, so the figure is mostly two round trips.
func BenchmarkReserveSettle(b *testing.B) {
	ctx := context.Background()
	req := ReserveRequest{Tokens: 100, Cost: 10, Scopes: []ScopeLimits{
		{Scope: KeyScope("bench"), Rules: Rules{RPM: 1e9, Concurrent: 1e6}},
		{Scope: TenantScope("bench"), Rules: Rules{TPM: 1e9, Budgets: Budgets{Daily: Budget{USD: USD(1e6)}}}},
	}}
	for _, k := range []limiterKind{memoryKind, redisKind} {
		b.Run(k.name, func(b *testing.B) {
			var l Limiter
			if k.name == "memory" {
				l = NewMemory(nil)
			} else {
				l = benchRedis(b)
			}
			b.ReportAllocs()
			for b.Loop() {
				r, err := l.Reserve(ctx, req)
				if err != nil {
					b.Fatal(err)
				}
				if err := l.Settle(ctx, r, Usage{Tokens: 80, Cost: 8}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchRedis(b *testing.B) *Redis {
	c := redis.NewClient(&redis.Options{Addr: shared.redisAddr(b)})
	b.Cleanup(func() { c.Close() })
	return NewRedis(c, RedisOptions{Prefix: uniquePrefix(b)})
}
