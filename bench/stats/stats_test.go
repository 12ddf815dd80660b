package stats

import (
	"math"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name    string
		samples []time.Duration
		p       float64
		want    time.Duration
	}{
		{name: "empty", samples: nil, p: 50, want: 0},
		{name: "one sample", samples: []time.Duration{7}, p: 99, want: 7},
		{name: "p50 of 1..100", samples: hundred, p: 50, want: 50 * time.Millisecond},
		{name: "p90 of 1..100", samples: hundred, p: 90, want: 90 * time.Millisecond},
		{name: "p99 of 1..100", samples: hundred, p: 99, want: 99 * time.Millisecond},
		{name: "p100 is the max", samples: hundred, p: 100, want: 100 * time.Millisecond},
		{name: "tiny p is the min", samples: hundred, p: 0.001, want: time.Millisecond},
		{name: "p50 of four rounds up the rank", samples: []time.Duration{1, 2, 3, 4}, p: 50, want: 2},
		{name: "p99 of four is the max", samples: []time.Duration{1, 2, 3, 4}, p: 99, want: 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Percentile(tc.samples, tc.p); got != tc.want {
				t.Errorf("Percentile(p=%v) = %v, want %v", tc.p, got, tc.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	s := Summarize([]time.Duration{4 * time.Millisecond, time.Millisecond, 3 * time.Millisecond, 2 * time.Millisecond})
	want := Summary{N: 4, MeanMs: 2.5, P50Ms: 2, P90Ms: 4, P99Ms: 4, MaxMs: 4}
	if s != want {
		t.Errorf("Summarize = %+v, want %+v", s, want)
	}
	if got := Summarize(nil); got != (Summary{}) {
		t.Errorf("Summarize(nil) = %+v, want zero", got)
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		xs   []float64
		want float64
	}{
		{name: "empty", xs: nil, want: 0},
		{name: "odd", xs: []float64{3, 1, 2}, want: 2},
		{name: "even averages the middle two", xs: []float64{4, 1, 3, 2}, want: 2.5},
		{name: "NaN ignored", xs: []float64{math.NaN(), 5, 1, 3}, want: 3},
		{name: "only NaN", xs: []float64{math.NaN()}, want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]float64(nil), tc.xs...)
			if got := Median(tc.xs); got != tc.want {
				t.Errorf("Median(%v) = %v, want %v", tc.xs, got, tc.want)
			}
			for i := range in {
				if in[i] != tc.xs[i] && !math.IsNaN(in[i]) {
					t.Fatalf("Median reordered its input: %v, was %v", tc.xs, in)
				}
			}
		})
	}
}

func TestMedianSummary(t *testing.T) {
	runs := []Summary{{N: 10, P50Ms: 1, P99Ms: 9}, {N: 30, P50Ms: 3, P99Ms: 5}, {N: 20, P50Ms: 2, P99Ms: 7}}
	got := MedianSummary(runs)
	if got.N != 20 || got.P50Ms != 2 || got.P99Ms != 7 {
		t.Errorf("MedianSummary = %+v, want N 20, p50 2, p99 7", got)
	}
}
