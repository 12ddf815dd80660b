package fakeprovider

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const chatPath = "/v1/chat/completions"

func load(t *testing.T, name string) *Transcript {
	t.Helper()
	return MustLoad(t, filepath.Join(fixtures, name))
}

// newClient returns a client with its own connections, closed at cleanup.
func newClient(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// waitCtx bounds a wait so that a broken fake fails the test instead of
// hanging it.
func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func post(ctx context.Context, t *testing.T, c *http.Client, url, body string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return c.Do(req)
}

// readEvents reads n blank-line-terminated events and returns their bytes.
func readEvents(r *bufio.Reader, n int) (string, error) {
	var b strings.Builder
	for n > 0 {
		line, err := r.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			return b.String(), err
		}
		if line == "\n" {
			n--
		}
	}
	return b.String(), nil
}

func TestServerAddr(t *testing.T) {
	s := New(t)
	host, port := s.Addr()
	if host != "127.0.0.1" || s.URL() != "http://127.0.0.1:"+strconv.Itoa(port) {
		t.Errorf("Addr() = %s, %d; URL() = %s", host, port, s.URL())
	}
}

func TestReplayJSON(t *testing.T) {
	chat := load(t, "openai_chat.http")
	tests := []struct {
		name       string
		reply      Reply
		wantStatus int
		wantBody   string
	}{
		{name: "transcript", reply: Reply{Transcript: chat}, wantStatus: 200, wantBody: string(chat.Body)},
		{name: "status override", reply: Reply{Transcript: chat, Status: 503}, wantStatus: 503, wantBody: string(chat.Body)},
		{name: "empty reply", reply: Reply{}, wantStatus: 200},
		{name: "close cleanly sends the whole JSON body", reply: Reply{Transcript: chat, CloseCleanlyAfterEvents: 1}, wantStatus: 200, wantBody: string(chat.Body)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(t)
			s.Handle("POST", chatPath, tc.reply)
			resp, err := post(t.Context(), t, newClient(t), s.URL()+chatPath, `{}`)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.wantStatus || string(body) != tc.wantBody {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tc.wantStatus, tc.wantBody)
			}
			if resp.ContentLength != int64(len(tc.wantBody)) {
				t.Errorf("content-length %d, want %d (the recorded 999 must not be replayed)", resp.ContentLength, len(tc.wantBody))
			}
			if tc.reply.Transcript != nil && resp.Header.Get("X-Request-Id") != "req_fake_chat" {
				t.Errorf("recorded header not replayed: %v", resp.Header)
			}
		})
	}
}

func TestReplaySSE(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		wantN int
	}{
		{"openai", "openai_stream.http", 5},
		{"anthropic", "anthropic_stream.http", 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := load(t, tc.file)
			s := New(t)
			s.Handle("POST", chatPath, Reply{Transcript: tr})
			resp, err := post(t.Context(), t, newClient(t), s.URL()+chatPath, `{"stream":true}`)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(body, tr.Body) {
				t.Errorf("body\n%q\nwant\n%q", body, tr.Body)
			}
			if resp.ContentLength != -1 || len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
				t.Errorf("content-length %d, transfer-encoding %v; want a chunked stream", resp.ContentLength, resp.TransferEncoding)
			}
			if ct := resp.Header.Get("Content-Type"); ct != tr.Header.Get("Content-Type") {
				t.Errorf("content-type %q", ct)
			}
			if len(tr.Events()) != tc.wantN {
				t.Errorf("%d events, want %d", len(tr.Events()), tc.wantN)
			}
		})
	}
}

// TestReplaySSEFlushesEachEvent holds the stream open after n events: the
// client can read exactly those n only if each was flushed on its own.
func TestReplaySSEFlushesEachEvent(t *testing.T) {
	tr := load(t, "openai_stream.http")
	events := tr.Events()
	for n := 1; n <= len(events); n++ {
		t.Run(fmt.Sprintf("first %d events", n), func(t *testing.T) {
			s := New(t)
			s.Handle("POST", chatPath, Reply{Transcript: tr, HangAfterEvents: n})
			ctx, cancel := context.WithCancel(waitCtx(t))
			defer cancel()
			resp, err := post(ctx, t, newClient(t), s.URL()+chatPath, `{}`)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, err := readEvents(bufio.NewReader(resp.Body), n)
			if err != nil {
				t.Fatalf("reading %d events: %v (got %q)", n, err, got)
			}
			if want := string(bytes.Join(events[:n], nil)); got != want {
				t.Errorf("got %q, want %q", got, want)
			}
			cancel()
			reqs, err := s.WaitFinished(waitCtx(t), 1)
			if err != nil {
				t.Fatal(err)
			}
			if !reqs[0].ClientCanceled {
				t.Error("ClientCanceled not set after the client went away")
			}
		})
	}
}

