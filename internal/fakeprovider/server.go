package fakeprovider

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Reply is what the server answers to one request: a transcript to replay
// and optional faults. The zero Reply is an empty 200.
type Reply struct {
	// Transcript is the response to replay; nil sends no body.
	Transcript *Transcript
	// Status, when non-zero, replaces the transcript's status.
	Status int
	// DelayFirstByte waits this long before sending the status line.
	DelayFirstByte time.Duration
	// Hang never answers; the handler returns when the client goes away
	// (or the server closes).
	Hang bool
	// Drop closes the connection without sending anything, as a crashed
	// upstream would.
	Drop bool
	// CutAfterEvents, when positive, sends that many events and then
	// closes the TCP connection without ending the response, so the client
	// sees an unexpected EOF.
	CutAfterEvents int
	// CloseCleanlyAfterEvents, when positive, sends that many events and
	// then ends the response normally.
	CloseCleanlyAfterEvents int
	// HangAfterEvents, when positive, sends that many events and then holds
	// the response open until the client goes away: a stream stalled
	// mid-way, for cancellation tests.
	HangAfterEvents int
	// Flood, when set, writes FloodCount copies of Flood after the first
	// event of the transcript (negative: until the client goes away), as
	// fast as the socket takes them: no flush between copies, a provider
	// whose answer is already generated. The rest of the transcript
	// follows.
	Flood      []byte
	FloodCount int
	// Unsized sends a non-stream body without a content-length (chunked),
	// as some providers' front ends do.
	Unsized bool
	// CutDelay waits this long after the CutAfterEvents events before
	// the cut, so they reach the client first.
	CutDelay time.Duration
	// CutAfterBytes, when positive, sends that many bytes of a non-stream
	// body and then closes the TCP connection: an answer cut mid-body.
	CutAfterBytes int
	// PauseAfterEvents, when positive, waits Pause after that many events
	// and then sends the rest: a model thinking mid-stream.
	PauseAfterEvents int
	Pause            time.Duration
}

// Recorded is one request the server received.
type Recorded struct {
	Method   string
	Path     string
	RawQuery string
	Host     string
	Header   http.Header
	Body     []byte
	// Finished is set when the server is done with the request.
	Finished bool
	// ClientCanceled is set when the client went away before the reply
	// was complete. Meaningful once Finished.
	ClientCanceled bool
}

type routeKey struct{ method, path string }

type route struct {
	queue    []Reply
	fallback *Reply
}

// Server is a fake provider on 127.0.0.1 speaking HTTP/1.1. It is safe for
// concurrent use.
type Server struct {
	srv  *httptest.Server
	done chan struct{} // closed by Close to release hanging handlers

	mu        sync.Mutex
	routes    map[routeKey]*route
	requests  []Recorded
	changed   chan struct{} // closed and replaced whenever requests change
	closeOnce sync.Once
}

// New starts a server that t closes on cleanup.
func New(t testing.TB) *Server {
	s := &Server{
		done:    make(chan struct{}),
		routes:  map[routeKey]*route{},
		changed: make(chan struct{}),
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Close releases hanging handlers and stops the server. It is idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
}

// URL is the base URL, "http://127.0.0.1:PORT".
func (s *Server) URL() string { return s.srv.URL }

// Addr is the listening host and port.
func (s *Server) Addr() (host string, port int) {
	a := s.srv.Listener.Addr().(*net.TCPAddr)
	return a.IP.String(), a.Port
}

// Handle makes r the reply to every method+path request once any queued
// replies are used up. A later Handle for the same key replaces it.
func (s *Server) Handle(method, path string, r Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.route(method, path).fallback = &r
}

// Enqueue adds replies to be sent once each, in order, to successive
// method+path requests before the Handle reply. A request that finds the
// queue empty and no Handle reply gets a 404.
func (s *Server) Enqueue(method, path string, rs ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt := s.route(method, path)
	rt.queue = append(rt.queue, rs...)
}

// route returns the route for a key, creating it; s.mu must be held.
func (s *Server) route(method, path string) *route {
	k := routeKey{method, path}
	rt, ok := s.routes[k]
	if !ok {
		rt = &route{}
		s.routes[k] = rt
	}
	return rt
}

// Requests returns a copy of the requests received so far, in arrival order.
func (s *Server) Requests() []Recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshot()
}

// WaitRequests blocks until at least n requests have arrived and returns
// them all. On ctx's end it returns those received so far and an error.
func (s *Server) WaitRequests(ctx context.Context, n int) ([]Recorded, error) {
	return s.wait(ctx, n, "received", func(r Recorded) bool { return true })
}

// WaitFinished blocks until at least n requests are finished (their reply
// sent, cut, or abandoned by the client) and returns all requests. Use it
// before asserting ClientCanceled.
func (s *Server) WaitFinished(ctx context.Context, n int) ([]Recorded, error) {
	return s.wait(ctx, n, "finished", func(r Recorded) bool { return r.Finished })
}

func (s *Server) wait(ctx context.Context, n int, what string, count func(Recorded) bool) ([]Recorded, error) {
	for {
		s.mu.Lock()
		got := 0
		for _, r := range s.requests {
			if count(r) {
				got++
			}
		}
		reqs, changed := s.snapshot(), s.changed
		s.mu.Unlock()
		if got >= n {
			return reqs, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return reqs, fmt.Errorf("fakeprovider: %d of %d requests %s: %w", got, n, what, ctx.Err())
		}
	}
}

