package extproc

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/routing"
)

// statsRow is one row of GET /stats.
type statsRow struct {
	Provider        string     `json:"provider"`
	Model           string     `json:"model"`
	Healthy         bool       `json:"healthy"`
	OpenUntil       *time.Time `json:"open_until"`
	TTFTSeconds     float64    `json:"ttft_seconds"`
	TokensPerSecond float64    `json:"tokens_per_second"`
	OK              int64      `json:"ok"`
	Failed          int64      `json:"failed"`
	LastStatus      int        `json:"last_status"`
}

// getStats reads GET /stats from the admin handler, keyed provider/model.
func getStats(t *testing.T, h *harness) map[string]statsRow {
	t.Helper()
	rec := httptest.NewRecorder()
	h.srv.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/stats", nil))
	if rec.Code != 200 || rec.Header().Get("content-type") != "application/json" {
		t.Fatalf("GET /stats = %d %q: %s", rec.Code, rec.Header().Get("content-type"), rec.Body)
	}
	var body struct {
		Providers []statsRow `json:"providers"`
	}
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("GET /stats body: %v", err)
	}
	if body.Providers == nil {
		t.Fatal("GET /stats: providers is null, want a list")
	}
	out := map[string]statsRow{}
	for _, r := range body.Providers {
		out[r.Provider+"/"+r.Model] = r
	}
	return out
}

// TestUpstreamRecordsStats: each finished attempt feeds the provider's
// live figures, which GET /stats shows and routing uses.
func TestUpstreamRecordsStats(t *testing.T) {
	h := newHarness(t, mustLoad(t, testYAML))
	if rows := getStats(t, h); len(rows) != 0 {
		t.Fatalf("stats before any traffic = %v, want none", rows)
	}

	// A whole answer from OpenAI.
	tr := readTranscript(t, "openai", "chat")
	s := h.startUpstream(t, "openai", "gpt-4o", chatBody("gpt-4o", false))
	continued(t, s.send(responseHeaders(false, tr.headers...)))
	continued(t, s.send(responseBody(tr.body, true)))
	s.close()
	_ = h.waitEnded(t)

	// A stream from Anthropic, in chunks.
	tr = readTranscript(t, "anthropic", "text_stream")
	s = h.startUpstream(t, "anthropic", "claude-sonnet", chatBody("claude-sonnet", true))
	s.streamHeaders(responseHeaders(false, tr.headers...))
	chunks := split(tr.body, 100)
	for i, c := range chunks {
		continued(t, s.send(responseBody(c, i == len(chunks)-1)))
	}
	s.close()
	_ = h.waitEnded(t)

	// A rate limit from OpenAI, whose error body arrives in full.
	tr = readTranscript(t, "openai", "error_429")
	s = h.startUpstream(t, "openai", "gpt-4o", chatBody("gpt-4o", false))
	for _, r := range s.respond(responseHeaders(false, tr.headers...), responseBody(tr.body, true)) {
		continued(t, r)
	}
	s.close()
	_ = h.waitEnded(t)

	// An attempt that got no response at all (connect failure, reset,
	// per-try timeout): the stream ends after the request.
	s = h.startUpstream(t, "anthropic", "tiered", chatBody("tiered", false))
	s.close()
	_ = h.waitEnded(t)
	if n := h.logs.FilterMessage("attempt failed before a response").Len(); n != 1 {
		t.Errorf("%d 'attempt failed before a response' logs, want 1", n)
	}

	rows := getStats(t, h)
	if len(rows) != 3 {
		t.Errorf("stats = %+v, want 3 provider models", rows)
	}
	oa := rows["openai/gpt-4o-2024-08-06"]
	if oa.OK != 1 || oa.Failed != 1 || oa.LastStatus != 429 || !oa.Healthy || oa.OpenUntil != nil || oa.TTFTSeconds <= 0 {
		t.Errorf("openai row = %+v, want 1 ok, 1 failed, last 429, healthy, measured", oa)
	}
	an := rows["anthropic/claude-sonnet-4-5-20250929"]
	if an.OK != 1 || an.Failed != 0 || an.LastStatus != 200 || an.TTFTSeconds <= 0 {
		t.Errorf("anthropic row = %+v, want 1 ok, last 200, measured", an)
	}
	hk := rows["anthropic/claude-haiku-4-5"]
	if hk.OK != 0 || hk.Failed != 1 || hk.LastStatus != 0 {
		t.Errorf("haiku row = %+v, want 1 failure without a status", hk)
	}

	// Enough failures open the circuit (health.consecutive_5xx, default 5).
	for range 4 {
		s = h.startUpstream(t, "anthropic", "tiered", chatBody("tiered", false))
		s.close()
		_ = h.waitEnded(t)
	}
	hk = getStats(t, h)["anthropic/claude-haiku-4-5"]
	if hk.Healthy || hk.OpenUntil == nil || hk.Failed != 5 {
		t.Errorf("haiku row after 5 failures = %+v, want open", hk)
	}
	// The router hop now plans it last, and without it as default.
	if got := h.route(t, []byte(`{"model":"tiered","provider":{"order":["anthropic","openai"]},"messages":[{"role":"user","content":"hi"}]}`)).plan(); got != "openai|tiered;anthropic|tiered" {
		t.Errorf("plan with anthropic's circuit open = %q, want anthropic last", got)
	}

	// The same attempts, as Prometheus series.
	metrics := getMetrics(t, h)
	for _, want := range []string{
		`switchboard_attempts_total{model="gpt-4o",provider="openai",status="200"} 1`,
		`switchboard_attempts_total{model="gpt-4o",provider="openai",status="429"} 1`,
		`switchboard_attempts_total{model="claude-sonnet",provider="anthropic",status="200"} 1`,
		`switchboard_attempts_total{model="tiered",provider="anthropic",status="0"} 5`,
		`switchboard_tokens_total{model="gpt-4o",provider="openai",type="prompt"} ` + tokens(t, readTranscript(t, "openai", "chat").body, "usage.prompt_tokens"),
		`switchboard_tokens_total{model="gpt-4o",provider="openai",type="completion"} ` + tokens(t, readTranscript(t, "openai", "chat").body, "usage.completion_tokens"),
		"go_goroutines ",
		"go_memstats_heap_inuse_bytes ",
	} {
		if !strings.Contains(metrics, "\n"+want) {
			t.Errorf("GET /metrics has no line %q", want)
		}
	}
}

