package xds

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// serverMetrics are the control plane's Prometheus series.
type serverMetrics struct {
	pushes     *prometheus.CounterVec
	rejections *prometheus.CounterVec
	rejected   prometheus.Gauge
	accepted   prometheus.Gauge
	envoys     prometheus.Gauge
}

func newServerMetrics() *serverMetrics {
	return &serverMetrics{
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_xds_pushes_total",
			Help: "xDS responses sent to Envoy, by resource type (cluster, route, listener).",
		}, []string{"type"}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_xds_rejections_total",
			Help: "xDS pushes Envoy rejected (NACK), by resource type.",
		}, []string{"type"}),
		rejected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_xds_config_rejected",
			Help: "1 while Envoy rejects the newest config (it keeps running the last accepted one), else 0.",
		}),
		accepted: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_xds_config_accepted_timestamp_seconds",
			Help: "When every connected Envoy last accepted a new config version (Unix time).",
		}),
		envoys: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_xds_connected_envoys",
			Help: "Envoys connected to the control plane over ADS.",
		}),
	}
}

// Collectors are the control plane's series, for a registry.
func (s *Server) Collectors() []prometheus.Collector {
	m := s.metrics
	return []prometheus.Collector{m.pushes, m.rejections, m.rejected, m.accepted, m.envoys}
}

// typeName shortens a type URL to cluster, route or listener.
func typeName(url string) string {
	name := url[strings.LastIndexByte(url, '.')+1:]
	return strings.ToLower(strings.TrimSuffix(name, "Configuration"))
}
