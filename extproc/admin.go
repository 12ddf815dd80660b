package extproc

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchboard-gw/switchboard/routing"
)

// AdminHandler serves the gateway's live view of providers: GET /status
// gives the running config version, the version Envoy's routes carry,
// each provider's health and live request figures (admin_status.go);
// GET /stats lists time to first token, throughput and circuit state per
// provider model, measured from real traffic; GET /metrics serves
// Prometheus series (attempts, tokens, cost, GenAI, Go runtime, process);
// GET /xds, when the control plane runs in this process, says which
// config version Envoy accepted and its last rejection. With admin.token
// every path but /healthz needs it as a Bearer token.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", s.serveStatus)
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("content-type", "application/json")
		_ = json.NewEncoder(w).Encode(struct {
			Providers []routing.Row `json:"providers"`
		}{s.stats.Snapshot()})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /xds", func(w http.ResponseWriter, _ *http.Request) {
		if s.xdsStatus == nil {
			http.Error(w, "no control plane in this process", http.StatusNotFound)
			return
		}
		w.Header().Set("content-type", "application/json")
		_ = json.NewEncoder(w).Encode(s.xdsStatus())
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if s.configs.Current() == nil {
			http.Error(w, "no config", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	return RequireToken(mux, s.adminToken)
}

// AddControlPlane shows a control plane on the admin endpoint: its status
// on GET /xds and its series on GET /metrics.
func (s *Server) AddControlPlane(status func() any, collectors ...prometheus.Collector) error {
	s.xdsStatus = status
	for _, c := range collectors {
		if err := s.metrics.reg.Register(c); err != nil {
			return fmt.Errorf("extproc: register control plane metrics: %w", err)
		}
	}
	return nil
}
