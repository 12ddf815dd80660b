package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/switchboard-gw/switchboard/bench/proc"
	"github.com/switchboard-gw/switchboard/bench/stats"
)

// report is the JSON results file.
type report struct {
	Date       string          `json:"date"`
	Machine    proc.Machine    `json:"machine"`
	Settings   settings        `json:"-"`
	Knobs      map[string]any  `json:"settings"`
	Scenarios  []scenario      `json:"scenarios"`
	Messages   []msgProbe      `json:"ext_proc_per_request"`
	Memory     []memResult     `json:"open_streams,omitempty"` // medians of MemoryRuns
	MemoryRuns []memResult     `json:"open_streams_runs,omitempty"`
	Profile    *profile        `json:"switchboard_profile,omitempty"`
	Soak       *soakResult     `json:"soak,omitempty"`
	BigBody    []bigBodyResult `json:"large_request_body,omitempty"`
	Verdicts   []verdict       `json:"targets"`
	// Peers are the other gateways measured beside ours (-peers).
	Peers *peersReport `json:"peers,omitempty"`
}

// scenario is one load shape applied to every target.
type scenario struct {
	Name        string         `json:"name"`
	Kind        string         `json:"kind"` // closed, stream or open
	Concurrency int            `json:"concurrency,omitempty"`
	RPS         float64        `json:"rps,omitempty"`
	Results     []targetResult `json:"results"`
}

type targetResult struct {
	Target string `json:"target"`
	Runs   []run  `json:"runs"`
	Median run    `json:"median"`
	// Added compares the median with the baseline's; nil for the baseline.
	Added *added `json:"added_vs_baseline,omitempty"`
	// Governance compares the governed target with the ungoverned
	// pass-through: what the key check and the limits add.
	Governance *governanceCost `json:"added_vs_ungoverned,omitempty"`
}

// governanceCost is the governed target's median less the pass-through's,
// in the same run.
type governanceCost struct {
	P50Ms           float64  `json:"p50_ms"`
	P99Ms           float64  `json:"p99_ms"`
	TTFBP50Ms       *float64 `json:"ttfb_p50_ms,omitempty"`
	ThroughputRatio float64  `json:"throughput_ratio"`
	// CPU milliseconds per request added in Envoy and switchboard, and
	// Redis's own.
	EnvoyCPUMs       float64 `json:"envoy_cpu_ms_per_req"`
	SwitchboardCPUMs float64 `json:"switchboard_cpu_ms_per_req"`
	RedisCPUMs       float64 `json:"redis_cpu_ms_per_req"`
}

// run is one measured run, or the field-wise median of the repeats.
type run struct {
	Requests  int            `json:"requests"`
	Errors    int            `json:"errors"`
	FirstErr  string         `json:"first_error,omitempty"`
	ReqPerSec float64        `json:"req_per_sec"`
	Latency   stats.Summary  `json:"latency"`
	TTFB      *stats.Summary `json:"ttfb,omitempty"`
	// CPUSecPer1k is CPU seconds (user+system) per 1,000 requests, by process.
	CPUSecPer1k map[string]float64 `json:"cpu_sec_per_1k"`
	// OtherCores is the CPU other programs on the machine used meanwhile.
	OtherCores float64 `json:"other_programs_cores"`
}

type added struct {
	P50Ms           float64  `json:"p50_ms"`
	P90Ms           float64  `json:"p90_ms"`
	P99Ms           float64  `json:"p99_ms"`
	P50Ratio        float64  `json:"p50_ratio"`
	P99Ratio        float64  `json:"p99_ratio"`
	TTFBP50Ms       *float64 `json:"ttfb_p50_ms,omitempty"`
	TTFBP99Ms       *float64 `json:"ttfb_p99_ms,omitempty"`
	ThroughputRatio float64  `json:"throughput_ratio"`
}

// msgProbe is what one gateway request costs in ext_proc traffic, from
// Envoy's counters over a few sequential requests.
type msgProbe struct {
	Target           string  `json:"target"`
	Stream           bool    `json:"stream"`
	Chunks           int     `json:"content_chunks"`
	GRPCStreams      float64 `json:"grpc_streams"`
	MessagesSent     float64 `json:"messages_to_extproc"`
	MessagesReceived float64 `json:"messages_from_extproc"`
	// Hops splits the messages by hop (router, upstream).
	Hops []hopProbe `json:"hops,omitempty"`
}

