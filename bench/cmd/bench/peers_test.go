package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/bench/stats"
)

func TestParseFlagsPeers(t *testing.T) {
	s, err := parseFlags([]string{"-peers", "litellm, aigw,litellm", "-phases", "latency"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(s.Peers, ",") != "litellm,aigw" || s.out != "bench/results/peers.json" {
		t.Errorf("peers %v, out %s", s.Peers, s.out)
	}
	if s, _ := parseFlags(nil); len(s.Peers) != 0 || s.out != "bench/results/latest.json" {
		t.Errorf("default: peers %v, out %s", s.Peers, s.out)
	}
	for _, args := range [][]string{{"-peers", "portkey"}, {"-peers", "aigw", "-phases", "memory"}} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("parseFlags(%q) took it", args)
		}
	}
}

// result is a target's median with the given figures.
func result(name string, rps, p50, p99 float64, ttfb *stats.Summary, cpu map[string]float64) targetResult {
	return targetResult{Target: name, Median: run{ReqPerSec: rps, Latency: stats.Summary{P50Ms: p50, P99Ms: p99}, TTFB: ttfb, CPUSecPer1k: cpu}}
}

// TestPeerTable: the table takes saturation from the best closed level,
// the added figures from compare, and the gateway's CPU without the
// fake's or the load generator's; the goals judge ours only.
func TestPeerTable(t *testing.T) {
	cpu := map[string]float64{"envoy": 0.1, "aigw-extproc": 0.4, "fake": 0.05, "load generator": 0.2}
	scen := func(name, kind string, c int, rs ...targetResult) scenario {
		sc := scenario{Name: name, Kind: kind, Concurrency: c, Results: rs}
		sc.compare()
		return sc
	}
	rep := &report{Peers: &peersReport{Targets: []string{"aigw passthrough"}}, Scenarios: []scenario{
		scen("closed c=1", "closed", 1, result(baseline, 1000, 1, 2, nil, nil), result("aigw passthrough", 500, 2, 4, nil, nil)),
		scen("closed c=16", "closed", 16, result(baseline, 9000, 2, 3, nil, nil), result("aigw passthrough", 3000, 5, 9, nil, cpu)),
		scen("closed c=64", "closed", 64, result(baseline, 8000, 8, 12, nil, nil), result("aigw passthrough", 3500, 18, 30, nil, nil)),
		scen("stream c=1", "stream", 1, result(baseline, 9, 100, 101, &stats.Summary{P50Ms: 1}, nil),
			result("aigw passthrough", 9, 102, 104, &stats.Summary{P50Ms: 3.5}, nil)),
	}}
	rows := rep.peerTable()
	if len(rows) != 2 {
		t.Fatalf("%d rows", len(rows))
	}
	b, a := rows[0], rows[1]
	if b.Target != baseline || b.SatReqPerSec != 9000 || b.SatConcurrency != 16 || *b.P50C1 != 1 || *b.TTFBP50C1 != 1 {
		t.Errorf("baseline row %+v", b)
	}
	if a.SatReqPerSec != 3500 || a.SatConcurrency != 64 || *a.P50C1 != 1 || *a.P99C1 != 2 || *a.P50C16 != 3 || *a.P99C16 != 6 ||
		*a.TTFBP50C1 != 2.5 || *a.CPUMsC16 != 0.5 {
		t.Errorf("peer row %+v", a)
	}

	rep.Peers.Table = rows
	rep.judge()
	for _, v := range rep.Verdicts {
		if v.Target == "aigw passthrough" {
			t.Errorf("a peer was judged against switchboard's goals: %+v", v)
		}
	}
	var w bytes.Buffer
	rep.print(&w)
	if !strings.Contains(w.String(), "aigw passthrough") || !strings.Contains(w.String(), "+2.500") {
		t.Errorf("printed:\n%s", w.String())
	}
}
