package e2e

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"
	collectortracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

// signalsConfig serves gpt-test on "flaky" first and "up" second
// ($0.01 a token on each) to tenant team-s, whose key is keyS.
const signalsConfig = `providers:
  - {name: flaky, schema: openai, base_url: "%[1]s/v1"}
  - {name: up, schema: openai, base_url: "%[2]s/v1"}
models:
  - name: gpt-test
    providers:
      - {provider: flaky, model: flaky-model, priority: 0, pricing: {prompt: 10000, completion: 10000}}
      - {provider: up, model: gpt-4.1-mini, priority: 1, pricing: {prompt: 10000, completion: 10000}}
  - name: other-test
    providers: [{provider: up, model: other}]
governance:
  tenants:
    - {name: team-s, models: [gpt-test]}
  keys:
    - {id: s1, tenant: team-s, hash: "%[3]s"}
`

const keyS = "sk-sb-teamS" + "ssssssssssssssssssssssssssssssssssssss"

// TestAccessLogUsage: a governed request's access-log line names its key
// id and tenant and carries the tokens and cost it was charged, whether
// the upstream hop translated the answer (whole) or the router hop did
// (stream); a refusal after authentication names the key and tenant and
// no tokens. The key itself is never logged.
func TestAccessLogUsage(t *testing.T) {
	flaky, up := fakeprovider.New(t), fakeprovider.New(t)
	flaky.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat"))})
	gw := startGateway(t, fmt.Sprintf(signalsConfig, flaky.URL(), up.URL(), keyHash(keyS)))
	requests := []struct {
		name       string
		body       string
		status     int
		prompt     float64 // tokens; -1: null
		completion float64
		reply      *fakeprovider.Transcript
	}{
		{"whole", `{"model":"gpt-test","messages":[{"role":"user","content":"hi"}]}`, 200, 24, 8, nil},
		{"stream", `{"model":"gpt-test","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`, 200, 19, 9,
			fakeprovider.MustLoad(t, transcript("openai", "chat_stream"))},
		{"refused", `{"model":"other-test","messages":[{"role":"user","content":"hi"}]}`, 403, -1, -1, nil},
	}
	for _, r := range requests {
		if r.reply != nil {
			flaky.Enqueue("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: r.reply})
		}
		resp, out := gw.post(t, "/v1/chat/completions", []byte(r.body), "authorization", "Bearer "+keyS)
		if resp.StatusCode != r.status {
			t.Fatalf("%s: status %d, want %d: %s", r.name, resp.StatusCode, r.status, out)
		}
	}
	waitFor(t, 5*time.Second, func() bool { return len(accessLines(gw)) >= len(requests)+1 })
	lines := accessLines(gw)
	lines = lines[len(lines)-len(requests):]
	for i, r := range requests {
		l := lines[i]
		t.Run(r.name, func(t *testing.T) {
			if l["key_id"] != "s1" || l["tenant"] != "team-s" {
				t.Errorf("key_id %v tenant %v, want s1 team-s: %v", l["key_id"], l["tenant"], l)
			}
			if r.prompt < 0 {
				if l["prompt_tokens"] != nil || l["completion_tokens"] != nil || l["cost_usd"] != nil {
					t.Errorf("a refused request has usage: %v", l)
				}
				return
			}
			cost := (r.prompt + r.completion) * 0.01
			if l["prompt_tokens"] != r.prompt || l["completion_tokens"] != r.completion {
				t.Errorf("tokens %v/%v, want %v/%v: %v", l["prompt_tokens"], l["completion_tokens"], r.prompt, r.completion, l)
			}
			if c, _ := l["cost_usd"].(float64); c < cost-1e-9 || c > cost+1e-9 {
				t.Errorf("cost_usd %v, want %v", l["cost_usd"], cost)
			}
		})
	}
	if all := gw.envoy.log.String(); strings.Contains(all, keyS) || strings.Contains(all, "sk-sb-") {
		t.Errorf("Envoy's output contains the gateway key")
	}
}

// otlpReceiver is an in-process OTLP trace collector over gRPC.
type otlpReceiver struct {
	collectortracepb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []*tracepb.Span
	addr  string
}

func startOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &otlpReceiver{addr: lis.Addr().String()}
	g := grpc.NewServer()
	collectortracepb.RegisterTraceServiceServer(g, r)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	return r
}

