// Package extproc is Switchboard's Envoy external processing server. It
// serves two hops: the router hop (HTTP connection manager filter) reads
// the client request and picks a provider; the upstream hop (a filter on
// each provider cluster) translates each attempt for its provider and the
// response back. The hops share no memory: all the second needs travels in
// Envoy (request headers, cluster metadata), so any replica serves either.
package extproc

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/governance"
	"github.com/switchboard-gw/switchboard/middleware"
	"github.com/switchboard-gw/switchboard/routing"
	"github.com/switchboard-gw/switchboard/xds"
)

// Configs gives the running config; it changes on hot reload.
type Configs interface {
	Current() *config.Loaded
}

// Server implements envoy.service.ext_proc.v3.ExternalProcessor.
type Server struct {
	extprocv3.UnimplementedExternalProcessorServer
	log     *zap.Logger
	configs Configs
	auths   authCache
	stats   *routing.Stats
	metrics *metrics
	bodies  *byteBudget
	gov     *Gov
	chain   *middleware.Chain // the plugins; nil: none
	// responses keeps the Responses API's stored answers
	// (responses_store.go); nil: off.
	responses governance.ResponseStore
	// xdsStatus reports the control plane when it runs in this process.
	xdsStatus func() any
	sig       signals // access-log metadata, traces, live figures (signals.go)
	// directGroups holds each provider's direct-cluster override
	// (directOverride), built on first use.
	directGroups sync.Map
}

// NewServer builds the server once, at start-up.
func NewServer(log *zap.Logger, configs Configs) (*Server, error) {
	s := &Server{log: log, configs: configs, stats: routing.NewStats(nil), metrics: newMetrics(), bodies: newByteBudget()}
	s.metrics.reg.MustRegister(s.bodies.refused, s.bodies.inflight)
	s.sig.started = time.Now()
	return s, nil
}

// SetGovernance turns on gateway keys, limits and usage records.
func (s *Server) SetGovernance(g *Gov) { s.gov = g }

// Stats is the live provider view (latency, throughput, health).
func (s *Server) Stats() *routing.Stats { return s.stats }

// Register adds the service to a gRPC server.
func (s *Server) Register(g *grpc.Server) { extprocv3.RegisterExternalProcessorServer(g, s) }

// MaxMessageBytes is the gRPC message limit: a whole request body travels
// in one message in buffered mode.
const MaxMessageBytes = 1<<30 + 1<<20

// processor handles one HTTP request's phases on one gRPC stream.
type processor interface {
	requestHeaders(ctx context.Context, h *extprocv3.HttpHeaders, md *corev3.Metadata) *extprocv3.ProcessingResponse
	requestBody(ctx context.Context, b *extprocv3.HttpBody) *extprocv3.ProcessingResponse
	responseHeaders(ctx context.Context, h *extprocv3.HttpHeaders, md *corev3.Metadata) *extprocv3.ProcessingResponse
	responseBody(ctx context.Context, b *extprocv3.HttpBody) *extprocv3.ProcessingResponse
	// pending returns answers held back for earlier messages (a phase
	// may return nil to answer later), sent before the current answer.
	pending() []*extprocv3.ProcessingResponse
	// complete reports that the processor needs nothing more from this
	// request: the stream is then closed, which tells Envoy to go on
	// without it.
	complete() bool
	done()
}