type hopProbe struct {
	Hop              string  `json:"hop"`
	MessagesSent     float64 `json:"messages_to_extproc"`
	MessagesReceived float64 `json:"messages_from_extproc"`
}

type memResult struct {
	Target       string  `json:"target"`
	Streams      int     `json:"streams"`
	Reached      int     `json:"reached"`
	FirstErr     string  `json:"first_error,omitempty"`
	OpenSeconds  float64 `json:"open_seconds"`
	IdleRSSMiB   float64 `json:"switchboard_idle_rss_mib"`
	RSSMiB       float64 `json:"switchboard_rss_mib"`
	PerStreamKiB float64 `json:"switchboard_rss_per_stream_kib"`
	// Envoy's figures; for the baseline they are all there is.
	EnvoyIdleRSSMiB   float64 `json:"envoy_idle_rss_mib"`
	EnvoyRSSMiB       float64 `json:"envoy_rss_mib"`
	EnvoyPerStreamKiB float64 `json:"envoy_rss_per_stream_kib"`
}

type profile struct {
	Load   string   `json:"load"`
	CPUTop []string `json:"cpu_top"`
	// Runs are the extra profiles (-profile-all): whole answers and
	// streams at 1 and 16 concurrent, CPU and allocations each.
	Runs        []profileRun `json:"runs,omitempty"`
	HeapStreams int          `json:"heap_open_streams"`
	HeapTop     []string     `json:"heap_inuse_top"`
}

type profileRun struct {
	Load      string   `json:"load"`
	Dir       string   `json:"dir"`
	CPUTop    []string `json:"cpu_top"`
	AllocsTop []string `json:"alloc_space_top"`
	// PerRequest is, per hop, sbprof's streams, messages each way and
	// turns (exchanges) per request.
	PerRequest map[string]map[string]float64 `json:"per_request"`
}

type verdict struct {
	Goal   string  `json:"goal"`
	Target string  `json:"target"`
	Value  float64 `json:"value"`
	Limit  string  `json:"limit"`
	Met    bool    `json:"met"`
	Note   string  `json:"note,omitempty"`
	// Noisy marks a figure taken while other programs kept the machine busy.
	Noisy bool `json:"noisy,omitempty"`
}

func medianRun(runs []run) run {
	pick := func(f func(run) float64) float64 {
		xs := make([]float64, len(runs))
		for i, r := range runs {
			xs[i] = f(r)
		}
		return stats.Median(xs)
	}
	m := run{
		Requests:    int(pick(func(r run) float64 { return float64(r.Requests) })),
		ReqPerSec:   pick(func(r run) float64 { return r.ReqPerSec }),
		OtherCores:  pick(func(r run) float64 { return r.OtherCores }),
		CPUSecPer1k: map[string]float64{},
	}
	var lat, ttfb []stats.Summary
	for _, r := range runs {
		m.Errors += r.Errors // a sum: any error matters
		if m.FirstErr == "" {
			m.FirstErr = r.FirstErr
		}
		lat = append(lat, r.Latency)
		if r.TTFB != nil {
			ttfb = append(ttfb, *r.TTFB)
		}
	}
	m.Latency = stats.MedianSummary(lat)
	if len(ttfb) > 0 {
		s := stats.MedianSummary(ttfb)
		m.TTFB = &s
	}
	for name := range runs[0].CPUSecPer1k {
		m.CPUSecPer1k[name] = pick(func(r run) float64 { return r.CPUSecPer1k[name] })
	}
	return m
}

// medianMem is the field-wise median of the runs holding n streams.
func medianMem(runs []memResult, n int) memResult {
	var sel []memResult
	for _, r := range runs {
		if r.Streams == n {
			sel = append(sel, r)
		}
	}
	pick := func(f func(memResult) float64) float64 {
		xs := make([]float64, len(sel))
		for i, r := range sel {
			xs[i] = f(r)
		}
		return stats.Median(xs)
	}
	m := memResult{Target: sel[0].Target, Streams: n,
		Reached:           int(pick(func(r memResult) float64 { return float64(r.Reached) })),
		OpenSeconds:       pick(func(r memResult) float64 { return r.OpenSeconds }),
		IdleRSSMiB:        pick(func(r memResult) float64 { return r.IdleRSSMiB }),
		RSSMiB:            pick(func(r memResult) float64 { return r.RSSMiB }),
		PerStreamKiB:      pick(func(r memResult) float64 { return r.PerStreamKiB }),
		EnvoyIdleRSSMiB:   pick(func(r memResult) float64 { return r.EnvoyIdleRSSMiB }),
		EnvoyRSSMiB:       pick(func(r memResult) float64 { return r.EnvoyRSSMiB }),
		EnvoyPerStreamKiB: pick(func(r memResult) float64 { return r.EnvoyPerStreamKiB }),
	}
	for _, r := range sel {
		if m.FirstErr == "" {
			m.FirstErr = r.FirstErr
		}
	}
	return m
}

