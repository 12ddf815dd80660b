package governance

import (
	"context"
	"testing"

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