// snapshot copies the requests; s.mu must be held.
func (s *Server) snapshot() []Recorded {
	out := make([]Recorded, len(s.requests))
	copy(out, s.requests)
	for i := range out {
		out[i].Header = out[i].Header.Clone()
		out[i].Body = append([]byte(nil), out[i].Body...)
	}
	return out
}

// notify wakes waiters; s.mu must be held.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body) // a short body is recorded as received

	s.mu.Lock()
	idx := len(s.requests)
	s.requests = append(s.requests, Recorded{
		Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Host: r.Host,
		Header: r.Header.Clone(), Body: body,
	})
	reply, ok := s.next(r.Method, r.URL.Path)
	s.notify()
	s.mu.Unlock()

	var canceled bool
	// Deferred so that an aborted handler is marked finished too.
	defer func() {
		s.mu.Lock()
		s.requests[idx].Finished = true
		s.requests[idx].ClientCanceled = canceled
		s.notify()
		s.mu.Unlock()
	}()
	if !ok {
		http.Error(w, fmt.Sprintf("fakeprovider: no reply registered for %s %s", r.Method, r.URL.Path), http.StatusNotFound)
		return
	}
	canceled = s.replay(w, r, reply)
}

// next pops the reply for a request; s.mu must be held.
func (s *Server) next(method, path string) (Reply, bool) {
	rt, ok := s.routes[routeKey{method, path}]
	switch {
	case !ok:
		return Reply{}, false
	case len(rt.queue) > 0:
		r := rt.queue[0]
		rt.queue = rt.queue[1:]
		return r, true
	case rt.fallback != nil:
		return *rt.fallback, true
	}
	return Reply{}, false
}

// hopHeaders are recorded but not replayed: the server frames the body
// itself.
var hopHeaders = []string{"Connection", "Content-Length", "Keep-Alive", "Transfer-Encoding"}

// replay writes a reply and reports whether the client went away first.
func (s *Server) replay(w http.ResponseWriter, r *http.Request, rep Reply) (canceled bool) {
	ctx := r.Context()
	rc := http.NewResponseController(w)
	if rep.DelayFirstByte > 0 {
		t := time.NewTimer(rep.DelayFirstByte)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return true
		case <-s.done:
			abort(rc)
			return false
		}
	}
	if rep.Hang {
		return s.hang(ctx, rc)
	}
	if rep.Drop {
		abort(rc)
		return false
	}

	tr := rep.Transcript
	if tr == nil {
		tr = &Transcript{Status: http.StatusOK, Header: http.Header{}}
	}
	for k, vs := range tr.Header {
		w.Header()[k] = append([]string(nil), vs...)
	}
	for _, k := range hopHeaders {
		w.Header().Del(k)
	}
	events := tr.Events()
	if !tr.IsSSE() && !rep.Unsized && rep.CutAfterBytes == 0 {
		// A non-stream body goes out with its length, as providers send
		// JSON; the recorded length may be stale.
		w.Header().Set("Content-Length", strconv.Itoa(len(tr.Body)))
	}
	status := tr.Status
	if rep.Status != 0 {
		status = rep.Status
	}
	w.WriteHeader(status)
	if n := rep.CutAfterBytes; n > 0 && !tr.IsSSE() {
		_, _ = w.Write(tr.Body[:min(n, len(tr.Body))])
		_ = rc.Flush()
		abort(rc)
		return false
	}

	limit := len(events)
	for _, n := range []int{rep.CutAfterEvents, rep.CloseCleanlyAfterEvents, rep.HangAfterEvents} {
		if n > 0 && n < limit {
			limit = n
		}
	}
	for i, ev := range events[:limit] {
		// A failed write means the connection is gone: the client left.
		if _, err := w.Write(ev); err != nil {
			return true
		}
		// Flushing each event is what makes the client see a stream.
		if err := rc.Flush(); err != nil {
			return true
		}
		if i+1 == rep.PauseAfterEvents && rep.Pause > 0 {
			select {
			case <-time.After(rep.Pause):
			case <-ctx.Done():
				return true
			}
		}
		if i == 0 && rep.Flood != nil {
			if !flood(w, rep.Flood, rep.FloodCount) {
				return true
			}
		}
	}
	switch {
	case rep.CutAfterEvents > 0:
		if rep.CutDelay > 0 {
			time.Sleep(rep.CutDelay) // the client has the events by now
		}
		abort(rc)
		return false
	case rep.HangAfterEvents > 0:
		return s.hang(ctx, rc)
	}
	return ctx.Err() != nil
}

// flood writes n copies of b (n < 0: endless) in large writes, and
// reports whether the client was still there.
func flood(w io.Writer, b []byte, n int) bool {
	per := max(1, (256<<10)/len(b))
	batch := bytes.Repeat(b, per)
	for n < 0 || n > 0 {
		out := batch
		if n >= 0 && n < per {
			out = batch[:n*len(b)]
		}
		if _, err := w.Write(out); err != nil {
			return false
		}
		if n > 0 {
			n -= len(out) / len(b)
		}
	}
	return true
}

// hang waits for the client to go away or the server to close. A closing
// server drops the connection rather than finish a reply it never meant to
// send.
func (s *Server) hang(ctx context.Context, rc *http.ResponseController) (canceled bool) {
	select {
	case <-ctx.Done():
		return true
	case <-s.done:
		abort(rc)
		return false
	}
}

// abort closes the connection under the response, so no terminating chunk
// (or nothing at all) reaches the client.
func abort(rc *http.ResponseController) {
	conn, _, err := rc.Hijack()
	if err != nil {
		// Not expected on an HTTP/1.1 httptest server; panicking makes the
		// server drop the connection all the same.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}
