package load

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

func TestCount(t *testing.T) {
	var (
		mu   sync.Mutex
		seen = map[string]int{}
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen[string(b)]++
		mu.Unlock()
		if string(b) == "fail" {
			http.Error(w, "no", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()
	next := func(i int) Request {
		body := fmt.Sprint(i % 3)
		if i == 7 {
			body = "fail"
		}
		return Request{URL: srv.URL, Body: []byte(body), Stream: i%3 == 0}
	}
	res := Count(context.Background(), NewClient(4), next, 100, 4)
	if res.Requests != 99 || res.Errors != 1 || len(res.Latency) != 99 {
		t.Fatalf("requests %d, errors %d, latencies %d; want 99, 1, 99", res.Requests, res.Errors, len(res.Latency))
	}
	if res.FirstErr != "status 503: no\n" {
		t.Errorf("first error %q", res.FirstErr)
	}
	// i%3 == 0 for i in 0..99 except 7: 34 streamed requests.
	if len(res.TTFB) != 34 {
		t.Errorf("%d TTFB samples, want 34", len(res.TTFB))
	}
	if seen["0"] != 34 || seen["1"] != 32 || seen["2"] != 33 || seen["fail"] != 1 {
		t.Errorf("server saw %v", seen)
	}
}
