// Package stats summarises benchmark samples: exact percentiles from every
// recorded sample, and medians across repeated runs.
package stats

import (
	"math"
	"slices"
	"time"
)

// Summary describes one run's latency samples, in milliseconds.
type Summary struct {
	N      int     `json:"n"`
	MeanMs float64 `json:"mean_ms"`
	P50Ms  float64 `json:"p50_ms"`
	P90Ms  float64 `json:"p90_ms"`
	P99Ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
}

// Summarize sorts samples in place and returns their summary. An empty
// slice gives a zero Summary.
func Summarize(samples []time.Duration) Summary {
	if len(samples) == 0 {
		return Summary{}
	}
	slices.Sort(samples)
	var sum time.Duration
	for _, s := range samples {
		sum += s
	}
	return Summary{
		N:      len(samples),
		MeanMs: ms(sum / time.Duration(len(samples))),
		P50Ms:  ms(Percentile(samples, 50)),
		P90Ms:  ms(Percentile(samples, 90)),
		P99Ms:  ms(Percentile(samples, 99)),
		MaxMs:  ms(samples[len(samples)-1]),
	}
}

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted samples: the smallest sample with at least p% of samples at or
// below it.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// Median returns the median of xs (the mean of the middle two for an even
// count) without reordering xs. NaN values are ignored; none at all gives 0.
func Median(xs []float64) float64 {
	v := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	m := len(v) / 2
	if len(v)%2 == 1 {
		return v[m]
	}
	return (v[m-1] + v[m]) / 2
}

// MedianSummary takes the field-wise median of several runs' summaries.
func MedianSummary(runs []Summary) Summary {
	pick := func(f func(Summary) float64) float64 {
		xs := make([]float64, len(runs))
		for i, r := range runs {
			xs[i] = f(r)
		}
		return Median(xs)
	}
	return Summary{
		N:      int(pick(func(s Summary) float64 { return float64(s.N) })),
		MeanMs: pick(func(s Summary) float64 { return s.MeanMs }),
		P50Ms:  pick(func(s Summary) float64 { return s.P50Ms }),
		P90Ms:  pick(func(s Summary) float64 { return s.P90Ms }),
		P99Ms:  pick(func(s Summary) float64 { return s.P99Ms }),
		MaxMs:  pick(func(s Summary) float64 { return s.MaxMs }),
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
