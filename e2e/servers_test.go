package e2e

// Real Redis and PostgreSQL servers for the tests (issue 10: shared
// counters in Redis, keys and records in PostgreSQL). `make test` installs
// both into .tools (the Makefile's redis and postgres targets) and exports
// REDIS_SERVER_BIN and POSTGRES_BIN_DIR; each server here runs on a free
// loopback port with its own temporary data directory and is stopped when
// the test ends. A missing binary fails the test with the make target to
// run: CI runs these, they are never skipped.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// The .tools paths the Makefile installs to, used when the environment
// variables are unset (go test run by hand). Keep in step with the
// Makefile's REDIS_VERSION and POSTGRES_VERSION.
const (
	redisToolPath    = "redis-6.2.14/redis-server"
	postgresToolPath = "postgres-18.6.0/bin"
)

// toolPath is the file env names, else .tools/rel; a missing one fails
// the test saying which make target installs it.
func toolPath(t testing.TB, env, rel, target string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		p, _ = filepath.Abs(filepath.Join("..", ".tools", rel))
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%v: run `make %s` (installs it into .tools) or set %s", err, target, env)
	}
	return p
}

// dbServer is one running Redis or PostgreSQL. stop and restart keep the
// port and the data directory, for outage tests.
type dbServer struct {
	t     testing.TB
	name  string
	bin   string
	args  []string
	cred  *syscall.Credential
	port  int
	ready func(context.Context) error

	mu sync.Mutex
	p  *proc
}

// addr is the server's host:port on loopback.
func (s *dbServer) addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

// launch starts the process and waits until ready answers, or the
// process exits, or 30 s pass.
func (s *dbServer) launch() error {
	p := &proc{name: s.name, cmd: exec.Command(s.bin, s.args...), log: &logBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if s.cred != nil {
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	s.mu.Lock()
	s.p = p
	s.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := s.ready(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready: %v\n%s", s.name, p.cmd.ProcessState, tail(p.log.String(), 3000))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return fmt.Errorf("%s not ready after 30 s: %v\n%s", s.name, err, tail(p.log.String(), 3000))
		}
	}
}

// stop shuts the server down (SIGINT: Redis's shutdown, PostgreSQL's fast
// shutdown), killing it after 10 s.
func (s *dbServer) stop() {
	s.mu.Lock()
	p := s.p
	s.mu.Unlock()
	if p != nil {
		p.stop()
	}
}

// restart starts the stopped server again on the same port and data.
func (s *dbServer) restart() {
	s.t.Helper()
	if err := s.launch(); err != nil {
		s.t.Fatal(err)
	}
}

// startServer picks a port, launches, and retries on a new port when
// another process took the one picked (as startGatewayMode does).
func startServer(t testing.TB, s *dbServer, args func(port int) []string) *dbServer {
	t.Helper()
	for try := 1; ; try++ {
		s.port = freePort(t)
		s.args = args(s.port)
		err := s.launch()
		if err == nil {
			t.Cleanup(func() {
				s.stop()
				if t.Failed() {
					s.mu.Lock()
					t.Logf("--- %s log ---\n%s", s.name, tail(s.p.log.String(), 4000))
					s.mu.Unlock()
				}
			})
			return s
		}
		if try == 3 || !strings.Contains(err.Error(), "already in use") {
			t.Fatal(err)
		}
		t.Logf("%s lost a port race, retrying", s.name)
	}
}

// startRedis runs a real redis-server on loopback with no persistence and
// returns its host:port.
func startRedis(t testing.TB) (addr string) {
	t.Helper()
	return startRedisServer(t).addr()
}

// startRedisServer is startRedis returning the server, for tests that
// stop and restart it.
func startRedisServer(t testing.TB) *dbServer {
	t.Helper()
	bin := toolPath(t, "REDIS_SERVER_BIN", redisToolPath, "redis")
	dir := t.TempDir()
	s := &dbServer{t: t, name: "redis", bin: bin}
	s.ready = func(ctx context.Context) error {
		c := redis.NewClient(&redis.Options{Addr: s.addr(), MaxRetries: -1})
		defer c.Close()
		return c.Ping(ctx).Err()
	}
	return startServer(t, s, func(port int) []string {
		return []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--dir", dir, "--save", "", "--appendonly", "no",
			"--daemonize", "no", "--logfile", "", "--loglevel", "warning"}
	})
}

// postgresUser owns the test clusters; postgresPassword is its password
// (SCRAM, as a production server would ask).
const postgresUser = "switchboard"

var (
	pgTemplateOnce sync.Once
	pgTemplateDir  string // an initdb'd data directory, copied per server
	pgBinDir       string // the bin folder the servers run from
	pgPassword     string
	pgTemplateErr  error
	pgCred         *syscall.Credential
)

