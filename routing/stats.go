package routing

import (
	"sort"
	"sync"
	"time"
)

// Stats is the gateway's own live view of each provider model: time to
// first token and throughput as moving averages, and a circuit breaker
// that takes a failing provider out of rotation and lets it back after a
// cool-down. Safe for concurrent use.
type Stats struct {
	mu  sync.Mutex
	m   map[statKey]*stat
	now func() time.Time
}

// Breaker sets the circuit: FailuresToOpen failures in a row open it for
// Cooldown, doubling on each quick reopening up to MaxCooldown.
type Breaker struct {
	FailuresToOpen int
	Cooldown       time.Duration
	MaxCooldown    time.Duration
}

type statKey struct{ provider, model string }

type stat struct {
	ttft, tps     float64 // EWMA seconds, tokens/s
	ttftN, tpsN   int
	failures      int
	openUntil     time.Time
	cooldown      time.Duration
	ok, failed    int64
	lastStatus    int
	lastFailureAt time.Time
}

// ewmaWeight of each new sample: recent traffic dominates, one outlier
// does not.
const ewmaWeight = 0.2

// NewStats makes a Stats; now is the clock (nil: time.Now).
func NewStats(now func() time.Time) *Stats {
	if now == nil {
		now = time.Now
	}
	return &Stats{m: map[statKey]*stat{}, now: now}
}

// Outcome is what one upstream attempt showed.
type Outcome struct {
	Status int // upstream HTTP status; 0 when no response came
	// TTFT is the time from sending the request to the first body byte.
	TTFT time.Duration
	// Generation is the time from the first to the last body byte.
	Generation       time.Duration
	CompletionTokens int64
}

// Failed reports whether the outcome counts against the provider.
func (o Outcome) Failed() bool { return o.Status == 0 || o.Status == 429 || o.Status >= 500 }

// Observe records one attempt.
func (s *Stats) Observe(provider, model string, o Outcome, b Breaker) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.get(provider, model)
	now := s.now()
	st.lastStatus = o.Status
	if o.Failed() {
		st.failed++
		st.failures++
		st.lastFailureAt = now
		if st.failures >= b.FailuresToOpen {
			switch {
			case st.openUntil.After(now):
				// Still open: attempts already under way, or planned last,
				// failing now do not lengthen it.
			case st.cooldown > 0 && st.openUntil.After(now.Add(-st.cooldown)):
				// Failed again soon after coming back: back off longer.
				st.cooldown = min(2*st.cooldown, b.MaxCooldown)
				st.openUntil = now.Add(st.cooldown)
			default:
				st.cooldown = b.Cooldown
				st.openUntil = now.Add(st.cooldown)
			}
		}
		return
	}
	st.ok++
	st.failures = 0
	if !st.openUntil.After(now) {
		st.cooldown = 0
	}
	if o.TTFT > 0 {
		st.ttft = ewma(st.ttft, o.TTFT.Seconds(), st.ttftN)
		st.ttftN++
	}
	if o.CompletionTokens > 0 && o.Generation > 0 {
		st.tps = ewma(st.tps, float64(o.CompletionTokens)/o.Generation.Seconds(), st.tpsN)
		st.tpsN++
	}
}

func ewma(old, x float64, n int) float64 {
	if n == 0 {
		return x
	}
	return old + ewmaWeight*(x-old)
}

func (s *Stats) get(provider, model string) *stat {
	k := statKey{provider, model}
	st := s.m[k]
	if st == nil {
		st = &stat{}
		s.m[k] = st
	}
	return st
}

// view is a read of one provider model for planning.
type view struct {
	healthy    bool
	ttft, tps  float64 // 0: unknown
	hasT, hasP bool
}

func (s *Stats) view(provider, model string) view {
	if s == nil {
		return view{healthy: true}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.m[statKey{provider, model}]
	if st == nil {
		return view{healthy: true}
	}
	return view{healthy: !st.openUntil.After(s.now()), ttft: st.ttft, tps: st.tps, hasT: st.ttftN > 0, hasP: st.tpsN > 0}
}

// Row is one provider model's live figures, for the admin endpoint.
type Row struct {
	Provider        string    `json:"provider"`
	Model           string    `json:"model"`
	Healthy         bool      `json:"healthy"`
	OpenUntil       time.Time `json:"open_until,omitzero"`
	TTFTSeconds     float64   `json:"ttft_seconds"`
	TokensPerSecond float64   `json:"tokens_per_second"`
	OK              int64     `json:"ok"`
	Failed          int64     `json:"failed"`
	LastStatus      int       `json:"last_status"`
}

// Snapshot lists every provider model seen, sorted.
func (s *Stats) Snapshot() []Row {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	rows := make([]Row, 0, len(s.m))
	for k, st := range s.m {
		r := Row{Provider: k.provider, Model: k.model, Healthy: !st.openUntil.After(now), TTFTSeconds: st.ttft,
			TokensPerSecond: st.tps, OK: st.ok, Failed: st.failed, LastStatus: st.lastStatus}
		if !r.Healthy {
			r.OpenUntil = st.openUntil
		}
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Provider != rows[j].Provider {
			return rows[i].Provider < rows[j].Provider
		}
		return rows[i].Model < rows[j].Model
	})
	return rows
}
