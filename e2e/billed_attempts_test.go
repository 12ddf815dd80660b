package e2e

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
	"github.com/switchboard-gw/switchboard/internal/testservers"
)

// billedModels: model "paid" on provider a ($0.01 a token) then b ($0.02
// a token); team-d has a hard daily budget of $10. Arguments: a's and
// b's URLs, extra governance lines (stores), key d1's hash.
const billedModels = `routing:
  max_attempts: 2
  per_try_timeout: 5s
health:
  consecutive_5xx: 100
providers:
  - {name: a, schema: openai, base_url: "%[1]s/v1"}
  - {name: b, schema: openai, base_url: "%[2]s/v1"}
models:
  - name: paid
    providers:
      - {provider: a, model: a-model, priority: 0, pricing: {prompt: 10000, completion: 10000}}
      - {provider: b, model: b-model, priority: 1, pricing: {prompt: 20000, completion: 20000}}
governance:
%[3]s  tenants:
    - {name: team-d, budgets: {daily: 10}}
  keys:
    - {id: d1, tenant: team-d, hash: "%[4]s"}
`

const keyD = "sk-sb-teamD" + "dddddddddddddddddddddddddddddddddddddd"

// TestBilledFailoverCounted: an attempt the provider billed and the
// gateway did not serve (a 200 whose body is no chat completion but
// reports usage) costs the operator: the key's spend and the usage
// record count it beside the attempt that served, each attempt listed
// with its cost. The answer's usage.cost stays the served attempt's. An
// attempt that produced nothing (no completion tokens, an error status,
// no response) costs nothing.
func TestBilledFailoverCounted(t *testing.T) {
	a, b := fakeprovider.New(t), fakeprovider.New(t)
	gw := startGateway(t, fmt.Sprintf(billedModels, a.URL(), b.URL(), "", keyHash(keyD)))
	json := func(name, body string) fakeprovider.Reply { return jsonReply(t, name, body) }
	good := func(id string) fakeprovider.Reply { return goodReply(t, id) }
	chats := 0 // access log lines of chat requests so far
	for _, tc := range []struct {
		name   string
		a, b   fakeprovider.Reply
		stream bool
		status int     // the client's
		served float64 // usage.cost in the answer
		spent  float64 // the key's spend
		// attempts in the usage record (none: the client got an error
		// and no id to look it up by).
		attempts []attempt
	}{
		{name: "billed bad answer then a whole answer", a: json("bad", billedBad), b: good("chatcmpl-whole"),
			status: 200, served: 0.48, spent: 0.63, attempts: []attempt{{"a", 502, 0.15}, {"b", 200, 0.48}}},
		{name: "billed bad answer then a stream", a: json("bad", billedBad),
			b:      fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat_stream"))}, // 19 + 9 tokens: $0.56
			stream: true, status: 200, served: 0.56, spent: 0.71, attempts: []attempt{{"a", 502, 0.15}, {"b", 200, 0.56}}},
		{name: "bad answer with no completion costs nothing", b: good("chatcmpl-nothing"),
			a:      json("bad", `{"id":"chatcmpl-bad","object":"chat.completion","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":0,"total_tokens":10}}`),
			status: 200, served: 0.48, spent: 0.48, attempts: []attempt{{"a", 502, 0}, {"b", 200, 0.48}}},
		{name: "error status costs nothing", b: good("chatcmpl-after-500"),
			a:      fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "error_503")), Status: 500},
			status: 200, served: 0.48, spent: 0.48, attempts: []attempt{{"a", 500, 0}, {"b", 200, 0.48}}},
		{name: "no response costs nothing", a: fakeprovider.Reply{Drop: true}, b: good("chatcmpl-after-drop"),
			status: 200, served: 0.48, spent: 0.48, attempts: []attempt{{"a", 0, 0}, {"b", 200, 0.48}}},
		{name: "unsized billed bad answer then a whole answer", a: fakeprovider.Reply{Unsized: true,
			Transcript: inlineTranscript(t, "bad", 200, "application/json", billedBad)}, b: good("chatcmpl-after-unsized"),
			status: 200, served: 0.48, spent: 0.63, attempts: []attempt{{"a", 502, 0.15}, {"b", 200, 0.48}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a.Enqueue("POST", "/v1/chat/completions", tc.a)
			if tc.status == 200 {
				b.Enqueue("POST", "/v1/chat/completions", tc.b)
			}
			before := keySpend(t, gw, keyD)
			body := `{"model":"paid","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`
			if tc.stream {
				body = `{"model":"paid","max_tokens":10,"stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`
			}
			resp, out := gw.post(t, "/v1/chat/completions", []byte(body), "authorization", "Bearer "+keyD)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, out)
			}
			id, cost := answerCost(t, resp, out)
			if tc.status == 200 && !near(cost, tc.served) {
				t.Errorf("usage.cost %v, want the served attempt's %v", cost, tc.served)
			}
			if got := waitSpend(t, gw, keyD, before+tc.spent); !near(got-before, tc.spent) {
				t.Errorf("the key spent %v, want %v (every billed attempt)", got-before, tc.spent)
			}
			// The access log's cost_usd is what the request was charged.
			chats++
			var l map[string]any
			waitFor(t, 5*time.Second, func() bool {
				lines := chatLines(gw)
				if len(lines) < chats {
					return false
				}
				l = lines[len(lines)-1]
				return true
			})
			if c, _ := l["cost_usd"].(float64); !near(c, tc.spent) {
				t.Errorf("access log cost_usd %v, want %v: %v", l["cost_usd"], tc.spent, l)
			}
			if len(tc.attempts) > 0 {
				checkRecord(t, gw, id, tc.spent, tc.attempts)
			}
		})
	}
}

