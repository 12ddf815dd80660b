package main

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestParseBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  bool
	}{
		{in: "20MiB", want: 20 << 20},
		{in: "20 MiB", want: 20 << 20},
		{in: "5MB", want: 5e6},
		{in: "1.5KiB", want: 1536},
		{in: "1048576", want: 1 << 20},
		{in: "0", want: 0},
		{in: "2GiB", want: 2 << 30},
		{in: "20mb", err: true},
		{in: "MiB", err: true},
		{in: "-1MiB", err: true},
		{in: "twenty", err: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseBytes(tc.in)
			if tc.err {
				if err == nil || !strings.Contains(err.Error(), "is not a size") {
					t.Fatalf("parseBytes(%q) = %d, %v; want a size error", tc.in, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("parseBytes(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			}
		})
	}
	for n, want := range map[int64]string{20 << 20: "20MiB", 1536: "1536", 3 << 10: "3KiB", 0: "0", 1 << 30: "1GiB"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestParseFlagsPhases(t *testing.T) {
	for _, tc := range []struct {
		name      string
		args      []string
		phases    []string
		soak      int
		bigN      int
		bigBody   int64
		errSubstr string
	}{
		{name: "defaults", phases: allPhases, soak: 100000, bigN: 10, bigBody: 20 << 20},
		{name: "quick", args: []string{"-quick"}, phases: allPhases, soak: 5000, bigN: 3, bigBody: 20 << 20},
		{name: "quick, explicit soak wins", args: []string{"-quick", "-soak", "0", "-big-body", "1MiB"}, phases: allPhases, soak: 0, bigN: 3, bigBody: 1 << 20},
		{name: "phases reordered", args: []string{"-phases", "bigbody, soak"}, phases: []string{"soak", "bigbody"}, soak: 100000, bigN: 10, bigBody: 20 << 20},
		{name: "unknown phase", args: []string{"-phases", "latency,soke"}, errSubstr: `-phases: unknown phase "soke" (known: latency, memory, profile, soak, bigbody)`},
		{name: "no phase", args: []string{"-phases", ","}, errSubstr: "-phases: no phase to run"},
		{name: "bad size", args: []string{"-big-body", "lots"}, errSubstr: `"lots" is not a size`},
		{name: "negative soak", args: []string{"-soak", "-1"}, errSubstr: "-soak and -big-body must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := parseFlags(tc.args)
			if tc.errSubstr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errSubstr) {
					t.Fatalf("error %v, want it to contain %q", err, tc.errSubstr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(s.Phases, tc.phases) || s.Soak != tc.soak || s.BigBodyRequests != tc.bigN || int64(s.BigBody) != tc.bigBody {
				t.Errorf("phases %v soak %d big-body-n %d big-body %d; want %v %d %d %d",
					s.Phases, s.Soak, s.BigBodyRequests, s.BigBody, tc.phases, tc.soak, tc.bigN, tc.bigBody)
			}
		})
	}
}

func TestBigChatBody(t *testing.T) {
	for _, size := range []int{20 << 20, 4096, 97, 10} {
		b := bigChatBody("bench-anthropic", size)
		frame := len(`{"model":"bench-anthropic","messages":[{"role":"user","content":""}],"max_tokens":64}`)
		if want := max(size, frame); len(b) != want {
			t.Errorf("size %d: body is %d bytes, want %d", size, len(b), want)
		}
		var req struct {
			Model    string `json:"model"`
			Messages []struct {
				Role, Content string
			} `json:"messages"`
			MaxTokens int `json:"max_tokens"`
		}
		if err := json.Unmarshal(b, &req); err != nil {
			t.Fatalf("size %d: not JSON: %v", size, err)
		}
		if req.Model != "bench-anthropic" || len(req.Messages) != 1 || req.Messages[0].Role != "user" || req.MaxTokens != 64 {
			t.Errorf("size %d: decoded %+v", size, req)
		}
		if size > 4000 && !strings.HasPrefix(req.Messages[0].Content, bigBodyUnit+bigBodyUnit) {
			t.Errorf("size %d: content starts %.80q, want the unit repeated", size, req.Messages[0].Content)
		}
	}
}

func TestClimb(t *testing.T) {
	reqs := func(peaks ...float64) []bigBodyRequest {
		var rs []bigBodyRequest
		for _, p := range peaks {
			rs = append(rs, bigBodyRequest{PeakRSSMiB: p})
		}
		return rs
	}
	for _, tc := range []struct {
		name  string
		rs    []bigBodyRequest
		k     int
		climb float64
	}{
		{"one request", reqs(100), 0, 0},
		{"two requests", reqs(100, 150), 0, 0},
		{"three: second vs third", reqs(100, 150, 120), 1, -30},
		{"three, first is warm-up", reqs(50, 150, 150), 1, 0},
		{"ten, flat", reqs(100, 180, 150, 160, 170, 150, 150, 170, 160, 150), 3, -10},
		{"ten, leaking", reqs(100, 120, 140, 160, 180, 200, 220, 240, 260, 280), 3, 120},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, c := climb(tc.rs)
			if k != tc.k || c != tc.climb {
				t.Errorf("climb = %d, %v; want %d, %v", k, c, tc.k, tc.climb)
			}
		})
	}
}

func TestSlope(t *testing.T) {
	xs := []float64{10000, 20000, 30000, 40000}
	if got := slope(xs, []float64{50, 52, 54, 56}) * 10000; math.Abs(got-2) > 1e-9 {
		t.Errorf("slope per 10k = %v, want 2", got)
	}
	if got := slope(xs, []float64{7, 7, 7, 7}); got != 0 {
		t.Errorf("flat slope = %v, want 0", got)
	}
	if got := slope(xs[:1], []float64{7}); got != 0 {
		t.Errorf("one-sample slope = %v, want 0", got)
	}
}

func TestCommas(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 100000: "100,000", 1234567: "1,234,567", -5000: "-5,000"} {
		if got := commas(n); got != want {
			t.Errorf("commas(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestSoakVerdicts(t *testing.T) {
	base := soakResult{Requests: 100000, Start: soakSample{Goroutines: 30, HeapInuseMiB: 20}}
	for _, tc := range []struct {
		name   string
		edit   func(*soakResult)
		met    []bool // goroutines, heap
		noteIn string
	}{
		{"flat", func(s *soakResult) { s.End = soakSample{Goroutines: 32, HeapInuseMiB: 24} }, []bool{true, true}, "30 -> 32"},
		{"goroutine leak", func(s *soakResult) { s.End = soakSample{Goroutines: 200, HeapInuseMiB: 20} }, []bool{false, true}, "30 -> 200"},
		{"heap over 5 MiB and 10%", func(s *soakResult) { s.End = soakSample{Goroutines: 30, HeapInuseMiB: 26} }, []bool{true, false}, "0 errors"},
		{"too many errors", func(s *soakResult) { s.End = s.Start; s.Errors = 2000; s.FirstErr = "status 503" }, []bool{false, false}, "over 1%: status 503"},
		{"not measured", func(s *soakResult) { s.Error = "soak: switchboard admin serves no GET /metrics" }, []bool{false}, "not measured: soak:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := base
			tc.edit(&s)
			var got []verdict
			s.verdicts(func(goal, tgt string, v float64, limit string, met bool, note string) {
				got = append(got, verdict{Goal: goal, Target: tgt, Value: v, Limit: limit, Met: met, Note: note})
			})
			if len(got) != len(tc.met) {
				t.Fatalf("%d verdicts, want %d: %+v", len(got), len(tc.met), got)
			}
			for i, v := range got {
				if v.Met != tc.met[i] || !strings.Contains(v.Goal, "100,000 requests") {
					t.Errorf("verdict %q met %v, want %v", v.Goal, v.Met, tc.met[i])
				}
			}
			if !strings.Contains(got[0].Note, tc.noteIn) {
				t.Errorf("note %q, want it to contain %q", got[0].Note, tc.noteIn)
			}
		})
	}
}
