package governance

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/switchboard-gw/switchboard/internal/testservers"
)

func numbered(prefix string, n int) []Generation {
	out := make([]Generation, n)
	for i := range out {
		out[i] = Generation{ID: fmt.Sprintf("%s-%04d", prefix, i), Created: day1, KeyID: "k1", Tenant: "t", Cost: 7}
	}
	return out
}

// storedCount is how many of gs the store holds.
func storedCount(t *testing.T, s Store, gs []Generation) int {
	t.Helper()
	n := 0
	for _, g := range gs {
		if _, err := s.Generation(context.Background(), g.ID); err == nil {
			n++
		}
	}
	return n
}

// TestRecorderSurvivesPostgresOutage stops a real PostgreSQL, records N
// generations while it is down, restarts it, and finds all N stored
// exactly once (each record's spend counted once).
func TestRecorderSurvivesPostgresOutage(t *testing.T) {
	srv := testservers.Postgres(t)
	ctx := context.Background()
	store, err := OpenPostgres(ctx, srv.DSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	r, err := OpenDurableRecorder(store, zap.NewNop(), RecorderOptions{BatchSize: 50, FlushEvery: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { r.Run(runCtx, 5*time.Second); close(done) }()
	t.Cleanup(func() { cancel(); <-done; r.Close() })

	srv.Stop()
	const n = 300
	gs := numbered("outage", n)
	for _, g := range gs {
		if err := r.Record(g); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond) // let several writes fail against the stopped server
	if r.Written() != 0 || r.Pending() != n {
		t.Fatalf("with PostgreSQL down: written %d pending %d, want 0 and %d", r.Written(), r.Pending(), n)
	}
	srv.Restart(t)
	waitFor(t, "records stored after the restart", func() bool { return r.Pending() == 0 })
	if got := storedCount(t, store, gs); got != n {
		t.Errorf("%d of %d records stored", got, n)
	}
	if got := lifetimeSpend(t, store, "tenant:t"); got != 7*n {
		t.Errorf("tenant spend %d, want %d (each record once)", got, 7*n)
	}
	if fi, err := os.Stat(filepath.Join(filepath.Dir(r.disk.path), SpoolFile)); err != nil || fi.Size() != 0 {
		t.Errorf("spool file after everything was stored: %v, %v; want empty", fi, err)
	}
}

// TestRecorderReplaysSpoolAfterProcessRestart: records spooled while the
// store was failing, in a process that then died, are stored by the next
// process from the spool file; one the store had already taken (its
// answer was lost) is not counted twice.
func TestRecorderReplaysSpoolAfterProcessRestart(t *testing.T) {
	dir := t.TempDir()
	store := &flakyStore{SQLite: openTestStore(t, filepath.Join(dir, "g.db")), failAfter: 1}
	gs := numbered("replay", 40)
	first, err := OpenDurableRecorder(store, zap.NewNop(), RecorderOptions{BatchSize: 10}, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		if err := first.Record(g); err != nil {
			t.Fatal(err)
		}
	}
	// The first batch commits but answers an error: it stays spooled.
	if err := first.Flush(context.Background()); err == nil {
		t.Fatal("flush through a lost answer succeeded")
	}
	// The process dies here: no drain, no Close.

	core, logs := observer.New(zap.InfoLevel)
	second, err := OpenDurableRecorder(store, zap.New(core), RecorderOptions{BatchSize: 10}, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if second.Pending() != len(gs) {
		t.Fatalf("replayed %d records, want %d", second.Pending(), len(gs))
	}
	if logs.FilterMessage("usage records replayed from the spool file").Len() != 1 {
		t.Errorf("replay not logged: %v", logs.All())
	}
	if err := second.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := storedCount(t, store, gs); got != len(gs) {
		t.Errorf("%d of %d stored", got, len(gs))
	}
	if got := lifetimeSpend(t, store, "key:k1"); got != 7*NanoUSD(len(gs)) {
		t.Errorf("spend %d, want %d: the batch stored before the crash counted twice?", got, 7*len(gs))
	}
}

// TestSpoolTornLineAndBound: a crash mid-write leaves a torn last line,
// dropped with a log; a file past MaxSpool keeps the oldest records and
// counts the rest dropped.
func TestSpoolTornLineAndBound(t *testing.T) {
	dir := t.TempDir()
	store := openTestStore(t, filepath.Join(dir, "g.db"))
	var lines []byte
	for _, g := range numbered("b", 5) {
		l, err := spoolLine(&g)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l...)
	}
	lines = append(lines, `{"id":"torn","crea`...)
	if err := os.WriteFile(filepath.Join(dir, SpoolFile), lines, 0o600); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.InfoLevel)
	r, err := OpenDurableRecorder(store, zap.New(core), RecorderOptions{MaxSpool: 3}, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Pending() != 3 || r.Dropped() != 2 {
		t.Errorf("pending %d dropped %d, want 3 and 2", r.Pending(), r.Dropped())
	}
	if logs.FilterMessageSnippet("torn record").Len() != 1 || logs.FilterMessageSnippet("more records than max_spool").Len() != 1 {
		t.Errorf("logs: %v", logs.All())
	}
	if err := r.Record(numbered("c", 1)[0]); err != ErrSpoolFull {
		t.Errorf("record past the bound: %v, want ErrSpoolFull", err)
	}
}