func TestFaults(t *testing.T) {
	tr := load(t, "openai_stream.http")
	events := tr.Events()
	tests := []struct {
		name     string
		reply    Reply
		wantBody string
		wantErr  error // from reading the body
	}{
		{
			name:     "cut after 2 events",
			reply:    Reply{Transcript: tr, CutAfterEvents: 2},
			wantBody: string(bytes.Join(events[:2], nil)),
			wantErr:  io.ErrUnexpectedEOF,
		},
		{
			name:     "cut after all events still omits the last chunk",
			reply:    Reply{Transcript: tr, CutAfterEvents: 99},
			wantBody: string(tr.Body),
			wantErr:  io.ErrUnexpectedEOF,
		},
		{
			name:     "close cleanly after 2 events",
			reply:    Reply{Transcript: tr, CloseCleanlyAfterEvents: 2},
			wantBody: string(bytes.Join(events[:2], nil)),
		},
		{
			name:     "delay first byte",
			reply:    Reply{Transcript: tr, DelayFirstByte: 20 * time.Millisecond},
			wantBody: string(tr.Body),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(t)
			s.Handle("POST", chatPath, tc.reply)
			start := time.Now()
			resp, err := post(t.Context(), t, newClient(t), s.URL()+chatPath, `{}`)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if d := time.Since(start); d < tc.reply.DelayFirstByte {
				t.Errorf("headers after %v, before the %v delay", d, tc.reply.DelayFirstByte)
			}
			body, err := io.ReadAll(resp.Body)
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("read error %v, want %v", err, tc.wantErr)
			}
			if string(body) != tc.wantBody {
				t.Errorf("body %q, want %q", body, tc.wantBody)
			}
			reqs, err := s.WaitFinished(waitCtx(t), 1)
			if err != nil {
				t.Fatal(err)
			}
			if reqs[0].ClientCanceled {
				t.Error("ClientCanceled set though the client read to the end")
			}
		})
	}
}

func TestDrop(t *testing.T) {
	s := New(t)
	s.Handle("POST", chatPath, Reply{Drop: true})
	resp, err := post(t.Context(), t, newClient(t), s.URL()+chatPath, `{}`)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got a response %d, want a connection error", resp.StatusCode)
	}
	if _, err := s.WaitFinished(waitCtx(t), 1); err != nil {
		t.Fatal(err)
	}
}

func TestHang(t *testing.T) {
	tests := []struct {
		name  string
		reply Reply
	}{
		{"hang", Reply{Hang: true}},
		{"long first-byte delay", Reply{DelayFirstByte: time.Hour}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(t)
			s.Handle("POST", chatPath, tc.reply)
			ctx, cancel := context.WithCancel(t.Context())
			errc := make(chan error, 1)
			go func() {
				resp, err := post(ctx, t, newClient(t), s.URL()+chatPath, `{}`)
				if err == nil {
					resp.Body.Close()
				}
				errc <- err
			}()
			if _, err := s.WaitRequests(waitCtx(t), 1); err != nil {
				t.Fatal(err)
			}
			cancel()
			if err := <-errc; !errors.Is(err, context.Canceled) {
				t.Errorf("client error %v, want context.Canceled", err)
			}
			reqs, err := s.WaitFinished(waitCtx(t), 1)
			if err != nil {
				t.Fatal(err)
			}
			if !reqs[0].ClientCanceled {
				t.Error("ClientCanceled not set")
			}
		})
	}
}

