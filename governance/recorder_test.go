package governance

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
)

// flakyStore is a real store whose WriteGenerations fails on demand:
// before writing (the store was down), or after (the commit landed but
// the answer was lost).
type flakyStore struct {
	*SQLite
	mu         sync.Mutex
	failBefore int
	failAfter  int
	calls      int
	batchSizes []int
}

func (f *flakyStore) WriteGenerations(ctx context.Context, gs []Generation) error {
	f.mu.Lock()
	f.calls++
	f.batchSizes = append(f.batchSizes, len(gs))
	before, after := f.failBefore > 0, f.failAfter > 0
	if before {
		f.failBefore--
	} else if after {
		f.failAfter--
	}
	f.mu.Unlock()
	if before {
		return errors.New("store down")
	}
	if err := f.SQLite.WriteGenerations(ctx, gs); err != nil {
		return err
	}
	if after {
		return errors.New("connection lost after commit")
	}
	return nil
}

func gens(n int) []Generation {
	out := make([]Generation, n)
	for i := range out {
		out[i] = Generation{ID: "gen-" + string(rune('a'+i)), Created: day1, KeyID: "k1", Tenant: "t", Cost: 10}
	}
	return out
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 5s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func lifetimeSpend(t *testing.T, s Store, scope Scope) NanoUSD {
	t.Helper()
	rows, err := s.Spend(context.Background(), []Period{"lifetime"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Scope == scope {
			return r.Spent
		}
	}
	return 0
}

// TestRecorderRetriesWithoutDoubleSpend: a store down for two writes, then
// one whose commit landed but answered an error: every record is stored
// once and its spend counted once.
func TestRecorderRetriesWithoutDoubleSpend(t *testing.T) {
	store := &flakyStore{SQLite: openTestStore(t, filepath.Join(t.TempDir(), "g.db")), failBefore: 2, failAfter: 1}
	r := NewRecorder(store, zap.NewNop(), RecorderOptions{FlushEvery: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	for _, g := range gens(5) {
		if err := r.Record(g); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx, time.Second); close(done) }()
	waitFor(t, "records stored", func() bool { return r.Pending() == 0 })
	cancel()
	<-done
	if got := lifetimeSpend(t, store, "key:k1"); got != 50 {
		t.Errorf("spend %d nano-USD after retries, want 50 (5 records of 10, once each)", got)
	}
	if store.calls != 4 {
		t.Errorf("%d writes, want 4 (two down, one lost answer, one replay)", store.calls)
	}
}

// TestRecorderSpoolBound: past MaxSpool, records are refused and counted,
// never blocking the caller.
func TestRecorderSpoolBound(t *testing.T) {
	store := openTestStore(t, filepath.Join(t.TempDir(), "g.db"))
	r := NewRecorder(store, zap.NewNop(), RecorderOptions{MaxSpool: 3})
	for i, g := range gens(5) {
		err := r.Record(g)
		if want := i >= 3; (err != nil) != want || (err != nil && !errors.Is(err, ErrSpoolFull)) {
			t.Errorf("record %d: %v, want full %v", i, err, want)
		}
	}
	if r.Dropped() != 2 || r.Pending() != 3 {
		t.Errorf("dropped %d pending %d, want 2 and 3", r.Dropped(), r.Pending())
	}
	// A record is readable while spooled, and after.
	ctx := context.Background()
	if g, err := r.Generation(ctx, "gen-b"); err != nil || g.ID != "gen-b" {
		t.Errorf("spooled record: %+v, %v", g, err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if g, err := r.Generation(ctx, "gen-b"); err != nil || g.ID != "gen-b" || r.Pending() != 0 {
		t.Errorf("stored record: %+v, %v (pending %d)", g, err, r.Pending())
	}
	if _, err := r.Generation(ctx, "gen-e"); !errors.Is(err, ErrNotFound) {
		t.Errorf("dropped record: %v, want not found", err)
	}
	if err := r.Record(gens(5)[4]); err != nil {
		t.Errorf("spool drained but still refuses: %v", err)
	}
}

// TestRecorderBatchesAndDrains: records go in batches of BatchSize, and
// those left at shutdown are written before Run returns.
func TestRecorderBatchesAndDrains(t *testing.T) {
	store := &flakyStore{SQLite: openTestStore(t, filepath.Join(t.TempDir(), "g.db"))}
	r := NewRecorder(store, zap.NewNop(), RecorderOptions{BatchSize: 2, FlushEvery: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx, time.Second); close(done) }()
	for _, g := range gens(5) {
		if err := r.Record(g); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	<-done
	if r.Pending() != 0 || r.Written() != 5 {
		t.Fatalf("after shutdown: pending %d, written %d; want 0 and 5", r.Pending(), r.Written())
	}
	for _, n := range store.batchSizes {
		if n > 2 {
			t.Errorf("batch of %d records, want at most 2", n)
		}
	}
	if got := lifetimeSpend(t, store, "tenant:t"); got != 50 {
		t.Errorf("tenant spend %d, want 50", got)
	}
}