// postgresCredential is who runs initdb and postgres: both refuse to run
// as root, which tests here (and CI) are, so root runs them as nobody.
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		return nil, fmt.Errorf("postgres cannot run as root and there is no user nobody: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// makeDir makes a fresh directory in the system temp folder that cred's
// user owns (t.TempDir's parents are root's, mode 0700).
func makeDir(prefix string, cred *syscall.Credential) (string, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// postgresTemplate runs initdb once per test binary; each server gets a
// copy (initdb is most of a start's cost).
func postgresTemplate(binDir string) (string, error) {
	pgTemplateOnce.Do(func() {
		if pgCred, pgTemplateErr = postgresCredential(); pgTemplateErr != nil {
			return
		}
		var dir string
		if dir, pgTemplateErr = makeDir("switchboard-pg-template-", pgCred); pgTemplateErr != nil {
			return
		}
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		pgPassword = hex.EncodeToString(b)
		pwfile := filepath.Join(dir, "pw")
		if pgTemplateErr = os.WriteFile(pwfile, []byte(pgPassword+"\n"), 0o600); pgTemplateErr != nil {
			return
		}
		if pgCred != nil {
			_ = os.Chown(pwfile, int(pgCred.Uid), int(pgCred.Gid))
		}
		pgBinDir = binDir
		if pgCred != nil {
			// nobody must reach the binaries: a checkout under a folder
			// only root can enter (mode 0700) gets a copy it can.
			check := exec.Command(filepath.Join(binDir, "postgres"), "--version")
			check.SysProcAttr = &syscall.SysProcAttr{Credential: pgCred}
			if check.Run() != nil {
				install := filepath.Join(dir, "install")
				if out, err := exec.Command("cp", "-a", filepath.Dir(binDir), install).CombinedOutput(); err != nil {
					pgTemplateErr = fmt.Errorf("copy %s for user nobody: %v\n%s", filepath.Dir(binDir), err, out)
					return
				}
				pgBinDir = filepath.Join(install, "bin")
			}
		}
		pgTemplateDir = filepath.Join(dir, "data")
		cmd := exec.Command(filepath.Join(pgBinDir, "initdb"), "-D", pgTemplateDir,
			"-U", postgresUser, "--pwfile", pwfile, "--auth", "scram-sha-256",
			"--encoding", "UTF8", "--locale", "C", "--no-sync", "--no-instructions")
		if pgCred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: pgCred}
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			pgTemplateErr = fmt.Errorf("initdb: %v\n%s", err, out)
		}
		_ = os.Remove(pwfile)
	})
	return pgTemplateDir, pgTemplateErr
}

// startPostgres runs a real PostgreSQL on loopback (TCP only, no Unix
// socket; fsync off: test data) and returns a DSN for pgx or libpq.
func startPostgres(t testing.TB) (dsn string) {
	t.Helper()
	return startPostgresServer(t).dsn()
}

// dsn is the connection string of a PostgreSQL dbServer.
func (s *dbServer) dsn() string {
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/postgres?sslmode=disable", postgresUser, pgPassword, s.port)
}

// startPostgresServer is startPostgres returning the server, for tests
// that stop and restart it.
func startPostgresServer(t testing.TB) *dbServer {
	t.Helper()
	binDir := toolPath(t, "POSTGRES_BIN_DIR", postgresToolPath, "postgres")
	template, err := postgresTemplate(binDir)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := makeDir("switchboard-pg-", pgCred)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	data := filepath.Join(dir, "data")
	if out, err := exec.Command("cp", "-a", template, data).CombinedOutput(); err != nil {
		t.Fatalf("copy the initdb template: %v\n%s", err, out)
	}
	s := &dbServer{t: t, name: "postgres", bin: filepath.Join(pgBinDir, "postgres"), cred: pgCred}
	s.ready = func(ctx context.Context) error {
		c, err := pgx.Connect(ctx, s.dsn())
		if err != nil {
			return err
		}
		defer c.Close(context.Background())
		return c.Ping(ctx)
	}
	return startServer(t, s, func(port int) []string {
		return []string{"-D", data, "-p", strconv.Itoa(port),
			"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
			"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
			"-c", "max_connections=100", "-c", "shared_buffers=32MB"}
	})
}

// removePostgresTemplate deletes the initdb template at the end of the
// test binary (runMain).
func removePostgresTemplate() {
	if pgTemplateDir != "" {
		_ = os.RemoveAll(filepath.Dir(pgTemplateDir))
	}
}

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
	s := startPostgresServer(t)
	ctx := context.Background()
	conn := func() *pgx.Conn {
		c, err := pgx.Connect(ctx, s.dsn())
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
			c, err := pgx.Connect(ctx, s.dsn())
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
	s.stop()
	if _, err := pgx.Connect(ctx, s.dsn()); err == nil || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("connect to a stopped server: %v, want connection refused", err)
	}
	s.restart()
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
