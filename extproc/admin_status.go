package extproc

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/routing"
)

// RequireToken guards an admin handler with a Bearer token: every request
// but GET /healthz (which says only "ok") must send Authorization:
// Bearer <token>. token is read per request, so a reloaded config's token
// applies at once; "" leaves the handler open (loopback only, which the
// config enforces).
func RequireToken(h http.Handler, token func() string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want := token()
		if want == "" || r.URL.Path == "/healthz" {
			h.ServeHTTP(w, r)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(want)) != 1 {
			w.Header().Set("www-authenticate", `Bearer realm="switchboard admin"`)
			http.Error(w, "admin endpoint: send Authorization: Bearer <admin.token>", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// adminToken is the running config's admin token.
func (s *Server) adminToken() string {
	cfg := s.configs.Current()
	if cfg == nil {
		return ""
	}
	return cfg.Admin.BearerToken()
}

// adminStatus is GET /status: what this process runs and how it fares.
type adminStatus struct {
	Config struct {
		// Version is the config new requests are served with; Providers
		// and Models count what it enables.
		Version   string `json:"version"`
		Providers int    `json:"providers"`
		Models    int    `json:"models"`
	} `json:"config"`
	// EnvoyRoutes is the config version named by the latest request
	// Envoy sent: the routes it runs ("" before the first request).
	EnvoyRoutes string `json:"envoy_routes_version"`
	// XDS is the control plane's view when it runs in this process: the
	// version built, the one every Envoy accepted, the last rejection.
	XDS       any              `json:"xds,omitempty"`
	Providers []providerStatus `json:"providers"`
	Live      liveStatus       `json:"live"`
}

// providerStatus is one configured provider: whether the config enables
// it and whether its circuits are closed, from its models' live figures.
type providerStatus struct {
	Name    string        `json:"name"`
	Schema  string        `json:"schema"`
	Enabled bool          `json:"enabled"`
	Healthy bool          `json:"healthy"`
	Models  []routing.Row `json:"models"`
}

type liveStatus struct {
	UptimeSeconds    float64 `json:"uptime_seconds"`
	Requests         int64   `json:"requests_total"`
	InflightRequests int64   `json:"inflight_requests"`
	InflightAttempts int64   `json:"inflight_attempts"`
	InflightBytes    int64   `json:"inflight_request_bytes"`
}

func (s *Server) status() adminStatus {
	var st adminStatus
	if cfg := s.configs.Current(); cfg != nil {
		st.Config.Version = cfg.Version
		st.Config.Providers = len(cfg.Catalog.Providers(cfg.Config))
		st.Config.Models = len(cfg.Catalog.ModelNames())
		rows := map[string][]routing.Row{}
		for _, r := range s.stats.Snapshot() {
			rows[r.Provider] = append(rows[r.Provider], r)
		}
		for _, p := range cfg.Providers {
			_, enabled := cfg.Catalog.Provider(p.Name)
			ps := providerStatus{Name: p.Name, Schema: p.Schema, Enabled: enabled, Healthy: enabled, Models: rows[p.Name]}
			for _, r := range ps.Models {
				ps.Healthy = ps.Healthy && r.Healthy
			}
			if ps.Models == nil {
				ps.Models = []routing.Row{}
			}
			st.Providers = append(st.Providers, ps)
		}
	}
	if st.Providers == nil {
		st.Providers = []providerStatus{}
	}
	if v := s.sig.envoyVersion.Load(); v != nil {
		st.EnvoyRoutes = *v
	}
	if s.xdsStatus != nil {
		st.XDS = s.xdsStatus()
	}
	st.Live = liveStatus{
		UptimeSeconds: time.Since(s.sig.started).Seconds(), Requests: s.sig.requests.Load(),
		InflightRequests: s.sig.inflight.Load(), InflightAttempts: s.sig.attempts.Load(), InflightBytes: s.bodies.used.Load(),
	}
	return st
}

func (s *Server) serveStatus(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("content-type", "application/json")
	_ = json.NewEncoder(w).Encode(s.status())
}
