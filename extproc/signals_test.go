package extproc

import (
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchboard-gw/switchboard/xds"
)

// TestTraceContextTravels: with traces on, the router hop leaves its
// span's traceparent in the request metadata and the upstream hop's
// attempt span is its child; with traces off there is none, and an
// attempt without a request span makes no span of its own.
func TestTraceContextTravels(t *testing.T) {
	body := chatBody("gpt-4o", false)
	t.Run("off", func(t *testing.T) {
		h := newHarness(t, mustLoad(t, testYAML))
		if tp := h.route(t, body).request.GetFields()[fieldTraceparent]; tp != nil {
			t.Errorf("traceparent %v with traces off", tp)
		}
	})
	t.Run("on", func(t *testing.T) {
		h := newHarness(t, mustLoad(t, testYAML))
		rec := tracetest.NewSpanRecorder()
		h.srv.SetTracing(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)), false)
		r := h.route(t, body)
		tp := r.request.GetFields()[fieldTraceparent].GetStringValue()
		if !strings.HasPrefix(tp, "00-") {
			t.Fatalf("traceparent %q, want a W3C one", tp)
		}

		// The attempt, with the metadata Envoy forwards.
		a := attempt{provider: "openai", model: "gpt-4o", n: 1}
		req := a.headers()
		req.GetMetadataContext().GetFilterMetadata()[xds.RequestNamespace].Fields[fieldTraceparent] = structpb.NewStringValue(tp)
		s := h.open(t, xds.HopUpstream)
		continued(t, s.send(req))
		continued(t, s.send(requestBody(body)))
		tr := readTranscript(t, "openai", "chat")
		s.respond(responseHeaders(false, tr.headers...), responseBody(tr.body, true))
		s.close()
		_ = h.waitEnded(t)

		// An attempt of a request that was not traced.
		s = h.startUpstream(t, "openai", "gpt-4o", body)
		s.respond(responseHeaders(false, tr.headers...), responseBody(tr.body, true))
		s.close()
		_ = h.waitEnded(t)

		spans := rec.Ended()
		if len(spans) != 2 {
			t.Fatalf("%d spans, want the request's and one attempt's", len(spans))
		}
		req0, att := spans[0], spans[1]
		if req0.SpanKind() != trace.SpanKindServer || att.SpanKind() != trace.SpanKindClient {
			t.Fatalf("kinds %v %v", req0.SpanKind(), att.SpanKind())
		}
		if att.Parent().SpanID() != req0.SpanContext().SpanID() || att.SpanContext().TraceID() != req0.SpanContext().TraceID() {
			t.Errorf("the attempt is not the request span's child")
		}
		got := map[string]string{}
		for _, kv := range att.Attributes() {
			got[string(kv.Key)] = kv.Value.Emit()
		}
		for k, v := range map[string]string{"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-2024-08-06", "gen_ai.usage.input_tokens": "24",
			"gen_ai.usage.output_tokens": "8", "http.response.status_code": "200", "switchboard.attempt": "1"} {
			if got[k] != v {
				t.Errorf("attempt %s = %q, want %q", k, got[k], v)
			}
		}
	})
}