// compare fills in each target's difference from the baseline.
func (sc *scenario) compare() {
	base := sc.result(baseline)
	if base == nil {
		return
	}
	b := base.Median
	for i := range sc.Results {
		r := &sc.Results[i]
		if r.Target == baseline {
			continue
		}
		m := r.Median
		a := &added{
			P50Ms: m.Latency.P50Ms - b.Latency.P50Ms, P90Ms: m.Latency.P90Ms - b.Latency.P90Ms, P99Ms: m.Latency.P99Ms - b.Latency.P99Ms,
			P50Ratio: ratio(m.Latency.P50Ms, b.Latency.P50Ms), P99Ratio: ratio(m.Latency.P99Ms, b.Latency.P99Ms),
			ThroughputRatio: ratio(m.ReqPerSec, b.ReqPerSec),
		}
		if m.TTFB != nil && b.TTFB != nil {
			p50, p99 := m.TTFB.P50Ms-b.TTFB.P50Ms, m.TTFB.P99Ms-b.TTFB.P99Ms
			a.TTFBP50Ms, a.TTFBP99Ms = &p50, &p99
		}
		r.Added = a
	}
	if g, u := sc.result(governed), sc.result(passthrough); g != nil && u != nil {
		gm, um := g.Median, u.Median
		c := &governanceCost{P50Ms: gm.Latency.P50Ms - um.Latency.P50Ms, P99Ms: gm.Latency.P99Ms - um.Latency.P99Ms,
			ThroughputRatio:  ratio(gm.ReqPerSec, um.ReqPerSec),
			EnvoyCPUMs:       gm.CPUSecPer1k["envoy"] - um.CPUSecPer1k["envoy"],
			SwitchboardCPUMs: gm.CPUSecPer1k["switchboard"] - um.CPUSecPer1k["switchboard"],
			RedisCPUMs:       gm.CPUSecPer1k["redis"]}
		if gm.TTFB != nil && um.TTFB != nil {
			d := gm.TTFB.P50Ms - um.TTFB.P50Ms
			c.TTFBP50Ms = &d
		}
		g.Governance = c
	}
}

