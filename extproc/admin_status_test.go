package extproc

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/xds"
)

// loadWithAdminToken is testYAML with the admin endpoint off loopback
// and its token in a file.
func loadWithAdminToken(t *testing.T, token string) *config.Loaded {
	t.Helper()
	f := filepath.Join(t.TempDir(), "admin-token")
	if err := os.WriteFile(f, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return mustLoad(t, "admin: {address: 0.0.0.0:9902, token: {file: "+f+"}}\n"+testYAML)
}

// TestAdminToken: with admin.token every admin path but /healthz needs it
// as a Bearer token; a reloaded config's token applies at once.
func TestAdminToken(t *testing.T) {
	const first, second = "first-admin-token-0123", "second-admin-token-456"
	h := newHarness(t, loadWithAdminToken(t, first))
	admin := h.srv.AdminHandler()
	get := func(path, auth string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", path, nil)
		if auth != "" {
			req.Header.Set("authorization", auth)
		}
		admin.ServeHTTP(rec, req)
		return rec
	}
	for _, tc := range []struct {
		name, path, auth string
		want             int
	}{
		{"status without a token", "/status", "", 401},
		{"stats without a token", "/stats", "", 401},
		{"metrics without a token", "/metrics", "", 401},
		{"a wrong token", "/status", "Bearer " + second, 401},
		{"the token not as Bearer", "/status", first, 401},
		{"the token as Basic", "/status", "Basic " + first, 401},
		{"status with the token", "/status", "Bearer " + first, 200},
		{"stats with the token", "/stats", "Bearer " + first, 200},
		{"metrics with the token", "/metrics", "Bearer " + first, 200},
		{"healthz needs none", "/healthz", "", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := get(tc.path, tc.auth)
			if rec.Code != tc.want {
				t.Fatalf("GET %s = %d, want %d: %s", tc.path, rec.Code, tc.want, rec.Body)
			}
			if tc.want == 401 {
				if rec.Header().Get("www-authenticate") == "" || strings.Contains(rec.Body.String(), first) {
					t.Errorf("401 without www-authenticate, or quoting the token: %v %s", rec.Header(), rec.Body)
				}
			}
		})
	}
	t.Run("reloaded token", func(t *testing.T) {
		h.store.Set(loadWithAdminToken(t, second))
		if rec := get("/status", "Bearer "+first); rec.Code != 401 {
			t.Errorf("the old token still works: %d", rec.Code)
		}
		if rec := get("/status", "Bearer "+second); rec.Code != 200 {
			t.Errorf("the new token: %d", rec.Code)
		}
	})
	t.Run("loopback without a token", func(t *testing.T) {
		h.store.Set(mustLoad(t, "admin: {address: 127.0.0.1:9902}\n"+testYAML))
		if rec := get("/status", ""); rec.Code != 200 {
			t.Errorf("GET /status = %d, want 200 with no token configured", rec.Code)
		}
	})
}

// TestAdminStatus: GET /status shows the running config version, the
// version Envoy's routes carry, every provider's health and live
// figures, and the control plane's view when it runs here.
func TestAdminStatus(t *testing.T) {
	cfg := mustLoad(t, testYAML)
	cfg.Version = "v-running"
	h := newHarness(t, cfg)
	status := func() adminStatus {
		t.Helper()
		rec := httptest.NewRecorder()
		h.srv.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/status", nil))
		if rec.Code != 200 || rec.Header().Get("content-type") != "application/json" {
			t.Fatalf("GET /status = %d %q: %s", rec.Code, rec.Header().Get("content-type"), rec.Body)
		}
		var st adminStatus
		if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := status()
	if st.Config.Version != "v-running" || st.Config.Providers != 2 || st.Config.Models != 3 || st.EnvoyRoutes != "" || st.XDS != nil {
		t.Errorf("before traffic: %+v", st)
	}
	if len(st.Providers) != 2 || st.Providers[0].Name != "openai" || !st.Providers[0].Healthy || !st.Providers[0].Enabled || len(st.Providers[0].Models) != 0 {
		t.Errorf("providers before traffic: %+v", st.Providers)
	}

	// A router-hop stream names the config version of Envoy's routes.
	ctx, cancel := context.WithCancel(metadata.AppendToOutgoingContext(context.Background(), xds.HopMetadata, xds.HopRouter, xds.ConfigVersionMetadata, "v-envoy"))
	defer cancel()
	rs, err := h.client.Process(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := &envoyStream{t: t, stream: rs, cancel: cancel}
	continued(t, r.send(postHeaders()))
	if st := status(); st.EnvoyRoutes != "v-envoy" || st.Live.Requests != 1 || st.Live.InflightRequests != 1 {
		t.Errorf("with a request open: envoy %q live %+v", st.EnvoyRoutes, st.Live)
	}
	r.close()
	_ = h.waitEnded(t)

	// An attempt that fails counts against its provider.
	tr := readTranscript(t, "openai", "error_503")
	s := h.startUpstream(t, "openai", "gpt-4o", chatBody("gpt-4o", false))
	s.respond(responseHeaders(false, tr.headers...), responseBody(tr.body, true))
	s.close()
	_ = h.waitEnded(t)
	st = status()
	if st.Live.InflightRequests != 0 || st.Live.InflightAttempts != 0 || st.Live.UptimeSeconds <= 0 {
		t.Errorf("live after the streams ended: %+v", st.Live)
	}
	p := st.Providers[0]
	if len(p.Models) != 1 || p.Models[0].Failed != 1 || p.Models[0].LastStatus != 503 {
		t.Errorf("openai after a failed attempt: %+v", p)
	}

	h.srv.xdsStatus = func() any { return xds.Status{Version: "v-new", Accepted: "v-running"} }
	if st := status(); st.XDS == nil || !strings.Contains(toJSON(t, st.XDS), `"accepted":"v-running"`) {
		t.Errorf("xds = %v, want the control plane's status", st.XDS)
	}
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
