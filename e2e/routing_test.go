package e2e

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

// fleet is a gateway in front of three fake providers: a and b speak the
// OpenAI schema, c speaks Anthropic's, so a fallback to c is translated
// anew for c.
type fleet struct {
	gw      *gateway
	a, b, c *fakeprovider.Server
	client  openai.Client
}

const fleetModels = `routing:
  max_attempts: 3
  per_try_timeout: 1s
%[4]s
health:
  consecutive_5xx: %[6]d
  base_ejection: 1s
  max_ejection: 2s
providers:
  - {name: a, schema: openai, base_url: "%[1]s/v1"}
  - {name: b, schema: openai, base_url: "%[2]s/v1"}
  - {name: c, schema: anthropic, base_url: "%[3]s"}
models:
  - name: tiered
    providers:
      - {provider: a, model: a-model, priority: 0, pricing: {prompt: 5, completion: 15}, capabilities: [tools, json_schema]}
      - {provider: b, model: b-model, priority: 1, pricing: {prompt: 1, completion: 2}, zdr: true, capabilities: [tools]}
      - {provider: c, model: c-model, priority: 2, pricing: {prompt: 3, completion: 4}, capabilities: [vision]}
  - name: only-a
    providers: [{provider: a, model: a-model}]
  - name: only-b
    providers: [{provider: b, model: b-model}]
%[5]s`

// newFleet starts the fleet; failuresToOpen is the circuit breaker's
// threshold (health.consecutive_5xx).
func newFleet(t *testing.T, policy, extraModels string, failuresToOpen int) *fleet {
	f := &fleet{a: fakeprovider.New(t), b: fakeprovider.New(t), c: fakeprovider.New(t)}
	f.gw = startGateway(t, fmt.Sprintf(fleetModels, f.a.URL(), f.b.URL(), f.c.URL(), policy, extraModels, failuresToOpen))
	f.client = openai.NewClient(option.WithBaseURL(f.gw.url("/v1/")), option.WithAPIKey("k"), option.WithMaxRetries(0))
	f.okAll(t)
	return f
}

// okAll makes every provider answer normally.
func (f *fleet) okAll(t *testing.T) {
	chat := fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat"))}
	f.a.Handle("POST", "/v1/chat/completions", chat)
	f.b.Handle("POST", "/v1/chat/completions", chat)
	f.c.Handle("POST", "/v1/messages", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("anthropic", "text"))})
}

func (f *fleet) counts() (int, int, int) {
	return len(f.a.Requests()), len(f.b.Requests()), len(f.c.Requests())
}

func chatBody(model string, extra string) []byte {
	return []byte(`{"model":"` + model + `","messages":[{"role":"user","content":"hi"}]` + extra + `}`)
}

