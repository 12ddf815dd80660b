package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/bench/fake"
	"github.com/switchboard-gw/switchboard/bench/load"
	"github.com/switchboard-gw/switchboard/bench/proc"
	"github.com/switchboard-gw/switchboard/bench/stats"
	"github.com/switchboard-gw/switchboard/bench/target"
)

type harness struct {
	s    settings
	dir  string
	self string
	rep  *report
	// all is every process of the current phase, for telling our CPU
	// use from that of other programs on the machine.
	all []*proc.Proc
}

// Target names.
const (
	baseline    = "baseline"
	passthrough = "passthrough"
	translation = "translation"
	// governed is passthrough through a gateway with governance on: a
	// key on every request, its limits and budget in Redis (-governed).
	governed = "governed (Redis)"
)

// tgt is one thing under load: a listener, the model to ask for, and the
// processes whose CPU time the requests cost.
type tgt struct {
	name   string
	url    string
	model  string
	header http.Header // sent with every request (the gateway key)
	stack  *target.Stack
	procs  []*proc.Proc
	client *http.Client
}

func chatBody(model string, stream bool) []byte {
	s := ""
	if stream {
		s = `"stream":true,`
	}
	return fmt.Appendf(nil, `{"model":%q,%s"messages":[{"role":"user","content":"Say hello."}],"max_tokens":64}`, model, s)
}

// env describes the binaries and settings for stacks started in the
// scratch subdirectory sub.
func (h *harness) env(sub string) (target.Env, error) {
	e := target.Env{Dir: filepath.Join(h.dir, sub), Envoy: h.s.envoyBin, Switchboard: h.s.switchboardBin, Self: h.self,
		Concurrency: h.s.EnvoyThreads, LogLevel: h.s.LogLevel}
	return e, os.MkdirAll(e.Dir, 0o755)
}

// stacks starts a fake provider with o and, in front of it, the baseline
// Envoy and/or the gateway.
func (h *harness) stacks(env target.Env, o fake.Options, withBaseline, withGateway bool) (fk, base, gw *target.Stack, stop func(), err error) {
	var started []*target.Stack
	stop = func() {
		for i := len(started) - 1; i >= 0; i-- {
			started[i].Stop()
		}
	}
	if fk, err = target.StartFake(env, o); err != nil {
		return nil, nil, nil, stop, err
	}
	started = append(started, fk)
	if withBaseline {
		if base, err = target.StartBaseline(env, fk.Port); err != nil {
			return nil, nil, nil, stop, err
		}
		started = append(started, base)
	}
	if withGateway {
		if gw, err = target.StartGateway(env, fk.Port, nil); err != nil {
			return nil, nil, nil, stop, err
		}
		started = append(started, gw)
	}
	return fk, base, gw, stop, nil
}