// TestBilledFailoverAcrossReplicas: with two ext_proc replicas (Redis
// counters, PostgreSQL records) the router hop and each attempt's
// upstream hop land on either; a billed failed-over attempt is charged
// whichever replica served it, since what each attempt reports travels
// in Envoy's request metadata.
func TestBilledFailoverAcrossReplicas(t *testing.T) {
	redis := testservers.Redis(t)
	pg := testservers.Postgres(t)
	a, b := fakeprovider.New(t), fakeprovider.New(t)
	stores := fmt.Sprintf("  store: {kind: postgres, dsn: {env: E2E_PG_DSN}}\n  limits: {kind: redis, address: %q, on_store_failure: closed}\n", redis.Addr())
	gw := startGatewayMode(t, gatewayMode{replica: true}, fmt.Sprintf(billedModels, a.URL(), b.URL(), stores, keyHash(keyD)), "E2E_PG_DSN="+pg.DSN())
	const n = 6
	before := keySpend(t, gw, keyD)
	for i := range n {
		id := fmt.Sprintf("chatcmpl-replica-%d", i)
		a.Enqueue("POST", "/v1/chat/completions", jsonReply(t, "bad", billedBad))
		b.Enqueue("POST", "/v1/chat/completions", goodReply(t, id))
		resp, out := gw.post(t, "/v1/chat/completions", []byte(`{"model":"paid","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`), "authorization", "Bearer "+keyD)
		if resp.StatusCode != 200 || gjson.GetBytes(out, "id").Str != id {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, out)
		}
		checkRecord(t, gw, id, 0.63, []attempt{{"a", 502, 0.15}, {"b", 200, 0.48}})
	}
	if got := waitSpend(t, gw, keyD, before+n*0.63); !near(got-before, n*0.63) {
		t.Errorf("the key spent %v over %d requests, want %v", got-before, n, n*0.63)
	}
	// Both replicas ran attempts that were billed and failed over.
	for _, port := range []int{gw.adminHTTPPort, gw.replicaAdminPort} {
		if m := metricsAt(t, port); !strings.Contains(m, `switchboard_attempts_total{model="paid",provider="a",status="502"}`) {
			t.Errorf("replica with admin port %d ran no failed-over attempt:\n%s", port, grepLines(m, "switchboard_attempts_total"))
		}
	}
}

