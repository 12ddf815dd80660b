package extproc

import (
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchboard-gw/switchboard/routing"
)

// AdminHandler serves the gateway's live view of providers: GET /stats
// lists time to first token, throughput and circuit state per provider
// model, measured from real traffic; GET /metrics serves Prometheus
// series (attempts, tokens, cost, Go runtime, process). Keep it on
// loopback.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("content-type", "application/json")
		_ = json.NewEncoder(w).Encode(struct {
			Providers []routing.Row `json:"providers"`
		}{s.stats.Snapshot()})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if s.configs.Current() == nil {
			http.Error(w, "no config", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}