func TestFallback(t *testing.T) {
	// A high breaker threshold: each case here makes a fail once.
	f := newFleet(t, "", "", 100)
	errBody := fakeprovider.MustLoad(t, transcript("openai", "error_429"))

	t.Run("500 then 429 falls over to the next schema", func(t *testing.T) {
		f.a.Enqueue("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: errBody, Status: 500})
		f.b.Enqueue("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: errBody})
		a0, b0, c0 := f.counts()
		var raw *http.Response
		got, err := f.client.Chat.Completions.New(ctxT(t), userParams("tiered", "hi"), option.WithResponseInto(&raw))
		if err != nil {
			t.Fatal(err)
		}
		a1, b1, c1 := f.counts()
		if a1-a0 != 1 || b1-b0 != 1 || c1-c0 != 1 {
			t.Fatalf("attempts a=%d b=%d c=%d, want one each", a1-a0, b1-b0, c1-c0)
		}
		want := gjson.GetBytes(fakeprovider.MustLoad(t, transcript("anthropic", "text")).Body, "content.0.text").Str
		if got.Choices[0].Message.Content != want {
			t.Fatalf("content %q, want c's %q", got.Choices[0].Message.Content, want)
		}
		if raw.Header.Get("x-switchboard-provider") != "c" || raw.Header.Get("x-switchboard-attempt") != "3" ||
			raw.Header.Get("x-switchboard-fallbacks") != "a/tiered,b/tiered" {
			t.Fatalf("headers provider=%q attempt=%q fallbacks=%q", raw.Header.Get("x-switchboard-provider"),
				raw.Header.Get("x-switchboard-attempt"), raw.Header.Get("x-switchboard-fallbacks"))
		}
		if p := gjson.Get(got.RawJSON(), "provider").Str; p != "c" {
			t.Fatalf("body provider = %q", p)
		}
		// Two fallbacks, counted where an operator looks.
		if m := metricsAt(t, f.gw.adminHTTPPort); !strings.Contains(m, `switchboard_fallbacks_total{model="tiered",provider="b"}`) ||
			!strings.Contains(m, `switchboard_fallbacks_total{model="tiered",provider="c"}`) {
			t.Errorf("fallbacks not counted:\n%s", grepLines(m, "fallbacks"))
		}
		// c got a request translated for Anthropic, carrying no OpenAI-side credential.
		last := lastRequest(t, f.c)
		if last.Path != "/v1/messages" || gjson.GetBytes(last.Body, "model").Str != "c-model" || last.Header.Get("authorization") != "" {
			t.Fatalf("c got %s %s auth=%q", last.Path, last.Body, last.Header.Get("authorization"))
		}
	})

	t.Run("connection refused falls over", func(t *testing.T) {
		f.a.Enqueue("POST", "/v1/chat/completions", fakeprovider.Reply{Drop: true})
		_, b0, _ := f.counts()
		var raw *http.Response
		if _, err := f.client.Chat.Completions.New(ctxT(t), userParams("tiered", "hi"), option.WithResponseInto(&raw)); err != nil {
			t.Fatal(err)
		}
		if _, b1, _ := f.counts(); b1-b0 != 1 || raw.Header.Get("x-switchboard-provider") != "b" {
			t.Fatalf("b attempts %d, served by %q", b1-b0, raw.Header.Get("x-switchboard-provider"))
		}
	})

	t.Run("hang before first byte times out and falls over", func(t *testing.T) {
		f.a.Enqueue("POST", "/v1/chat/completions", fakeprovider.Reply{Hang: true})
		start := time.Now()
		var raw *http.Response
		if _, err := f.client.Chat.Completions.New(ctxT(t), userParams("tiered", "hi"), option.WithResponseInto(&raw)); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > 5*time.Second || raw.Header.Get("x-switchboard-provider") != "b" {
			t.Fatalf("took %v, served by %q", took, raw.Header.Get("x-switchboard-provider"))
		}
	})

	t.Run("a stream cut after the first byte is committed", func(t *testing.T) {
		f.a.Enqueue("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat_stream")), CloseCleanlyAfterEvents: 3})
		_, b0, c0 := f.counts()
		// only-a: the failures above may have taken a out of rotation for "tiered".
		resp, body := f.gw.post(t, "/v1/chat/completions", chatBody("only-a", `,"stream":true,"models":["only-a","only-b"]`))
		data := sseData(body)
		if resp.StatusCode != 200 || len(data) < 2 || data[len(data)-1] != "[DONE]" || gjson.Get(data[len(data)-2], "choices.0.finish_reason").Str != "error" {
			t.Fatalf("status %d body %s", resp.StatusCode, body)
		}
		if _, b1, c1 := f.counts(); b1 != b0 || c1 != c0 {
			t.Fatal("a committed stream was retried elsewhere: output would be mixed")
		}
		if strings.Count(string(body), `"role":"assistant"`) != 1 {
			t.Fatalf("duplicated output: %s", body)
		}
	})

	t.Run("allow_fallbacks false returns the first error", func(t *testing.T) {
		f.a.Enqueue("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: errBody})
		_, b0, _ := f.counts()
		resp, body := f.gw.post(t, "/v1/chat/completions", chatBody("only-a", `,"models":["only-a","only-b"],"provider":{"allow_fallbacks":false}`))
		assertOpenAIError(t, resp, body, 429, "rate_limit_exceeded")
		if resp.Header.Get("retry-after") == "" {
			t.Fatal("429 lost its Retry-After")
		}
		if _, b1, _ := f.counts(); b1 != b0 {
			t.Fatal("fell back although allow_fallbacks is false")
		}
	})

	t.Run("models list falls back to the next model", func(t *testing.T) {
		f.a.Enqueue("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: errBody, Status: 503})
		resp, body := f.gw.post(t, "/v1/chat/completions", chatBody("only-a", `,"models":["only-a","only-b"]`))
		if resp.StatusCode != 200 || resp.Header.Get("x-switchboard-model") != "only-b" || resp.Header.Get("x-switchboard-provider") != "b" {
			t.Fatalf("status %d model %q provider %q: %s", resp.StatusCode, resp.Header.Get("x-switchboard-model"), resp.Header.Get("x-switchboard-provider"), body)
		}
		if m := gjson.GetBytes(lastRequest(t, f.b).Body, "model").Str; m != "b-model" {
			t.Fatalf("b got model %q", m)
		}
	})
}

func TestRoutingPreferences(t *testing.T) {
	f := newFleet(t, "", "", 3)
	served := func(t *testing.T, extra string) string {
		t.Helper()
		body := chatBody("tiered", extra)
		if strings.HasPrefix(extra, "{") {
			body = []byte(extra) // a whole body
		}
		resp, body := f.gw.post(t, "/v1/chat/completions", body)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		return resp.Header.Get("x-switchboard-provider")
	}
	for _, tc := range []struct{ name, extra, want string }{
		{"default priority", ``, "a"},
		{"order", `,"provider":{"order":["c","b"]}`, "c"},
		{"only", `,"provider":{"only":["b"]}`, "b"},
		{"ignore", `,"provider":{"ignore":["a"]}`, "b"},
		{"sort by price", `,"provider":{"sort":"price"}`, "b"},
		{"floor suffix", `{"model":"tiered:floor","messages":[{"role":"user","content":"hi"}]}`, "b"},
		{"zdr", `,"provider":{"zdr":true}`, "b"},
		{"max_price", `,"provider":{"max_price":{"prompt":4}}`, "b"},
		{"image needs vision", `{"model":"tiered","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}]}`, "c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := served(t, tc.extra); got != tc.want {
				t.Fatalf("served by %q, want %q", got, tc.want)
			}
		})
	}

	t.Run("no provider fits: 503 with every reason", func(t *testing.T) {
		resp, body := f.gw.post(t, "/v1/chat/completions", chatBody("tiered", `,"provider":{"only":["a"],"zdr":true}`))
		assertOpenAIError(t, resp, body, 503, "no_provider_available")
		msg := gjson.GetBytes(body, "error.message").Str
		for _, want := range []string{"on a: no zero data retention", "on b: not in provider.only", "on c: not in provider.only"} {
			if !strings.Contains(msg, want) {
				t.Fatalf("message lacks %q: %s", want, msg)
			}
		}
	})

	t.Run("sticky session stays on one provider", func(t *testing.T) {
		seen := map[string]int{}
		for i := 0; i < 10; i++ {
			seen[served(t, `,"session_id":"conv-42","provider":{"only":["a","b"]}`)]++
		}
		if len(seen) != 1 {
			t.Fatalf("session spread over %v", seen)
		}
	})

	t.Run("sort by latency follows measured TTFT", func(t *testing.T) {
		slow := fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat")), DelayFirstByte: 150 * time.Millisecond}
		f.a.Handle("POST", "/v1/chat/completions", slow)
		defer f.okAll(t)
		for i := 0; i < 3; i++ { // measure both
			served(t, `,"provider":{"only":["a"]}`)
			served(t, `,"provider":{"only":["b"]}`)
		}
		if got := served(t, `,"provider":{"sort":"latency","only":["a","b"]}`); got != "b" {
			t.Fatalf("latency sort served by %q, want b", got)
		}
		stats := adminStats(t, f.gw)
		a, b := gjson.Get(stats, `providers.#(provider=="a").ttft_seconds`).Float(), gjson.Get(stats, `providers.#(provider=="b").ttft_seconds`).Float()
		if a < 0.05 || a < 10*b {
			t.Fatalf("admin stats do not show a's slow TTFT: %s", stats)
		}
	})
}

