package governance

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"go.uber.org/zap"
)

// The durable spool is one append-only file of JSON lines, one record
// each: everything Record accepted that the store may not have taken.
// Record appends (a write to the page cache, no fsync on the request
// path); Flush fsyncs before each store write. So a process that crashes
// or is killed loses nothing; a power cut loses at most the records of
// one FlushEvery.
//
// The file holds the records in the memory spool plus a prefix already
// stored: when the spool empties the file is truncated, and when the
// stored prefix passes compactAt and outweighs the rest, the file is
// rewritten with the spool alone. Its size is therefore at most MaxSpool
// records plus max(compactAt, the spool's size): about 2 × MaxSpool
// records (10,000 records by default, 20 MiB at 2 KiB a record).
// At start the whole file is replayed: a record stored before the crash
// is written again and skipped by WriteGenerations (no double spend).

// SpoolFile is the durable spool's name in the data directory.
const SpoolFile = "usage-spool.jsonl"

const compactAt = 4 << 20

type diskSpool struct {
	path  string
	f     *os.File
	sizes []int64 // byte length of each spooled record's line, in order
	stale int64   // bytes of stored records still in the file
}

// OpenDurableRecorder is NewRecorder with the spool kept in
// dir/usage-spool.jsonl too; records the file holds from a previous run
// are spooled again to be stored. A torn last line (a crash mid-write) is
// dropped and logged.
func OpenDurableRecorder(store Store, log *zap.Logger, o RecorderOptions, dir string) (*Recorder, error) {
	r := NewRecorder(store, log, o)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("governance: usage spool directory: %w", err)
	}
	path := filepath.Join(dir, SpoolFile)
	recs, torn, err := readSpool(path)
	if err != nil {
		return nil, err
	}
	if torn {
		log.Error("usage spool ended in a torn record (a crash mid-write); it is dropped", zap.String("path", path))
	}
	d := &diskSpool{path: path}
	// Rewrite what was read: the file then holds whole lines only.
	if err := d.rewrite(recs); err != nil {
		return nil, err
	}
	if len(recs) > r.o.MaxSpool {
		log.Error("usage spool holds more records than max_spool; the oldest are kept, the rest dropped",
			zap.Int("records", len(recs)), zap.Int("max_spool", r.o.MaxSpool))
		r.dropped.Add(uint64(len(recs) - r.o.MaxSpool))
		recs = recs[:r.o.MaxSpool]
		if err := d.rewrite(recs); err != nil {
			return nil, err
		}
	}
	r.disk = d
	r.spool = recs
	for i := range recs {
		r.byID[recs[i].ID] = i
	}
	if len(recs) > 0 {
		log.Info("usage records replayed from the spool file", zap.Int("records", len(recs)))
	}
	return r, nil
}

// Close flushes nothing: it closes the spool file (call after Run
// returned).
func (r *Recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.disk == nil || r.disk.f == nil {
		return nil
	}
	err := r.disk.f.Sync()
	if cerr := r.disk.f.Close(); err == nil {
		err = cerr
	}
	r.disk.f = nil
	if err != nil {
		return fmt.Errorf("governance: close usage spool: %w", err)
	}
	return nil
}

func spoolLine(g *Generation) ([]byte, error) {
	b, err := json.Marshal(g)
	if err != nil {
		return nil, fmt.Errorf("governance: usage record %s: %w", g.ID, err)
	}
	return append(b, '\n'), nil
}

func readSpool(path string) (recs []Generation, torn bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("governance: open usage spool: %w", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	seen := map[string]bool{}
	for {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return recs, len(bytes.TrimSpace(line)) > 0, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("governance: read usage spool: %w", err)
		}
		var g Generation
		if err := json.Unmarshal(line, &g); err != nil {
			return nil, false, fmt.Errorf("governance: usage spool %s line %d: %w", path, len(recs)+1, err)
		}
		if seen[g.ID] {
			continue
		}
		seen[g.ID] = true
		recs = append(recs, g)
	}
}

func (d *diskSpool) append(line []byte) error {
	if d.f == nil {
		return errors.New("governance: usage spool closed")
	}
	if _, err := d.f.Write(line); err != nil {
		return fmt.Errorf("governance: usage spool write: %w", err)
	}
	d.sizes = append(d.sizes, int64(len(line)))
	return nil
}

// stored drops the first n records (the store has them); rest is the
// spool left. Called with the Recorder's lock held.
func (d *diskSpool) stored(n int, rest []Generation) error {
	if d.f == nil {
		return nil
	}
	for _, s := range d.sizes[:n] {
		d.stale += s
	}
	d.sizes = append([]int64(nil), d.sizes[n:]...)
	var live int64
	for _, s := range d.sizes {
		live += s
	}
	switch {
	case len(rest) == 0:
		if err := d.f.Truncate(0); err != nil {
			return fmt.Errorf("governance: truncate usage spool: %w", err)
		}
		d.stale = 0
	case d.stale > compactAt && d.stale > live:
		return d.rewrite(rest)
	}
	return nil
}

// rewrite replaces the file with recs, atomically (temp file, fsync,
// rename).
func (d *diskSpool) rewrite(recs []Generation) error {
	tmp, err := os.CreateTemp(filepath.Dir(d.path), SpoolFile+".*")
	if err != nil {
		return fmt.Errorf("governance: rewrite usage spool: %w", err)
	}
	w := bufio.NewWriter(tmp)
	sizes := make([]int64, 0, len(recs))
	for i := range recs {
		line, err := spoolLine(&recs[i])
		if err == nil {
			_, err = w.Write(line)
		}
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			return fmt.Errorf("governance: rewrite usage spool: %w", err)
		}
		sizes = append(sizes, int64(len(line)))
	}
	err = w.Flush()
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), d.path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("governance: rewrite usage spool: %w", err)
	}
	f, err := os.OpenFile(d.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("governance: reopen usage spool: %w", err)
	}
	if d.f != nil {
		d.f.Close()
	}
	d.f, d.sizes, d.stale = f, sizes, 0
	return nil
}
