package web

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// received is one request a fake backend got.
type received struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   string
}

// fakeBackend serves a recorded answer in a backend's wire format and
// records what it was sent.
type fakeBackend struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []received
	status int
	body   []byte
	block  chan struct{} // when set, requests wait on it (or their context)
}

func newFakeBackend(t *testing.T, fixture string) *fakeBackend {
	t.Helper()
	f := &fakeBackend{status: 200}
	if fixture != "" {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "plugins", "web", "backends", fixture))
		if err != nil {
			t.Fatal(err)
		}
		f.body = b
	}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.got = append(f.got, received{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(b)})
		status, body, block := f.status, f.body, f.block
		f.mu.Unlock()
		if block != nil {
			select {
			case <-block:
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(func() {
		if f.block != nil {
			close(f.block)
		}
		f.srv.Close()
	})
	return f
}

func (f *fakeBackend) requests() []received {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]received(nil), f.got...)
}

// stubBackend answers from memory.
type stubBackend struct {
	name    string
	results []Result
	err     error
	queries []string
	ns      []int
}

func (s *stubBackend) Name() string { return s.name }

func (s *stubBackend) Search(_ context.Context, q string, n int) ([]Result, error) {
	s.queries, s.ns = append(s.queries, q), append(s.ns, n)
	return s.results, s.err
}
