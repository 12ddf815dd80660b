package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/switchboard-gw/switchboard/bench/fake"
	"github.com/switchboard-gw/switchboard/bench/load"
	"github.com/switchboard-gw/switchboard/bench/proc"
	"github.com/switchboard-gw/switchboard/bench/stats"
	"github.com/switchboard-gw/switchboard/bench/target"
)

// The soak's load: every fifth request streamed, models alternating, so
// both schemas see whole and streamed requests; streams are short.
const (
	soakWarmup        = 1000
	soakStreamEvery   = 5
	soakChunks        = 4
	soakChunkInterval = time.Millisecond
	// soakSettle is the pause before the start and end samples, for
	// in-flight streams and connections to finish.
	soakSettle = 5 * time.Second
)

// The "no growth" verdict's limits.
const (
	soakGoroutineSlack = 10  // goroutines
	soakHeapSlackRatio = 0.1 // of the start's heap in use ...
	soakHeapSlackMiB   = 5.0 // ... or this, whichever is larger
	soakMaxErrorRatio  = 0.01
)

// soakResult is the soak phase: a fresh gateway's goroutines and memory
// before, during and after Requests requests.
type soakResult struct {
	Requests    int           `json:"requests"`
	Concurrency int           `json:"concurrency"`
	StreamShare float64       `json:"stream_share"`
	Completed   int           `json:"completed"`
	Errors      int           `json:"errors"`
	FirstErr    string        `json:"first_error,omitempty"`
	Seconds     float64       `json:"seconds"`
	Latency     stats.Summary `json:"latency"`
	// Start is after the warm-up and a settle; End after the last request
	// and a settle. Samples are taken under load, every Requests/10.
	Start   soakSample   `json:"start"`
	Samples []soakSample `json:"samples"`
	End     soakSample   `json:"end"`
	// Growth per 10,000 requests: the least-squares slope of Samples.
	GoroutinesPer10k   float64 `json:"goroutines_per_10k"`
	HeapInuseMiBPer10k float64 `json:"heap_inuse_mib_per_10k"`
	RSSMiBPer10k       float64 `json:"switchboard_rss_mib_per_10k"`
	EnvoyRSSMiBPer10k  float64 `json:"envoy_rss_mib_per_10k"`
	Error              string  `json:"error,omitempty"` // why the phase could not measure
}

type soakSample struct {
	After        int     `json:"after_requests"`
	Goroutines   float64 `json:"goroutines"`
	HeapInuseMiB float64 `json:"heap_inuse_mib"`
	RSSMiB       float64 `json:"switchboard_rss_mib"`
	EnvoyRSSMiB  float64 `json:"envoy_rss_mib"`
}

// soakPhase sends -soak requests through a fresh gateway and reads
// switchboard's goroutine count and heap in use (from its /metrics) and
// both processes' RSS before, every tenth of the way, and after.
func (h *harness) soakPhase(ctx context.Context) error {
	res := &soakResult{Requests: h.s.Soak, Concurrency: h.s.SoakConcurrency, StreamShare: 1.0 / soakStreamEvery}
	h.rep.Soak = res
	logs, err := h.soak(ctx, res)
	if err != nil {
		res.Error = err.Error()
		return fmt.Errorf("%w\n%s", err, logs)
	}
	return nil
}

