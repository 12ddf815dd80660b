package governance

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/switchboard-gw/switchboard/config"
)

// TestOpenFromConfig: the config's postgres store and redis limits, built
// as the gateway builds them, share one tenant's spend: Seed carries the
// store's spend into Redis, and a budget counts it.
func TestOpenFromConfig(t *testing.T) {
	ctx := context.Background()
	dsn := freshDatabase(t)
	l, err := config.Parse("cfg.yaml", []byte(`providers:
  - {name: local, schema: openai, base_url: "http://127.0.0.1:9100/v1"}
models:
  - {name: demo, providers: [{provider: local}]}
governance:
  store: {kind: postgres, dsn: {env: PG}}
  limits: {kind: redis, address: "`+shared.redisAddr(t)+`", on_store_failure: closed}
`), func(k string) (string, bool) { return dsn, k == "PG" })
	if err != nil {
		t.Fatal(err)
	}
	store, err := OpenStore(ctx, l.Governance.Store)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	lim, err := OpenLimits(ctx, l.Governance.Limits, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer lim.Close()
	if lim.Redis == nil || lim.FailSafe == nil || lim.FailSafe.mode != FailClosed {
		t.Fatalf("limits %+v, want Redis behind a closed FailSafe", lim)
	}
	lim.Redis.prefix = uniquePrefix(t)
	tenant := "seeded-" + lim.Redis.prefix[:len(lim.Redis.prefix)-1]
	if err := store.WriteGenerations(ctx, []Generation{{ID: "g-" + tenant, Created: day1, Tenant: tenant, Cost: USD(0.9)}}); err != nil {
		t.Fatal(err)
	}
	if err := lim.Seed(ctx, store, day1); err != nil {
		t.Fatal(err)
	}
	sc := []ScopeLimits{scope(TenantScope(tenant), Rules{Budgets: Budgets{Lifetime: Budget{USD: USD(1)}}})}
	if le := refusal(t, lim, ReserveRequest{Scopes: sc, Cost: USD(0.2)}); le.Kind != LimitBudget {
		t.Errorf("refusal %v, want the seeded lifetime budget", le)
	}

	// Redis loses everything (a restart without persistence): the
	// budget is open until KeepSeeded notices and re-seeds it.
	keys, err := lim.client.Keys(ctx, lim.Redis.prefix+"*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("keys %v, %v", keys, err)
	}
	if err := lim.client.Del(ctx, keys...).Err(); err != nil {
		t.Fatal(err)
	}
	if ok, err := lim.Redis.Seeded(ctx); ok || err != nil {
		t.Fatalf("seeded %v, %v after a flush", ok, err)
	}
	res, err := lim.Reserve(ctx, ReserveRequest{Scopes: sc, Cost: USD(0.2)})
	if err != nil {
		t.Fatalf("after the flush the budget should be empty: %v", err)
	}
	_ = lim.Settle(ctx, res, Usage{})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { lim.KeepSeeded(runCtx, store, 10*time.Millisecond, zap.NewNop()); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for ok := false; !ok; ok, _ = lim.Redis.Seeded(ctx) {
		if time.Now().After(deadline) {
			t.Fatal("not re-seeded within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if le := refusal(t, lim, ReserveRequest{Scopes: sc, Cost: USD(0.2)}); le.Kind != LimitBudget {
		t.Errorf("refusal %v after the re-seed, want the lifetime budget", le)
	}
}
