package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/switchboard-gw/switchboard/bench/fake"
	"github.com/switchboard-gw/switchboard/bench/load"
	"github.com/switchboard-gw/switchboard/bench/proc"
	"github.com/switchboard-gw/switchboard/bench/stats"
	"github.com/switchboard-gw/switchboard/bench/target"
)

const (
	bigBodyPoll    = 20 * time.Millisecond // RSS polling period during a request
	bigBodyTimeout = 2 * time.Minute       // per request
	bigBodySettle  = 2 * time.Second       // before the idle and after samples
	// The "bounded" verdict's limits, in multiples of the body size. A
	// body goes through switchboard twice (router and upstream hop); each
	// hop holds the gRPC frames, the decoded message and, upstream, the
	// rewritten body and its encoded reply: about 8 copies at the peak,
	// doubled by the Go GC's headroom (GOGC=100) before garbage is
	// reclaimed. Envoy gets the same budget.
	bigBodyMaxGrowth = 16.0 // peak RSS growth over idle
	bigBodyMaxClimb  = 1.0  // peak of the last requests over that of the first
)

// bigBodyResult is one target's large-body runs on a fresh gateway.
type bigBodyResult struct {
	Target    string           `json:"target"`
	BodyBytes int64            `json:"body_bytes"`
	Requests  []bigBodyRequest `json:"requests"`
	OK        int              `json:"ok"` // answered 200
	// RSS after warm-up (idle) and after the runs and a settle.
	IdleRSSMiB       float64 `json:"switchboard_idle_rss_mib"`
	AfterRSSMiB      float64 `json:"switchboard_after_rss_mib"`
	EnvoyIdleRSSMiB  float64 `json:"envoy_idle_rss_mib"`
	EnvoyAfterRSSMiB float64 `json:"envoy_after_rss_mib"`
	// Heap in use from switchboard's /metrics; nil when it serves none.
	IdleHeapInuseMiB  *float64 `json:"switchboard_idle_heap_inuse_mib,omitempty"`
	AfterHeapInuseMiB *float64 `json:"switchboard_after_heap_inuse_mib,omitempty"`
	// The largest peak over idle of any request, by process.
	PeakGrowthMiB      float64 `json:"switchboard_peak_growth_mib"`
	EnvoyPeakGrowthMiB float64 `json:"envoy_peak_growth_mib"`
	// ClimbMiB is the highest switchboard peak of the last ClimbOver
	// requests minus that of the ClimbOver after the first (see climb).
	ClimbMiB  float64 `json:"switchboard_climb_mib"`
	ClimbOver int     `json:"climb_compared_requests"`
	Error     string  `json:"error,omitempty"` // why the runs could not be made
}

type bigBodyRequest struct {
	Status int     `json:"status"` // 0: no answer
	Ms     float64 `json:"ms"`
	// Peak RSS while the request was in flight, polled every 20 ms.
	PeakRSSMiB      float64 `json:"switchboard_peak_rss_mib"`
	EnvoyPeakRSSMiB float64 `json:"envoy_peak_rss_mib"`
	Err             string  `json:"error,omitempty"`
}

// bigBodyPhase sends -big-body-n requests of -big-body bytes, one at a
// time, to each schema on a fresh gateway, watching both processes' RSS.
func (h *harness) bigBodyPhase(ctx context.Context) error {
	var errs []error
	for _, tc := range []struct{ name, model string }{{passthrough, target.ModelOpenAI}, {translation, target.ModelAnthropic}} {
		res := bigBodyResult{Target: tc.name, BodyBytes: int64(h.s.BigBody)}
		logs, err := h.bigBody(ctx, tc.model, &res)
		if err != nil {
			res.Error = err.Error()
			errs = append(errs, fmt.Errorf("%s: %w\n%s", tc.name, err, logs))
		}
		h.rep.BigBody = append(h.rep.BigBody, res)
		if ctx.Err() != nil {
			break
		}
	}
	return errors.Join(errs...)
}