// soak fills in res; on failure it also returns the gateway's logs.
func (h *harness) soak(ctx context.Context, res *soakResult) (string, error) {
	env, err := h.env("soak")
	if err != nil {
		return "", err
	}
	o := fake.Options{Chunks: soakChunks, ChunkText: h.s.ChunkText, Interval: soakChunkInterval}
	_, _, gw, stop, err := h.stacks(env, o, false, true)
	defer stop()
	if err != nil {
		return "", err
	}
	// Fail before any load if /metrics is not there.
	if _, _, err := gw.RuntimeMetrics(ctx); err != nil {
		return gw.Logs(), fmt.Errorf("soak: %w", err)
	}
	url := gw.URL("/v1/chat/completions")
	c := load.NewClient(h.s.SoakConcurrency + 16)
	models := []string{target.ModelOpenAI, target.ModelAnthropic}
	for _, m := range models {
		if err := target.Check(ctx, c, url, nil, chatBody(m, false), chatBody(m, true), h.s.ChunkText); err != nil {
			return gw.Logs(), fmt.Errorf("soak: %s: check: %w", m, err)
		}
	}
	var bodies [2][2][]byte // by model, then streamed
	for i, m := range models {
		bodies[i][0], bodies[i][1] = chatBody(m, false), chatBody(m, true)
	}
	next := func(i int) load.Request {
		stream := i%soakStreamEvery == soakStreamEvery-1
		r := load.Request{URL: url, Body: bodies[i%2][0], Stream: stream}
		if stream {
			r.Body = bodies[i%2][1]
		}
		return r
	}
	sample := func(after int) (soakSample, error) {
		g, heap, err := gw.RuntimeMetrics(ctx)
		if err != nil {
			return soakSample{}, err
		}
		sb, err1 := proc.RSSBytes(gw.Proc(target.Switchboard).Pid())
		ev, err2 := proc.RSSBytes(gw.Proc(target.Envoy).Pid())
		if err := firstErr(err1, err2); err != nil {
			return soakSample{}, err
		}
		return soakSample{After: after, Goroutines: g, HeapInuseMiB: mib(int64(heap)), RSSMiB: mib(sb), EnvoyRSSMiB: mib(ev)}, nil
	}

	w := load.Count(ctx, c, next, soakWarmup, h.s.SoakConcurrency)
	if w.Errors > 0 {
		fmt.Printf("  soak warm-up: %d of %d requests failed (%s)\n", w.Errors, soakWarmup, w.FirstErr)
	}
	if err := sleep(ctx, soakSettle); err != nil {
		return "", err
	}
	if res.Start, err = sample(0); err != nil {
		return gw.Logs(), fmt.Errorf("soak: start sample: %w", err)
	}
	printSoakSample("start", res.Start, 0)
	n, conc := h.s.Soak, h.s.SoakConcurrency
	step := max(n/10, 1)
	var lat []time.Duration
	start := time.Now()
	for done := 0; done < n; {
		k, base := min(step, n-done), done
		r := load.Count(ctx, c, func(i int) load.Request { return next(base + i) }, k, conc)
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		done += k
		res.Completed += r.Requests
		res.Errors += r.Errors
		if res.FirstErr == "" {
			res.FirstErr = r.FirstErr
		}
		lat = append(lat, r.Latency...)
		s, err := sample(done)
		if err != nil {
			return gw.Logs(), fmt.Errorf("soak: sample after %d requests: %w", done, err)
		}
		res.Samples = append(res.Samples, s)
		printSoakSample(fmt.Sprintf("%d/%d", done, n), s, res.Errors)
	}
	res.Seconds = time.Since(start).Seconds()
	res.Latency = stats.Summarize(lat)
	if err := sleep(ctx, soakSettle); err != nil {
		return "", err
	}
	if res.End, err = sample(n); err != nil {
		return gw.Logs(), fmt.Errorf("soak: end sample: %w", err)
	}
	printSoakSample("end", res.End, res.Errors)
	per10k := func(f func(soakSample) float64) float64 {
		xs, ys := make([]float64, len(res.Samples)), make([]float64, len(res.Samples))
		for i, s := range res.Samples {
			xs[i], ys[i] = float64(s.After), f(s)
		}
		return slope(xs, ys) * 10000
	}
	res.GoroutinesPer10k = per10k(func(s soakSample) float64 { return s.Goroutines })
	res.HeapInuseMiBPer10k = per10k(func(s soakSample) float64 { return s.HeapInuseMiB })
	res.RSSMiBPer10k = per10k(func(s soakSample) float64 { return s.RSSMiB })
	res.EnvoyRSSMiBPer10k = per10k(func(s soakSample) float64 { return s.EnvoyRSSMiB })
	if res.Errors > 0 {
		fmt.Printf("  soak: %d errors (%s)\n", res.Errors, res.FirstErr)
	}
	return "", nil
}

func printSoakSample(at string, s soakSample, errs int) {
	fmt.Printf("  soak %-14s goroutines %5.0f  heap in use %7.1f MiB  switchboard RSS %7.1f MiB  envoy RSS %7.1f MiB  errors %d\n",
		at, s.Goroutines, s.HeapInuseMiB, s.RSSMiB, s.EnvoyRSSMiB, errs)
}

