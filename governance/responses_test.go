package governance

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// TestResponseStores runs the same behaviour against the memory and the
// SQLite store: put once, read within retention only, delete by the key
// that made it, purge what expired.
func TestResponseStores(t *testing.T) {
	ctx := context.Background()
	open := map[string]func(t *testing.T) ResponseStore{
		"memory": func(*testing.T) ResponseStore { return NewMemoryResponses() },
		"sqlite": func(t *testing.T) ResponseStore {
			db, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "g.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			rs, err := db.Responses(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// Opening again finds the table migrated.
			if _, err := db.Responses(ctx); err != nil {
				t.Fatalf("second open: %v", err)
			}
			return rs
		},
	}
	now := time.UnixMilli(1_800_000_000_000).UTC()
	rec := StoredResponse{ID: "resp_1", KeyID: "k1", Provider: "anthropic", Created: now, Expires: now.Add(time.Hour),
		Input: []byte(`[{"role":"user","content":"hi"}]`), Response: []byte(`{"id":"resp_1","output":[]}`)}
	for name, mk := range open {
		t.Run(name, func(t *testing.T) {
			s := mk(t)
			if err := s.PutResponse(ctx, rec); err != nil {
				t.Fatal(err)
			}
			other := rec
			other.KeyID = "k2"
			if err := s.PutResponse(ctx, other); !errors.Is(err, ErrExists) {
				t.Fatalf("second put of the same id: %v, want ErrExists", err)
			}
			got, err := s.Response(ctx, "resp_1", now)
			if err != nil {
				t.Fatal(err)
			}
			if got.KeyID != "k1" || got.Provider != "anthropic" || got.Native || string(got.Input) != string(rec.Input) ||
				string(got.Response) != string(rec.Response) || !got.Created.Equal(now) || !got.Expires.Equal(rec.Expires) {
				t.Errorf("read back %+v", got)
			}
			if _, err := s.Response(ctx, "resp_1", now.Add(time.Hour)); !errors.Is(err, ErrNotFound) {
				t.Errorf("expired: %v, want ErrNotFound", err)
			}
			if _, err := s.Response(ctx, "resp_none", now); !errors.Is(err, ErrNotFound) {
				t.Errorf("unknown: %v, want ErrNotFound", err)
			}
			if err := s.DeleteResponse(ctx, "resp_1", "k2"); !errors.Is(err, ErrNotFound) {
				t.Errorf("delete by another key: %v, want ErrNotFound", err)
			}
			if err := s.DeleteResponse(ctx, "resp_1", "k1"); err != nil {
				t.Errorf("delete by its key: %v", err)
			}
			if _, err := s.Response(ctx, "resp_1", now); !errors.Is(err, ErrNotFound) {
				t.Errorf("after delete: %v", err)
			}

			for i, exp := range []time.Duration{time.Minute, time.Hour, 2 * time.Hour} {
				r := rec
				r.ID, r.Expires = "resp_p"+string(rune('a'+i)), now.Add(exp)
				if err := s.PutResponse(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			n, err := s.PurgeResponses(ctx, now.Add(time.Hour))
			if err != nil || n != 2 {
				t.Fatalf("purge: %d, %v; want 2", n, err)
			}
			if _, err := s.Response(ctx, "resp_pc", now); err != nil {
				t.Errorf("unexpired record purged: %v", err)
			}
		})
	}
}
