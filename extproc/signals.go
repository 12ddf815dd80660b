package extproc

import (
	"context"
	"maps"
	"strconv"
	"sync/atomic"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/tidwall/gjson"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchboard-gw/switchboard/translators"
	"github.com/switchboard-gw/switchboard/xds"
)

// signals is what the hops tell operators besides Prometheus: the access
// log's key, tenant, tokens and cost (request metadata Envoy logs, see
// xds.AccessLogFields), OTLP spans of each request and its attempts, and
// the live figures of GET /status.
type signals struct {
	tracer  trace.Tracer // nil: traces off
	capture bool         // prompt text on the request span
	started time.Time
	// envoyVersion is the config version the latest router-hop stream
	// named: the one Envoy's routes carry.
	envoyVersion atomic.Pointer[string]
	requests     atomic.Int64 // router-hop streams since start
	inflight     atomic.Int64 // router-hop streams open
	attempts     atomic.Int64 // upstream-hop streams open
}

// SetTracing turns on OTLP spans: one per request in the router hop, one
// per attempt in the upstream hop. captureContent adds the request's
// messages to the request span.
func (s *Server) SetTracing(tp trace.TracerProvider, captureContent bool) {
	s.sig.tracer = tp.Tracer("github.com/switchboard-gw/switchboard/extproc")
	s.sig.capture = captureContent
}

func (s *Server) tracer() trace.Tracer {
	if s.sig.tracer == nil {
		return noop.NewTracerProvider().Tracer("")
	}
	return s.sig.tracer
}

// withSignals wraps a hop's processor with its signals.
func (s *Server) withSignals(p processor, version string) processor {
	switch p := p.(type) {
	case *routerProcessor:
		if version != "" {
			s.sig.envoyVersion.Store(&version)
		}
		s.sig.requests.Add(1)
		s.sig.inflight.Add(1)
		return &signalRouter{routerProcessor: p, span: noSpan}
	case *upstreamProcessor:
		s.sig.attempts.Add(1)
		return &signalUpstream{upstreamProcessor: p, span: noSpan}
	}
	return p
}

// Request metadata fields the access log reads (xds.AccessLogFields).
const (
	fieldKeyID      = "key_id"
	fieldTenant     = "tenant"
	fieldPrompt     = "prompt_tokens"
	fieldCompletion = "completion_tokens"
	fieldCost       = "cost_usd"
	// fieldTraceparent carries the request span to the upstream hop, in
	// W3C traceparent form: the hops may run in different replicas, and
	// request metadata never reaches a provider (a header would have to
	// be stripped from every attempt).
	fieldTraceparent = "traceparent"
)

// noSpan records nothing.
var noSpan = trace.SpanFromContext(context.Background())

// maxCapturedContent bounds the prompt text put on a span.
const maxCapturedContent = 16 << 10

// signalRouter is the router hop with its signals: the request span, and
// the access log's metadata on the answers that carry it.
type signalRouter struct {
	*routerProcessor
	span   trace.Span
	status int // what the client got
}

func (r *signalRouter) requestHeaders(ctx context.Context, h *extprocv3.HttpHeaders, md *corev3.Metadata) *extprocv3.ProcessingResponse {
	// The client's own trace context is linked, never adopted: a caller
	// must not decide what the gateway samples.
	opts := []trace.SpanStartOption{trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindServer)}
	if tp := headerValue(h, "traceparent"); tp != "" {
		if sc := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": tp})); sc.IsValid() {
			opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
		}
	}
	// Named once the operation and model are known (done).
	_, r.span = r.s.tracer().Start(ctx, "request", opts...)
	resp := r.routerProcessor.requestHeaders(ctx, h, md)
	r.stamp(resp)
	return resp
}

func (r *signalRouter) requestBody(ctx context.Context, b *extprocv3.HttpBody) *extprocv3.ProcessingResponse {
	resp := r.routerProcessor.requestBody(ctx, b)
	r.stamp(resp)
	if r.s.sig.capture && r.span.IsRecording() {
		msgs := gjson.GetBytes(b.GetBody(), "messages")
		if !msgs.Exists() {
			msgs = gjson.GetBytes(b.GetBody(), "input")
		}
		if raw := msgs.Raw; raw != "" {
			r.span.SetAttributes(semconv.GenAIInputMessagesKey.String(raw[:min(len(raw), maxCapturedContent)]))
		}
	}
	if sc := r.span.SpanContext(); sc.IsValid() && resp.GetImmediateResponse() == nil {
		c := propagation.MapCarrier{}
		propagation.TraceContext{}.Inject(trace.ContextWithSpanContext(ctx, sc), c)
		setRequestFields(resp, map[string]*structpb.Value{fieldTraceparent: structpb.NewStringValue(c["traceparent"])})
	}
	return resp
}

func (r *signalRouter) responseHeaders(ctx context.Context, h *extprocv3.HttpHeaders, md *corev3.Metadata) *extprocv3.ProcessingResponse {
	r.status = statusOf(h)
	resp := r.routerProcessor.responseHeaders(ctx, h, md)
	if r.closed && r.answer == nil && r.usage.provider != "" {
		// The upstream hop translated this answer itself: its usage
		// came with the headers, and this is the hop's last answer.
		setRequestFields(resp, usageFields(r.usage.Usage, r.usage.cost+billedByOthers(r.attempts, r.usage.attempt)))
	}
	return resp
}