// TestCloseReleasesHang checks that Close does not wait forever on a
// handler whose client never goes away.
func TestCloseReleasesHang(t *testing.T) {
	s := New(t)
	s.Handle("POST", chatPath, Reply{Hang: true})
	errc := make(chan error, 1)
	go func() {
		resp, err := post(context.Background(), t, newClient(t), s.URL()+chatPath, `{}`)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	if _, err := s.WaitRequests(waitCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := <-errc; err == nil {
		t.Error("client got a response from a hanging server")
	}
	s.Close() // idempotent; Cleanup calls it again too
}

func TestRecordingAndRouting(t *testing.T) {
	status := func(code int) Reply {
		return Reply{Transcript: &Transcript{Status: code, Header: http.Header{}, Body: []byte(strconv.Itoa(code))}}
	}
	type call struct {
		method, path string
		wantStatus   int
		wantBody     string
	}
	tests := []struct {
		name  string
		setup func(s *Server)
		calls []call
	}{
		{
			name:  "unregistered is 404",
			setup: func(s *Server) {},
			calls: []call{{"GET", "/nope", 404, "fakeprovider: no reply registered for GET /nope\n"}},
		},
		{
			name:  "method is part of the key",
			setup: func(s *Server) { s.Handle("POST", "/a", status(200)) },
			calls: []call{{"GET", "/a", 404, "fakeprovider: no reply registered for GET /a\n"}, {"POST", "/a", 200, "200"}},
		},
		{
			name:  "later Handle replaces",
			setup: func(s *Server) { s.Handle("POST", "/a", status(500)); s.Handle("POST", "/a", status(201)) },
			calls: []call{{"POST", "/a", 201, "201"}, {"POST", "/a", 201, "201"}},
		},
		{
			name: "queue before Handle",
			setup: func(s *Server) {
				s.Handle("POST", "/a", status(200))
				s.Enqueue("POST", "/a", status(429), status(500))
			},
			calls: []call{{"POST", "/a", 429, "429"}, {"POST", "/a", 500, "500"}, {"POST", "/a", 200, "200"}, {"POST", "/a", 200, "200"}},
		},
		{
			name:  "exhausted queue without Handle is 404",
			setup: func(s *Server) { s.Enqueue("POST", "/a", status(202)) },
			calls: []call{{"POST", "/a", 202, "202"}, {"POST", "/a", 404, "fakeprovider: no reply registered for POST /a\n"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(t)
			tc.setup(s)
			c := newClient(t)
			for i, call := range tc.calls {
				body := fmt.Sprintf(`{"call":%d}`, i)
				req, err := http.NewRequestWithContext(t.Context(), call.method, s.URL()+call.path+"?q=1", strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer k")
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != call.wantStatus || string(got) != call.wantBody {
					t.Errorf("call %d: got %d %q, want %d %q", i, resp.StatusCode, got, call.wantStatus, call.wantBody)
				}
			}
			reqs, err := s.WaitFinished(waitCtx(t), len(tc.calls))
			if err != nil {
				t.Fatal(err)
			}
			if len(reqs) != len(tc.calls) {
				t.Fatalf("%d requests recorded, want %d", len(reqs), len(tc.calls))
			}
			for i, r := range reqs {
				want := tc.calls[i]
				if r.Method != want.method || r.Path != want.path || r.RawQuery != "q=1" ||
					string(r.Body) != fmt.Sprintf(`{"call":%d}`, i) || r.Header.Get("Authorization") != "Bearer k" || !r.Finished {
					t.Errorf("request %d recorded as %+v", i, r)
				}
			}
		})
	}
}

func TestRequestsIsACopy(t *testing.T) {
	s := New(t)
	s.Handle("POST", chatPath, Reply{})
	resp, err := post(t.Context(), t, newClient(t), s.URL()+chatPath, `abc`)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	reqs, err := s.WaitFinished(waitCtx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	reqs[0].Body[0] = 'X'
	reqs[0].Header.Set("Content-Type", "changed")
	again := s.Requests()
	if string(again[0].Body) != "abc" || again[0].Header.Get("Content-Type") != "application/json" {
		t.Errorf("caller's edits leaked into the server's record: %+v", again[0])
	}
}

func TestWaitRequestsContextEnds(t *testing.T) {
	s := New(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	reqs, err := s.WaitRequests(ctx, 1)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "0 of 1 requests received") {
		t.Errorf("error %v, want context.Canceled with the count", err)
	}
	if len(reqs) != 0 {
		t.Errorf("requests %v", reqs)
	}
}

func TestConcurrentRequests(t *testing.T) {
	const n = 20
	tr := load(t, "openai_stream.http")
	s := New(t)
	s.Handle("POST", chatPath, Reply{Transcript: tr})
	c := newClient(t)

	// Waiters started before the requests must be woken by them.
	waited := make(chan []Recorded, 1)
	go func() {
		reqs, err := s.WaitRequests(waitCtx(t), n)
		if err != nil {
			t.Error(err)
		}
		waited <- reqs
	}()

	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := post(t.Context(), t, c, s.URL()+chatPath, strconv.Itoa(i))
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			if body, err := io.ReadAll(resp.Body); err != nil || !bytes.Equal(body, tr.Body) {
				t.Errorf("request %d: %v, body %q", i, err, body)
			}
		}()
	}
	wg.Wait()
	if reqs := <-waited; len(reqs) < n {
		t.Errorf("WaitRequests returned %d requests, want %d", len(reqs), n)
	}
	reqs, err := s.WaitFinished(waitCtx(t), n)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range reqs {
		seen[string(r.Body)] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct bodies recorded, want %d", len(seen), n)
	}
}