// getMetrics reads GET /metrics in the Prometheus text format.
func getMetrics(t *testing.T, h *harness) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.srv.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("content-type"), "text/plain") {
		t.Fatalf("GET /metrics = %d %q", rec.Code, rec.Header().Get("content-type"))
	}
	return rec.Body.String()
}

// tokens reads a token count from a provider answer, as text.
func tokens(t *testing.T, body []byte, path string) string {
	t.Helper()
	r := gjson.GetBytes(body, path)
	if !r.Exists() || r.Int() == 0 {
		t.Fatalf("transcript has no %s", path)
	}
	return r.Raw
}

// TestUpstreamRecordsRetriedAttempt: Envoy retries an attempt whose
// response headers carry a retriable status (5xx, 429) by resetting it:
// the upstream hop sees the headers, then its stream ends without a body.
func TestUpstreamRecordsRetriedAttempt(t *testing.T) {
	h := newHarness(t, mustLoad(t, testYAML))
	s := h.startUpstream(t, "openai", "gpt-4o", chatBody("gpt-4o", false))
	rs := s.respond(responseHeaders(false, ":status", "503", "content-type", "application/json"), responseBody([]byte(`{"error":{"message":"overloaded"}}`), true))
	m := readMutation(continued(t, rs[0]).GetHeaderMutation())
	if m.set[":status"] != "503" {
		t.Fatalf(":status = %q, want 503 so that Envoy retries", m.set[":status"])
	}
	s.cancel() // Envoy resets the attempt
	_ = h.waitEnded(t)
	r := getStats(t, h)["openai/gpt-4o-2024-08-06"]
	if r.Failed == 0 {
		t.Fatal("regression: upstreamProcessor.done recorded nothing for an attempt Envoy reset after its " +
			"response headers, which is how every attempt Envoy retries on its status ends")
	}
	if r.Failed != 1 || r.LastStatus != 503 {
		t.Errorf("row = %+v, want 1 failure with status 503", r)
	}
}

func TestAdminHandler(t *testing.T) {
	tests := []struct {
		name       string
		loaded     bool
		method     string
		path       string
		wantStatus int
		wantBody   string // prefix
	}{
		{name: "healthz", loaded: true, method: "GET", path: "/healthz", wantStatus: 200, wantBody: "ok\n"},
		{name: "healthz before a config", method: "GET", path: "/healthz", wantStatus: 503, wantBody: "no config"},
		{name: "stats before a config", method: "GET", path: "/stats", wantStatus: 200, wantBody: `{"providers":[]}`},
		{name: "stats is read-only", loaded: true, method: "POST", path: "/stats", wantStatus: 405},
		{name: "unknown path", loaded: true, method: "GET", path: "/debug", wantStatus: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			if tc.loaded {
				h.store.Set(mustLoad(t, testYAML))
			}
			rec := httptest.NewRecorder()
			h.srv.AdminHandler().ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.wantStatus {
				t.Errorf("%s %s = %d, want %d", tc.method, tc.path, rec.Code, tc.wantStatus)
			}
			if got := rec.Body.String(); len(got) < len(tc.wantBody) || got[:len(tc.wantBody)] != tc.wantBody {
				t.Errorf("body = %q, want it to start with %q", got, tc.wantBody)
			}
		})
	}

	// Rows come out sorted, open circuits with their end.
	h := newHarness(t, mustLoad(t, testYAML))
	br := routing.Breaker{FailuresToOpen: 1, Cooldown: time.Minute, MaxCooldown: time.Minute}
	h.srv.Stats().Observe("openai", "b", routing.Outcome{Status: 200, TTFT: time.Second}, br)
	h.srv.Stats().Observe("anthropic", "z", routing.Outcome{Status: 500}, br)
	h.srv.Stats().Observe("openai", "a", routing.Outcome{Status: 0}, br)
	rec := httptest.NewRecorder()
	h.srv.AdminHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/stats", nil))
	var body struct{ Providers []statsRow }
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, r := range body.Providers {
		order = append(order, r.Provider+"/"+r.Model)
		if r.Healthy == (r.OpenUntil != nil) {
			t.Errorf("row %+v: open_until must be set exactly when unhealthy", r)
		}
	}
	if got := len(order); got != 3 || order[0] != "anthropic/z" || order[1] != "openai/a" || order[2] != "openai/b" {
		t.Errorf("rows = %q, want sorted by provider then model", order)
	}
}
