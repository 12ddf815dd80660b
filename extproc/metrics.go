package extproc

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/switchboard-gw/switchboard/translators"
)

// metrics are the gateway's Prometheus series, served on the admin
// address at GET /metrics. Labels stay bounded: provider and public model
// names come from the config, status codes from a small set.
type metrics struct {
	reg      *prometheus.Registry
	attempts *prometheus.CounterVec // one per provider attempt, by outcome
	tokens   *prometheus.CounterVec
	cost     *prometheus.CounterVec
	// unknownVersion counts streams naming a config version this process
	// does not have (it then uses its current one).
	unknownVersion prometheus.Counter
	genAI          *genAIMetrics
	// fallbacks counts attempts after the first (a fallback happened).
	fallbacks *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_attempts_total",
			Help: "Provider attempts by provider, public model and upstream HTTP status (0: no response: connect failure, reset or timeout).",
		}, []string{"provider", "model", "status"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_tokens_total",
			Help: "Tokens counted from provider usage, by type: prompt (cached and cache writes included), completion (reasoning included), cached, cache_write, reasoning.",
		}, []string{"provider", "model", "type"}),
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_cost_usd_total",
			Help: "Cost of completions in USD at the configured pricing.",
		}, []string{"provider", "model"}),
	}
	m.unknownVersion = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "switchboard_config_version_unknown_total",
		Help: "Requests whose config version (the one Envoy's routes carry) this process has not loaded; they were served with its current config.",
	})
	m.reg.MustRegister(m.attempts, m.tokens, m.cost, m.unknownVersion,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.genAI = newGenAIMetrics(m.reg)
	m.fallbacks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_fallbacks_total",
		Help: "Provider attempts after a request's first (each is a fallback), by public model and the provider tried.",
	}, []string{"model", "provider"})
	m.reg.MustRegister(m.fallbacks)
	return m
}

// observe records one finished attempt.
func (m *metrics) observe(provider, model string, status int, u translators.Usage, cost float64, priced bool) {
	m.attempts.WithLabelValues(provider, model, strconv.Itoa(status)).Inc()
	if u == (translators.Usage{}) {
		return
	}
	for _, t := range [...]struct {
		kind string
		n    int64
	}{{"prompt", u.PromptTokens}, {"completion", u.CompletionTokens}, {"cached", u.CachedTokens}, {"cache_write", u.CacheWriteTokens}, {"reasoning", u.ReasoningTokens}} {
		if t.n > 0 {
			m.tokens.WithLabelValues(provider, model, t.kind).Add(float64(t.n))
		}
	}
	if priced {
		m.cost.WithLabelValues(provider, model).Add(cost)
	}
}
