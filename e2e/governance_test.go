package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

// Gateway keys for the governance tests (sk-sb- and 43 base62
// characters, as the CLI makes them): declared in the config by hash.
const (
	keyA    = "sk-sb-teamA" + "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	keyB    = "sk-sb-teamB" + "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	keyC    = "sk-sb-teamC" + "cccccccccccccccccccccccccccccccccccccc"
	mgmtKey = "sk-sb-admin" + "mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm"
)

func keyHash(k string) string {
	h := sha256.Sum256([]byte(k))
	return "sha256:" + hex.EncodeToString(h[:])
}

// startGovernedGateway serves gpt-test ($0.01 a token) and claude-test to
// three tenants: team-a (gpt-test only), team-b ($0.50 a day), team-c
// (5 requests a minute).
func startGovernedGateway(t *testing.T) (*gateway, *fakeprovider.Server) {
	t.Helper()
	up := fakeprovider.New(t)
	up.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat"))})
	gw := startGateway(t, fmt.Sprintf(`providers:
  - name: up
    schema: openai
    base_url: %s/v1
models:
  - name: gpt-test
    providers: [{provider: up, model: gpt-4.1-mini, pricing: {prompt: 10000, completion: 10000}}]
  - name: claude-test
    providers: [{provider: up, model: other}]
governance:
  tenants:
    - {name: team-a, models: [gpt-test]}
    - {name: team-b, budgets: {daily: 0.5}}
    - {name: team-c, rpm: 5}
  keys:
    - {id: a1, tenant: team-a, label: "team A", hash: "%s"}
    - {id: b1, tenant: team-b, hash: "%s"}
    - {id: c1, tenant: team-c, hash: "%s"}
  management_keys:
    - {id: ops, hash: "%s"}
`, up.URL(), keyHash(keyA), keyHash(keyB), keyHash(keyC), keyHash(mgmtKey)))
	return gw, up
}

var smallChat = []byte(`{"model":"gpt-test","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`)

// TestGatewayKeys: once tenants exist, every request needs a valid key,
// errors say why in the client's shape, and a key reaches only its
// tenant's models; the provider never sees the gateway key.
func TestGatewayKeys(t *testing.T) {
	gw, up := startGovernedGateway(t)
	for _, tc := range []struct {
		name, path string
		body       []byte
		hdr        []string
		status     int
		code       string // OpenAI error.code, or Anthropic error.type on /v1/messages
	}{
		{"no key", "/v1/chat/completions", smallChat, nil, 401, "missing_api_key"},
		{"unknown key", "/v1/chat/completions", smallChat, []string{"authorization", "Bearer sk-sb-nope"}, 401, "invalid_api_key"},
		{"no key on /v1/messages", "/v1/messages", []byte(`{"model":"gpt-test","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`), nil, 401, "authentication_error"},
		{"model not allowed", "/v1/chat/completions", []byte(`{"model":"claude-test","messages":[{"role":"user","content":"hi"}]}`), []string{"authorization", "Bearer " + keyA}, 403, "model_not_allowed"},
		{"valid key", "/v1/chat/completions", smallChat, []string{"authorization", "Bearer " + keyA}, 200, ""},
		{"x-api-key on /v1/messages", "/v1/messages", []byte(`{"model":"gpt-test","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`), []string{"x-api-key", keyA}, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(up.Requests())
			resp, out := gw.post(t, tc.path, tc.body, tc.hdr...)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, out)
			}
			if tc.code != "" {
				got := gjson.GetBytes(out, "error.code").Str
				if tc.path == "/v1/messages" {
					got = gjson.GetBytes(out, "error.type").Str
				}
				if got != tc.code {
					t.Errorf("code %q, want %q: %s", got, tc.code, out)
				}
				if n := len(up.Requests()); n != before {
					t.Errorf("a refused request reached the provider")
				}
				return
			}
			rec := lastRequest(t, up)
			for k, vs := range rec.Header {
				for _, v := range vs {
					if strings.Contains(v, "sk-sb-") {
						t.Errorf("provider got the gateway key in %s", k)
					}
				}
			}
		})
	}
}

