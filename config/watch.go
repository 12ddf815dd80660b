package config

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Store holds the running config, and the last few configs by version;
// readers never block writers.
type Store struct {
	p        atomic.Pointer[Loaded]
	versions atomic.Pointer[map[string]*Loaded] // copied on write

	mu    sync.Mutex
	order []string
}

// keptVersions bounds the configs kept by version: Envoy runs one of the
// last few (it may still run an older one while it rejects a newer).
const keptVersions = 8

// Current returns the running config (nil before the first Set).
func (s *Store) Current() *Loaded { return s.p.Load() }

// Set makes l the running config.
func (s *Store) Set(l *Loaded) { s.p.Store(l) }

// Keep remembers l as the config of its Version, for Lookup.
func (s *Store) Keep(l *Loaded) {
	if l.Version == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]*Loaded{}
	if old := s.versions.Load(); old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	if _, ok := m[l.Version]; !ok {
		s.order = append(s.order, l.Version)
	}
	m[l.Version] = l
	for len(s.order) > keptVersions {
		delete(m, s.order[0])
		s.order = s.order[1:]
	}
	s.versions.Store(&m)
}

// Lookup returns the kept config of a version.
func (s *Store) Lookup(version string) (*Loaded, bool) {
	m := s.versions.Load()
	if m == nil {
		return nil, false
	}
	l, ok := (*m)[version]
	return l, ok
}

// Watch calls onChange with each valid new version of the file at path and
// onError with each invalid one, until ctx ends. It is driven by file
// system events (no polling) and watches the directory, so editors that
// replace the file and Kubernetes ConfigMap symlink swaps are both seen.
// The control_tls files are watched too: a rotated certificate is a new
// version (its digest changes what is pushed to Envoy).
func Watch(ctx context.Context, path string, onChange func(*Loaded), onError func(error)) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("config: watch: %w", err)
	}
	dir := filepath.Dir(path)
	if err := w.Add(dir); err != nil {
		w.Close()
		return fmt.Errorf("config: watch %s: %w", dir, err)
	}
	files := map[string]bool{filepath.Clean(path): true}
	follow := func(l *Loaded) {
		t := l.ControlTLS
		for _, f := range []string{t.Cert, t.Key, t.CA, t.EnvoyCert, t.EnvoyKey} {
			if f != "" && !files[f] {
				files[f] = true
				_ = w.Add(filepath.Dir(f)) // best effort: the config itself is still watched
			}
		}
	}
	if l, err := Load(path); err == nil {
		follow(l)
	}
	go func() {
		defer w.Close()
		// Coalesce the burst of events one save makes into one reload.
		const settle = 50 * time.Millisecond
		var timer *time.Timer
		var fire <-chan time.Time
		for {
			select {
			case <-ctx.Done():
				if timer != nil {
					timer.Stop()
				}
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if !files[filepath.Clean(ev.Name)] && filepath.Base(ev.Name) != "..data" {
					continue
				}
				if timer == nil {
					timer = time.NewTimer(settle)
				} else {
					timer.Reset(settle)
				}
				fire = timer.C
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				onError(fmt.Errorf("config: watch: %w", err))
			case <-fire:
				fire = nil
				l, err := Load(path)
				if err != nil {
					onError(err)
					continue
				}
				follow(l)
				onChange(l)
			}
		}
	}()
	return nil
}
