// Package load drives HTTP load: closed-loop (a fixed number of clients,
// each sending its next request when the last one ends, for a time or for
// a number of requests), open-loop (a fixed arrival rate, latency counted
// from each request's scheduled start so a slow server cannot hide its
// queue), and held streams (many SSE responses kept open at once).
package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Request is the one request a run repeats.
type Request struct {
	URL    string
	Body   []byte
	Stream bool // read the body as a stream and record time to first byte
	// Header is sent with every request (a gateway key); never changed.
	Header http.Header
}

// Result is one run's raw measurements.
type Result struct {
	Requests int           // completed with status 200
	Errors   int           // failed or non-200
	FirstErr string        // the first error, for the report
	Elapsed  time.Duration // from the first request sent to the last answered
	Latency  []time.Duration
	TTFB     []time.Duration // streams only
}

// Throughput is completed requests per second.
func (r Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// NewClient returns a keep-alive HTTP/1.1 client that keeps up to conns
// idle connections to the target, so a closed-loop run reuses one
// connection per worker.
func NewClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}}
}

// NewH2CClient returns a client speaking HTTP/2 without TLS (prior
// knowledge), which Envoy's AUTO codec accepts. Thousands of streams then
// share a few connections, so holding 10,000 streams does not need 10,000
// client sockets.
func NewH2CClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{
		Protocols:          &p,
		DisableCompression: true,
		DialContext:        (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}}
}

// errStatus marks a non-200 answer.
type errStatus struct {
	code int
	body string
}

func (e errStatus) Error() string { return fmt.Sprintf("status %d: %.200s", e.code, e.body) }

// Do sends r once and returns the time to the first body byte and to the
// end of the body, both from start.
func Do(ctx context.Context, c *http.Client, r Request, start time.Time) (ttfb, total time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return 0, 0, err
	}
	for k, v := range r.Header {
		req.Header[k] = v
	}
	req.Header["Content-Type"] = []string{"application/json"}
	resp, err := c.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return 0, 0, errStatus{resp.StatusCode, string(b)}
	}
	if r.Stream {
		var first [512]byte
		for {
			n, err := resp.Body.Read(first[:])
			if n > 0 {
				ttfb = time.Since(start)
				break
			}
			if err != nil {
				return 0, 0, fmt.Errorf("stream ended before its first byte: %w", err)
			}
		}
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, 0, err
	}
	return ttfb, time.Since(start), nil
}

// recorder collects one worker's samples without locks.
type recorder struct {
	lat, ttfb []time.Duration
	errs      int
	firstErr  error
}

func (rec *recorder) add(ttfb, total time.Duration, err error, stream bool) {
	if err != nil {
		rec.errs++
		if rec.firstErr == nil {
			rec.firstErr = err
		}
		return
	}
	rec.lat = append(rec.lat, total)
	if stream {
		rec.ttfb = append(rec.ttfb, ttfb)
	}
}

func merge(recs []*recorder, elapsed time.Duration) Result {
	res := Result{Elapsed: elapsed}
	for _, rec := range recs {
		res.Latency = append(res.Latency, rec.lat...)
		res.TTFB = append(res.TTFB, rec.ttfb...)
		res.Errors += rec.errs
		if res.FirstErr == "" && rec.firstErr != nil {
			res.FirstErr = rec.firstErr.Error()
		}
	}
	res.Requests = len(res.Latency)
	return res
}

// Closed runs concurrency workers back to back for d. Workers stop sending
// at d and the run ends when the last answer arrives.
func Closed(ctx context.Context, c *http.Client, r Request, concurrency int, d time.Duration) Result {
	recs := make([]*recorder, concurrency)
	start := time.Now()
	end := start.Add(d)
	var wg sync.WaitGroup
	for i := range recs {
		rec := &recorder{lat: make([]time.Duration, 0, 1024)}
		recs[i] = rec
		wg.Go(func() {
			for ctx.Err() == nil {
				t := time.Now()
				if !t.Before(end) {
					return
				}
				ttfb, total, err := Do(ctx, c, r, t)
				rec.add(ttfb, total, err, r.Stream)
			}
		})
	}
	wg.Wait()
	return merge(recs, time.Since(start))
}

