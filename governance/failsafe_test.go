package governance

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/switchboard-gw/switchboard/internal/testservers"
)

// TestFailSafeRedisOutage stops a real Redis mid-test: open admits
// unmetered (counted, logged once per interval), closed refuses with a
// 503 error; both meter again after the restart.
func TestFailSafeRedisOutage(t *testing.T) {
	for _, mode := range []FailureMode{FailOpen, FailClosed} {
		t.Run(string(mode), func(t *testing.T) {
			srv := testservers.Redis(t)
			c := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1, DialerRetries: 1, DialTimeout: 200 * time.Millisecond,
				ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond})
			t.Cleanup(func() { c.Close() })
			core, logs := observer.New(zap.InfoLevel)
			f := NewFailSafe(NewRedis(c, RedisOptions{}), mode, zap.New(core), time.Hour)
			ctx := context.Background()
			sc := []ScopeLimits{scope(TenantScope("t"), Rules{RPM: 2, Concurrent: 5})}
			req := ReserveRequest{Scopes: sc}

			before := mustReserve(t, f, req)
			if before.Unmetered() {
				t.Fatal("a reservation with Redis up is unmetered")
			}
			srv.Stop()
			for range 3 {
				r, err := f.Reserve(ctx, req)
				var ue *UnavailableError
				switch mode {
				case FailOpen:
					if err != nil || !r.Unmetered() {
						t.Fatalf("open with Redis down: %+v, %v; want an unmetered admission", r, err)
					}
					if err := f.Extend(ctx, r, 100); err != nil {
						t.Errorf("extend unmetered: %v", err)
					}
					if err := f.Settle(ctx, r, Usage{Cost: 5}); err != nil {
						t.Errorf("settle unmetered: %v", err)
					}
				case FailClosed:
					if !errors.As(err, &ue) || ue.HTTPStatus() != 503 || ue.Code() != "limits_unavailable" || ue.Op != "reserve" {
						t.Fatalf("closed with Redis down: %v; want a 503 UnavailableError", err)
					}
				}
			}
			// A reservation made before the outage cannot settle now.
			var ue *UnavailableError
			if err := f.Settle(ctx, before, Usage{}); !errors.As(err, &ue) || ue.Op != "settle" {
				t.Errorf("settle with Redis down: %v, want an UnavailableError", err)
			}
			wantUnmetered := map[FailureMode]uint64{FailOpen: 3, FailClosed: 0}[mode]
			if f.Failures() != 4 || f.AdmittedUnmetered() != wantUnmetered {
				t.Errorf("failures %d, unmetered %d; want 4 and %d", f.Failures(), f.AdmittedUnmetered(), wantUnmetered)
			}
			if n := logs.FilterMessageSnippet("limiter store failed").Len(); n != 1 {
				t.Errorf("%d failure logs in one interval, want 1", n)
			}

			// Recovery: the restarted Redis (no persistence: empty) meters
			// again, exactly.
			srv.Restart(t)
			mustReserve(t, f, req)
			mustReserve(t, f, req)
			if le := refusal(t, f, req); le.Kind != LimitRequests {
				t.Errorf("after the restart: %v, want the rpm limit enforced", le)
			}
			// The retried Settle of the pre-outage reservation lands.
			if err := f.Settle(ctx, before, Usage{}); err != nil {
				t.Errorf("settle after recovery: %v", err)
			}
		})
	}
}