// TestRateLimitExact: 20 concurrent requests against 5 a minute: exactly
// 5 pass, the rest get 429 with Retry-After and the caller's own
// x-ratelimit-* headers.
func TestRateLimitExact(t *testing.T) {
	gw, _ := startGovernedGateway(t)
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, out := gw.post(t, "/v1/chat/completions", smallChat, "authorization", "Bearer "+keyC)
			mu.Lock()
			defer mu.Unlock()
			codes[resp.StatusCode]++
			if resp.StatusCode == 429 && (resp.Header.Get("retry-after") == "" || gjson.GetBytes(out, "error.code").Str != "rate_limit_exceeded" ||
				resp.Header.Get("x-ratelimit-limit-requests") != "5") {
				t.Errorf("429 without its headers or code: %v %s", resp.Header, out)
			}
			if resp.StatusCode == 200 && resp.Header.Get("x-ratelimit-limit-requests") != "5" {
				t.Errorf("200 without x-ratelimit-limit-requests: %v", resp.Header)
			}
		}()
	}
	wg.Wait()
	if codes[200] != 5 || codes[429] != 15 {
		t.Fatalf("statuses %v, want 5 x 200 and 15 x 429", codes)
	}
}

// TestBudgetAndUsageRecord: a request is priced at the catalog's rates
// and recorded; GET /api/v1/generation returns the record to its key
// only; once spend plus the next reservation crosses the daily budget,
// the request gets 402 naming the budget.
func TestBudgetAndUsageRecord(t *testing.T) {
	gw, _ := startGovernedGateway(t)
	resp, out := gw.post(t, "/v1/chat/completions", smallChat, "authorization", "Bearer "+keyB)
	if resp.StatusCode != 200 {
		t.Fatalf("first request: %d %s", resp.StatusCode, out)
	}
	id, cost := gjson.GetBytes(out, "id").Str, gjson.GetBytes(out, "usage.cost").Float()
	if id == "" || cost < 0.319 || cost > 0.321 {
		t.Fatalf("id %q cost %v, want 32 tokens at $0.01", id, cost)
	}
	if d := gjson.GetBytes(out, "usage.cost_details"); d.Get("upstream_inference_prompt_cost").Float() < 0.239 || d.Get("upstream_inference_completions_cost").Float() < 0.079 {
		t.Errorf("usage.cost_details %s, want $0.24 prompt and $0.08 completion", d.Raw)
	}
	d := waitGeneration(t, gw, id, keyB)
	rec := d.Raw
	if d.Get("id").Str != id || d.Get("tokens_prompt").Int() != 24 || d.Get("tokens_completion").Int() != 8 ||
		d.Get("total_cost").Float() != cost || d.Get("provider_name").Str != "up" || d.Get("tenant").Str != "team-b" || d.Get("model").Str != "gpt-test" {
		t.Errorf("generation record %s does not match the response (id %s, cost %v)", rec, id, cost)
	}
	if r, b := gwGet(t, gw, "/api/v1/generation?id="+id, keyA); r.StatusCode != 404 {
		t.Errorf("another key read the record: %d %s", r.StatusCode, b)
	}
	if r, b := gwGet(t, gw, "/api/v1/key", keyB); r.StatusCode != 200 || gjson.GetBytes(b, "data.usage_daily").Float() != cost {
		t.Errorf("/api/v1/key: %d %s", r.StatusCode, b)
	}
	metrics := adminMetrics(t, gw)
	for _, want := range []string{
		`gen_ai_client_token_usage_sum{gen_ai_provider_name="up",gen_ai_request_model="gpt-test",gen_ai_token_type="output",tenant="team-b"} 8`,
		`gen_ai_client_token_usage_sum{gen_ai_provider_name="up",gen_ai_request_model="gpt-test",gen_ai_token_type="input",tenant="team-b"} 24`,
		`gen_ai_server_request_duration_seconds_count{error_type="",gen_ai_provider_name="up",gen_ai_request_model="gpt-test",tenant="team-b"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	resp, out = gw.post(t, "/v1/chat/completions", smallChat, "authorization", "Bearer "+keyB)
	if resp.StatusCode != 402 || gjson.GetBytes(out, "error.code").Str != "budget_exceeded" || !strings.Contains(gjson.GetBytes(out, "error.message").Str, "day budget") {
		t.Fatalf("over budget: %d %s", resp.StatusCode, out)
	}
	if m := adminMetrics(t, gw); !strings.Contains(m, `switchboard_governance_rejections_total{code="budget_exceeded",tenant="team-b"} 1`) {
		t.Errorf("rejection not counted")
	}
}

// TestKeyCreatedLive: a key made with the CLI while the gateway runs
// works within a second, with no restart.
func TestKeyCreatedLive(t *testing.T) {
	gw, _ := startGovernedGateway(t)
	cfg := filepath.Join(gw.dir, "switchboard.yaml")
	run := func(args ...string) string {
		out, err := exec.Command(switchboardBin, append(args, "--config", gw.configPath)...).CombinedOutput()
		if err != nil {
			t.Fatalf("switchboard %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	_ = cfg
	run("tenants", "create", "cli-team", "--rpm", "100")
	lines := strings.Split(strings.TrimSpace(run("keys", "create", "--tenant", "cli-team", "--label", "live")), "\n")
	key := lines[len(lines)-1]
	if !strings.HasPrefix(key, "sk-sb-") {
		t.Fatalf("last line %q is not a key", key)
	}
	start := time.Now()
	for {
		resp, out := gw.post(t, "/v1/chat/completions", smallChat, "authorization", "Bearer "+key)
		if resp.StatusCode == 200 {
			break
		}
		if time.Since(start) > time.Second {
			t.Fatalf("new key still refused after 1s: %d %s", resp.StatusCode, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func adminMetrics(t *testing.T, gw *gateway) string {
	t.Helper()
	return metricsAt(t, gw.adminHTTPPort)
}

func gwGet(t *testing.T, gw *gateway, path, key string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", gw.url(path), nil)
	req.Header.Set("authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// TestStreamBudget: a stream that would cross a hard budget ends with the
// gateway's budget_exceeded chunk and [DONE], long before the provider's
// answer ends; what the provider billed is charged, and the next request
// is refused up front.
func TestStreamBudget(t *testing.T) {
	gw, up := startGovernedGateway(t)
	chunk := []byte(`data: {"id":"chatcmpl-flood","object":"chat.completion.chunk","created":1,"model":"gpt-4.1-mini","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}` + "\n\n")
	up.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat_stream")), Flood: chunk, FloodCount: 400})
	body := []byte(`{"model":"gpt-test","stream":true,"stream_options":{"include_usage":true},"max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`)
	resp, out := gw.post(t, "/v1/chat/completions", body, "authorization", "Bearer "+keyB)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, out)
	}
	events := strings.Split(strings.TrimSpace(string(out)), "\n\n")
	if len(events) < 3 || events[len(events)-1] != "data: [DONE]" {
		t.Fatalf("stream does not end with [DONE]: ...%q", events[max(0, len(events)-2):])
	}
	last := strings.TrimPrefix(events[len(events)-2], "data: ")
	if gjson.Get(last, "error.code").Str != "budget_exceeded" || gjson.Get(last, "choices.0.finish_reason").Str != "error" {
		t.Fatalf("last chunk %s, want the budget_exceeded error chunk", last)
	}
	content := strings.Count(string(out), `"content":"a"`)
	if content == 0 || content > 60 {
		t.Errorf("%d flood chunks reached the client before the budget cut, want a few dozen of the 400", content)
	}
	resp, out = gw.post(t, "/v1/chat/completions", smallChat, "authorization", "Bearer "+keyB)
	if resp.StatusCode != 402 {
		t.Errorf("after the cut stream: %d %s, want 402", resp.StatusCode, out)
	}
}