func adminStats(t *testing.T, gw *gateway) string {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/stats", gw.adminHTTPPort))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 8192)
	for {
		n, err := resp.Body.Read(buf)
		b.WriteString(string(buf[:n]))
		if err != nil {
			break
		}
	}
	return b.String()
}

func TestPolicy(t *testing.T) {
	f := newFleet(t, `  policy:
    providers: [a, b]`, "", 3)
	t.Run("asking for a forbidden provider is 403", func(t *testing.T) {
		resp, body := f.gw.post(t, "/v1/chat/completions", chatBody("tiered", `,"provider":{"order":["c"]}`))
		assertOpenAIError(t, resp, body, 403, "forbidden_by_policy")
		if !strings.Contains(gjson.GetBytes(body, "error.message").Str, "routing.policy.providers") {
			t.Fatalf("403 does not name the rule: %s", body)
		}
	})
	t.Run("a request cannot widen the policy", func(t *testing.T) {
		f.a.Enqueue("POST", "/v1/chat/completions", fakeprovider.Reply{Status: 500, Transcript: fakeprovider.MustLoad(t, transcript("openai", "error_429"))})
		f.b.Enqueue("POST", "/v1/chat/completions", fakeprovider.Reply{Status: 500, Transcript: fakeprovider.MustLoad(t, transcript("openai", "error_429"))})
		_, _, c0 := f.counts()
		resp, _ := f.gw.post(t, "/v1/chat/completions", chatBody("tiered", ``))
		if resp.StatusCode != 502 {
			t.Fatalf("status %d, want the last allowed provider's 502", resp.StatusCode)
		}
		if _, _, c1 := f.counts(); c1 != c0 {
			t.Fatal("a provider outside the policy was tried")
		}
	})
	t.Run("vision only at c, which the policy forbids: 403", func(t *testing.T) {
		resp, body := f.gw.post(t, "/v1/chat/completions", chatBody("tiered", `,"provider":{"only":["c"]}`))
		assertOpenAIError(t, resp, body, 403, "forbidden_by_policy")
	})
}

