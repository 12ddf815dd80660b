package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

// TestControlPlaneRestart: Envoy reconnects to a restarted control plane
// within 2 s (its default backoff grows to 30 s), and a change made while
// the control plane was down lands then. Meanwhile ext_proc, which has
// read the change, keeps serving Envoy's routes with the config they were
// built from.
func TestControlPlaneRestart(t *testing.T) {
	up := fakeprovider.New(t)
	up.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat"))})
	gw := startGateway(t, fmt.Sprintf(demoModels, up.URL()))
	second := []byte(`{"model":"second","messages":[{"role":"user","content":"hi"}]}`)

	gw.xds.stop()
	gw.writeConfig(fmt.Sprintf(demoModels+`  - name: second
    providers: [{provider: up, model: m2}]
`, up.URL()))
	// Long enough for Envoy's reconnect backoff to grow.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		// Envoy still runs the old routes: ext_proc must not plan the
		// new model for them (it would reach no route: 503).
		resp, out := gw.post(t, "/v1/chat/completions", second)
		assertOpenAIError(t, resp, out, 404, "model_not_found")
		time.Sleep(500 * time.Millisecond)
	}

	restart := time.Now()
	gw.startXDS()
	waitFor(t, 10*time.Second, func() bool {
		r, _ := gw.post(t, "/v1/chat/completions", second)
		return r.StatusCode == 200
	})
	took := time.Since(restart)
	t.Logf("config change live %v after the control plane restarted", took)
	if took > 2*time.Second {
		t.Fatalf("Envoy took %v to pick up the restarted control plane, want under 2s", took)
	}
}
