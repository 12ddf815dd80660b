package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

// TestEnvoyRejection: a config Envoy refuses (here its listener port is
// taken) is logged once with Envoy's reason, retried with backoff rather
// than pushed thousands of times a second, shown on the control plane's
// admin endpoint and metrics, and never served half: Envoy keeps the old
// routes and ext_proc keeps the old config for them. Once the port is
// free, a retry lands.
func TestEnvoyRejection(t *testing.T) {
	// switchboard serve switches ext_proc's config when Envoy accepts;
	// switchboard extproc follows the version on each request.
	for _, mode := range []struct {
		name  string
		start func(testing.TB, string, ...string) *gateway
	}{{"serve", startServeGateway}, {"xds and extproc", startGateway}} {
		t.Run(mode.name, func(t *testing.T) { testEnvoyRejection(t, mode.start) })
	}
}

func testEnvoyRejection(t *testing.T, start func(testing.TB, string, ...string) *gateway) {
	up := fakeprovider.New(t)
	up.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat"))})
	gw := start(t, fmt.Sprintf(demoModels, up.URL()))
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	taken := busy.Addr().(*net.TCPAddr).Port

	// A new model and the taken port, in one change.
	next := gw.render(fmt.Sprintf(demoModels+`  - name: second
    providers: [{provider: up, model: m2}]
`, up.URL()))
	gw.writeRawConfig(strings.Replace(next, fmt.Sprintf("port: %d", gw.port), fmt.Sprintf("port: %d", taken), 1))
	began := time.Now()
	var status gjson.Result
	waitFor(t, 10*time.Second, func() bool {
		status = gjson.ParseBytes(xdsAdmin(t, gw, "/xds"))
		return status.Get("rejected").Exists()
	})
	if r := status.Get("rejected"); r.Get("type").Str != "listener" || !strings.Contains(r.Get("error").Str, "ddress already in use") ||
		status.Get("accepted").Str == status.Get("version").Str {
		t.Fatalf("/xds = %s", status.Raw)
	}
	envoyRejections := func() int { return envoyStat(t, gw, "listener_manager.lds.update_rejected") }
	before := envoyRejections()
	time.Sleep(3 * time.Second)
	rejections := envoyRejections()
	t.Logf("Envoy rejections: %d in the first %v, %d in the next 3s", before, time.Since(began)-3*time.Second, rejections-before)
	if rejections > 5 {
		t.Errorf("Envoy rejected the listener %d times in %v: the push is not backed off", rejections, time.Since(began))
	}

	t.Run("neither side moved", func(t *testing.T) {
		second := []byte(`{"model":"second","messages":[{"role":"user","content":"hi"}]}`)
		resp, out := gw.post(t, "/v1/chat/completions", second)
		assertOpenAIError(t, resp, out, 404, "model_not_found")
		if resp, out := gw.post(t, "/v1/chat/completions", []byte(`{"model":"first","messages":[{"role":"user","content":"hi"}]}`)); resp.StatusCode != 200 {
			t.Fatalf("the running config stopped serving: %d %s", resp.StatusCode, out)
		}
		if got := modelsList(t, gw); got != "first" {
			t.Errorf("models = %s, want the running config's", got)
		}
	})
	t.Run("logged once, without a stack trace", func(t *testing.T) {
		log := gw.xds.log.String()
		if n := strings.Count(log, `"envoy rejected config"`); n != 1 {
			t.Errorf("%d rejection logs, want 1:\n%s", n, tail(log, 3000))
		}
		if strings.Contains(log, "stacktrace") || strings.Contains(log, `"config reloaded`) && !strings.Contains(log, "pushed to Envoy") ||
			strings.Contains(log, "config live") {
			t.Errorf("xds log:\n%s", tail(log, 3000))
		}
	})
	t.Run("metrics", func(t *testing.T) {
		m := string(xdsAdmin(t, gw, "/metrics"))
		for _, want := range []string{`switchboard_xds_rejections_total{type="listener"}`, "switchboard_xds_config_rejected 1", "switchboard_xds_connected_envoys 1"} {
			if !strings.Contains(m, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})

	// The port comes free: a retry lands, on the new port.
	busy.Close()
	gw.port = taken
	waitFor(t, 20*time.Second, func() bool {
		r, err := http.Get(gw.url("/v1/models"))
		if err != nil {
			return false
		}
		r.Body.Close()
		return modelsList(t, gw) == "first,second"
	})
	if resp, out := gw.post(t, "/v1/chat/completions", []byte(`{"model":"second","messages":[{"role":"user","content":"hi"}]}`)); resp.StatusCode != 200 {
		t.Fatalf("after the retry: %d %s", resp.StatusCode, out)
	}
	if st := gjson.ParseBytes(xdsAdmin(t, gw, "/xds")); st.Get("rejected").Exists() || st.Get("accepted").Str != st.Get("version").Str {
		t.Errorf("/xds after the retry = %s", st.Raw)
	}
	if gw.serve && !strings.Contains(gw.xds.log.String(), "config live: Envoy accepted it") {
		t.Errorf("serve did not switch ext_proc when Envoy accepted:\n%s", tail(gw.xds.log.String(), 2000))
	}
}

func xdsAdmin(t *testing.T, gw *gateway, path string) []byte {
	t.Helper()
	port := gw.xdsAdminPort
	if gw.serve {
		port = gw.adminHTTPPort // the admin endpoint shows the control plane
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// envoyStat reads a counter from Envoy's admin endpoint.
func envoyStat(t *testing.T, gw *gateway, name string) int {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/stats?filter=^%s$", gw.adminPort, regexp.QuoteMeta(name)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 4096)
	n, _ := resp.Body.Read(buf)
	_, v, _ := strings.Cut(strings.TrimSpace(string(buf[:n])), ": ")
	c, _ := strconv.Atoi(v)
	return c
}