// latencyPhase measures latency, TTFB, throughput and CPU per request for
// the three targets, interleaving them within every repeat so slow drift
// in the machine affects all three alike.
func (h *harness) latencyPhase(ctx context.Context) error {
	env, err := h.env("latency")
	if err != nil {
		return err
	}
	o := fake.Options{Chunks: h.s.Chunks, ChunkText: h.s.ChunkText, Interval: h.s.ChunkInterval}
	fk, base, gw, stop, err := h.stacks(env, o, true, true)
	defer stop()
	if err != nil {
		return err
	}
	h.all = append(append(append([]*proc.Proc{}, fk.Procs...), base.Procs...), gw.Procs...)
	var gov *tgt
	if h.s.Governed {
		rd, err := target.StartRedis(env, h.s.redisBin)
		if err != nil {
			return err
		}
		defer rd.Stop()
		g, err := target.StartGateway(env, fk.Port, &target.Governance{RedisAddr: rd.Addr()})
		if err != nil {
			return err
		}
		defer g.Stop()
		h.all = append(append(h.all, rd.Procs...), g.Procs...)
		gov = &tgt{name: governed, url: g.URL("/v1/chat/completions"), model: target.ModelOpenAI, stack: g,
			header: http.Header{"Authorization": {"Bearer " + target.BenchKey}},
			procs:  []*proc.Proc{g.Proc(target.Envoy), g.Proc(target.Switchboard), rd.Proc(target.Redis), fk.Proc(target.Fake)}}
	}
	conns := 16
	for _, c := range append(append([]int{}, h.s.Levels...), h.s.StreamLevels...) {
		conns = max(conns, c)
	}
	targets := []*tgt{
		{name: baseline, url: base.URL("/v1/chat/completions"), model: target.ModelOpenAI,
			procs: []*proc.Proc{base.Proc(target.Envoy), fk.Proc(target.Fake)}},
		{name: passthrough, url: gw.URL("/v1/chat/completions"), model: target.ModelOpenAI, stack: gw,
			procs: []*proc.Proc{gw.Proc(target.Envoy), gw.Proc(target.Switchboard), fk.Proc(target.Fake)}},
		{name: translation, url: gw.URL("/v1/chat/completions"), model: target.ModelAnthropic, stack: gw,
			procs: []*proc.Proc{gw.Proc(target.Envoy), gw.Proc(target.Switchboard), fk.Proc(target.Fake)}},
	}
	if gov != nil {
		targets = append(targets, gov)
	}
	for _, t := range targets {
		t.client = load.NewClient(conns + 64)
		if err := target.Check(ctx, t.client, t.url, t.header, chatBody(t.model, false), chatBody(t.model, true), h.s.ChunkText); err != nil {
			return fmt.Errorf("%s: check: %w\n%s%s", t.name, err, gw.Logs(), base.Logs())
		}
	}

	if err := h.probeMessages(ctx, targets[1:]); err != nil {
		return err
	}
	if len(h.s.Peers) > 0 {
		peers, stop := h.startPeers(ctx, env, fk, conns)
		defer stop()
		targets = append(targets, peers...)
		// The ext_proc exchanges of the peers that have them (Envoy AI Gateway).
		var viaEnvoy []*tgt
		for _, t := range peers {
			if t.stack.Admin != 0 {
				viaEnvoy = append(viaEnvoy, t)
			}
		}
		if err := h.probeMessages(ctx, viaEnvoy); err != nil {
			return err
		}
	}

	type scen struct {
		sc   scenario
		req  func(model string) load.Request
		load func(ctx context.Context, t *tgt, r load.Request, d time.Duration) load.Result
	}
	var plan []scen
	for _, c := range h.s.Levels {
		plan = append(plan, scen{
			sc:  scenario{Name: fmt.Sprintf("closed c=%d", c), Kind: "closed", Concurrency: c},
			req: func(m string) load.Request { return load.Request{Body: chatBody(m, false)} },
			load: func(ctx context.Context, t *tgt, r load.Request, d time.Duration) load.Result {
				return load.Closed(ctx, t.client, r, c, d)
			},
		})
	}
	for _, c := range h.s.StreamLevels {
		plan = append(plan, scen{
			sc:  scenario{Name: fmt.Sprintf("stream c=%d", c), Kind: "stream", Concurrency: c},
			req: func(m string) load.Request { return load.Request{Body: chatBody(m, true), Stream: true} },
			load: func(ctx context.Context, t *tgt, r load.Request, d time.Duration) load.Result {
				return load.Closed(ctx, t.client, r, c, d)
			},
		})
	}
	if h.s.RPS > 0 {
		plan = append(plan, scen{
			sc:  scenario{Name: fmt.Sprintf("open %g rps", h.s.RPS), Kind: "open", RPS: h.s.RPS},
			req: func(m string) load.Request { return load.Request{Body: chatBody(m, false)} },
			load: func(ctx context.Context, t *tgt, r load.Request, d time.Duration) load.Result {
				return load.Open(ctx, t.client, r, h.s.RPS, d, 10000)
			},
		})
	}

	for _, p := range plan {
		runs := make(map[string][]run, len(targets))
		for rep := range h.s.Repeats {
			for _, t := range targets {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				r := p.req(t.model)
				r.URL, r.Header = t.url, t.header
				h.waitQuiet(ctx)
				if h.s.Warmup > 0 {
					p.load(ctx, t, r, h.s.Warmup)
				}
				before := h.snap(t.procs)
				res := p.load(ctx, t, r, h.s.Duration)
				after := h.snap(t.procs)
				ru := newRun(res, before.procs, after.procs)
				ru.OtherCores = otherCores(before, after)
				runs[t.name] = append(runs[t.name], ru)
				fmt.Printf("  %-14s %-19s rep %d: %8.0f req/s  p50 %7.3f ms  p99 %7.3f ms%s  errors %d  other load %.2f cores%s\n",
					p.sc.Name, t.name, rep+1, ru.ReqPerSec, ru.Latency.P50Ms, ru.Latency.P99Ms, ttfbNote(ru), ru.Errors, ru.OtherCores, errNote(ru))
			}
		}
		sc := p.sc
		for _, t := range targets {
			sc.Results = append(sc.Results, targetResult{Target: t.name, Runs: runs[t.name], Median: medianRun(runs[t.name])})
		}
		sc.compare()
		h.rep.Scenarios = append(h.rep.Scenarios, sc)
	}
	if h.rep.Peers != nil {
		h.rep.Peers.Table = h.rep.peerTable()
	}
	return nil
}