// bigBody fills in res; on failure it also returns the gateway's logs.
func (h *harness) bigBody(ctx context.Context, model string, res *bigBodyResult) (string, error) {
	env, err := h.env("bigbody-" + res.Target)
	if err != nil {
		return "", err
	}
	_, _, gw, stop, err := h.stacks(env, fake.Options{Chunks: h.s.Chunks, ChunkText: h.s.ChunkText}, false, true)
	defer stop()
	if err != nil {
		return "", err
	}
	url := gw.URL("/v1/chat/completions")
	c := load.NewClient(4)
	if err := target.Check(ctx, c, url, nil, chatBody(model, false), chatBody(model, true), h.s.ChunkText); err != nil {
		return gw.Logs(), fmt.Errorf("check: %w", err)
	}
	sb, ev := gw.Proc(target.Switchboard).Pid(), gw.Proc(target.Envoy).Pid()
	// Warm up with small requests so idle memory includes what serving
	// any request costs.
	load.Count(ctx, c, func(int) load.Request { return load.Request{URL: url, Body: chatBody(model, false)} }, 200, 4)
	heap := func() *float64 {
		_, v, err := gw.RuntimeMetrics(ctx)
		if err != nil {
			return nil
		}
		m := mib(int64(v))
		return &m
	}
	if err := sleep(ctx, bigBodySettle); err != nil {
		return "", err
	}
	idle, err1 := proc.RSSBytes(sb)
	envoyIdle, err2 := proc.RSSBytes(ev)
	if err := firstErr(err1, err2); err != nil {
		return gw.Logs(), err
	}
	res.IdleRSSMiB, res.EnvoyIdleRSSMiB, res.IdleHeapInuseMiB = mib(idle), mib(envoyIdle), heap()
	if res.IdleHeapInuseMiB == nil {
		fmt.Println("  large body: switchboard serves no /metrics; heap in use not reported")
	}

	body := bigChatBody(model, int(h.s.BigBody))
	for i := range h.s.BigBodyRequests {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		poll := pollRSS(sb, ev)
		start := time.Now()
		status, err := postOnce(ctx, c, url, body)
		r := bigBodyRequest{Status: status, Ms: float64(time.Since(start)) / float64(time.Millisecond)}
		peaks := poll()
		r.PeakRSSMiB, r.EnvoyPeakRSSMiB = mib(peaks[0]), mib(peaks[1])
		if err != nil {
			r.Err = err.Error()
		} else {
			res.OK++
		}
		res.Requests = append(res.Requests, r)
		res.PeakGrowthMiB = max(res.PeakGrowthMiB, r.PeakRSSMiB-res.IdleRSSMiB)
		res.EnvoyPeakGrowthMiB = max(res.EnvoyPeakGrowthMiB, r.EnvoyPeakRSSMiB-res.EnvoyIdleRSSMiB)
		fmt.Printf("  large body %-12s %s #%-2d status %3d in %8.1f ms  switchboard peak RSS %7.1f MiB (idle %.1f)  envoy peak RSS %7.1f MiB (idle %.1f) %s\n",
			res.Target, formatBytes(res.BodyBytes), i+1, r.Status, r.Ms, r.PeakRSSMiB, res.IdleRSSMiB, r.EnvoyPeakRSSMiB, res.EnvoyIdleRSSMiB, r.Err)
	}
	res.ClimbOver, res.ClimbMiB = climb(res.Requests)
	if err := sleep(ctx, bigBodySettle); err != nil {
		return "", err
	}
	after, err1 := proc.RSSBytes(sb)
	envoyAfter, err2 := proc.RSSBytes(ev)
	if err := firstErr(err1, err2); err != nil {
		return gw.Logs(), err
	}
	res.AfterRSSMiB, res.EnvoyAfterRSSMiB, res.AfterHeapInuseMiB = mib(after), mib(envoyAfter), heap()
	if res.OK < len(res.Requests) { // the verdict says so; the logs show why
		fmt.Printf("  large body %s: %d of %d requests failed\n%s", res.Target, len(res.Requests)-res.OK, len(res.Requests), gw.Logs())
	}
	return "", nil
}