func TestWeightsAndHealth(t *testing.T) {
	f := newFleet(t, "", `  - name: split
    providers:
      - {provider: a, model: a-model, weight: 3}
      - {provider: b, model: b-model, weight: 1}
`, 3)
	share := func(t *testing.T, n int) float64 {
		a0, b0, _ := f.counts()
		for i := 0; i < n; i++ {
			if resp, body := f.gw.post(t, "/v1/chat/completions", chatBody("split", "")); resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
		}
		a1, b1, _ := f.counts()
		return float64(a1-a0) / float64((a1-a0)+(b1-b0))
	}
	t.Run("weights split traffic", func(t *testing.T) {
		if s := share(t, 400); math.Abs(s-0.75) > 0.08 {
			t.Fatalf("a's share %.2f, want 0.75±0.08", s)
		}
	})
	t.Run("a weight change pushed live", func(t *testing.T) {
		f.gw.writeConfig(fmt.Sprintf(fleetModels, f.a.URL(), f.b.URL(), f.c.URL(), "", `  - name: split
    providers:
      - {provider: a, model: a-model, weight: 1}
      - {provider: b, model: b-model, weight: 3}
`, 3))
		waitFor(t, 5*time.Second, func() bool { return share(t, 40) < 0.5 })
		if s := share(t, 400); math.Abs(s-0.25) > 0.08 {
			t.Fatalf("a's share %.2f after the push, want 0.25±0.08", s)
		}
	})
	t.Run("a failing provider leaves rotation and comes back", func(t *testing.T) {
		fail := fakeprovider.Reply{Status: 500, Transcript: fakeprovider.MustLoad(t, transcript("openai", "error_429"))}
		f.a.Handle("POST", "/v1/chat/completions", fail)
		for i := 0; i < 3; i++ { // three failures open a's circuit (each falls over to b)
			if resp, _ := f.gw.post(t, "/v1/chat/completions", chatBody("tiered", "")); resp.StatusCode != 200 {
				t.Fatalf("fallback failed: %d", resp.StatusCode)
			}
		}
		f.okAll(t)
		a0, _, _ := f.counts()
		for i := 0; i < 5; i++ {
			if resp, _ := f.gw.post(t, "/v1/chat/completions", chatBody("tiered", "")); resp.Header.Get("x-switchboard-provider") != "b" {
				t.Fatalf("request %d served by %q while a is out of rotation", i, resp.Header.Get("x-switchboard-provider"))
			}
		}
		if a1, _, _ := f.counts(); a1 != a0 {
			t.Fatalf("a got %d requests while out of rotation", a1-a0)
		}
		// After the cool-down (health.base_ejection: 1s) a is back.
		waitFor(t, 5*time.Second, func() bool {
			resp, _ := f.gw.post(t, "/v1/chat/completions", chatBody("tiered", ""))
			return resp.Header.Get("x-switchboard-provider") == "a"
		})
	})
}