func (r *otlpReceiver) Export(_ context.Context, req *collectortracepb.ExportTraceServiceRequest) (*collectortracepb.ExportTraceServiceResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			r.spans = append(r.spans, ss.GetSpans()...)
		}
	}
	return &collectortracepb.ExportTraceServiceResponse{}, nil
}

// wait returns the spans once n have come.
func (r *otlpReceiver) wait(t *testing.T, n int) []*tracepb.Span {
	t.Helper()
	var out []*tracepb.Span
	waitFor(t, 10*time.Second, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		out = append([]*tracepb.Span(nil), r.spans...)
		return len(out) >= n
	})
	return out
}

func attrs(s *tracepb.Span) map[string]any {
	m := map[string]any{}
	for _, kv := range s.GetAttributes() {
		switch v := kv.GetValue().GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.GetKey()] = v.StringValue
		case *commonpb.AnyValue_IntValue:
			m[kv.GetKey()] = v.IntValue
		case *commonpb.AnyValue_BoolValue:
			m[kv.GetKey()] = v.BoolValue
		}
	}
	return m
}

// TestTracesFallback: a chat request whose first provider fails is one
// server span (the router hop) with two client-span children (the
// attempts, served by the upstream hop in other gRPC streams), in one
// trace, with the GenAI attributes and no prompt text. The client's own
// traceparent is linked, not adopted.
func TestTracesFallback(t *testing.T) {
	rcv := startOTLPReceiver(t)
	flaky, up := fakeprovider.New(t), fakeprovider.New(t)
	flaky.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "error_503")), Status: 503})
	up.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat"))})
	cfg := fmt.Sprintf(signalsConfig, flaky.URL(), up.URL(), keyHash(keyS)) +
		fmt.Sprintf("telemetry:\n  traces: {otlp_endpoint: \"http://%s\", protocol: grpc, sample_ratio: 1.0}\n", rcv.addr)
	// The batcher exports every 100 ms, not its default 5 s.
	gw := startGateway(t, cfg, "OTEL_BSP_SCHEDULE_DELAY=100")
	const prompt = "the-traced-secret-prompt"
	const clientTrace = "0af7651916cd43dd8448eb211c80319c"
	resp, out := gw.post(t, "/v1/chat/completions", []byte(`{"model":"gpt-test","messages":[{"role":"user","content":"`+prompt+`"}]}`),
		"authorization", "Bearer "+keyS, "traceparent", "00-"+clientTrace+"-b7ad6b7169203331-01")
	if resp.StatusCode != 200 || resp.Header.Get("x-switchboard-provider") != "up" {
		t.Fatalf("status %d provider %q: %s", resp.StatusCode, resp.Header.Get("x-switchboard-provider"), out)
	}
	if r := lastRequest(t, up); r.Header.Get("traceparent") != "" {
		t.Errorf("the provider got a traceparent: %v", r.Header)
	}
	spans := rcv.wait(t, 3)
	if len(spans) != 3 {
		t.Fatalf("%d spans, want 3", len(spans))
	}
	var root *tracepb.Span
	var children []*tracepb.Span
	for _, s := range spans {
		if s.GetKind() == tracepb.Span_SPAN_KIND_SERVER {
			root = s
		} else {
			children = append(children, s)
		}
	}
	if root == nil || len(children) != 2 {
		t.Fatalf("spans %v: want one server span and two attempts", spans)
	}
	t.Run("request span", func(t *testing.T) {
		a := attrs(root)
		want := map[string]any{
			"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-test", "gen_ai.provider.name": "up",
			"gen_ai.response.model": "gpt-4.1-mini", "gen_ai.usage.input_tokens": int64(24), "gen_ai.usage.output_tokens": int64(8),
			"switchboard.tenant": "team-s", "switchboard.key_id": "s1", "http.response.status_code": int64(200),
		}
		for k, v := range want {
			if a[k] != v {
				t.Errorf("%s = %v, want %v", k, a[k], v)
			}
		}
		if _, ok := a["error.type"]; ok {
			t.Errorf("a served request has error.type %v", a["error.type"])
		}
		if root.GetName() != "chat gpt-test" {
			t.Errorf("name %q, want %q", root.GetName(), "chat gpt-test")
		}
		if hex.EncodeToString(root.GetTraceId()) == clientTrace || len(root.GetParentSpanId()) != 0 {
			t.Errorf("the request span adopted the client's trace")
		}
		if len(root.GetLinks()) != 1 || hex.EncodeToString(root.GetLinks()[0].GetTraceId()) != clientTrace {
			t.Errorf("links %v, want the client's trace", root.GetLinks())
		}
	})
	byAttempt := map[int64]*tracepb.Span{}
	for _, c := range children {
		byAttempt[attrs(c)["switchboard.attempt"].(int64)] = c
	}
	for _, tc := range []struct {
		attempt         int64
		provider, model string
		status          int64
		errType         string
	}{
		{1, "flaky", "flaky-model", 503, "503"},
		{2, "up", "gpt-4.1-mini", 200, ""},
	} {
		t.Run(fmt.Sprintf("attempt %d", tc.attempt), func(t *testing.T) {
			s := byAttempt[tc.attempt]
			if s == nil {
				t.Fatalf("no span for attempt %d", tc.attempt)
			}
			if s.GetKind() != tracepb.Span_SPAN_KIND_CLIENT || string(s.GetTraceId()) != string(root.GetTraceId()) || string(s.GetParentSpanId()) != string(root.GetSpanId()) {
				t.Errorf("kind %v, trace/parent not the request span's", s.GetKind())
			}
			a := attrs(s)
			if a["gen_ai.provider.name"] != tc.provider || a["gen_ai.request.model"] != tc.model || a["http.response.status_code"] != tc.status ||
				a["switchboard.model"] != "gpt-test" || a["gen_ai.operation.name"] != "chat" {
				t.Errorf("attributes %v", a)
			}
			if got, _ := a["error.type"].(string); got != tc.errType {
				t.Errorf("error.type %q, want %q", got, tc.errType)
			}
			if s.GetName() != "chat "+tc.model {
				t.Errorf("name %q", s.GetName())
			}
			if s.GetStartTimeUnixNano() < root.GetStartTimeUnixNano() || s.GetEndTimeUnixNano() > root.GetEndTimeUnixNano() {
				t.Errorf("attempt not within the request span")
			}
		})
	}
	for _, s := range spans {
		for _, kv := range s.GetAttributes() {
			if v := kv.GetValue().GetStringValue(); strings.Contains(v, prompt) || strings.Contains(v, "sk-sb-") {
				t.Errorf("span %q attribute %s holds prompt text or a key", s.GetName(), kv.GetKey())
			}
		}
	}
	if gjson.GetBytes(out, "usage.prompt_tokens").Int() != 24 {
		t.Errorf("response usage %s", gjson.GetBytes(out, "usage").Raw)
	}
}