// Count sends n requests, the i-th being next(i), from concurrency
// workers back to back, and returns when the last one has answered.
func Count(ctx context.Context, c *http.Client, next func(i int) Request, n, concurrency int) Result {
	recs := make([]*recorder, concurrency)
	start := time.Now()
	var (
		wg   sync.WaitGroup
		sent atomic.Int64
	)
	for w := range recs {
		rec := &recorder{lat: make([]time.Duration, 0, n/concurrency+1)}
		recs[w] = rec
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(sent.Add(1)) - 1
				if i >= n {
					return
				}
				r := next(i)
				ttfb, total, err := Do(ctx, c, r, time.Now())
				rec.add(ttfb, total, err, r.Stream)
			}
		})
	}
	wg.Wait()
	return merge(recs, time.Since(start))
}

// Open sends requests at a fixed rate for d. Each latency is measured from
// the request's scheduled send time. At most maxOutstanding requests are in
// flight; a request that would exceed it is counted as an error.
func Open(ctx context.Context, c *http.Client, r Request, rps float64, d time.Duration, maxOutstanding int) Result {
	interval := time.Duration(float64(time.Second) / rps)
	start := time.Now()
	var (
		mu       sync.Mutex
		rec      = &recorder{lat: make([]time.Duration, 0, int(rps*d.Seconds())+1)}
		wg       sync.WaitGroup
		inFlight atomic.Int64
	)
	for i := 0; ctx.Err() == nil; i++ {
		at := start.Add(time.Duration(i) * interval)
		if at.Sub(start) >= d {
			break
		}
		if wait := time.Until(at); wait > 0 {
			time.Sleep(wait)
		}
		if inFlight.Add(1) > int64(maxOutstanding) {
			inFlight.Add(-1)
			mu.Lock()
			rec.add(0, 0, errors.New("open loop: too many requests outstanding"), r.Stream)
			mu.Unlock()
			continue
		}
		wg.Go(func() {
			defer inFlight.Add(-1)
			ttfb, total, err := Do(ctx, c, r, at)
			mu.Lock()
			rec.add(ttfb, total, err, r.Stream)
			mu.Unlock()
		})
	}
	wg.Wait()
	return merge([]*recorder{rec}, time.Since(start))
}

// Held is a set of streams kept open until Close.
type Held struct {
	Open     int    // streams that delivered their first byte
	FirstErr string // why a stream failed to open, if one did
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// Hold opens n streams, at most parallel at a time being set up, and
// returns once every one has delivered its first byte or failed, or
// timeout has passed. The streams keep reading in the background.
func Hold(ctx context.Context, c *http.Client, r Request, n, parallel int, timeout time.Duration) *Held {
	ctx, cancel := context.WithCancel(ctx)
	h := &Held{cancel: cancel}
	var (
		mu     sync.Mutex
		opened atomic.Int64
		ready  sync.WaitGroup
		slots  = make(chan struct{}, parallel)
	)
	deadline := time.Now().Add(timeout)
	fail := func(err error) {
		mu.Lock()
		if h.FirstErr == "" && ctx.Err() == nil {
			h.FirstErr = err.Error()
		}
		mu.Unlock()
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
start:
	for range n {
		select {
		case slots <- struct{}{}:
		case <-timer.C:
			break start
		}
		ready.Add(1)
		h.wg.Go(func() {
			released := false
			release := func() {
				if !released {
					released = true
					<-slots
					ready.Done()
				}
			}
			defer release()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(r.Body))
			if err != nil {
				fail(err)
				return
			}
			for k, v := range r.Header {
				req.Header[k] = v
			}
			req.Header["Content-Type"] = []string{"application/json"}
			resp, err := c.Do(req)
			if err != nil {
				fail(err)
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b, _ := io.ReadAll(resp.Body)
				fail(errStatus{resp.StatusCode, string(b)})
				return
			}
			var buf [512]byte
			for {
				k, err := resp.Body.Read(buf[:])
				if k > 0 {
					break
				}
				if err != nil {
					fail(fmt.Errorf("stream ended before its first byte: %w", err))
					return
				}
			}
			opened.Add(1)
			release()
			_, _ = io.Copy(io.Discard, resp.Body)
		})
	}
	done := make(chan struct{})
	go func() { ready.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(max(time.Until(deadline), 0)):
		fail(fmt.Errorf("not all streams opened within %v", timeout))
	}
	h.Open = int(opened.Load())
	return h
}

// Close ends every held stream and waits for their goroutines.
func (h *Held) Close() {
	h.cancel()
	h.wg.Wait()
}