func (r *signalRouter) responseBody(ctx context.Context, b *extprocv3.HttpBody) *extprocv3.ProcessingResponse {
	resp := r.routerProcessor.responseBody(ctx, b)
	if b.GetEndOfStream() && r.answer != nil {
		u, c := r.answer.answerUsage()
		setRequestFields(resp, usageFields(u, c+billedByOthers(r.attempts, r.answer.attempt)))
	}
	return resp
}

// stamp puts the caller's key id and tenant in the request metadata as
// soon as they are known, refusals included. Never the key itself.
func (r *signalRouter) stamp(resp *extprocv3.ProcessingResponse) {
	if i := resp.GetImmediateResponse(); i != nil {
		r.status = int(i.GetStatus().GetCode())
	}
	if w := r.caller.who; w != nil {
		setRequestFields(resp, map[string]*structpb.Value{fieldKeyID: structpb.NewStringValue(w.KeyID), fieldTenant: structpb.NewStringValue(w.Tenant)})
	}
}

func (r *signalRouter) done() {
	r.routerProcessor.done()
	r.s.sig.inflight.Add(-1)
	if !r.span.IsRecording() {
		r.span.End()
		return
	}
	if own := r.own; own != nil {
		// The attempt whose response this hop settled (router_answer.go):
		// its span, from the request handed to the provider.
		parent := trace.ContextWithSpan(context.Background(), r.span)
		_, s := r.s.tracer().Start(parent, "attempt", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(own.sent))
		endAttemptSpan(s, own, false)
	}
	op := operationName(r.api)
	attrs := []attribute.KeyValue{semconv.GenAIOperationNameKey.String(op)}
	r.span.SetName(op)
	if m := r.caller.model; m != "" {
		attrs = append(attrs, semconv.GenAIRequestModel(m))
		r.span.SetName(op + " " + m)
	}
	if r.api != nil {
		attrs = append(attrs, attribute.String("switchboard.endpoint", r.api.Path))
	}
	if w := r.caller.who; w != nil {
		attrs = append(attrs, attribute.String("switchboard.tenant", w.Tenant), attribute.String("switchboard.key_id", w.KeyID))
	}
	var u translators.Usage
	provider, upstreamModel, id, incomplete := r.usage.provider, r.usage.model, r.usage.id, false
	if a := r.answer; a != nil {
		u, _ = a.answerUsage()
		provider, upstreamModel, id, incomplete = a.provider.Name, a.cand.Model, a.respID, !a.completed
		if a.badAnswer {
			r.status = 502
		}
	} else {
		u = r.usage.Usage
	}
	if provider != "" {
		attrs = append(attrs, semconv.GenAIProviderNameKey.String(provider))
	}
	if upstreamModel != "" {
		attrs = append(attrs, semconv.GenAIResponseModel(upstreamModel))
	}
	if id != "" {
		attrs = append(attrs, semconv.GenAIResponseID(id))
	}
	attrs = append(attrs, usageAttributes(u)...)
	if r.status != 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(r.status))
	}
	switch {
	case r.status >= 400:
		attrs = append(attrs, semconv.ErrorTypeKey.String(strconv.Itoa(r.status)))
		r.span.SetStatus(codes.Error, "")
	case r.status == 0 || incomplete:
		// The client went away, or the answer was cut, before it ended.
		attrs = append(attrs, semconv.ErrorTypeKey.String("incomplete"))
		r.span.SetStatus(codes.Error, "")
	}
	r.span.SetAttributes(attrs...)
	r.span.End()
}

// signalUpstream is the upstream hop with the span of its attempt, a
// child of the request span the router hop left in request metadata.
type signalUpstream struct {
	*upstreamProcessor
	span  trace.Span
	ended bool
}

func (u *signalUpstream) requestHeaders(ctx context.Context, h *extprocv3.HttpHeaders, md *corev3.Metadata) *extprocv3.ProcessingResponse {
	// No request span, no attempt span.
	tp := md.GetFilterMetadata()[xds.RequestNamespace].GetFields()[fieldTraceparent].GetStringValue()
	if tp != "" {
		parent := (propagation.TraceContext{}).Extract(ctx, propagation.MapCarrier{"traceparent": tp})
		if trace.SpanContextFromContext(parent).IsValid() {
			_, u.span = u.s.tracer().Start(parent, "attempt", trace.WithSpanKind(trace.SpanKindClient))
		}
	}
	return u.upstreamProcessor.requestHeaders(ctx, h, md)
}

func (u *signalUpstream) responseHeaders(ctx context.Context, h *extprocv3.HttpHeaders, md *corev3.Metadata) *extprocv3.ProcessingResponse {
	resp := u.upstreamProcessor.responseHeaders(ctx, h, md)
	if u.handedOff || h.GetEndOfStream() || resp.GetImmediateResponse() != nil {
		u.end() // this hop is done with the answer
	}
	return resp
}