// probeMessages counts, from Envoy's ext_proc counters, the gRPC streams
// and messages each gateway request costs: the round trips to switchboard
// that every request waits for.
func (h *harness) probeMessages(ctx context.Context, targets []*tgt) error {
	const n = 50
	for _, t := range targets {
		gw := t.stack
		for _, stream := range []bool{false, true} {
			before, err := gw.Counters(`ext_proc\.`)
			if err != nil {
				return err
			}
			r := load.Request{URL: t.url, Body: chatBody(t.model, stream), Stream: stream, Header: t.header}
			for range n {
				if _, _, err := load.Do(ctx, t.client, r, time.Now()); err != nil {
					return fmt.Errorf("%s: %w", t.name, err)
				}
			}
			after, err := gw.Counters(`ext_proc\.`)
			if err != nil {
				return err
			}
			per := func(suffix string) float64 {
				var d int64
				for name, v := range after {
					if strings.HasSuffix(name, suffix) {
						d += v - before[name]
					}
				}
				return float64(d) / n
			}
			m := msgProbe{Target: t.name, Stream: stream, Chunks: h.s.Chunks,
				GRPCStreams: per(".streams_started"), MessagesSent: per(".stream_msgs_sent"), MessagesReceived: per(".stream_msgs_received")}
			// Per hop, by the filters' stat prefixes (xds/resources.go).
			for _, hop := range []string{"switchboard_router", "switchboard_upstream"} {
				m.Hops = append(m.Hops, hopProbe{Hop: hop, MessagesSent: per(hop + ".stream_msgs_sent"), MessagesReceived: per(hop + ".stream_msgs_received")})
			}
			h.rep.Messages = append(h.rep.Messages, m)
			hops := fmt.Sprintf(" (router %.1f/%.1f, upstream %.1f/%.1f)",
				m.Hops[0].MessagesSent, m.Hops[0].MessagesReceived, m.Hops[1].MessagesSent, m.Hops[1].MessagesReceived)
			if h.rep.Peers.has(t.name) {
				hops = "" // its filters have other stat prefixes
			}
			fmt.Printf("  ext_proc per request: %-16s stream=%-5v %.1f gRPC streams, %.1f messages to the ext_proc server, %.1f back%s\n",
				t.name, stream, m.GRPCStreams, m.MessagesSent, m.MessagesReceived, hops)
		}
	}
	return nil
}

func ttfbNote(r run) string {
	if r.TTFB == nil {
		return ""
	}
	return fmt.Sprintf("  ttfb p50 %7.3f ms", r.TTFB.P50Ms)
}

func errNote(r run) string {
	if r.FirstErr == "" {
		return ""
	}
	return " (" + r.FirstErr + ")"
}

// snapshot is CPU time so far: of a target's processes by name (and the
// load generator's), of every process of ours, and of the whole machine.
type snapshot struct {
	at    time.Time
	procs map[string]float64
	ours  float64
	busy  float64
}

func (h *harness) snap(target []*proc.Proc) snapshot {
	s := snapshot{at: time.Now(), procs: map[string]float64{}}
	for _, p := range target {
		if v, err := proc.CPUSeconds(p.Pid()); err == nil {
			s.procs[p.Name] = v
		}
	}
	self, _ := proc.CPUSeconds(os.Getpid())
	s.procs["load generator"] = self
	s.ours = self
	for _, p := range h.all {
		if v, err := proc.CPUSeconds(p.Pid()); err == nil {
			s.ours += v
		}
	}
	s.busy, _ = proc.SystemBusySeconds()
	return s
}

// otherCores is how many CPUs programs other than ours kept busy, on
// average, between two snapshots.
func otherCores(a, b snapshot) float64 {
	d := b.at.Sub(a.at).Seconds()
	if d <= 0 {
		return 0
	}
	return max((b.busy-a.busy)-(b.ours-a.ours), 0) / d
}

