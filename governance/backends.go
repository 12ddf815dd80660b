package governance

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/switchboard-gw/switchboard/config"
)

// OpenStore opens the store the config names: the embedded SQLite file,
// or PostgreSQL at the DSN read at load.
func OpenStore(ctx context.Context, s config.GovernanceStore) (Store, error) {
	switch s.Kind {
	case config.StorePostgres:
		return OpenPostgres(ctx, s.ConnString())
	case config.StoreEmbedded, "":
		return OpenSQLite(ctx, s.ResolvedPath())
	}
	return nil, fmt.Errorf("governance: unknown store kind %q", s.Kind)
}

// SpoolDir is the data directory the durable usage spool lives in (next
// to the SQLite file, or where it would be).
func SpoolDir(s config.GovernanceStore) string { return filepath.Dir(s.ResolvedPath()) }

// Limits is the limiter the config names, ready for the request path.
type Limits struct {
	// Limiter is what extproc calls: Memory, or Redis behind FailSafe.
	Limiter
	// Memory, Redis and FailSafe are the parts, for seeding and metrics
	// (nil when not in use).
	Memory   *Memory
	Redis    *Redis
	FailSafe *FailSafe

	client *redis.Client
}

// OpenLimits builds the limiter the config names. A Redis that is down
// at start is not an error: it is the configured failure mode until it
// answers (the warning is logged).
func OpenLimits(ctx context.Context, l config.GovernanceLimits, log *zap.Logger) (*Limits, error) {
	switch l.Kind {
	case config.LimitsMemory, "":
		m := NewMemory(nil)
		return &Limits{Limiter: m, Memory: m}, nil
	case config.LimitsRedis:
	default:
		return nil, fmt.Errorf("governance: unknown limits kind %q", l.Kind)
	}
	timeout := time.Duration(l.Timeout)
	c := redis.NewClient(&redis.Options{
		Addr: l.Address, Username: l.Username, Password: l.RedisPassword(), DB: l.DB,
		// A Redis that is down costs a request one short dial, not five.
		DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout, PoolTimeout: timeout,
		MaxRetries: -1, DialerRetries: 1,
	})
	r := NewRedis(c, RedisOptions{Lease: time.Duration(l.Lease)})
	mode := FailOpen
	if l.OnStoreFailure == config.FailClosed {
		mode = FailClosed
	}
	f := NewFailSafe(r, mode, log, 0)
	if err := r.Ping(ctx); err != nil {
		log.Warn("redis not answering at start; limits run in their failure mode until it does",
			zap.String("address", l.Address), zap.String("on_store_failure", string(mode)), zap.Error(err))
	}
	return &Limits{Limiter: f, Redis: r, FailSafe: f, client: c}, nil
}

// Seed loads the store's spend of the current periods into the counters
// (at start; and after a Redis restart, which loses them).
func (l *Limits) Seed(ctx context.Context, s Store, now time.Time) error {
	rows, err := s.Spend(ctx, []Period{PeriodOf(Day, now), PeriodOf(Month, now), PeriodOf(Lifetime, now)})
	if err != nil {
		return fmt.Errorf("governance: seed limits: %w", err)
	}
	if l.Redis != nil {
		return l.Redis.Seed(ctx, rows)
	}
	l.Memory.Seed(rows)
	return nil
}

// KeepSeeded re-seeds Redis from the store whenever it comes back
// without the counters (restarted empty, flushed), checking every
// interval until ctx ends. Memory counters live as long as the process,
// so it returns at once for them. Budgets then hold again from the spend
// the store has: records still in the recorder's batch (seconds) and
// reservations in flight at the loss are not in it.
func (l *Limits) KeepSeeded(ctx context.Context, s Store, every time.Duration, log *zap.Logger) {
	if l.Redis == nil {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ok, err := l.Redis.Seeded(ctx)
		if err != nil || ok {
			continue // down (the failure mode handles it), or intact
		}
		if err := l.Seed(ctx, s, time.Now()); err != nil {
			log.Warn("governance: redis lost its counters and re-seeding failed; retrying", zap.Error(err))
			continue
		}
		log.Info("governance: redis lost its counters; budgets re-seeded from the store")
	}
}

// Close releases the Redis connections.
func (l *Limits) Close() error {
	if l.client == nil {
		return nil
	}
	if err := l.client.Close(); err != nil {
		return fmt.Errorf("governance: close redis: %w", err)
	}
	return nil
}
