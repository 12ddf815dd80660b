package config

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// watchWait bounds every wait for a watch callback; events normally arrive
// in well under a second.
const watchWait = 10 * time.Second

func watchConfig(port string) string {
	return `listener: {port: ` + port + `}
providers:
  - {name: local, schema: openai, base_url: "http://127.0.0.1:9100/v1"}
models:
  - {name: m, providers: [{provider: local}]}
`
}

// replaceFile writes data next to path and renames it over path, as
// editors and config management tools do, so a reader never sees a half
// written file.
func replaceFile(t *testing.T, path, data string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err := os.WriteFile(tmp, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

type watchRecorder struct {
	changes chan *Loaded
	errs    chan error
}

func startWatch(t *testing.T, path string) *watchRecorder {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	rec := &watchRecorder{changes: make(chan *Loaded, 16), errs: make(chan error, 16)}
	err := Watch(ctx, path, func(l *Loaded) { rec.changes <- l }, func(err error) { rec.errs <- err })
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	return rec
}

// nextChange waits for a config with the given port, skipping reloads of
// earlier versions of the file. allowErrors tolerates reloads that caught
// the file half written.
func (r *watchRecorder) nextChange(t *testing.T, port int, allowErrors bool) *Loaded {
	t.Helper()
	timeout := time.After(watchWait)
	for {
		select {
		case l := <-r.changes:
			if l.Listener.Port == port {
				return l
			}
		case err := <-r.errs:
			if !allowErrors {
				t.Fatalf("onError(%v), want onChange with port %d", err, port)
			}
		case <-timeout:
			t.Fatalf("no onChange with port %d within %v", port, watchWait)
		}
	}
}

func (r *watchRecorder) nextError(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.errs:
		return err
	case l := <-r.changes:
		t.Fatalf("onChange(port %d), want onError", l.Listener.Port)
	case <-time.After(watchWait):
		t.Fatalf("no onError within %v", watchWait)
	}
	return nil
}

func TestWatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "switchboard.yaml")
	replaceFile(t, path, watchConfig("9000"))
	rec := startWatch(t, path)

	t.Run("valid change", func(t *testing.T) {
		replaceFile(t, path, watchConfig("9001"))
		l := rec.nextChange(t, 9001, false)
		if _, ok := l.Catalog.Model("m"); !ok {
			t.Errorf("new config lacks model m")
		}
	})

	t.Run("invalid change", func(t *testing.T) {
		replaceFile(t, path, watchConfig("70000"))
		err := rec.nextError(t)
		if !strings.Contains(err.Error(), path+`:1: listener.port "70000"`) {
			t.Errorf("onError(%v), want the file, line and path", err)
		}
		// The reload that reported the error is the only one the write
		// caused; onChange must not have been called for it.
		select {
		case l := <-rec.changes:
			t.Errorf("onChange(port %d) after an invalid change", l.Listener.Port)
		default:
		}
	})

	t.Run("in-place write", func(t *testing.T) {
		if err := os.WriteFile(path, []byte(watchConfig("9002")), 0o600); err != nil {
			t.Fatal(err)
		}
		// os.WriteFile truncates then writes: a reload may see the empty
		// file in between, which must be an error, never an empty config.
		rec.nextChange(t, 9002, true)
	})

	t.Run("other files ignored", func(t *testing.T) {
		other := filepath.Join(filepath.Dir(path), "other.yaml")
		if err := os.WriteFile(other, []byte("not: [valid"), 0o600); err != nil {
			t.Fatal(err)
		}
		// A later change to the watched file is the next thing reported:
		// nothing came from other.yaml in between.
		replaceFile(t, path, watchConfig("9003"))
		select {
		case err := <-rec.errs:
			t.Fatalf("onError(%v) for a file that is not watched", err)
		case l := <-rec.changes:
			if l.Listener.Port != 9003 {
				t.Fatalf("onChange(port %d), want 9003", l.Listener.Port)
			}
		case <-time.After(watchWait):
			t.Fatalf("no onChange within %v", watchWait)
		}
	})
}

func TestWatchMissingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope", "switchboard.yaml")
	err := Watch(context.Background(), path, func(*Loaded) {}, func(error) {})
	if err == nil || !strings.HasPrefix(err.Error(), "config: watch ") {
		t.Errorf("Watch(missing dir) error = %v, want config: watch ...", err)
	}
}

func TestStoreVersions(t *testing.T) {
	var s Store
	if _, ok := s.Lookup("v"); ok {
		t.Fatal("empty store found a version")
	}
	for i := range keptVersions + 2 {
		s.Keep(&Loaded{Version: fmt.Sprint("v", i)})
	}
	s.Keep(&Loaded{}) // unversioned: not kept
	for i, want := range map[int]bool{0: false, 1: false, 2: true, keptVersions + 1: true} {
		if l, ok := s.Lookup(fmt.Sprint("v", i)); ok != want || ok && l.Version != fmt.Sprint("v", i) {
			t.Errorf("Lookup(v%d) = %v, %v; want found=%v", i, l, ok, want)
		}
	}
}