// TestKeysAPI: a management key creates, lists, updates and deletes keys
// over /api/v1/keys (OpenRouter's shapes); a created key works at once,
// a deleted one stops; a tenant's key cannot use the API.
func TestKeysAPI(t *testing.T) {
	gw, _ := startGovernedGateway(t)
	call := func(method, path, key string, body string) (int, []byte) {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, gw.url(path), rd)
		req.Header.Set("authorization", "Bearer "+key)
		req.Header.Set("content-type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if st, b := call("GET", "/api/v1/keys", keyA, ""); st != 403 || gjson.GetBytes(b, "error.code").Str != "management_key_required" {
		t.Errorf("tenant key on the key API: %d %s", st, b)
	}
	st, b := call("POST", "/api/v1/keys", mgmtKey, `{"tenant":"team-c","name":"ci","limit":2.5}`)
	if st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	secret, id := gjson.GetBytes(b, "key").Str, gjson.GetBytes(b, "data.id").Str
	if !strings.HasPrefix(secret, "sk-sb-") || gjson.GetBytes(b, "data.limit").Float() != 2.5 || gjson.GetBytes(b, "data.tenant").Str != "team-c" {
		t.Fatalf("create answered %s", b)
	}
	if resp, out := gw.post(t, "/v1/chat/completions", smallChat, "authorization", "Bearer "+secret); resp.StatusCode != 200 {
		t.Fatalf("the new key: %d %s", resp.StatusCode, out)
	}
	st, b = call("GET", "/api/v1/keys", mgmtKey, "")
	if st != 200 || !strings.Contains(string(b), `"id":"`+id+`"`) || strings.Contains(string(b), secret) || strings.Contains(string(b), "sha256") {
		t.Errorf("list: %d %s", st, b)
	}
	if st, b = call("PATCH", "/api/v1/keys/"+id, mgmtKey, `{"label":"ci-2"}`); st != 200 || gjson.GetBytes(b, "data.label").Str != "ci-2" {
		t.Errorf("patch: %d %s", st, b)
	}
	if st, b = call("PATCH", "/api/v1/keys/a1", mgmtKey, `{"disabled":true}`); st != 409 {
		t.Errorf("patching a config key: %d %s", st, b)
	}
	// A key's plugin policy: checked against the chain, shown, applied,
	// replaced by PATCH.
	if st, b = call("POST", "/api/v1/keys", mgmtKey, `{"tenant":"team-c","plugins":{"deny":["nope"]}}`); st != 400 || gjson.GetBytes(b, "error.code").Str != "invalid_plugins" ||
		!strings.Contains(gjson.GetBytes(b, "error.message").Str, `deny "nope": unknown plugin (known: file-parser, middle-out, response-healing)`) {
		t.Errorf("unknown plugin in a key's policy: %d %s", st, b)
	}
	st, b = call("POST", "/api/v1/keys", mgmtKey, `{"tenant":"team-c","plugins":{"deny":["response-healing"],"force":["middle-out"]}}`)
	if st != 201 || gjson.GetBytes(b, "data.plugins.deny.0").Str != "response-healing" || gjson.GetBytes(b, "data.plugins.force.0.id").Str != "middle-out" {
		t.Fatalf("create with plugins: %d %s", st, b)
	}
	pkey, pid := gjson.GetBytes(b, "key").Str, gjson.GetBytes(b, "data.id").Str
	healChat := []byte(`{"model":"gpt-test","max_tokens":5,"plugins":[{"id":"response-healing"}],"messages":[{"role":"user","content":"hi"}]}`)
	if resp, out := gw.post(t, "/v1/chat/completions", healChat, "authorization", "Bearer "+pkey); resp.StatusCode != 403 ||
		gjson.GetBytes(out, "error.message").Str != `plugin "response-healing" (plugins[0]) is not allowed for key "`+pid+`" (plugins.deny)` {
		t.Errorf("denied plugin: %d %s", resp.StatusCode, out)
	}
	if st, b = call("PATCH", "/api/v1/keys/"+pid, mgmtKey, `{"plugins":{}}`); st != 200 || gjson.GetBytes(b, "data.plugins").Exists() {
		t.Errorf("patch plugins: %d %s", st, b)
	}
	if resp, out := gw.post(t, "/v1/chat/completions", healChat, "authorization", "Bearer "+pkey); resp.StatusCode != 200 {
		t.Errorf("after the policy was cleared: %d %s", resp.StatusCode, out)
	}
	if st, b = call("DELETE", "/api/v1/keys/"+id, mgmtKey, ""); st != 200 || !gjson.GetBytes(b, "data.deleted").Bool() {
		t.Fatalf("delete: %d %s", st, b)
	}
	if resp, out := gw.post(t, "/v1/chat/completions", smallChat, "authorization", "Bearer "+secret); resp.StatusCode != 401 || gjson.GetBytes(out, "error.code").Str != "api_key_revoked" {
		t.Errorf("the deleted key: %d %s", resp.StatusCode, out)
	}
}