func TestStreamCancellation(t *testing.T) {
	f := newFleet(t, "", "", 3)
	f.a.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat_stream")), HangAfterEvents: 3})
	ctx, cancel := context.WithCancel(context.Background())
	stream := f.client.Chat.Completions.NewStreaming(ctx, userParams("only-a", "hi"))
	got := 0
	for got < 2 && stream.Next() {
		got++
	}
	if got < 2 {
		t.Fatalf("stream gave %d chunks before the cancel: %v", got, stream.Err())
	}
	cancel()
	stream.Close()
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer wcancel()
	recs, err := f.a.WaitFinished(wctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !recs[len(recs)-1].ClientCanceled {
		t.Fatal("the provider never saw the cancellation: the upstream request leaked")
	}
	waitFor(t, 5*time.Second, func() bool { return strings.Contains(f.gw.extproc.log.String(), "completion aborted") })
}

// The per-try timeout bounds the wait for a provider's response headers,
// not a stream's length: a slow stream outlives it.
func TestLongStreamOutlivesPerTryTimeout(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("content-type", "text/event-stream")
		w.WriteHeader(200)
		for i := 0; i < 5; i++ {
			fmt.Fprintf(w, "data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%d \"},\"finish_reason\":null}]}\n\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(400 * time.Millisecond):
			}
		}
		fmt.Fprint(w, "data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
	}))
	t.Cleanup(slow.Close)
	gw := startGateway(t, fmt.Sprintf(`routing:
  per_try_timeout: 1s
providers:
  - {name: slow, schema: openai, base_url: "%s/v1"}
models:
  - name: slow
    providers: [{provider: slow}]
`, slow.URL))
	start := time.Now()
	resp, body := gw.post(t, "/v1/chat/completions", chatBody("slow", `,"stream":true`))
	data := sseData(body)
	if resp.StatusCode != 200 || len(data) < 2 || data[len(data)-1] != "[DONE]" || gjson.Get(data[len(data)-2], "choices.0.finish_reason").Str != "stop" {
		t.Fatalf("status %d after %v: %s", resp.StatusCode, time.Since(start), body)
	}
	if took := time.Since(start); took < 2*time.Second {
		t.Fatalf("stream took %v; the test needs it longer than the per-try timeout", took)
	}
}