// waitQuiet waits, up to -quiet-wait, until other programs use less than
// a fifth of a CPU: on a shared machine a neighbour's build or test run
// would otherwise be measured as gateway latency.
func (h *harness) waitQuiet(ctx context.Context) {
	deadline := time.Now().Add(h.s.QuietWait)
	said := false
	for ctx.Err() == nil {
		a := h.snap(nil)
		time.Sleep(300 * time.Millisecond)
		other := otherCores(a, h.snap(nil))
		if other < 0.2 {
			return
		}
		if time.Now().After(deadline) {
			fmt.Printf("  other programs still use %.2f cores; measuring anyway\n", other)
			return
		}
		if !said {
			fmt.Printf("  waiting for other programs to settle (%.2f cores busy)\n", other)
			said = true
		}
		time.Sleep(time.Second)
	}
}

func newRun(res load.Result, before, after map[string]float64) run {
	r := run{
		Requests:    res.Requests,
		Errors:      res.Errors,
		FirstErr:    res.FirstErr,
		ReqPerSec:   res.Throughput(),
		Latency:     stats.Summarize(res.Latency),
		CPUSecPer1k: map[string]float64{},
	}
	if len(res.TTFB) > 0 {
		s := stats.Summarize(res.TTFB)
		r.TTFB = &s
	}
	if res.Requests > 0 {
		for name, a := range after {
			r.CPUSecPer1k[name] = (a - before[name]) / float64(res.Requests) * 1000
		}
	}
	return r
}

// memoryPhase holds streams open, Repeats times, through a fresh gateway
// for each schema, reading the resident memory of the ext_proc server
// (switchboard) and of Envoy, and through a fresh baseline Envoy, for
// what Envoy alone costs per stream.
func (h *harness) memoryPhase(ctx context.Context) error {
	for _, tc := range []struct{ name, model string }{
		{baseline, target.ModelOpenAI}, {passthrough, target.ModelOpenAI}, {translation, target.ModelAnthropic},
	} {
		var runs []memResult
		for rep := range h.s.Repeats {
			m, err := h.holdStreams(ctx, tc.name, tc.model, fmt.Sprintf("memory-%s-%d", tc.name, rep))
			if err != nil {
				return err
			}
			runs = append(runs, m...)
		}
		h.rep.MemoryRuns = append(h.rep.MemoryRuns, runs...)
		for _, n := range h.s.Streams {
			h.rep.Memory = append(h.rep.Memory, medianMem(runs, n))
		}
	}
	return nil
}

func (h *harness) holdStreams(ctx context.Context, name, model, sub string) ([]memResult, error) {
	env, err := h.env(sub)
	if err != nil {
		return nil, err
	}
	_, base, gw, stop, err := h.stacks(env, h.holdFake(), name == baseline, name != baseline)
	defer stop()
	if err != nil {
		return nil, err
	}
	st := gw
	if name == baseline {
		st = base
	}
	sb, ev := st.Proc(target.Switchboard), st.Proc(target.Envoy) // sb is nil for the baseline
	rss := func(p *proc.Proc) (int64, error) {
		if p == nil {
			return 0, nil
		}
		return proc.RSSBytes(p.Pid())
	}
	url := st.URL("/v1/chat/completions")
	// Warm up with whole requests so idle memory includes what serving
	// any request costs (gRPC connections, pools).
	warm := load.NewClient(64)
	load.Closed(ctx, warm, load.Request{URL: url, Body: chatBody(model, false)}, 16, time.Second)
	time.Sleep(500 * time.Millisecond)
	idle, err1 := rss(sb)
	envoyIdle, err2 := rss(ev)
	if err := firstErr(err1, err2); err != nil {
		return nil, fmt.Errorf("%s: %w\n%s", name, err, st.Logs())
	}
	var out []memResult
	for _, n := range h.s.Streams {
		start := time.Now()
		held := load.Hold(ctx, load.NewH2CClient(), load.Request{URL: url, Body: chatBody(model, true), Stream: true}, n, 256, 2*time.Minute)
		openTime := time.Since(start)
		time.Sleep(2 * time.Second) // let every stream settle into its idle state
		sbRSS, err1 := rss(sb)
		envoyRSS, err2 := rss(ev)
		m := memResult{Target: name, Streams: n, Reached: held.Open, FirstErr: held.FirstErr, OpenSeconds: openTime.Seconds(),
			IdleRSSMiB: mib(idle), RSSMiB: mib(sbRSS), EnvoyIdleRSSMiB: mib(envoyIdle), EnvoyRSSMiB: mib(envoyRSS)}
		if held.Open > 0 {
			m.PerStreamKiB = float64(sbRSS-idle) / 1024 / float64(held.Open)
			m.EnvoyPerStreamKiB = float64(envoyRSS-envoyIdle) / 1024 / float64(held.Open)
		}
		held.Close()
		if err := firstErr(err1, err2); err != nil {
			return nil, fmt.Errorf("%s with %d streams: %w\n%s", name, n, err, st.Logs())
		}
		out = append(out, m)
		fmt.Printf("  open streams %-12s %6d/%-6d in %5.1fs: switchboard RSS %7.1f MiB (idle %.1f, %.1f KiB/stream), envoy RSS %.1f MiB (%.1f KiB/stream) %s\n",
			name, m.Reached, n, m.OpenSeconds, m.RSSMiB, m.IdleRSSMiB, m.PerStreamKiB, m.EnvoyRSSMiB, m.EnvoyPerStreamKiB, m.FirstErr)
		time.Sleep(2 * time.Second) // let the closed streams drain before the next size
	}
	return out, nil
}