// billedBad is a 200 that is no chat completion (no choices) and bills
// 10 prompt and 5 completion tokens: $0.15 on provider a.
const billedBad = `{"id":"chatcmpl-bad","object":"chat.completion","created":1,"model":"a-model","choices":[],` +
	`"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}`

func jsonReply(t *testing.T, name, body string) fakeprovider.Reply {
	return fakeprovider.Reply{Transcript: inlineTranscript(t, name, 200, "application/json", body)}
}

// goodReply is a chat completion with id of 20 prompt and 4 completion
// tokens: $0.48 on provider b.
func goodReply(t *testing.T, id string) fakeprovider.Reply {
	return jsonReply(t, id, `{"id":"`+id+`","object":"chat.completion","created":1,"model":"b-model","choices":[{"index":0,`+
		`"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":20,"completion_tokens":4,"total_tokens":24}}`)
}

// attempt is one upstream try as the usage record lists it.
type attempt struct {
	provider string
	status   int
	cost     float64
}

// checkRecord checks the usage record of answer id: its total cost and
// each attempt's provider, status and cost, in order.
func checkRecord(t *testing.T, gw *gateway, id string, total float64, want []attempt) {
	t.Helper()
	rec := waitGeneration(t, gw, id, keyD)
	if !near(rec.Get("total_cost").Float(), total) {
		t.Errorf("record total_cost %v, want %v: %s", rec.Get("total_cost").Float(), total, rec.Raw)
	}
	got := rec.Get("attempts").Array()
	if len(got) != len(want) {
		t.Fatalf("record attempts %s, want %d", rec.Get("attempts").Raw, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Get("provider").Str != w.provider || int(g.Get("status").Int()) != w.status || !near(float64(g.Get("cost_nano_usd").Int())/1e9, w.cost) {
			t.Errorf("attempt %d %s, want provider %s status %d cost %v", i+1, g.Raw, w.provider, w.status, w.cost)
		}
	}
}

// chatLines are the access log lines of chat requests.
func chatLines(gw *gateway) []map[string]any {
	var out []map[string]any
	for _, l := range accessLines(gw) {
		if l["path"] == "/v1/chat/completions" {
			out = append(out, l)
		}
	}
	return out
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

// answerCost is a response's id and usage.cost, from a whole answer or
// a stream's usage chunk.
func answerCost(t *testing.T, resp *http.Response, out []byte) (string, float64) {
	t.Helper()
	if resp.Header.Get("content-type") != "text/event-stream" {
		return gjson.GetBytes(out, "id").Str, gjson.GetBytes(out, "usage.cost").Float()
	}
	var id string
	var cost float64
	for _, ev := range sseData(out) {
		if id == "" {
			id = gjson.Get(ev, "id").Str
		}
		if c := gjson.Get(ev, "usage.cost"); c.Exists() {
			cost = c.Float()
		}
	}
	return id, cost
}

// keySpend is the calling key's spend today (GET /api/v1/key).
func keySpend(t *testing.T, gw *gateway, key string) float64 {
	t.Helper()
	r, b := gwGet(t, gw, "/api/v1/key", key)
	if r.StatusCode != 200 {
		t.Fatalf("/api/v1/key: %d %s", r.StatusCode, b)
	}
	return gjson.GetBytes(b, "data.usage_daily").Float()
}

// waitSpend is the key's spend once it reaches want (settled when the
// router hop's stream ends, after the client has its answer), or after
// 2 s.
func waitSpend(t *testing.T, gw *gateway, key string, want float64) float64 {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		got := keySpend(t, gw, key)
		if got >= want-1e-6 || time.Now().After(deadline) {
			// A little longer: a charge past want would show.
			time.Sleep(100 * time.Millisecond)
			return keySpend(t, gw, key)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
