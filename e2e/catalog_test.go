package e2e

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/internal/bigcatalog"
	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

// TestLargeCatalog serves an OpenRouter-sized catalog, 1,000 public models
// with 3 providers each: it starts, lists every model, describes one,
// routes a chat to the last, and hot-reloads. (The model list used to
// outgrow Envoy's 4 KiB direct response limit at about 14 such models:
// Envoy rejected the routes and every path answered 404.)
func TestLargeCatalog(t *testing.T) {
	up := fakeprovider.New(t)
	up.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat"))})
	spec := bigcatalog.Spec{Models: 1000, PerModel: 3, Providers: 30, BaseURL: up.URL() + "/v1"}
	start := time.Now()
	gw := startGateway(t, spec.YAML())
	t.Logf("cold start to serving: %v", time.Since(start))
	last := spec.ModelName(spec.Models - 1)

	t.Run("list", func(t *testing.T) {
		body := get(t, gw, "/v1/models", 200)
		ids := gjson.GetBytes(body, "data.#.id").Array()
		if len(ids) != spec.Models || ids[len(ids)-1].Str != last {
			t.Fatalf("listed %d models (last %v), want %d ending with %s", len(ids), ids[len(ids)-1], spec.Models, last)
		}
		t.Logf("GET /v1/models: %d bytes", len(body))
	})
	t.Run("one model", func(t *testing.T) {
		m := gjson.ParseBytes(get(t, gw, "/v1/models/"+last, 200))
		if m.Get("id").Str != last || m.Get("object").Str != "model" || !m.Get("created").Exists() || m.Get("owned_by").Str == "" ||
			len(m.Get("providers").Array()) != 3 {
			t.Fatalf("model object = %s", m.Raw)
		}
		resp, err := http.Get(gw.url("/v1/models/no-such-model"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assertOpenAIError(t, resp, b, 404, "model_not_found")
	})
	chat := func(model string) []byte {
		return []byte(`{"model":"` + model + `","messages":[{"role":"user","content":"hi"}]}`)
	}
	t.Run("chat to the last model", func(t *testing.T) {
		if resp, out := gw.post(t, "/v1/chat/completions", chat(last)); resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, out)
		}
		if m := gjson.GetBytes(lastRequest(t, up).Body, "model").Str; m != fmt.Sprintf("upstream-%04d-0", spec.Models-1) {
			t.Fatalf("provider got model %q", m)
		}
		// Route lookup cost: the first and the last model's median.
		for _, model := range []string{spec.ModelName(0), last} {
			var d []time.Duration
			for range 40 {
				s := time.Now()
				if resp, out := gw.post(t, "/v1/chat/completions", chat(model)); resp.StatusCode != 200 {
					t.Fatalf("%s: status %d: %s", model, resp.StatusCode, out)
				}
				d = append(d, time.Since(s))
			}
			sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
			t.Logf("chat to %s: p50 %v, p90 %v", model, d[len(d)/2], d[len(d)*9/10])
		}
	})
	t.Run("hot reload", func(t *testing.T) {
		added := spec
		added.Models++
		next := added.ModelName(spec.Models)
		start := time.Now()
		gw.writeConfig(added.YAML())
		waitFor(t, 20*time.Second, func() bool {
			r, _ := gw.post(t, "/v1/chat/completions", chat(next))
			return r.StatusCode == 200
		})
		t.Logf("reload of a %d-model catalog live in Envoy and ext_proc after %v", added.Models, time.Since(start))
		get(t, gw, "/v1/models/"+next, 200)
		// Push: the control plane set the snapshot, until Envoy ACKed
		// every type of it.
		waitFor(t, 5*time.Second, func() bool { return !logTime(gw.xds.log.String(), "envoy accepted config", 2).IsZero() })
		pushed, accepted := logTime(gw.xds.log.String(), "pushed config", 2), logTime(gw.xds.log.String(), "envoy accepted config", 2)
		t.Logf("push of the %d-model snapshot: %v from set to accepted by Envoy", added.Models, accepted.Sub(pushed))
		if st := gjson.ParseBytes(xdsAdmin(t, gw, "/xds")); st.Get("accepted").Str != st.Get("version").Str {
			t.Errorf("/xds = %s", st.Raw)
		}
	})
}

func get(t *testing.T, gw *gateway, path string, status int) []byte {
	t.Helper()
	resp, err := http.Get(gw.url(path))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != status {
		t.Fatalf("GET %s: status %d, want %d: %.300s", path, resp.StatusCode, status, b)
	}
	return b
}

// logTime is the time of the nth (from 1) zap log line with msg.
func logTime(log, msg string, n int) time.Time {
	for _, line := range strings.Split(log, "\n") {
		if gjson.Get(line, "msg").Str == msg {
			if n--; n == 0 {
				ts := gjson.Get(line, "ts").Float()
				return time.Unix(0, int64(ts*1e9))
			}
		}
	}
	return time.Time{}
}