func (sc *scenario) result(name string) *targetResult {
	for i := range sc.Results {
		if sc.Results[i].Target == name {
			return &sc.Results[i]
		}
	}
	return nil
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// judge checks the targets against the medians.
func (rep *report) judge() {
	noisy := false // set per scenario below
	add := func(goal, tgt string, v float64, limit string, met bool, note string) {
		rep.Verdicts = append(rep.Verdicts, verdict{Goal: goal, Target: tgt, Value: v, Limit: limit, Met: met, Note: note, Noisy: noisy})
	}
	peak := map[string]float64{}
	peakNoisy := false
	for _, sc := range rep.Scenarios {
		noisy = false
		for _, r := range sc.Results {
			noisy = noisy || r.Median.OtherCores > 0.2
		}
		for _, r := range sc.Results {
			if sc.Kind == "closed" {
				peak[r.Target] = max(peak[r.Target], r.Median.ReqPerSec)
				peakNoisy = peakNoisy || noisy
			}
			if r.Added == nil || rep.Peers.has(r.Target) { // the goals are switchboard's
				continue
			}
			// The performance issue's targets (issue 12).
			switch {
			case sc.Kind == "closed" && sc.Concurrency == 1:
				add("added p50 latency, non-streamed, 1 concurrent (ms)", r.Target, r.Added.P50Ms, "<= 0.3", r.Added.P50Ms <= 0.3, "")
			case sc.Kind == "closed" && sc.Concurrency == 16:
				add("added p50 latency, non-streamed, 16 concurrent (ms)", r.Target, r.Added.P50Ms, "<= 1", r.Added.P50Ms <= 1, "")
				add("added p99 latency, non-streamed, 16 concurrent (ms)", r.Target, r.Added.P99Ms, "<= 2", r.Added.P99Ms <= 2, "")
			case sc.Kind == "stream" && r.Added.TTFBP50Ms != nil:
				add(fmt.Sprintf("added p50 time to first byte, %s (ms)", sc.Name), r.Target, *r.Added.TTFBP50Ms, "<= 0.3",
					*r.Added.TTFBP50Ms <= 0.3, fmt.Sprintf("p99 %+.3f ms", *r.Added.TTFBP99Ms))
			}
		}
	}
	noisy = peakNoisy
	if b := peak[baseline]; b > 0 {
		for _, t := range []string{passthrough, translation} {
			if v, ok := peak[t]; ok {
				add("throughput at saturation / baseline's", t, v/b, ">= 0.5", v/b >= 0.5,
					fmt.Sprintf("%.0f vs %.0f req/s (best closed-loop level)", v, b))
			}
		}
	}
	noisy = false // memory does not depend on CPU contention
	for _, m := range rep.Memory {
		if m.Target == baseline || m != rep.largestReached(m.Target) {
			continue
		}
		note := fmt.Sprintf("%d of %d streams reached", m.Reached, m.Streams)
		add("switchboard RSS per open stream (KiB)", m.Target, m.PerStreamKiB, "<= 32", m.PerStreamKiB <= 32, note)
		add("Envoy RSS per open stream (KiB)", m.Target, m.EnvoyPerStreamKiB, "<= 48", m.EnvoyPerStreamKiB <= 48, note)
		if m.Streams >= 10000 { // not judged when fewer were asked for (-quick)
			add("switchboard RSS with 10,000 open streams (MiB)", m.Target, m.RSSMiB, "< 1024 at 10,000", m.Reached >= 10000 && m.RSSMiB < 1024, note)
		}
	}
	if rep.Soak != nil {
		rep.Soak.verdicts(add)
	}
	for i := range rep.BigBody {
		rep.BigBody[i].verdicts(add)
	}
	slices.SortStableFunc(rep.Verdicts, func(a, b verdict) int { return strings.Compare(a.Goal, b.Goal) })
}

// largestReached is the memory result with the most streams open for a target.
func (rep *report) largestReached(t string) memResult {
	var best memResult
	for _, m := range rep.Memory {
		if m.Target == t && m.Reached > best.Reached {
			best = m
		}
	}
	return best
}

func (rep *report) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	rep.printScenarios(w, tw)
	rep.printPeers(w, tw)
	if len(rep.Memory) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(tw, "open streams\ttarget\treached\topen s\tswitchboard RSS MiB\tidle MiB\tKiB/stream\tenvoy RSS MiB\tidle MiB\tKiB/stream\t")
		for _, m := range rep.Memory {
			fmt.Fprintf(tw, "%d\t%s\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t\n", m.Streams, m.Target, m.Reached, m.OpenSeconds,
				m.RSSMiB, m.IdleRSSMiB, m.PerStreamKiB, m.EnvoyRSSMiB, m.EnvoyIdleRSSMiB, m.EnvoyPerStreamKiB)
		}
		tw.Flush()
	}
	if p := rep.Profile; p != nil {
		fmt.Fprintf(w, "\nswitchboard CPU profile (%s):\n  %s\n", p.Load, strings.Join(p.CPUTop, "\n  "))
		fmt.Fprintf(w, "\nswitchboard heap in use with %d open streams:\n  %s\n", p.HeapStreams, strings.Join(p.HeapTop, "\n  "))
	}
	if rep.Soak != nil {
		rep.Soak.print(w)
	}
	printBigBody(w, rep.BigBody)
	fmt.Fprintln(w, "\ntargets (? = measured while other programs kept the machine busy):")
	for _, v := range rep.Verdicts {
		mark := "MISSED"
		if v.Met {
			mark = "met"
		}
		if v.Noisy {
			mark += "?" // measured while other programs were busy
		}
		fmt.Fprintf(w, "  %-7s %-12s %s = %.3f (goal %s) %s\n", mark, v.Target, v.Goal, v.Value, v.Limit, v.Note)
	}
}

