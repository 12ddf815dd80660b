// Package telemetry builds the OpenTelemetry tracer provider the config
// asks for (telemetry.traces): an OTLP exporter over gRPC or HTTP, a
// batch span processor and a ratio sampler that attempts follow.
package telemetry

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"

	"github.com/switchboard-gw/switchboard/config"
)

// ServiceName is the service.name of every span.
const ServiceName = "switchboard"

// Tracing is the running tracer provider; Shutdown flushes what is
// queued (bounded by its context).
type Tracing struct {
	Provider trace.TracerProvider
	Shutdown func(context.Context) error
}

// NewTracing returns the tracer provider for t: a no-op one when t is nil
// (traces off). The exporter connects lazily, so an unreachable
// collector never stops the gateway; spans it cannot take are dropped.
// Export failures are logged, rate-limited by the batcher's schedule.
func NewTracing(ctx context.Context, t *config.Traces, log *zap.Logger) (Tracing, error) {
	if t == nil {
		return Tracing{Provider: noop.NewTracerProvider(), Shutdown: func(context.Context) error { return nil }}, nil
	}
	exp, err := newExporter(ctx, t)
	if err != nil {
		return Tracing{}, fmt.Errorf("telemetry: traces exporter: %w", err)
	}
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("traces: export failed", zap.Error(err)) }))
	res := resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(ServiceName))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		// A request is sampled by its trace id; its attempts, in other
		// gRPC streams and maybe other replicas, follow the request.
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(t.Ratio()))),
	)
	return Tracing{Provider: tp, Shutdown: tp.Shutdown}, nil
}

func newExporter(ctx context.Context, t *config.Traces) (*otlptrace.Exporter, error) {
	u, err := url.Parse(t.OTLPEndpoint)
	if err != nil {
		return nil, err // unreachable: config checked it
	}
	if t.Protocol == config.OTLPHTTP {
		if u.Path == "" || u.Path == "/" {
			u.Path = "/v1/traces"
		}
		return otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(u.String()), otlptracehttp.WithTimeout(10*time.Second))
	}
	return otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(u.String()), otlptracegrpc.WithTimeout(10*time.Second))
}