// slope is the least-squares slope of ys over xs; 0 for fewer than two
// distinct xs.
func slope(xs, ys []float64) float64 {
	n := float64(len(xs))
	if len(xs) < 2 {
		return 0
	}
	var sx, sy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
	}
	mx, my := sx/n, sy/n
	var num, den float64
	for i := range xs {
		num += (xs[i] - mx) * (ys[i] - my)
		den += (xs[i] - mx) * (xs[i] - mx)
	}
	if den == 0 {
		return 0
	}
	return num / den
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// soakVerdicts judges "no goroutine or memory growth after N requests".
func (s *soakResult) verdicts(add func(goal, tgt string, v float64, limit string, met bool, note string)) {
	n := commas(s.Requests)
	if s.Error != "" {
		add(fmt.Sprintf("no goroutine or memory growth after %s requests", n), "gateway", 0, "measured", false, "not measured: "+s.Error)
		return
	}
	errNote := fmt.Sprintf("%d errors", s.Errors)
	errOK := float64(s.Errors) <= soakMaxErrorRatio*float64(s.Requests)
	if !errOK {
		errNote = fmt.Sprintf("%d errors, over %.0f%%: %s", s.Errors, soakMaxErrorRatio*100, s.FirstErr)
	}
	dg := s.End.Goroutines - s.Start.Goroutines
	add(fmt.Sprintf("goroutine growth after %s requests", n), "gateway", dg, fmt.Sprintf("<= +%d", soakGoroutineSlack),
		errOK && dg <= soakGoroutineSlack,
		fmt.Sprintf("%.0f -> %.0f; %+.1f per 10k under load; %s", s.Start.Goroutines, s.End.Goroutines, s.GoroutinesPer10k, errNote))
	dh := s.End.HeapInuseMiB - s.Start.HeapInuseMiB
	slack := max(s.Start.HeapInuseMiB*soakHeapSlackRatio, soakHeapSlackMiB)
	add(fmt.Sprintf("heap in use growth after %s requests (MiB)", n), "gateway", dh,
		fmt.Sprintf("<= +%.0f%% or +%.0f MiB", soakHeapSlackRatio*100, soakHeapSlackMiB), errOK && dh <= slack,
		fmt.Sprintf("%.1f -> %.1f MiB, %+.2f MiB per 10k under load; switchboard RSS %.1f -> %.1f MiB, envoy RSS %.1f -> %.1f MiB; %s",
			s.Start.HeapInuseMiB, s.End.HeapInuseMiB, s.HeapInuseMiBPer10k, s.Start.RSSMiB, s.End.RSSMiB, s.Start.EnvoyRSSMiB, s.End.EnvoyRSSMiB, errNote))
}

func (s *soakResult) print(w io.Writer) {
	fmt.Fprintf(w, "\nsoak: %s requests (%.0f%% streamed, both models) at %d concurrent in %.0f s, %d errors, p50 %.3f ms, p99 %.3f ms\n",
		commas(s.Requests), s.StreamShare*100, s.Concurrency, s.Seconds, s.Errors, s.Latency.P50Ms, s.Latency.P99Ms)
	if s.Error != "" {
		fmt.Fprintf(w, "  not measured: %s\n", s.Error)
		return
	}
	row := func(at string, x soakSample) {
		fmt.Fprintf(w, "  %-10s %10.0f %12.1f %14.1f %10.1f\n", at, x.Goroutines, x.HeapInuseMiB, x.RSSMiB, x.EnvoyRSSMiB)
	}
	fmt.Fprintf(w, "  %-10s %10s %12s %14s %10s\n", "after", "goroutines", "heap MiB", "switchboard RSS", "envoy RSS")
	row("start", s.Start)
	for _, x := range s.Samples {
		row(commas(x.After), x)
	}
	row("settled", s.End)
	fmt.Fprintf(w, "  per 10k requests under load: goroutines %+.2f, heap %+.2f MiB, switchboard RSS %+.2f MiB, envoy RSS %+.2f MiB\n",
		s.GoroutinesPer10k, s.HeapInuseMiBPer10k, s.RSSMiBPer10k, s.EnvoyRSSMiBPer10k)
}

// commas writes n with thousands separators: 100000 -> "100,000".
func commas(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + commas(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
