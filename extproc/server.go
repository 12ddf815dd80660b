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
	p, router, cfg := s.open(hopName, version)
	if cfg == nil {
		return status.Error(codes.Unavailable, "extproc: no config loaded yet")
	}
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
			p, w = joinBody(p, w, router, cfg) // joined.go
		}
		if end, err := out.handle(ctx, p, w, req); end || err != nil {
			return err
		}
	}
}

// open builds the processor of one request's stream on a hop, with the
// config of version (the one Envoy's routes came from, when known). cfg
// is nil when no config is loaded yet. router is the router hop's
// processor, nil on other hops.
func (s *Server) open(hopName, version string) (p processor, router *routerProcessor, cfg *config.Loaded) {
	cfg = s.configFor(version, s.configs.Current())
	if cfg == nil {
		return nil, nil, nil
	}
	switch hopName {
	case xds.HopRouter:
		router = &routerProcessor{s: s, cfg: cfg, directOK: version != "" && version == cfg.Version}
		p = router
	case xds.HopUpstream:
		p = &upstreamProcessor{s: s, cfg: cfg}
	default:
		p = passThrough{}
	}
	return s.withSignals(p, version), router, cfg // signals.go
}

// handle answers one message from Envoy, under the sender's lock (a wake
// may answer too). end: the processor needs nothing more.
func (o *sender) handle(ctx context.Context, p processor, w waker, req *extprocv3.ProcessingRequest) (end bool, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if p.complete() {
		return true, nil // a wake answered the request
	}
	resp, err := dispatch(ctx, p, req)
	if err != nil {
		return true, err
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

// dispatch gives one message from Envoy to the processor's phase.
func dispatch(ctx context.Context, p processor, req *extprocv3.ProcessingRequest) (*extprocv3.ProcessingResponse, error) {
	switch r := req.Request.(type) {
	case *extprocv3.ProcessingRequest_RequestHeaders:
		return p.requestHeaders(ctx, r.RequestHeaders, req.GetMetadataContext()), nil
	case *extprocv3.ProcessingRequest_RequestBody:
		return p.requestBody(ctx, r.RequestBody), nil
	case *extprocv3.ProcessingRequest_ResponseHeaders:
		return p.responseHeaders(ctx, r.ResponseHeaders, req.GetMetadataContext()), nil
	case *extprocv3.ProcessingRequest_ResponseBody:
		return p.responseBody(ctx, r.ResponseBody), nil
	case *extprocv3.ProcessingRequest_RequestTrailers:
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestTrailers{RequestTrailers: &extprocv3.TrailersResponse{}}}, nil
	case *extprocv3.ProcessingRequest_ResponseTrailers:
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseTrailers{ResponseTrailers: &extprocv3.TrailersResponse{}}}, nil
	default:
		return nil, status.Errorf(codes.InvalidArgument, "extproc: unexpected request %T", r)
	}
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
