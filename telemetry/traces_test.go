package telemetry

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	collectortracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/switchboard-gw/switchboard/config"
)

// TestNewTracing: no traces block gives a provider that records nothing;
// an http one exports to the endpoint's default /v1/traces path, sampled
// by the ratio, and Shutdown flushes.
func TestNewTracing(t *testing.T) {
	t.Run("off", func(t *testing.T) {
		tr, err := NewTracing(context.Background(), nil, zap.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		_, span := tr.Provider.Tracer("t").Start(context.Background(), "x")
		if span.IsRecording() || span.SpanContext().IsValid() {
			t.Errorf("traces off records spans")
		}
	})
	for _, tc := range []struct {
		name  string
		ratio float64
		want  int64
	}{
		{"sampled", 1, 1},
		{"ratio 0", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/v1/traces" {
					http.NotFound(w, r)
					return
				}
				b, _ := io.ReadAll(r.Body)
				var req collectortracepb.ExportTraceServiceRequest
				if proto.Unmarshal(b, &req) == nil {
					for _, rs := range req.GetResourceSpans() {
						for _, ss := range rs.GetScopeSpans() {
							got.Add(int64(len(ss.GetSpans())))
						}
					}
				}
				out, _ := proto.Marshal(&collectortracepb.ExportTraceServiceResponse{})
				_, _ = w.Write(out)
			}))
			defer srv.Close()
			ratio := tc.ratio
			tr, err := NewTracing(context.Background(), &config.Traces{OTLPEndpoint: srv.URL, Protocol: config.OTLPHTTP, SampleRatio: &ratio}, zap.NewNop())
			if err != nil {
				t.Fatal(err)
			}
			_, span := tr.Provider.Tracer("t").Start(context.Background(), "x")
			span.End()
			if err := tr.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := got.Load(); n != tc.want {
				t.Errorf("%d spans exported, want %d", n, tc.want)
			}
		})
	}
}
