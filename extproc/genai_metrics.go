package extproc

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-gw/switchboard/translators"
)

// genAIMetrics are OpenTelemetry's GenAI semantic-convention metrics in
// their Prometheus spelling (gen_ai.client.token.usage becomes
// gen_ai_client_token_usage, durations in seconds), one observation per
// request as its client saw it, labelled by public model, the provider
// that served and the caller's tenant ("" without keys). Tenant names
// come from the governance store, so their number is the operator's.
type genAIMetrics struct {
	tokens     *prometheus.HistogramVec
	duration   *prometheus.HistogramVec
	ttft       *prometheus.HistogramVec
	perToken   *prometheus.HistogramVec
	rejections *prometheus.CounterVec
}

func newGenAIMetrics(reg *prometheus.Registry) *genAIMetrics {
	labels := []string{"gen_ai_request_model", "gen_ai_provider_name", "tenant"}
	secs := []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92}
	m := &genAIMetrics{
		tokens: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gen_ai_client_token_usage",
			Help:    "Tokens used per request (gen_ai.client.token.usage), by gen_ai_token_type input or output.",
			Buckets: []float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864},
		}, append(labels, "gen_ai_token_type")),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gen_ai_server_request_duration_seconds", Help: "Request duration (gen_ai.server.request.duration), first attempt to last byte.", Buckets: secs,
		}, append(labels, "error_type")),
		ttft: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gen_ai_server_time_to_first_token_seconds", Help: "Time to the first answer byte of a stream (gen_ai.server.time_to_first_token).", Buckets: secs,
		}, labels),
		perToken: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gen_ai_server_time_per_output_token_seconds",
			Help:    "Generation time after the first token per output token (gen_ai.server.time_per_output_token).",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5},
		}, labels),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_governance_rejections_total",
			Help: "Requests refused by keys, limits or budgets, by error code and tenant.",
		}, []string{"code", "tenant"}),
	}
	reg.MustRegister(m.tokens, m.duration, m.ttft, m.perToken, m.rejections)
	return m
}

// request observes one finished request. ttft and gen are zero when the
// hop did not see the answer's bytes.
func (m *genAIMetrics) request(model, provider, tenant, errType string, u translators.Usage, total, ttft, gen time.Duration) {
	m.duration.WithLabelValues(model, provider, tenant, errType).Observe(total.Seconds())
	if u.PromptTokens > 0 {
		m.tokens.WithLabelValues(model, provider, tenant, "input").Observe(float64(u.PromptTokens))
	}
	if u.CompletionTokens > 0 {
		m.tokens.WithLabelValues(model, provider, tenant, "output").Observe(float64(u.CompletionTokens))
	}
	if ttft > 0 {
		m.ttft.WithLabelValues(model, provider, tenant).Observe(ttft.Seconds())
	}
	if gen > 0 && u.CompletionTokens > 1 {
		m.perToken.WithLabelValues(model, provider, tenant).Observe(gen.Seconds() / float64(u.CompletionTokens-1))
	}
}
