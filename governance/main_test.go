package governance

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/testservers"
)

func TestMain(m *testing.M) {
	code := m.Run()
	shared.stop()
	testservers.Cleanup()
	os.Exit(code)
}

// shared are servers the whole test binary uses, each test in a key
// prefix or database of its own; tests that stop a server start their
// own with testservers.Redis or testservers.Postgres.
var shared sharedServers

type sharedServers struct {
	redisOnce sync.Once
	redis     *testservers.Server
	redisDir  string
	redisErr  error

	pgOnce sync.Once
	pg     *testservers.Server
	pgStop func()
	pgErr  error
}

func (s *sharedServers) redisAddr(t testing.TB) string {
	t.Helper()
	s.redisOnce.Do(func() {
		if s.redisDir, s.redisErr = os.MkdirTemp("", "switchboard-redis-"); s.redisErr != nil {
			return
		}
		s.redis, s.redisErr = testservers.StartRedis(s.redisDir)
	})
	if s.redisErr != nil {
		t.Fatal(s.redisErr)
	}
	return s.redis.Addr()
}

func (s *sharedServers) postgres(t testing.TB) *testservers.Server {
	t.Helper()
	s.pgOnce.Do(func() { s.pg, s.pgStop, s.pgErr = testservers.StartPostgres() })
	if s.pgErr != nil {
		t.Fatal(s.pgErr)
	}
	return s.pg
}

func (s *sharedServers) stop() {
	if s.redis != nil {
		s.redis.Stop()
	}
	if s.redisDir != "" {
		os.RemoveAll(s.redisDir)
	}
	if s.pgStop != nil {
		s.pgStop()
	}
}

var prefixSeq struct {
	sync.Mutex
	n int
}

// uniquePrefix is a key prefix no other test of this binary uses.
func uniquePrefix(t testing.TB) string {
	prefixSeq.Lock()
	defer prefixSeq.Unlock()
	prefixSeq.n++
	return fmt.Sprintf("test%d:", prefixSeq.n)
}
