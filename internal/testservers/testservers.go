// Package testservers runs real Redis and PostgreSQL servers for tests
// (issue 10: shared counters in Redis, keys and records in PostgreSQL).
// `make test` installs both into .tools (the Makefile's redis and postgres
// targets) and exports REDIS_SERVER_BIN and POSTGRES_BIN_DIR; each server
// runs on a free loopback port with its own temporary data directory and
// is stopped when the test ends. A missing binary fails the test with the
// make target to run: CI runs these, they are never skipped.
package testservers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The .tools paths the Makefile installs to, used when the environment
// variables are unset (go test run by hand). Keep in step with the
// Makefile's REDIS_VERSION and POSTGRES_VERSION.
const (
	redisToolPath    = "redis-6.2.14/redis-server"
	postgresToolPath = "postgres-18.6.0/bin"
)

// Server is one running Redis or PostgreSQL. Stop and Restart keep the
// port and the data directory, for outage tests.
type Server struct {
	name  string
	bin   string
	args  []string
	cred  *syscall.Credential
	port  int
	dsn   string
	ready func(context.Context) error

	mu sync.Mutex
	p  *proc
}

// Addr is the server's host:port on loopback.
func (s *Server) Addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

// Port is the server's loopback port.
func (s *Server) Port() int { return s.port }

// DSN is a PostgreSQL server's connection string for pgx or libpq ("" for
// Redis).
func (s *Server) DSN() string { return s.dsn }

// Log is what the server wrote so far.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil {
		return ""
	}
	return s.p.log.String()
}

// Stop shuts the server down (SIGINT: Redis's shutdown, PostgreSQL's fast
// shutdown), killing it after 10 s. Stopping a stopped server does
// nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	p := s.p
	s.mu.Unlock()
	if p != nil {
		p.stop()
	}
}

// Restart starts the stopped server again on the same port and data.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.launch(); err != nil {
		t.Fatal(err)
	}
}

// launch starts the process and waits until ready answers, or the
// process exits, or 30 s pass.
func (s *Server) launch() error {
	p := &proc{cmd: exec.Command(s.bin, s.args...), log: &logBuffer{}, done: make(chan struct{})}
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
			s.Stop()
			return fmt.Errorf("%s not ready after 30 s: %v\n%s", s.name, err, tail(p.log.String(), 3000))
		}
	}
}

// start picks a port, launches, and retries on a new port when another
// process took the one picked. The caller stops the server.
func start(s *Server, args func(port int) []string) error {
	for try := 1; ; try++ {
		port, err := FreePort()
		if err != nil {
			return err
		}
		s.port, s.args = port, args(port)
		err = s.launch()
		if err == nil {
			return nil
		}
		if try == 3 || !strings.Contains(err.Error(), "already in use") {
			return err
		}
	}
}

// attach stops s when t ends, logging its output when t failed.
func attach(t testing.TB, s *Server) *Server {
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("--- %s log ---\n%s", s.name, tail(s.Log(), 4000))
		}
	})
	return s
}

// ErrMissingTool is a server binary that is not installed.
var ErrMissingTool = errors.New("test server not installed")

// toolPath is the file env names, else .tools/rel in the module root; a
// missing one is an error saying which make target installs it.
func toolPath(env, rel, target string) (string, error) {
	p := os.Getenv(env)
	if p == "" {
		root, err := moduleRoot()
		if err != nil {
			return "", fmt.Errorf("%w: %s unset and %v; run `make %s`", ErrMissingTool, env, err, target)
		}
		p = filepath.Join(root, ".tools", rel)
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%w: %v: run `make %s` (installs it into .tools) or set %s", ErrMissingTool, err, target, env)
	}
	return p, nil
}

// moduleRoot is the nearest directory above the working directory (a
// test's package directory) holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// logBuffer keeps a process's output for failure reports.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type proc struct {
	cmd  *exec.Cmd
	log  *logBuffer
	done chan struct{}
}

func (p *proc) stop() {
	if p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// ToolPath is the file the environment variable env names, else
// .tools/rel in the module root; a missing one fails t naming the make
// target that installs it.
func ToolPath(t testing.TB, env, rel, target string) string {
	t.Helper()
	p, err := toolPath(env, rel, target)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