// TestTracesCaptureContent: with capture_content the request span holds
// the request's messages, over OTLP/HTTP.
func TestTracesCaptureContent(t *testing.T) {
	rcv := startOTLPHTTPReceiver(t)
	up := fakeprovider.New(t)
	up.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat"))})
	gw := startGateway(t, fmt.Sprintf(`providers:
  - {name: up, schema: openai, base_url: "%s/v1"}
models:
  - {name: m, providers: [{provider: up, model: m1}]}
telemetry:
  traces: {otlp_endpoint: "http://%s", protocol: http, capture_content: true}
`, up.URL(), rcv.addr), "OTEL_BSP_SCHEDULE_DELAY=100")
	const prompt = "captured-prompt-words"
	if resp, out := gw.post(t, "/v1/chat/completions", []byte(`{"model":"m","messages":[{"role":"user","content":"`+prompt+`"}]}`)); resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, out)
	}
	spans := rcv.wait(t, 2)
	for _, s := range spans {
		if s.GetKind() != tracepb.Span_SPAN_KIND_SERVER {
			continue
		}
		if m, _ := attrs(s)["gen_ai.input.messages"].(string); !strings.Contains(m, prompt) {
			t.Errorf("gen_ai.input.messages = %q, want the prompt", m)
		}
		if _, ok := attrs(s)["switchboard.tenant"]; ok {
			t.Errorf("an ungoverned request has a tenant")
		}
		return
	}
	t.Fatalf("no request span in %v", spans)
}

// startOTLPHTTPReceiver is the collector over OTLP/HTTP (protobuf, POST
// /v1/traces).
func startOTLPHTTPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	r := &otlpReceiver{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, req *http.Request) {
		b, err := io.ReadAll(req.Body)
		var in collectortracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(b, &in)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = r.Export(req.Context(), &in)
		out, _ := proto.Marshal(&collectortracepb.ExportTraceServiceResponse{})
		w.Header().Set("content-type", "application/x-protobuf")
		_, _ = w.Write(out)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	r.addr = strings.TrimPrefix(srv.URL, "http://")
	return r
}
