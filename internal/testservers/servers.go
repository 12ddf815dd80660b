package testservers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// Redis runs a real redis-server on loopback with no persistence, stopped
// when t ends. A Restart starts it empty, as a Redis without persistence
// comes back after a crash.
func Redis(t testing.TB) *Server {
	t.Helper()
	s, err := StartRedis(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return attach(t, s)
}

// StartRedis is Redis for a server shared by a whole test binary
// (TestMain): dir holds its files and the caller calls Stop.
func StartRedis(dir string) (*Server, error) {
	bin, err := toolPath("REDIS_SERVER_BIN", redisToolPath, "redis")
	if err != nil {
		return nil, err
	}
	s := &Server{name: "redis", bin: bin}
	s.ready = func(ctx context.Context) error {
		c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
		defer c.Close()
		return c.Ping(ctx).Err()
	}
	err = start(s, func(port int) []string {
		return []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--dir", dir, "--save", "", "--appendonly", "no",
			"--daemonize", "no", "--logfile", "", "--loglevel", "warning"}
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// PostgresUser owns the test clusters (SCRAM password auth, as a
// production server would ask).
const PostgresUser = "switchboard"

var (
	pgTemplateOnce sync.Once
	pgTemplateDir  string // an initdb'd data directory, copied per server
	pgBinDir       string // the bin folder the servers run from
	pgPassword     string
	pgTemplateErr  error
	pgCred         *syscall.Credential
)

// Postgres runs a real PostgreSQL on loopback (TCP only, no Unix socket;
// fsync off: test data), stopped when t ends. Restart keeps its data.
func Postgres(t testing.TB) *Server {
	t.Helper()
	s, dir, err := startPostgres()
	if dir != "" {
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	if err != nil {
		t.Fatal(err)
	}
	return attach(t, s)
}

// StartPostgres is Postgres for a server shared by a whole test binary:
// the caller calls the returned stop, which also removes its data.
func StartPostgres() (s *Server, stop func(), err error) {
	s, dir, err := startPostgres()
	if err != nil {
		if dir != "" {
			os.RemoveAll(dir)
		}
		return nil, nil, err
	}
	return s, func() { s.Stop(); os.RemoveAll(dir) }, nil
}

func startPostgres() (*Server, string, error) {
	binDir, err := toolPath("POSTGRES_BIN_DIR", postgresToolPath, "postgres")
	if err != nil {
		return nil, "", err
	}
	template, err := postgresTemplate(binDir)
	if err != nil {
		return nil, "", err
	}
	dir, err := makeDir("switchboard-pg-", pgCred)
	if err != nil {
		return nil, "", fmt.Errorf("postgres data directory: %w", err)
	}
	data := filepath.Join(dir, "data")
	if out, err := exec.Command("cp", "-a", template, data).CombinedOutput(); err != nil {
		return nil, dir, fmt.Errorf("copy the initdb template: %v\n%s", err, out)
	}
	s := &Server{name: "postgres", bin: filepath.Join(pgBinDir, "postgres"), cred: pgCred}
	s.ready = func(ctx context.Context) error {
		c, err := pgx.Connect(ctx, s.dsn)
		if err != nil {
			return err
		}
		defer c.Close(context.Background())
		return c.Ping(ctx)
	}
	err = start(s, func(port int) []string {
		s.dsn = fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/postgres?sslmode=disable", PostgresUser, pgPassword, port)
		return []string{"-D", data, "-p", strconv.Itoa(port),
			"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
			"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
			"-c", "max_connections=200", "-c", "shared_buffers=32MB"}
	})
	return s, dir, err
}

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
			"-U", PostgresUser, "--pwfile", pwfile, "--auth", "scram-sha-256",
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

// Cleanup removes what the servers of this test binary share (the initdb
// template); call it from TestMain after m.Run.
func Cleanup() {
	if pgTemplateDir != "" {
		_ = os.RemoveAll(filepath.Dir(pgTemplateDir))
	}
}
