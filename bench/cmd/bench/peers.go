package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/switchboard-gw/switchboard/bench/load"
	"github.com/switchboard-gw/switchboard/bench/proc"
	"github.com/switchboard-gw/switchboard/bench/target"
)

// Peer names for -peers: other gateways measured beside ours.
const (
	peerAIGW    = "aigw"    // Envoy AI Gateway: Envoy + its extproc
	peerLiteLLM = "litellm" // the LiteLLM proxy, alone in front of the fake
	// peerFloor is no gateway: Envoy with an ext_proc filter set up as
	// switchboard's router hop, in front of an ext_proc server that does
	// no work (bench/target/floor.go). It is what the ext_proc design
	// costs before any work; it only passes through.
	peerFloor = "floor"
	// peerModFloor is the in-process counterpart: Envoy with a Go
	// dynamic-module filter that copies the bodies into Go, and for the
	// translation target runs switchboard's translators in Envoy's
	// worker (bench/target/modfloor.go): what direction 3 of issue 12
	// costs before routing, auth and accounting.
	peerModFloor = "modfloor"
)

var allPeers = []string{peerAIGW, peerLiteLLM, peerFloor, peerModFloor}

func peerList(list string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(list, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if !slices.Contains(allPeers, f) {
			return nil, fmt.Errorf("unknown peer %q (known: %s)", f, strings.Join(allPeers, ", "))
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}

// peersReport is what the report holds about the peers.
type peersReport struct {
	// Binaries are what was measured, by peer (their paths carry the
	// pinned versions).
	Binaries map[string]string `json:"binaries"`
	// Targets are the peer targets measured, as named in the scenarios.
	Targets []string `json:"targets"`
	// Failures are the peer targets left out, and why.
	Failures []peerFailure `json:"failures,omitempty"`
	// Table is one row per target, ours first (printPeers).
	Table []peerRow `json:"table"`
}

type peerFailure struct {
	Target string `json:"target"`
	Error  string `json:"error"`
}

func (p *peersReport) has(name string) bool { return p != nil && slices.Contains(p.Targets, name) }

// startPeers starts each peer of -peers in front of the fake fk and
// returns its two targets, pass-through and translation, each checked
// like ours. A peer that does not start, or a target that answers
// wrongly, is reported and left out; the run goes on with the rest.
func (h *harness) startPeers(ctx context.Context, env target.Env, fk *target.Stack, conns int) ([]*tgt, func()) {
	env.AIGWExtProc, env.LiteLLM, env.ModuleFloor = h.s.aigwBin, h.s.litellmDir, h.s.moduleFloor
	pr := &peersReport{Binaries: map[string]string{}}
	h.rep.Peers = pr
	var stacks []*target.Stack
	stop := func() {
		for i := len(stacks) - 1; i >= 0; i-- {
			stacks[i].Stop()
		}
	}
	fail := func(name string, err error) {
		msg := strings.TrimPrefix(err.Error(), name+": ") // the stacks' errors name them
		pr.Failures = append(pr.Failures, peerFailure{Target: name, Error: msg})
		fmt.Printf("  peer %s NOT MEASURED: %s\n", name, msg)
	}
	var out []*tgt
	for _, peer := range h.s.Peers {
		var (
			st     *target.Stack
			err    error
			header http.Header
			procs  []string // by name, the fake's added below
			kinds  = []struct{ kind, model string }{{passthrough, target.ModelOpenAI}, {translation, target.ModelAnthropic}}
		)
		switch peer {
		case peerAIGW:
			pr.Binaries[peer] = h.s.aigwBin
			st, err = startIf(h.s.aigwBin, "-aigw-extproc", func() (*target.Stack, error) { return target.StartAIGW(env, fk.Port) })
			procs = []string{target.Envoy, target.AIGWExtProc}
		case peerLiteLLM:
			pr.Binaries[peer] = h.s.litellmDir
			st, err = startIf(h.s.litellmDir, "-litellm", func() (*target.Stack, error) { return target.StartLiteLLM(env, fk.Port) })
			header = http.Header{"Authorization": {"Bearer " + target.LiteLLMKey}}
			procs = []string{target.LiteLLM}
		case peerFloor:
			pr.Binaries[peer] = h.self + " nullproc"
			st, err = target.StartFloor(env, fk.Port)
			procs = []string{target.Envoy, target.NullProc}
			kinds = kinds[:1] // it translates nothing
		case peerModFloor:
			pr.Binaries[peer] = h.s.moduleFloor
			st, err = target.StartModuleFloor(env, fk.Port)
			procs = []string{target.Envoy}
		}
		if err != nil {
			fail(peer, err)
			continue
		}
		stacks = append(stacks, st)
		h.all = append(h.all, st.Procs...)
		for _, m := range kinds {
			t := &tgt{name: peer + " " + m.kind, url: st.URL("/v1/chat/completions"), model: m.model, header: header, stack: st,
				client: load.NewClient(conns + 64)}
			for _, n := range procs {
				t.procs = append(t.procs, st.Proc(n))
			}
			t.procs = append(t.procs, fk.Proc(target.Fake))
			if err := target.Check(ctx, t.client, t.url, t.header, chatBody(t.model, false), chatBody(t.model, true), h.s.ChunkText); err != nil {
				fail(t.name, fmt.Errorf("check: %w\n%s", err, st.Logs()))
				continue
			}
			fmt.Printf("  peer %s: answers checked; measuring %s\n", t.name, peerProcs(t.procs))
			pr.Targets = append(pr.Targets, t.name)
			out = append(out, t)
		}
	}
	return out, stop
}

// startIf starts a peer whose binary was given with flag.
func startIf(bin, flag string, start func() (*target.Stack, error)) (*target.Stack, error) {
	if bin == "" {
		return nil, errors.New("no binary: pass " + flag + " (`make bench-peers` does)")
	}
	return start()
}

// peerRow is one target's line of the peer table. Added figures are
// against the baseline in the same run; the baseline's row holds its
// own figures instead.
type peerRow struct {
	Target string `json:"target"`
	// SatReqPerSec is the best closed-loop throughput, at SatConcurrency.
	SatReqPerSec   float64 `json:"saturation_req_per_sec"`
	SatConcurrency int     `json:"saturation_concurrency"`
	// P50/P99 of whole answers at 1 and 16 concurrent, and p50 time to
	// first byte of streams at 1 concurrent; nil where not measured.
	P50C1     *float64 `json:"p50_ms_c1"`
	P99C1     *float64 `json:"p99_ms_c1"`
	P50C16    *float64 `json:"p50_ms_c16"`
	P99C16    *float64 `json:"p99_ms_c16"`
	TTFBP50C1 *float64 `json:"ttfb_p50_ms_stream_c1"`
	// CPUMsC16 is the CPU milliseconds per request of the gateway's own
	// processes (not the fake's, not the load generator's) at 16 concurrent.
	CPUMsC16 *float64 `json:"gateway_cpu_ms_per_req_c16"`
	Errors   int      `json:"errors"`
}

// peerTable builds the peer table from the scenarios.
func (rep *report) peerTable() []peerRow {
	find := func(name, tgt string) *targetResult {
		for i := range rep.Scenarios {
			if rep.Scenarios[i].Name == name {
				return rep.Scenarios[i].result(tgt)
			}
		}
		return nil
	}
	var names []string
	for _, sc := range rep.Scenarios {
		for _, r := range sc.Results {
			if !slices.Contains(names, r.Target) {
				names = append(names, r.Target)
			}
		}
	}
	var rows []peerRow
	for _, n := range names {
		row := peerRow{Target: n}
		for _, sc := range rep.Scenarios {
			r := sc.result(n)
			if r == nil {
				continue
			}
			row.Errors += r.Median.Errors
			if sc.Kind == "closed" && r.Median.ReqPerSec > row.SatReqPerSec {
				row.SatReqPerSec, row.SatConcurrency = r.Median.ReqPerSec, sc.Concurrency
			}
		}
		latency := func(scen string, p99 bool) *float64 {
			r := find(scen, n)
			switch {
			case r == nil:
				return nil
			case r.Added == nil && p99:
				return &r.Median.Latency.P99Ms
			case r.Added == nil:
				return &r.Median.Latency.P50Ms
			case p99:
				return &r.Added.P99Ms
			}
			return &r.Added.P50Ms
		}
		row.P50C1, row.P99C1 = latency("closed c=1", false), latency("closed c=1", true)
		row.P50C16, row.P99C16 = latency("closed c=16", false), latency("closed c=16", true)
		if r := find("stream c=1", n); r != nil {
			if r.Added != nil {
				row.TTFBP50C1 = r.Added.TTFBP50Ms
			} else if r.Median.TTFB != nil {
				row.TTFBP50C1 = &r.Median.TTFB.P50Ms
			}
		}
		if r := find("closed c=16", n); r != nil {
			var cpu float64
			for p, v := range r.Median.CPUSecPer1k {
				if p != target.Fake && p != "load generator" {
					cpu += v // seconds per 1,000 requests = ms per request
				}
			}
			row.CPUMsC16 = &cpu
		}
		rows = append(rows, row)
	}
	return rows
}

// printPeers writes the peer table, if peers were asked for.
func (rep *report) printPeers(w io.Writer, tw *tabwriter.Writer) {
	if rep.Peers == nil {
		return
	}
	fmt.Fprintf(w, "\npeers on the same fake provider, in the same run (baseline row: its own figures; others: added vs baseline)\n\n")
	fmt.Fprintln(tw, "target\treq/s at saturation\t(c)\t+p50 c=1\t+p99 c=1\t+p50 c=16\t+p99 c=16\t+ttfb p50 stream c=1\tgateway cpu ms/req c=16\terrors\t")
	opt := func(v *float64, sign bool) string {
		switch {
		case v == nil:
			return "-"
		case sign:
			return fmt.Sprintf("%+.3f", *v)
		}
		return f3(*v)
	}
	for _, r := range rep.Peers.Table {
		sign, name := r.Target != baseline, r.Target
		if name == passthrough || name == translation {
			name = "switchboard " + name
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t\n", name, r.SatReqPerSec, r.SatConcurrency,
			opt(r.P50C1, sign), opt(r.P99C1, sign), opt(r.P50C16, sign), opt(r.P99C16, sign), opt(r.TTFBP50C1, sign), opt(r.CPUMsC16, false), r.Errors)
	}
	tw.Flush()
	for _, f := range rep.Peers.Failures {
		first, _, _ := strings.Cut(f.Error, "\n")
		fmt.Fprintf(w, "NOT MEASURED: %s: %s\n", f.Target, first)
	}
}

// peerProcs lists a peer target's processes, for the log.
func peerProcs(ps []*proc.Proc) string {
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	return strings.Join(names, "+")
}
