package e2e

// Real Redis and PostgreSQL servers for the tests (issue 10), from
// internal/testservers: each runs on a free loopback port with its own
// data directory and stops when the test ends; a missing binary fails the
// test naming the make target that installs it.

import (
	"context"
	"errors"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/switchboard-gw/switchboard/internal/testservers"
)

// toolPath is the file env names, else .tools/rel; a missing one fails
// the test saying which make target installs it.
func toolPath(t testing.TB, env, rel, target string) string {
	t.Helper()
	return testservers.ToolPath(t, env, rel, target)
}

// startRedis runs a real redis-server and returns its host:port.
func startRedis(t testing.TB) (addr string) {
	t.Helper()
	return testservers.Redis(t).Addr()
}

// startPostgres runs a real PostgreSQL and returns its DSN.
func startPostgres(t testing.TB) (dsn string) {
	t.Helper()
	return testservers.Postgres(t).DSN()
}

// removePostgresTemplate deletes the initdb template at the end of the
// test binary (runMain).
func removePostgresTemplate() { testservers.Cleanup() }

// TestRedisEvalLimitExactUnderConcurrency proves startRedis with the kind
// of script issue 10's limits need: a check-and-increment done atomically
// in Lua, hit by 50 goroutines at once, admits exactly the limit.
func TestRedisEvalLimitExactUnderConcurrency(t *testing.T) {
	t.Parallel()
	c := redis.NewClient(&redis.Options{Addr: startRedis(t), PoolSize: 50})
	defer c.Close()
	ctx := context.Background()
	// KEYS[1] window counter, KEYS[2] total attempts; ARGV[1] limit,
	// ARGV[2] window in ms. Returns 1 when admitted.
	script := redis.NewScript(`
redis.call('INCR', KEYS[2])
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then return 0 end
n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1`)
	const workers, each, limit = 50, 4, 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	admitted, errs := 0, []error{}
	start := make(chan struct{})
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for j := 0; j < each; j++ {
				ok, err := script.Run(ctx, c, []string{"rl:tenant-a", "attempts:tenant-a"}, limit, 60000).Int()
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				}
				admitted += ok
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d script errors, first: %v", len(errs), errs[0])
	}
	if admitted != limit {
		t.Errorf("admitted %d of %d, want exactly the limit %d", admitted, workers*each, limit)
	}
	if n, err := c.Get(ctx, "attempts:tenant-a").Int(); err != nil || n != workers*each {
		t.Errorf("attempts = %d, %v; want %d", n, err, workers*each)
	}
	if n, err := c.Get(ctx, "rl:tenant-a").Int(); err != nil || n != limit {
		t.Errorf("window counter = %d, %v; want %d", n, err, limit)
	}
	if ttl, err := c.PTTL(ctx, "rl:tenant-a").Result(); err != nil || ttl <= 0 || ttl > time.Minute {
		t.Errorf("window TTL = %v, %v; want within the 60 s window", ttl, err)
	}
	info, err := c.Info(ctx, "server").Result()
	if err != nil || !strings.Contains(info, "redis_version:6.2.") {
		t.Errorf("INFO server: %v\n%s", err, info)
	}
}

// TestPostgresBudgetReservationsAndRestart proves startPostgres with
// transactions as issue 10's budgets need them: 50 concurrent
// reservations against a budget of 10 (row lock, check, update or roll
// back) commit exactly 10; a failed transaction leaves nothing; committed
// rows survive a server restart, and a stopped server refuses connections.
func TestPostgresBudgetReservationsAndRestart(t *testing.T) {
	t.Parallel()
	s := testservers.Postgres(t)
	ctx := context.Background()
	conn := func() *pgx.Conn {
		c, err := pgx.Connect(ctx, s.DSN())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		return c
	}
	c := conn()
	var version string
	if err := c.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil || !strings.HasPrefix(version, "18.") {
		t.Fatalf("server_version %q, %v", version, err)
	}
	if _, err := c.Exec(ctx, `CREATE TABLE budgets (tenant text PRIMARY KEY, limit_units int NOT NULL, spent int NOT NULL DEFAULT 0);
		CREATE TABLE reservations (id serial PRIMARY KEY, tenant text NOT NULL REFERENCES budgets, units int NOT NULL);
		INSERT INTO budgets (tenant, limit_units) VALUES ('tenant-a', 10)`); err != nil {
		t.Fatal(err)
	}

	const workers = 50
	var wg sync.WaitGroup
	var mu sync.Mutex
	committed, refused := 0, 0
	var errs []error
	start := make(chan struct{})
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := pgx.Connect(ctx, s.DSN())
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
			defer c.Close(context.Background())
			<-start
			ok, err := reserve(ctx, c, "tenant-a", 1)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				errs = append(errs, err)
			case ok:
				committed++
			default:
				refused++
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d errors, first: %v", len(errs), errs[0])
	}
	if committed != 10 || refused != workers-10 {
		t.Errorf("committed %d, refused %d; want 10 and %d", committed, refused, workers-10)
	}

	// A transaction that fails half way leaves no row behind.
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO reservations (tenant, units) VALUES ('tenant-a', 99)"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO reservations (tenant, units) VALUES ('no-such-tenant', 1)"); err == nil {
		t.Fatal("foreign key violation not reported")
	}
	_ = tx.Rollback(ctx)

	check := func(c *pgx.Conn, when string) {
		t.Helper()
		var spent, rows, units int
		if err := c.QueryRow(ctx, "SELECT b.spent, count(r.id), coalesce(sum(r.units), 0) FROM budgets b LEFT JOIN reservations r USING (tenant) WHERE b.tenant = 'tenant-a' GROUP BY b.spent").Scan(&spent, &rows, &units); err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if spent != 10 || rows != 10 || units != 10 {
			t.Errorf("%s: spent %d, %d reservations of %d units; want 10, 10, 10", when, spent, rows, units)
		}
	}
	check(c, "after the reservations")

	c.Close(ctx)
	s.Stop()
	if _, err := pgx.Connect(ctx, s.DSN()); err == nil || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("connect to a stopped server: %v, want connection refused", err)
	}
	s.Restart(t)
	check(conn(), "after a restart")
}

// reserve takes units from tenant's budget in one transaction, or
// refuses when they would exceed it.
func reserve(ctx context.Context, c *pgx.Conn, tenant string, units int) (bool, error) {
	tx, err := c.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(ctx)
	var limit, spent int
	if err := tx.QueryRow(ctx, "SELECT limit_units, spent FROM budgets WHERE tenant = $1 FOR UPDATE", tenant).Scan(&limit, &spent); err != nil {
		return false, err
	}
	if spent+units > limit {
		return false, nil
	}
	if _, err := tx.Exec(ctx, "UPDATE budgets SET spent = spent + $2 WHERE tenant = $1", tenant, units); err != nil {
		return false, err
	}
	if _, err := tx.Exec(ctx, "INSERT INTO reservations (tenant, units) VALUES ($1, $2)", tenant, units); err != nil {
		return false, err
	}
	return true, tx.Commit(ctx)
}