// climb compares the highest switchboard peak RSS of the last k requests
// with that of the first k after the first, k being 3 or, for fewer than
// 7 requests, half of those after the first. The first request is left
// out: it grows the heap to its working size once, which is no leak. It
// returns k and the difference; k is 0 for fewer than 3 requests.
func climb(rs []bigBodyRequest) (int, float64) {
	k := min(3, (len(rs)-1)/2)
	if k <= 0 {
		return 0, 0
	}
	peak := func(rs []bigBodyRequest) float64 {
		var m float64
		for _, r := range rs {
			m = max(m, r.PeakRSSMiB)
		}
		return m
	}
	return k, peak(rs[len(rs)-k:]) - peak(rs[1:1+k])
}

// pollRSS reads the RSS of pids every bigBodyPoll until the returned
// function is called, which returns the highest reading of each.
func pollRSS(pids ...int) func() []int64 {
	peaks := make([]int64, len(pids))
	read := func() {
		for i, pid := range pids {
			if v, err := proc.RSSBytes(pid); err == nil {
				peaks[i] = max(peaks[i], v)
			}
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(bigBodyPoll)
		defer t.Stop()
		for {
			read()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() []int64 {
		close(done)
		wg.Wait()
		read()
		return peaks
	}
}

// postOnce sends body and reads the whole answer; an answer other than a
// 200 OpenAI chat.completion is an error.
func postOnce(ctx context.Context, c *http.Client, url string, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, bigBodyTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("content-type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		return resp.StatusCode, err
	case resp.StatusCode != http.StatusOK:
		return resp.StatusCode, fmt.Errorf("status %d: %.200s", resp.StatusCode, b)
	case !bytes.Contains(b, []byte(`"chat.completion"`)):
		return resp.StatusCode, fmt.Errorf("not an OpenAI chat.completion: %.200s", b)
	}
	return resp.StatusCode, nil
}

// bigBodyUnit is the text the large message repeats: prose with quotes,
// a tab, a newline and non-ASCII, so the JSON has escapes to decode.
const bigBodyUnit = "Summarise the \"quarterly\" report\tbelow — line by line.\n"

// bigChatBody is an OpenAI chat request of exactly size bytes (or its
// bare frame, if size is smaller): one user message whose content is
// bigBodyUnit repeated, then padded with 'x'.
func bigChatBody(model string, size int) []byte {
	head := fmt.Appendf(nil, `{"model":%q,"messages":[{"role":"user","content":"`, model)
	tail := []byte(`"}],"max_tokens":64}`)
	unit, _ := json.Marshal(bigBodyUnit)
	unit = unit[1 : len(unit)-1] // the escaped text, without quotes
	b := make([]byte, 0, max(size, len(head)+len(tail)))
	b = append(b, head...)
	for len(b)+len(unit)+len(tail) <= size {
		b = append(b, unit...)
	}
	for len(b)+len(tail) < size {
		b = append(b, 'x')
	}
	return append(b, tail...)
}

// verdicts judges "a 20 MB request body passes with bounded memory".
func (r *bigBodyResult) verdicts(add func(goal, tgt string, v float64, limit string, met bool, note string)) {
	size := formatBytes(r.BodyBytes)
	if r.Error != "" && len(r.Requests) == 0 {
		add(fmt.Sprintf("%s request body passes with bounded memory", size), r.Target, 0, "measured", false, "not measured: "+r.Error)
		return
	}
	bodyMiB := mib(r.BodyBytes)
	add(fmt.Sprintf("%s request body: answered 200 (requests)", size), r.Target, float64(r.OK), fmt.Sprintf("= %d", len(r.Requests)),
		r.OK == len(r.Requests), firstReqErr(r.Requests))
	add(fmt.Sprintf("%s request body: switchboard peak RSS growth (x body size)", size), r.Target, r.PeakGrowthMiB/bodyMiB,
		fmt.Sprintf("< %g", bigBodyMaxGrowth), r.PeakGrowthMiB < bigBodyMaxGrowth*bodyMiB,
		fmt.Sprintf("+%.1f MiB over idle %.1f MiB; %.1f MiB after the runs", r.PeakGrowthMiB, r.IdleRSSMiB, r.AfterRSSMiB))
	add(fmt.Sprintf("%s request body: envoy peak RSS growth (x body size)", size), r.Target, r.EnvoyPeakGrowthMiB/bodyMiB,
		fmt.Sprintf("< %g", bigBodyMaxGrowth), r.EnvoyPeakGrowthMiB < bigBodyMaxGrowth*bodyMiB,
		fmt.Sprintf("+%.1f MiB over idle %.1f MiB; %.1f MiB after the runs", r.EnvoyPeakGrowthMiB, r.EnvoyIdleRSSMiB, r.EnvoyAfterRSSMiB))
	if r.ClimbOver > 0 {
		first := "request 2"
		if r.ClimbOver > 1 {
			first = fmt.Sprintf("requests 2-%d", r.ClimbOver+1)
		}
		add(fmt.Sprintf("%s request body: switchboard peak RSS climb across requests (x body size)", size), r.Target, r.ClimbMiB/bodyMiB,
			fmt.Sprintf("< %g", bigBodyMaxClimb), r.ClimbMiB < bigBodyMaxClimb*bodyMiB,
			fmt.Sprintf("%+.1f MiB, highest peak of the last %d of %d requests vs %s", r.ClimbMiB, r.ClimbOver, len(r.Requests), first))
	}
}

func firstReqErr(rs []bigBodyRequest) string {
	for _, r := range rs {
		if r.Err != "" {
			return r.Err
		}
	}
	return ""
}

func printBigBody(w io.Writer, rs []bigBodyResult) {
	if len(rs) == 0 {
		return
	}
	fmt.Fprintf(w, "\nlarge request body (%s, one at a time; RSS in MiB, peak = highest while a request was in flight):\n", formatBytes(rs[0].BodyBytes))
	fmt.Fprintf(w, "  %-12s %7s %9s %9s  %-27s %-23s %10s %8s\n", "target", "ok", "p50 ms", "max ms",
		"switchboard idle/peak/after", "envoy idle/peak/after", "heap after", "climb")
	for _, r := range rs {
		if r.Error != "" && len(r.Requests) == 0 {
			fmt.Fprintf(w, "  %-12s not measured: %s\n", r.Target, r.Error)
			continue
		}
		ms := make([]float64, 0, len(r.Requests))
		var sbPeak, evPeak, worst float64
		for _, q := range r.Requests {
			ms = append(ms, q.Ms)
			sbPeak, evPeak, worst = max(sbPeak, q.PeakRSSMiB), max(evPeak, q.EnvoyPeakRSSMiB), max(worst, q.Ms)
		}
		heap := "-"
		if r.AfterHeapInuseMiB != nil {
			heap = fmt.Sprintf("%.1f", *r.AfterHeapInuseMiB)
		}
		fmt.Fprintf(w, "  %-12s %3d/%-3d %9.1f %9.1f  %-27s %-23s %10s %+8.1f\n", r.Target, r.OK, len(r.Requests), stats.Median(ms), worst,
			fmt.Sprintf("%.1f/%.1f/%.1f", r.IdleRSSMiB, sbPeak, r.AfterRSSMiB),
			fmt.Sprintf("%.1f/%.1f/%.1f", r.EnvoyIdleRSSMiB, evPeak, r.EnvoyAfterRSSMiB), heap, r.ClimbMiB)
	}
}