// printScenarios writes the latency table, if the latency phase ran.
func (rep *report) printScenarios(w io.Writer, tw *tabwriter.Writer) {
	if len(rep.Scenarios) == 0 {
		return
	}
	fmt.Fprintf(w, "\nmedians of %d repeats of %v each; added = target - baseline in the same run\n\n", rep.Settings.Repeats, rep.Settings.Duration)
	var noisy []string
	fmt.Fprintln(tw, "scenario\ttarget\treq/s\tp50 ms\tp90 ms\tp99 ms\tttfb p50\tttfb p99\t+p50 ms\t+p99 ms\tp50 x\t+ttfb p50\tcpu ms/req envoy\tswitchboard\tfake\tload gen\terrors\tother cores\t")
	for _, sc := range rep.Scenarios {
		for _, r := range sc.Results {
			m := r.Median
			ttfb50, ttfb99, a50, a99, ax, at := "-", "-", "-", "-", "-", "-"
			if m.TTFB != nil {
				ttfb50, ttfb99 = f3(m.TTFB.P50Ms), f3(m.TTFB.P99Ms)
			}
			if a := r.Added; a != nil {
				a50, a99, ax = fmt.Sprintf("%+.3f", a.P50Ms), fmt.Sprintf("%+.3f", a.P99Ms), fmt.Sprintf("%.2f", a.P50Ratio)
				if a.TTFBP50Ms != nil {
					at = fmt.Sprintf("%+.3f", *a.TTFBP50Ms)
				}
			}
			cpu := func(n string) string {
				if v, ok := m.CPUSecPer1k[n]; ok {
					return f3(v) // seconds per 1,000 requests = ms per request
				}
				return "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%.2f\t\n", sc.Name, r.Target, m.ReqPerSec,
				f3(m.Latency.P50Ms), f3(m.Latency.P90Ms), f3(m.Latency.P99Ms), ttfb50, ttfb99, a50, a99, ax, at,
				cpu("envoy"), cpu("switchboard"), cpu("fake"), cpu("load generator"), m.Errors, m.OtherCores)
			if m.OtherCores > 0.2 {
				noisy = append(noisy, fmt.Sprintf("%s %s (%.2f cores)", sc.Name, r.Target, m.OtherCores))
			}
		}
	}
	tw.Flush()
	if len(noisy) > 0 {
		fmt.Fprintf(w, "WARNING: other programs were busy during: %s; those figures are not reliable\n", strings.Join(noisy, ", "))
	}
	rep.printGovernance(w, tw)
}

// printGovernance writes what governance adds to the pass-through, if the
// governed target ran.
func (rep *report) printGovernance(w io.Writer, tw *tabwriter.Writer) {
	header := false
	for _, sc := range rep.Scenarios {
		g := sc.result(governed)
		if g == nil || g.Governance == nil {
			continue
		}
		if !header {
			fmt.Fprintf(w, "\n%s vs %s (same run): what the key check, limits and budget add\n\n", governed, passthrough)
			fmt.Fprintln(tw, "scenario\t+p50 ms\t+p99 ms\t+ttfb p50\treq/s x\t+cpu ms/req envoy\tswitchboard\tredis\t")
			header = true
		}
		c := g.Governance
		ttfb := "-"
		if c.TTFBP50Ms != nil {
			ttfb = fmt.Sprintf("%+.3f", *c.TTFBP50Ms)
		}
		fmt.Fprintf(tw, "%s\t%+.3f\t%+.3f\t%s\t%.2f\t%+.3f\t%+.3f\t%.3f\t\n", sc.Name, c.P50Ms, c.P99Ms, ttfb, c.ThroughputRatio,
			c.EnvoyCPUMs, c.SwitchboardCPUMs, c.RedisCPUMs)
	}
	tw.Flush()
}

func f3(v float64) string { return fmt.Sprintf("%.3f", v) }

// write saves the report as JSON, through a temporary file so a failed
// run never leaves half a file.
func (rep *report) write(path string) error {
	s := rep.Settings
	rep.Knobs = map[string]any{
		"duration": s.Duration.String(), "warmup": s.Warmup.String(), "repeats": s.Repeats,
		"concurrency_levels": s.Levels, "stream_concurrency_levels": s.StreamLevels, "open_loop_rps": s.RPS,
		"open_streams": s.Streams, "chunks": s.Chunks, "chunk_text": s.ChunkText,
		"chunk_interval": s.ChunkInterval.String(), "held_stream_chunk_interval": s.HoldInterval.String(),
		"envoy_concurrency": s.EnvoyThreads, "profile": s.Profile.String(), "switchboard_log_level": s.LogLevel, "quiet_wait": s.QuietWait.String(),
		"phases": s.Phases, "soak_requests": s.Soak, "soak_concurrency": s.SoakConcurrency,
		"big_body_bytes": int64(s.BigBody), "big_body_requests": s.BigBodyRequests, "governed": s.Governed, "peers": s.Peers,
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	fmt.Printf("\nwrote %s\n", path)
	return nil
}