// TestCapture: governance.capture keeps the prompt and the answer in the
// usage records of the tenants it names, and of no other.
func TestCapture(t *testing.T) {
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
  tenants: [{name: team-a}, {name: team-b}]
  keys:
    - {id: a1, tenant: team-a, hash: "%s"}
    - {id: b1, tenant: team-b, hash: "%s"}
  capture: {tenants: [team-a], retention: 24h, max_bytes: 4096}
`, up.URL(), keyHash(keyA), keyHash(keyB)))
	record := func(key string) gjson.Result {
		t.Helper()
		resp, out := gw.post(t, "/v1/chat/completions", []byte(`{"model":"gpt-test","messages":[{"role":"user","content":"a captured question"}]}`), "authorization", "Bearer "+key)
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, out)
		}
		return waitGeneration(t, gw, gjson.GetBytes(out, "id").Str, key)
	}
	a := record(keyA)
	want := transcriptText(t, fakeprovider.MustLoad(t, transcript("openai", "chat")), "openai")
	if !strings.Contains(a.Get("capture.prompt").Str, "a captured question") || !strings.Contains(a.Get("capture.answer").Str, want) {
		t.Errorf("team-a record capture %s", a.Get("capture").Raw)
	}
	if strings.Contains(a.Get("capture.prompt").Str, keyA) {
		t.Error("the gateway key was captured")
	}
	// team-b is not captured: a streamed answer (another transcript, so
	// another id) has a record without a capture.
	up.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat_stream"))})
	resp, out := gw.post(t, "/v1/chat/completions", []byte(`{"model":"gpt-test","stream":true,"messages":[{"role":"user","content":"not captured"}]}`), "authorization", "Bearer "+keyB)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, out)
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(string(out), "data: "), "\n")
	if c := waitGeneration(t, gw, gjson.Get(first, "id").Str, keyB).Get("capture"); c.Exists() && c.Type != gjson.Null {
		t.Errorf("team-b's request was captured: %s", c.Raw)
	}
}

// waitGeneration is the usage record of a response, read with key once
// the batched writer has stored it (within 5 s).
func waitGeneration(t *testing.T, gw *gateway, id, key string) gjson.Result {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, b := gwGet(t, gw, "/api/v1/generation?id="+id, key)
		if r.StatusCode == 200 {
			return gjson.GetBytes(b, "data")
		}
		if time.Now().After(deadline) {
			t.Fatalf("generation %q: %d %s", id, r.StatusCode, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