// holdFake is a fake whose streams send a chunk every HoldInterval for
// ten minutes, far longer than a measurement: streams stay open until the
// harness closes them. (Its whole, non-streamed answer stays small.)
func (h *harness) holdFake() fake.Options {
	return fake.Options{Chunks: int(10*time.Minute/h.s.HoldInterval) + 1, ChunkText: h.s.ChunkText, Interval: h.s.HoldInterval}
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// profilePhase runs a pprof build of switchboard (bench/cmd/sbprof) under
// the translation load at 16 concurrent and keeps the top of its CPU
// profile, and of its heap profile with 1,000 streams open.
func (h *harness) profilePhase(ctx context.Context) error {
	env, err := h.env("profile")
	if err != nil {
		return err
	}
	env.Switchboard = filepath.Join(h.dir, "sbprof")
	if err := goBuild(env.Switchboard, "./bench/cmd/sbprof"); err != nil {
		return err
	}
	port, err := target.FreePort()
	if err != nil {
		return err
	}
	pprofAddr := fmt.Sprintf("127.0.0.1:%d", port)
	env.SwitchboardArgs = []string{"--pprof", pprofAddr}
	fo := h.holdFake()
	if h.s.ProfileAll != "" {
		// The extra profiles need streams that end; the heap profile
		// below then holds streams of the latency phase's pace.
		fo = fake.Options{Chunks: h.s.Chunks, ChunkText: h.s.ChunkText, Interval: h.s.ChunkInterval}
	}
	_, _, gw, stop, err := h.stacks(env, fo, false, true)
	defer stop()
	if err != nil {
		return err
	}
	url := gw.URL("/v1/chat/completions")
	c := load.NewClient(64)
	req := load.Request{URL: url, Body: chatBody(target.ModelAnthropic, false)}
	load.Closed(ctx, c, req, 16, h.s.Warmup)

	cpuFile := filepath.Join(h.dir, "cpu.pprof")
	got := make(chan error, 1)
	go func() {
		got <- fetch(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pprofAddr, int(h.s.Profile.Seconds())), cpuFile)
	}()
	res := load.Closed(ctx, c, req, 16, h.s.Profile+time.Second)
	if err := <-got; err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	prof := &profile{Load: fmt.Sprintf("translation, closed c=16, %.0f req/s", res.Throughput())}
	if prof.CPUTop, err = pprofTop(env.Switchboard, cpuFile, "-cum", "-nodecount=30"); err != nil {
		return err
	}

	if h.s.ProfileAll != "" {
		if prof.Runs, err = h.profileRuns(ctx, env.Switchboard, pprofAddr, url, c); err != nil {
			return err
		}
	}

	held := load.Hold(ctx, load.NewH2CClient(), load.Request{URL: url, Body: chatBody(target.ModelAnthropic, true), Stream: true}, 1000, 256, time.Minute)
	defer held.Close()
	time.Sleep(time.Second)
	heapFile := filepath.Join(h.dir, "heap.pprof")
	if err := fetch(ctx, fmt.Sprintf("http://%s/debug/pprof/heap?gc=1", pprofAddr), heapFile); err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	prof.HeapStreams = held.Open
	if prof.HeapTop, err = pprofTop(env.Switchboard, heapFile, "-sample_index=inuse_space", "-nodecount=15"); err != nil {
		return err
	}
	h.rep.Profile = prof
	return nil
}

