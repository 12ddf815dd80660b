package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
	"github.com/switchboard-gw/switchboard/internal/testservers"
)

// TestReplicasShareLimits: two ext_proc replicas behind one Envoy cluster,
// with Redis holding the counters and PostgreSQL the records. Both
// replicas serve requests, and a limit of 5 a minute admits exactly 5 of
// 20 concurrent requests across them; a usage record written by one is
// read through the other.
func TestReplicasShareLimits(t *testing.T) {
	redis := testservers.Redis(t)
	pg := testservers.Postgres(t)
	up := fakeprovider.New(t)
	up.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat"))})
	gw := startGatewayMode(t, gatewayMode{replica: true}, fmt.Sprintf(`providers:
  - name: up
    schema: openai
    base_url: %s/v1
models:
  - name: gpt-test
    providers: [{provider: up, model: gpt-4.1-mini, pricing: {prompt: 1, completion: 1}}]
governance:
  store: {kind: postgres, dsn: {env: E2E_PG_DSN}}
  limits: {kind: redis, address: "%s", on_store_failure: closed}
  tenants:
    - {name: team-c, rpm: 5}
    - {name: team-a}
  keys:
    - {id: c1, tenant: team-c, hash: "%s"}
    - {id: a1, tenant: team-a, hash: "%s"}
`, up.URL(), redis.Addr(), keyHash(keyC), keyHash(keyA)), "E2E_PG_DSN="+pg.DSN())

	// Spread more requests, then see both replicas served some.
	var ids []string
	for range 8 {
		resp, out := gw.post(t, "/v1/chat/completions", smallChat, "authorization", "Bearer "+keyA)
		if resp.StatusCode != 200 {
			t.Fatalf("team-a: %d %s", resp.StatusCode, out)
		}
		ids = append(ids, gjson.GetBytes(out, "id").Str)
	}
	// Every record reaches PostgreSQL, whichever replica wrote it.
	// (The fake replays one transcript, so every answer has its id: the
	// first record holds it.)
	if tenant := waitGeneration(t, gw, ids[0], keyA).Get("tenant").Str; tenant != "team-a" {
		t.Errorf("record of %s names tenant %q, want team-a", ids[0], tenant)
	}
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := gw.post(t, "/v1/chat/completions", smallChat, "authorization", "Bearer "+keyC)
			mu.Lock()
			codes[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[200] != 5 || codes[429] != 15 {
		t.Fatalf("statuses %v across two replicas, want 5 x 200 and 15 x 429", codes)
	}
	for _, port := range []int{gw.adminHTTPPort, gw.replicaAdminPort} {
		m := metricsAt(t, port)
		if !strings.Contains(m, `switchboard_attempts_total{model="gpt-test",provider="up",status="200"}`) {
			t.Errorf("replica with admin port %d served no request:\n%s", port, grepLines(m, "switchboard_attempts_total"))
		}
	}
}

func metricsAt(t *testing.T, port int) string {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestRedisOutage: with the counters' Redis down, on_store_failure says
// what governed requests get: closed refuses them (503
// limits_unavailable), open serves them unmetered; both recover when
// Redis is back.
func TestRedisOutage(t *testing.T) {
	for _, mode := range []string{"closed", "open"} {
		t.Run(mode, func(t *testing.T) {
			redis := testservers.Redis(t)
			up := fakeprovider.New(t)
			up.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat"))})
			gw := startGateway(t, fmt.Sprintf(`providers:
  - name: up
    schema: openai
    base_url: %s/v1
models:
  - name: gpt-test
    providers: [{provider: up, model: gpt-4.1-mini}]
governance:
  limits: {kind: redis, address: "%s", on_store_failure: %s, timeout: 200ms}
  tenants: [{name: team-c, rpm: 100}]
  keys: [{id: c1, tenant: team-c, hash: "%s"}]
`, up.URL(), redis.Addr(), mode, keyHash(keyC)))
			if resp, out := gw.post(t, "/v1/chat/completions", smallChat, "authorization", "Bearer "+keyC); resp.StatusCode != 200 {
				t.Fatalf("before the outage: %d %s", resp.StatusCode, out)
			}
			redis.Stop()
			resp, out := gw.post(t, "/v1/chat/completions", smallChat, "authorization", "Bearer "+keyC)
			switch mode {
			case "closed":
				if resp.StatusCode != 503 || gjson.GetBytes(out, "error.code").Str != "limits_unavailable" {
					t.Errorf("closed, Redis down: %d %s", resp.StatusCode, out)
				}
			case "open":
				if resp.StatusCode != 200 {
					t.Errorf("open, Redis down: %d %s", resp.StatusCode, out)
				}
			}
			redis.Restart(t)
			deadline := time.Now().Add(5 * time.Second)
			for {
				resp, out = gw.post(t, "/v1/chat/completions", smallChat, "authorization", "Bearer "+keyC)
				if resp.StatusCode == 200 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after Redis came back: %d %s", resp.StatusCode, out)
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}