// Process serves one HTTP request's stream of phases.
func (s *Server) Process(stream extprocv3.ExternalProcessor_ProcessServer) (err error) {
	ctx := stream.Context()
	// A panic in a gRPC handler would take the whole gateway down; fail
	// this one request instead (Envoy answers it with status_on_error).
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("extproc: panic while processing a request", zap.Any("panic", r), zap.Stack("stack"))
			err = status.Error(codes.Internal, "extproc: internal error")
		}
	}()
	// Once per stream.
	hopName := hop(ctx)
	if hopName == xds.HopStream {
		return s.processStreamHop(stream) // stall.go: timers, its own loop
	}
	version := streamVersion(ctx)
	cfg := s.configFor(version, s.configs.Current())
	if cfg == nil {
		return status.Error(codes.Unavailable, "extproc: no config loaded yet")
	}
	var p processor
	var router *routerProcessor
	switch hopName {
	case xds.HopRouter:
		router = &routerProcessor{s: s, cfg: cfg, directOK: version != "" && version == cfg.Version}
		p = router
	case xds.HopUpstream:
		p = &upstreamProcessor{s: s, cfg: cfg}
	default:
		p = passThrough{}
	}
	p = s.withSignals(ctx, p) // signals.go
	defer p.done()
	out := &sender{stream: stream, log: s.log}
	defer out.stop() // before done: no wake runs after it
	w, _ := p.(waker)
	for first := true; ; first = false {
		req, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) || status.Code(err) == codes.Canceled || ctx.Err() != nil {
				return nil
			}
			return status.Errorf(codes.Unknown, "extproc: receive: %v", err)
		}
		if first && router != nil && streamsRequestBody(req) {
			j := &joined{processor: p, inner: w, fail: router.fail, limit: cfg.Limits.MaxRequestBytes, wait: xds.BodyWait(cfg.Timeouts.ClientRequest.D())} // joined.go
			p, w = j, j
		}
		if end, err := out.handle(ctx, p, w, req); end || err != nil {
			return err
		}
	}
}

// handle answers one message from Envoy, under the sender's lock (a wake
// may answer too). end: the processor needs nothing more.
func (o *sender) handle(ctx context.Context, p processor, w waker, req *extprocv3.ProcessingRequest) (end bool, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if p.complete() {
		return true, nil // a wake answered the request
	}
	var resp *extprocv3.ProcessingResponse
	switch r := req.Request.(type) {
	case *extprocv3.ProcessingRequest_RequestHeaders:
		resp = p.requestHeaders(ctx, r.RequestHeaders, req.GetMetadataContext())
	case *extprocv3.ProcessingRequest_RequestBody:
		resp = p.requestBody(ctx, r.RequestBody)
	case *extprocv3.ProcessingRequest_ResponseHeaders:
		resp = p.responseHeaders(ctx, r.ResponseHeaders, req.GetMetadataContext())
	case *extprocv3.ProcessingRequest_ResponseBody:
		resp = p.responseBody(ctx, r.ResponseBody)
	case *extprocv3.ProcessingRequest_RequestTrailers:
		resp = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestTrailers{RequestTrailers: &extprocv3.TrailersResponse{}}}
	case *extprocv3.ProcessingRequest_ResponseTrailers:
		resp = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseTrailers{ResponseTrailers: &extprocv3.TrailersResponse{}}}
	default:
		return true, status.Errorf(codes.InvalidArgument, "extproc: unexpected request %T", r)
	}
	for _, r := range append(p.pending(), resp) {
		if r == nil {
			continue // answered later, with the rest of the message
		}
		if err := o.stream.Send(r); err != nil {
			if ctx.Err() != nil {
				return true, nil
			}
			return true, status.Errorf(codes.Unknown, "extproc: send: %v", err)
		}
	}
	if w != nil {
		o.arm(w)
	}
	return p.complete(), nil
}

func hop(ctx context.Context) string {
	// ValueFromIncomingContext copies only the one key's values, not
	// the whole metadata (FromIncomingContext).
	if v := metadata.ValueFromIncomingContext(ctx, xds.HopMetadata); len(v) > 0 {
		return v[0]
	}
	return ""
}

// passThrough continues every phase unchanged, for streams of no known hop.
type passThrough struct{}

func (passThrough) requestHeaders(context.Context, *extprocv3.HttpHeaders, *corev3.Metadata) *extprocv3.ProcessingResponse {
	return continueRequestHeaders(nil, false)
}
func (passThrough) requestBody(context.Context, *extprocv3.HttpBody) *extprocv3.ProcessingResponse {
	return continueRequestBody(nil, nil, false)
}
func (passThrough) responseHeaders(context.Context, *extprocv3.HttpHeaders, *corev3.Metadata) *extprocv3.ProcessingResponse {
	return continueResponseHeaders(nil)
}
func (passThrough) responseBody(context.Context, *extprocv3.HttpBody) *extprocv3.ProcessingResponse {
	return continueResponseBody(nil)
}
func (passThrough) pending() []*extprocv3.ProcessingResponse { return nil }
func (passThrough) complete() bool                           { return false }
func (passThrough) done()                                    {}