// profileRuns takes a CPU profile and an allocation profile (the delta
// of allocs over the run) of whole answers and streams, at 1 and 16
// concurrent, for translation, and keeps the files in -profile-all.
func (h *harness) profileRuns(ctx context.Context, bin, pprofAddr, url string, c *http.Client) ([]profileRun, error) {
	if err := os.MkdirAll(h.s.ProfileAll, 0o755); err != nil {
		return nil, err
	}
	var runs []profileRun
	for _, stream := range []bool{false, true} {
		for _, conc := range []int{1, 16} {
			name := fmt.Sprintf("whole-c%d", conc)
			if stream {
				name = fmt.Sprintf("stream-c%d", conc)
			}
			req := load.Request{URL: url, Body: chatBody(target.ModelAnthropic, stream), Stream: stream}
			load.Closed(ctx, c, req, conc, h.s.Warmup)
			cpuFile := filepath.Join(h.s.ProfileAll, name+".cpu.pprof")
			allocFile := filepath.Join(h.s.ProfileAll, name+".allocs.pprof")
			secs := int(h.s.Profile.Seconds())
			before, err := turnCounts(ctx, pprofAddr)
			if err != nil {
				return nil, err
			}
			got := make(chan error, 2)
			go func() {
				got <- fetch(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pprofAddr, secs), cpuFile)
			}()
			go func() {
				got <- fetch(ctx, fmt.Sprintf("http://%s/debug/pprof/allocs?seconds=%d", pprofAddr, secs), allocFile)
			}()
			res := load.Closed(ctx, c, req, conc, h.s.Profile+time.Second)
			for range 2 {
				if err := <-got; err != nil {
					return nil, fmt.Errorf("%s profile: %w", name, err)
				}
			}
			after, err := turnCounts(ctx, pprofAddr)
			if err != nil {
				return nil, err
			}
			r := profileRun{Load: fmt.Sprintf("translation, %s, %.0f req/s, %d requests", name, res.Throughput(), res.Requests), Dir: h.s.ProfileAll,
				PerRequest: map[string]map[string]float64{}}
			for hop, a := range after {
				r.PerRequest[hop] = map[string]float64{}
				for k, v := range a {
					r.PerRequest[hop][k] = float64(v-before[hop][k]) / float64(max(res.Requests, 1))
				}
				fmt.Printf("  %s %s per request: %.2f streams, %.2f messages in, %.2f out, %.2f turns\n", name, hop,
					r.PerRequest[hop]["streams"], r.PerRequest[hop]["recv"], r.PerRequest[hop]["sent"], r.PerRequest[hop]["turns"])
			}
			if r.CPUTop, err = pprofTop(bin, cpuFile, "-nodecount=25"); err != nil {
				return nil, err
			}
			if r.AllocsTop, err = pprofTop(bin, allocFile, "-sample_index=alloc_space", "-nodecount=25"); err != nil {
				return nil, err
			}
			fmt.Printf("  profile %s: %s\n", name, r.Load)
			runs = append(runs, r)
		}
	}
	return runs, nil
}

// turnCounts reads sbprof's per-hop message and turn totals.
func turnCounts(ctx context.Context, pprofAddr string) (map[string]map[string]int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+pprofAddr+"/debug/turns", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]map[string]int64{}
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

func fetch(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// pprofTop returns `go tool pprof -top` without its header.
func pprofTop(bin, file string, extra ...string) ([]string, error) {
	args := append([]string{"tool", "pprof", "-top"}, extra...)
	out, err := exec.Command("go", append(args, bin, file)...).Output()
	if err != nil {
		return nil, fmt.Errorf("go tool pprof: %w", err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	// Drop the File/Build ID/Type/Time header lines; keep totals and rows.
	for i, l := range lines {
		if strings.HasPrefix(l, "Showing nodes") || strings.HasPrefix(l, "Duration:") {
			return lines[i:], nil
		}
	}
	return lines, nil
}
