package governance

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// ErrSpoolFull is a record refused because the spool holds MaxSpool
// records the store has not taken yet.
var ErrSpoolFull = errors.New("governance: usage spool full; record dropped")

// Recorder writes generation records off the request path: Record only
// appends to an in-memory spool, and Run writes the spool to the store in
// batches. A store that fails keeps its records in the spool, retried with
// backoff; WriteGenerations skips records already stored, so a retry never
// counts spend twice.
//
// The bound: at most MaxSpool records (default 10,000, about 20 MiB) wait
// in memory. Past it Record refuses new ones with ErrSpoolFull and counts
// them in Dropped. Made with NewRecorder, records in the spool are lost if
// the process dies before the store takes them (at most one FlushEvery of
// them while the store is healthy). Made with OpenDurableRecorder, the
// spool is also an append-only file (spool.go): a process that dies or
// restarts during a store outage replays it at start, and nothing
// accepted is lost.
type Recorder struct {
	store Store
	log   *zap.Logger
	o     RecorderOptions

	flushMu sync.Mutex // one Flush at a time: each takes the spool's front
	mu      sync.Mutex
	spool   []Generation
	byID    map[string]int // index in spool, for Generation lookups
	wake    chan struct{}
	dropped atomic.Uint64
	written atomic.Uint64
	disk    *diskSpool // nil: memory only
}

// RecorderOptions tune a Recorder.
type RecorderOptions struct {
	// MaxSpool bounds the records held in memory. Default 10000.
	MaxSpool int
	// BatchSize is the most records per store transaction. Default 500.
	BatchSize int
	// FlushEvery is the longest a record waits before a write. Default
	// 200ms.
	FlushEvery time.Duration
	// MaxBackoff caps the wait between retries of a failing store.
	// Default 10s.
	MaxBackoff time.Duration
}

// NewRecorder makes a Recorder; start Run to write.
func NewRecorder(store Store, log *zap.Logger, o RecorderOptions) *Recorder {
	if o.MaxSpool <= 0 {
		o.MaxSpool = 10_000
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	if o.FlushEvery <= 0 {
		o.FlushEvery = 200 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 10 * time.Second
	}
	return &Recorder{store: store, log: log, o: o, byID: map[string]int{}, wake: make(chan struct{}, 1)}
}

// Record queues a generation. It never blocks; it fails only when the
// spool is full.
func (r *Recorder) Record(g Generation) error {
	var line []byte
	if r.disk != nil {
		var err error
		if line, err = spoolLine(&g); err != nil {
			return err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.spool) >= r.o.MaxSpool {
		r.dropped.Add(1)
		return ErrSpoolFull
	}
	if r.disk != nil {
		if err := r.disk.append(line); err != nil {
			return err
		}
	}
	r.byID[g.ID] = len(r.spool)
	r.spool = append(r.spool, g)
	if len(r.spool) >= r.o.BatchSize {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// Generation finds a record in the spool, then in the store, so a client
// can read its record the moment its response ended.
func (r *Recorder) Generation(ctx context.Context, id string) (Generation, error) {
	r.mu.Lock()
	if i, ok := r.byID[id]; ok {
		g := r.spool[i]
		r.mu.Unlock()
		return g, nil
	}
	r.mu.Unlock()
	return r.store.Generation(ctx, id)
}

// Pending is the number of records not yet stored.
func (r *Recorder) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.spool)
}

// Dropped counts records refused because the spool was full.
func (r *Recorder) Dropped() uint64 { return r.dropped.Load() }

// Written counts records the store took.
func (r *Recorder) Written() uint64 { return r.written.Load() }

// Run writes the spool until ctx ends, then makes a last attempt to
// store what is left, bounded by drain.
func (r *Recorder) Run(ctx context.Context, drain time.Duration) {
	t := time.NewTicker(r.o.FlushEvery)
	defer t.Stop()
	backoff := time.Duration(0)
	var failing bool
	for {
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drain)
			defer cancel()
			if err := r.Flush(dctx); err != nil {
				r.log.Error("usage records not stored at shutdown", zap.Int("records", r.Pending()), zap.Error(err))
			}
			return
		case <-t.C:
		case <-r.wake:
		}
		if backoff > 0 {
			select {
			case <-ctx.Done():
				continue
			case <-time.After(backoff):
			}
		}
		err := r.Flush(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			backoff = min(max(2*backoff, r.o.FlushEvery), r.o.MaxBackoff)
			if !failing {
				r.log.Error("storing usage records failed; they stay spooled and are retried", zap.Int("pending", r.Pending()), zap.Error(err))
			}
			failing = true
		case err == nil:
			if failing {
				r.log.Info("usage records stored again")
			}
			backoff, failing = 0, false
		}
	}
}

// Flush writes everything spooled now, one batch at a time; a batch stays
// spooled until the store has taken it.
func (r *Recorder) Flush(ctx context.Context) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	for {
		r.mu.Lock()
		n := min(len(r.spool), r.o.BatchSize)
		batch := r.spool[:n:n]
		r.mu.Unlock()
		if n == 0 {
			return nil
		}
		if r.disk != nil {
			// What the store is about to take is on disk first.
			r.mu.Lock()
			f := r.disk.f
			r.mu.Unlock()
			if f != nil {
				if err := f.Sync(); err != nil {
					r.log.Error("usage spool file not synced", zap.Error(err))
				}
			}
		}
		if err := r.store.WriteGenerations(ctx, batch); err != nil {
			return fmt.Errorf("governance: store usage records: %w", err)
		}
		r.mu.Lock()
		// Only Flush removes from the front, under flushMu: the first n
		// are still this batch.
		r.spool = append([]Generation(nil), r.spool[n:]...)
		clear(r.byID)
		for i := range r.spool {
			r.byID[r.spool[i].ID] = i
		}
		if r.disk != nil {
			if err := r.disk.stored(n, r.spool); err != nil {
				r.log.Error("usage spool file not compacted", zap.Error(err))
			}
		}
		r.mu.Unlock()
		r.written.Add(uint64(n))
	}
}