func (u *signalUpstream) responseBody(ctx context.Context, b *extprocv3.HttpBody) *extprocv3.ProcessingResponse {
	resp := u.upstreamProcessor.responseBody(ctx, b)
	if u.handedOff || b.GetEndOfStream() || resp.GetImmediateResponse() != nil {
		u.end()
	}
	return resp
}

func (u *signalUpstream) done() {
	u.upstreamProcessor.done()
	u.s.sig.attempts.Add(-1)
	if u.handedOff && u.status == 0 {
		// Left to the router hop with the request (router_answer.go):
		// it records the attempt's span, response included. This one
		// is dropped unended.
		u.ended = true
	}
	u.end()
}

// end ends the attempt's span once, when the hop has settled the
// attempt: its gRPC stream may stay open until Envoy ends the request.
func (u *signalUpstream) end() {
	if u.ended {
		return
	}
	u.ended = true
	endAttemptSpan(u.span, u.upstreamProcessor, u.handedOff)
}

// endAttemptSpan sets the attributes of attempt p on its span and ends
// it; handedOff: the router hop counts its tokens.
func endAttemptSpan(span trace.Span, p *upstreamProcessor, handedOff bool) {
	if !span.IsRecording() {
		span.End()
		return
	}
	op := operationName(p.api)
	attrs := []attribute.KeyValue{semconv.GenAIOperationNameKey.String(op), attribute.Int("switchboard.attempt", p.attempt)}
	if p.provider != nil {
		attrs = append(attrs, semconv.GenAIProviderNameKey.String(p.provider.Name))
	}
	if p.cand.Model != "" {
		attrs = append(attrs, semconv.GenAIRequestModel(p.cand.Model), semconv.GenAIResponseModel(p.cand.Model))
		span.SetName(op + " " + p.cand.Model)
	}
	if p.model != "" {
		attrs = append(attrs, attribute.String("switchboard.model", p.model))
	}
	if p.respID != "" {
		attrs = append(attrs, semconv.GenAIResponseID(p.respID))
	}
	if handedOff {
		// The router hop translates the answer and counts its tokens.
		attrs = append(attrs, attribute.Bool("switchboard.handed_off", true))
	} else {
		attrs = append(attrs, usageAttributes(p.usage)...)
	}
	status := p.status
	if p.badAnswer {
		status = 502
	}
	if status != 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(status))
	}
	switch {
	case status >= 400:
		attrs = append(attrs, semconv.ErrorTypeKey.String(strconv.Itoa(status)))
		span.SetStatus(codes.Error, "")
	case status == 0 && !p.sent.IsZero() && !p.handedOff:
		// No response: connect failure, reset or per-try timeout. (A
		// response left to the router hop is settled there.)
		attrs = append(attrs, semconv.ErrorTypeKey.String("no_response"))
		span.SetStatus(codes.Error, "")
	}
	span.SetAttributes(attrs...)
	span.End()
}

// operationName is gen_ai.operation.name for an API.
func operationName(api *translators.API) string {
	if api != nil && api.ModelType == translators.ModelTypeEmbeddings {
		return "embeddings"
	}
	return "chat"
}

func usageAttributes(u translators.Usage) []attribute.KeyValue {
	if u == (translators.Usage{}) {
		return nil
	}
	return []attribute.KeyValue{semconv.GenAIUsageInputTokens(int(u.PromptTokens)), semconv.GenAIUsageOutputTokens(int(u.CompletionTokens))}
}

func usageFields(u translators.Usage, cost float64) map[string]*structpb.Value {
	return map[string]*structpb.Value{
		fieldPrompt: structpb.NewNumberValue(float64(u.PromptTokens)), fieldCompletion: structpb.NewNumberValue(float64(u.CompletionTokens)),
		fieldCost: structpb.NewNumberValue(cost),
	}
}

// setRequestFields adds fields to the request metadata a response sets
// (Envoy merges them into what the hop set before).
func setRequestFields(resp *extprocv3.ProcessingResponse, fields map[string]*structpb.Value) {
	if resp == nil {
		return
	}
	if resp.DynamicMetadata == nil {
		resp.DynamicMetadata = &structpb.Struct{Fields: map[string]*structpb.Value{}}
	}
	ns := resp.DynamicMetadata.Fields[xds.RequestNamespace].GetStructValue()
	if ns == nil {
		ns = &structpb.Struct{Fields: map[string]*structpb.Value{}}
		resp.DynamicMetadata.Fields[xds.RequestNamespace] = structpb.NewStructValue(ns)
	}
	maps.Copy(ns.Fields, fields)
}

// answerUsage is the usage and cost of the answer this hop translated,
// as the router hop settles it: a stream cut short with no count from
// the provider counts what was produced, about a token an event.
func (p *upstreamProcessor) answerUsage() (translators.Usage, float64) {
	u := p.usage
	if p.stream != nil && (!p.completed || u == translators.Usage{}) {
		u = p.stream.Usage()
		u.CompletionTokens = max(u.CompletionTokens, p.events)
	}
	c, _ := p.cost(u)
	return u, c
}
