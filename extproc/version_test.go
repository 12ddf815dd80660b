package extproc

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchboard-gw/switchboard/xds"
)

// TestConfigVersionPerRequest: each request is served with the config of
// the routes Envoy matched it in (the version on the stream), not with
// the newest config read: while Envoy rejects or has not yet taken a new
// config, its requests keep the one it runs. Unknown versions fall back
// to the current config and are counted.
func TestConfigVersionPerRequest(t *testing.T) {
	old := mustLoad(t, testYAML)
	old.Version = "v-old"
	cur := mustLoad(t, swappedYAML) // gpt-4o on Anthropic, no openai provider
	cur.Version = "v-new"
	h := newHarness(t, cur)
	h.store.Keep(old)
	h.store.Keep(cur)

	routeAt := func(version string) routed {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ctx = metadata.AppendToOutgoingContext(ctx, xds.HopMetadata, xds.HopRouter)
		if version != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, xds.ConfigVersionMetadata, version)
		}
		st, err := h.client.Process(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s := &envoyStream{t: t, stream: st, cancel: cancel}
		continued(t, s.send(postHeaders()))
		resp := s.send(requestBody(chatBody("gpt-4o", false)))
		c := continued(t, resp)
		s.close()
		_ = h.waitEnded(t)
		md := resp.GetDynamicMetadata()
		return routed{mutation: readMutation(c.GetHeaderMutation()), request: md.GetFields()[xds.RequestNamespace].GetStructValue()}
	}
	for _, tc := range []struct {
		name, version, plan, stamped string
	}{
		{"the routes' version", "v-old", "openai|gpt-4o", "v-old"},
		{"the current version", "v-new", "anthropic|gpt-4o", "v-new"},
		{"no version", "", "anthropic|gpt-4o", "v-new"},
		{"an unknown version", "v-never-loaded", "anthropic|gpt-4o", "v-new"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := routeAt(tc.version)
			if got := r.plan(); got != tc.plan {
				t.Errorf("plan = %q, want %q", got, tc.plan)
			}
			// The upstream hop is told which config planned the request.
			if got := r.request.GetFields()["version"].GetStringValue(); got != tc.stamped {
				t.Errorf("version for the upstream hop = %q, want %q", got, tc.stamped)
			}
		})
	}

	t.Run("upstream hop", func(t *testing.T) {
		// openai exists only in the old config: the upstream hop finds it
		// when the request says it was planned there.
		a := attempt{provider: "openai", model: "gpt-4o", n: 1}
		req := a.headers()
		req.GetMetadataContext().GetFilterMetadata()[xds.RequestNamespace].Fields["version"] = structString("v-old")
		s := h.open(t, xds.HopUpstream)
		continued(t, s.send(req))
	})
	rec := httptest.NewRecorder()
	h.srv.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), "\nswitchboard_config_version_unknown_total 1\n") {
		t.Errorf("/metrics does not count the one unknown version")
	}
}

func structString(s string) *structpb.Value { return structpb.NewStringValue(s) }

// TestAdminControlPlane: with the control plane in the process (serve),
// GET /xds shows its status and /metrics its series; without, /xds is 404.
func TestAdminControlPlane(t *testing.T) {
	h := newHarness(t, mustLoad(t, testYAML))
	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.srv.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec
	}
	if rec := get("/xds"); rec.Code != 404 {
		t.Fatalf("/xds without a control plane: %d", rec.Code)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cp := xds.NewServer(ctx, zap.NewNop())
	if err := cp.Update(ctx, mustLoad(t, testYAML)); err != nil {
		t.Fatal(err)
	}
	if err := h.srv.AddControlPlane(func() any { return cp.Status() }, cp.Collectors()...); err != nil {
		t.Fatal(err)
	}
	if rec := get("/xds"); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"version":"`+cp.Version()+`"`) {
		t.Errorf("/xds = %d %s", rec.Code, rec.Body)
	}
	if m := get("/metrics").Body.String(); !strings.Contains(m, "switchboard_xds_config_rejected 0") || !strings.Contains(m, "switchboard_xds_connected_envoys 0") {
		t.Errorf("/metrics lacks the control plane's series")
	}
}
