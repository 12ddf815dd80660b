// Package xds turns the gateway config into Envoy resources (listener,
// routes, clusters) and serves them to Envoy over ADS.
package xds

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	mutationrulesv3 "github.com/envoyproxy/go-control-plane/envoy/config/common/mutation_rules/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	upstreamcodecv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/upstream_codec/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	prioritygroupv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/router/cluster_specifiers/priority_group/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/translators"
)

// Names shared by the resources and the ext_proc server.
const (
	ListenerName   = "switchboard_http"
	RouteName      = "switchboard_routes"
	ExtProcCluster = "switchboard_extproc"
	// The API paths the router hop serves.
	ChatPath       = "/v1/chat/completions"
	MessagesPath   = "/v1/messages"
	EmbeddingsPath = "/v1/embeddings"
	ResponsesPath  = "/v1/responses"
	// UnroutedCluster has no endpoints; see makeRouteConfig.
	UnroutedCluster = "switchboard_unrouted"
	// ProviderHeader tells the client which provider served a response.
	ProviderHeader = "x-switchboard-provider"
	// ModelHeader carries the public model from the router hop to the
	// route match and the upstream hop.
	ModelHeader = "x-switchboard-model"
	// AttemptsHeader carries the number of attempts the plan holds; it
	// selects the route with that many retries.
	AttemptsHeader = "x-switchboard-attempts"
	// PlanNamespace is the dynamic metadata namespace whose value
	// overrides a route's priority groups for one request.
	PlanNamespace = "switchboard.plan"
	// RequestNamespace is the dynamic metadata the router hop leaves for
	// the upstream hop: the public model and the encoded plan.
	RequestNamespace = "switchboard.request"
	// AttemptNamespace is the dynamic metadata the upstream hop leaves for
	// the router hop when it hands the response over: who serves this
	// attempt and how to translate the answer.
	AttemptNamespace = "switchboard.attempt"
	// BodyNamespace carries a small checked request body from the router
	// hop to the upstream hop, which then translates it at the request
	// headers and skips the body exchange (extproc/forward.go).
	BodyNamespace = "switchboard.body"
	// HopMetadata is the gRPC metadata key telling the ext_proc server which
	// hop a stream serves.
	HopMetadata = "x-switchboard-hop"
	HopRouter   = "router"
	HopUpstream = "upstream"
	// MetadataNamespace holds per-cluster facts forwarded to ext_proc.
	MetadataNamespace = "switchboard"

	modelsPath = "/v1/models"
	caBundle   = "/etc/ssl/certs/ca-certificates.crt"
)

// ControlHeaders are Envoy request headers that steer retries and
// timeouts. Only the gateway decides those: the router hop removes them
// from client requests.
var ControlHeaders = []string{
	"x-envoy-retry-on", "x-envoy-retry-grpc-on", "x-envoy-upstream-rq-timeout-ms",
	"x-envoy-upstream-rq-per-try-timeout-ms", "x-envoy-max-retries", "x-envoy-internal",
}

// Both hops see every header, both ways: each forwards answers by
// allow-list (the router hop those it settles itself, extproc/
// router_answer.go), so it must see what to remove.

// forwardRules lets through exact header names and name prefixes.
func forwardRules(exact []string, prefixes ...string) *extprocv3.HeaderForwardingRules {
	l := &matcherv3.ListStringMatcher{}
	for _, h := range exact {
		l.Patterns = append(l.Patterns, &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: h}})
	}
	for _, p := range prefixes {
		l.Patterns = append(l.Patterns, &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: p}})
	}
	return &extprocv3.HeaderForwardingRules{AllowedHeaders: l}
}

// APIPaths are the paths the router hop serves.
var APIPaths = translators.APIPaths()

// ClusterName is the Envoy cluster of a provider.
func ClusterName(provider string) string { return "provider_" + provider }

// mustAny packs m deterministically: the snapshot version hashes these
// bytes, and anypb.New writes map fields (Struct, typed configs) in random
// order, which would give an unchanged config a new version on every build.
func mustAny(m proto.Message) *anypb.Any {
	a := new(anypb.Any)
	if err := anypb.MarshalFrom(a, m, proto.MarshalOptions{Deterministic: true}); err != nil {
		panic(fmt.Sprintf("xds: marshal %T: %v", m, err)) // only on a programming error
	}
	return a
}

// socketAddress makes an address; a hostname is resolved by the cluster.
func socketAddress(host string, port int) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address:       host,
		PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(port)},
	}}}
}

// discoveryType picks STATIC for IP literals and LOGICAL_DNS for names, the
// recommended type for large API hosts behind many addresses.
func discoveryType(host string) *clusterv3.Cluster_Type {
	if net.ParseIP(host) != nil {
		return &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC}
	}
	return &clusterv3.Cluster_Type{Type: clusterv3.Cluster_LOGICAL_DNS}
}

// generousThresholds lifts Envoy's default circuit breakers (1024), far
// below the number of concurrent LLM streams a gateway holds.
func generousThresholds() *clusterv3.CircuitBreakers {
	big := wrapperspb.UInt32(1 << 20)
	return &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{{
		MaxConnections: big, MaxPendingRequests: big, MaxRequests: big, MaxRetries: wrapperspb.UInt32(1024),
	}}}
}

// extProcBufferLimit bounds what Envoy queues for ext_proc on its one
// connection: four 64 MiB request bodies, or a 64 MiB answer and a burst
// of streams, fit.
const extProcBufferLimit = 1 << 30

// makeExtProcCluster is the HTTP/2 cluster Envoy uses to reach ext_proc.
func makeExtProcCluster(host string, port int, replicas ...string) *clusterv3.Cluster {
	opts := &httpv3.HttpProtocolOptions{UpstreamProtocolOptions: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_{
		ExplicitHttpConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig{
			ProtocolConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{
				Http2ProtocolOptions: &corev3.Http2ProtocolOptions{
					ConnectionKeepalive: &corev3.KeepaliveSettings{Interval: durationpb.New(30 * time.Second), Timeout: durationpb.New(5 * time.Second)},
				},
			},
		},
	}}
	c := &clusterv3.Cluster{
		Name: ExtProcCluster,
		// Envoy 1.40 segfaults when this connection's write buffer passes
		// its high watermark while an upstream (cluster) ext_proc filter is
		// sending: the watermark callback reaches the provider stream and
		// crashes. With the default 1 MiB, one multi-megabyte answer (or
		// many streams at once, all sharing this connection) did it. The
		// limit is a ceiling, not an allocation: it only ever holds what
		// switchboard has not read yet.
		PerConnectionBufferLimitBytes: wrapperspb.UInt32(extProcBufferLimit),
		ClusterDiscoveryType:          discoveryType(host),
		ConnectTimeout:                durationpb.New(time.Second),
		DnsLookupFamily:               clusterv3.Cluster_V4_PREFERRED,
		CircuitBreakers:               generousThresholds(),
		LoadAssignment:                loadAssignment(ExtProcCluster, host, port),
		TypedExtensionProtocolOptions: map[string]*anypb.Any{
			"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": mustAny(opts),
		},
	}
	// Replicas: one more endpoint each, balanced per request (per gRPC
	// stream). Any replica serves either hop (docs/architecture.md).
	for _, r := range replicas {
		h, p, _ := net.SplitHostPort(r)
		n, _ := strconv.Atoi(p)
		extra := loadAssignment(ExtProcCluster, h, n).GetEndpoints()[0].GetLbEndpoints()
		eps := c.LoadAssignment.GetEndpoints()[0]
		eps.LbEndpoints = append(eps.LbEndpoints, extra...)
		if net.ParseIP(h) == nil || net.ParseIP(host) == nil {
			// LOGICAL_DNS takes one endpoint; STRICT_DNS resolves each.
			c.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STRICT_DNS}
		}
	}
	return c
}

func loadAssignment(cluster, host string, port int) *endpointv3.ClusterLoadAssignment {
	return &endpointv3.ClusterLoadAssignment{
		ClusterName: cluster,
		Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{{
			HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: socketAddress(host, port)}},
		}}}},
	}
}

// makeUnroutedCluster is an empty cluster: requests reaching it get 503.
func makeUnroutedCluster() *clusterv3.Cluster {
	return &clusterv3.Cluster{
		Name:                 UnroutedCluster,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC},
		ConnectTimeout:       durationpb.New(time.Second),
		LoadAssignment:       &endpointv3.ClusterLoadAssignment{ClusterName: UnroutedCluster},
	}
}

// providerCluster describes one provider cluster to build.
type providerCluster struct {
	Name           string // provider name
	Host           string
	Port           int
	TLS            bool
	ConnectTimeout time.Duration
	Health         config.Health
	// PerTryTimeout is routing.per_try_timeout; see FirstByteWait.
	PerTryTimeout time.Duration
}

// makeProviderCluster builds a provider cluster whose upstream filter chain
// runs the ext_proc upstream hop, so every attempt on this cluster is
// translated for this provider.
func makeProviderCluster(p providerCluster) *clusterv3.Cluster {
	return providerClusterWith(p, ClusterName(p.Name),
		&hcmv3.HttpFilter{Name: "envoy.filters.http.ext_proc", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(upstreamExtProc(p.PerTryTimeout))}})
}

// providerClusterWith is a cluster named name to provider p whose
// upstream filter chain runs filter, then the codec.
func providerClusterWith(p providerCluster, name string, filter *hcmv3.HttpFilter) *clusterv3.Cluster {
	opts := &httpv3.HttpProtocolOptions{
		HttpFilters: []*hcmv3.HttpFilter{
			filter,
			{Name: "envoy.filters.http.upstream_codec", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&upstreamcodecv3.UpstreamCodec{})}},
		},
	}
	if p.TLS {
		// Let ALPN choose HTTP/2 where the provider offers it.
		opts.UpstreamProtocolOptions = &httpv3.HttpProtocolOptions_AutoConfig{AutoConfig: &httpv3.HttpProtocolOptions_AutoHttpConfig{}}
	} else {
		opts.UpstreamProtocolOptions = &httpv3.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig{
			ProtocolConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_HttpProtocolOptions{HttpProtocolOptions: &corev3.Http1ProtocolOptions{}},
		}}
	}
	c := &clusterv3.Cluster{
		Name:                 name,
		ClusterDiscoveryType: discoveryType(p.Host),
		ConnectTimeout:       durationpb.New(p.ConnectTimeout),
		DnsLookupFamily:      clusterv3.Cluster_V4_PREFERRED,
		CircuitBreakers:      generousThresholds(),
		LoadAssignment:       loadAssignment(name, p.Host, p.Port),
		TypedExtensionProtocolOptions: map[string]*anypb.Any{
			"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": mustAny(opts),
		},
		// Envoy's view of provider health: hosts failing in a row are
		// ejected and come back by themselves after a growing ejection.
		// (A provider is one logical host; the router hop's own circuit
		// breaker moves a failing provider to the back of the plan.)
		OutlierDetection: &clusterv3.OutlierDetection{
			Consecutive_5Xx:                    wrapperspb.UInt32(uint32(p.Health.Consecutive5xx)),
			ConsecutiveGatewayFailure:          wrapperspb.UInt32(uint32(p.Health.Consecutive5xx)),
			EnforcingConsecutiveGatewayFailure: wrapperspb.UInt32(100),
			Interval:                           durationpb.New(5 * time.Second),
			BaseEjectionTime:                   durationpb.New(p.Health.BaseEjection.D()),
			MaxEjectionTime:                    durationpb.New(p.Health.MaxEjection.D()),
			MaxEjectionPercent:                 wrapperspb.UInt32(100),
		},
		Metadata: &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
			MetadataNamespace: {Fields: map[string]*structpb.Value{"provider": structpb.NewStringValue(p.Name)}},
		}},
	}
	if p.TLS {
		tls := &tlsv3.UpstreamTlsContext{
			Sni: p.Host,
			CommonTlsContext: &tlsv3.CommonTlsContext{
				AlpnProtocols: []string{"h2", "http/1.1"},
				ValidationContextType: &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
					TrustedCa: &corev3.DataSource{Specifier: &corev3.DataSource_Filename{Filename: caBundle}},
					MatchTypedSubjectAltNames: []*tlsv3.SubjectAltNameMatcher{{
						SanType: tlsv3.SubjectAltNameMatcher_DNS,
						Matcher: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: p.Host}},
					}},
				}},
			},
		}
		c.TransportSocket = &corev3.TransportSocket{Name: "envoy.transport_sockets.tls", ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: mustAny(tls)}}
	}
	return c
}

func extProcGrpc(hop string) *corev3.GrpcService {
	return &corev3.GrpcService{
		TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: ExtProcCluster}},
		InitialMetadata: []*corev3.HeaderValue{{Key: HopMetadata, Value: hop}},
	}
}

// routerExtProc is the router-level hop: it reads the request, resolves the
// model and picks the provider. On the way back it translates the bodies
// of successful answers that the upstream hop hands over (streams, and
// whole answers it does not hold): a filter in the connection manager
// holds them, not one on the provider cluster. An upstream filter that
// still holds the end of a response when the provider's HTTP/1 stream has
// finished crashed Envoy 1.40 on the next watermark
// (docs/operations.md#failure-modes). It holds a direct stream's headers
// for the first byte, as the upstream hop does.
//
// The request body is STREAMED and sent without waiting for the headers
// answer, which the hop gives once the body is in (extproc/joined.go):
// one round trip for the request instead of two. Envoy then enforces no
// body limit itself (the hop does) and holds the chunks until they are
// answered, as it held a buffered body.
func routerExtProc(t config.Timeouts, perTry time.Duration) *extprocv3.ExternalProcessor {
	return &extprocv3.ExternalProcessor{
		GrpcService: extProcGrpc(HopRouter),
		ProcessingMode: &extprocv3.ProcessingMode{
			RequestHeaderMode:   extprocv3.ProcessingMode_SEND,
			RequestBodyMode:     extprocv3.ProcessingMode_STREAMED,
			ResponseHeaderMode:  extprocv3.ProcessingMode_SEND,
			ResponseBodyMode:    extprocv3.ProcessingMode_STREAMED,
			RequestTrailerMode:  extprocv3.ProcessingMode_SKIP,
			ResponseTrailerMode: extprocv3.ProcessingMode_SKIP,
		},
		// Parsing a 20 MB body takes time; the default 200 ms is for toy payloads.
		MessageTimeout:    durationpb.New(10 * time.Second),
		MaxMessageTimeout: durationpb.New(routerMessageTimeout(t, perTry)),
		StatusOnError:     &typev3.HttpStatus{Code: typev3.StatusCode_ServiceUnavailable},
		StatPrefix:        "switchboard_router",
		// A whole answer's body comes while its headers answer waits, so
		// the status can still change (a cut or unusable answer is no 200).
		SendBodyWithoutWaitingForHeaderResponse: true,
		// A request it sends to a direct cluster (DirectClusterName) it
		// translates itself: :authority included, and Envoy's own
		// x-envoy-* headers off the client's request.
		MutationRules: &mutationrulesv3.HeaderMutationRules{AllowAllRouting: wrapperspb.Bool(true), AllowEnvoy: wrapperspb.Bool(true)},
		MetadataOptions: &extprocv3.MetadataOptions{
			// AttemptNamespace: the attempt it sends to a direct cluster.
			ReceivingNamespaces: &extprocv3.MetadataOptions_MetadataNamespaces{Untyped: []string{PlanNamespace, RequestNamespace, BodyNamespace, AttemptNamespace}},
			// The upstream hop's hand-over comes with the response headers.
			ForwardingNamespaces: &extprocv3.MetadataOptions_MetadataNamespaces{Untyped: []string{AttemptNamespace}},
		},
	}
}

// FirstByteWait is how long the upstream hop holds a stream's response
// headers waiting for its first body byte (the router hop holds a direct
// stream's until the per-try timeout, then answers 504 itself) (it asks Envoy to wait that
// long with override_message_timeout). It outlasts the per-try timeout,
// which runs from before the headers came: the per-try timeout fires
// first, while Envoy's router has seen no headers, and the attempt falls
// back or ends in a 504.
func FirstByteWait(perTry time.Duration) time.Duration { return perTry + time.Second }

// BodyWait is how long the router hop asks Envoy to wait for its answer
// to a request's headers while a large or unsized body comes in: as long
// as the listener waits for the whole request (timeouts.client_request).
func BodyWait(clientRequest time.Duration) time.Duration { return clientRequest + time.Second }

// routerMessageTimeout is the router hop's max_message_timeout: room for
// a direct stream's first byte and for a request body's upload.
func routerMessageTimeout(t config.Timeouts, perTry time.Duration) time.Duration {
	return max(upstreamMessageTimeout(perTry), BodyWait(t.ClientRequest.D()))
}

// upstreamMessageTimeout is the upstream hop's max_message_timeout: room
// for FirstByteWait.
func upstreamMessageTimeout(perTry time.Duration) time.Duration {
	return max(30*time.Second, FirstByteWait(perTry))
}

// upstreamExtProc is the per-attempt hop on provider clusters: it
// translates the request for the cluster's provider and the response back.
func upstreamExtProc(perTry time.Duration) *extprocv3.ExternalProcessor {
	return &extprocv3.ExternalProcessor{
		GrpcService: extProcGrpc(HopUpstream),
		ProcessingMode: &extprocv3.ProcessingMode{
			RequestHeaderMode:   extprocv3.ProcessingMode_SEND,
			RequestBodyMode:     extprocv3.ProcessingMode_BUFFERED,
			ResponseHeaderMode:  extprocv3.ProcessingMode_SEND,
			ResponseBodyMode:    extprocv3.ProcessingMode_STREAMED,
			RequestTrailerMode:  extprocv3.ProcessingMode_SKIP,
			ResponseTrailerMode: extprocv3.ProcessingMode_SKIP,
		},
		MessageTimeout:    durationpb.New(10 * time.Second),
		MaxMessageTimeout: durationpb.New(upstreamMessageTimeout(perTry)),
		StatusOnError:     &typev3.HttpStatus{Code: typev3.StatusCode_ServiceUnavailable},
		StatPrefix:        "switchboard_upstream",
		// The hop sets :authority to the provider's host (SigV4 signs it,
		// and providers route on it); Envoy forbids that by default.
		// It also removes Envoy's own x-envoy-* request headers (attempt
		// count, expected timeout), which are no provider's business.
		MutationRules: &mutationrulesv3.HeaderMutationRules{AllowAllRouting: wrapperspb.Bool(true), AllowEnvoy: wrapperspb.Bool(true)},
		// The response body comes without waiting for the headers answer,
		// so the hop can answer an error's headers (or a small whole
		// answer's) together with its body, the status coming from the
		// body. Nothing is buffered in Envoy.
		SendBodyWithoutWaitingForHeaderResponse: true,
		MetadataOptions: &extprocv3.MetadataOptions{
			ClusterMetadataForwardingNamespaces: &extprocv3.MetadataOptions_MetadataNamespaces{Untyped: []string{MetadataNamespace}},
			// The router hop's plan travels as request metadata, not
			// headers: header changes made by one attempt's upstream
			// filters persist into the next attempt.
			// A small body comes in BodyNamespace with the headers.
			ForwardingNamespaces: &extprocv3.MetadataOptions_MetadataNamespaces{Untyped: []string{RequestNamespace, BodyNamespace}},
			ReceivingNamespaces:  &extprocv3.MetadataOptions_MetadataNamespaces{Untyped: []string{AttemptNamespace}},
		},
	}
}

// jsonResponseHeaders marks a direct response as JSON.
func jsonResponseHeaders() []*corev3.HeaderValueOption {
	return []*corev3.HeaderValueOption{{
		Header:       &corev3.HeaderValue{Key: "content-type", Value: "application/json"},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}}
}

// disableRouterHop turns the router ext_proc off on routes that need no
// processing (static answers).
func disableRouterHop() map[string]*anypb.Any {
	off := mustAny(&extprocv3.ExtProcPerRoute{Override: &extprocv3.ExtProcPerRoute_Disabled{Disabled: true}})
	// The stream hop too (xds/stall.go), when the listener has it.
	return map[string]*anypb.Any{"envoy.filters.http.ext_proc": off, StreamHopFilter: off}
}

func directRoute(name string, match *routev3.RouteMatch, status uint32, body string) *routev3.Route {
	return &routev3.Route{
		Name:  name,
		Match: match,
		Action: &routev3.Route_DirectResponse{DirectResponse: &routev3.DirectResponseAction{
			Status: status,
			Body:   &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: body}},
		}},
		ResponseHeadersToAdd: jsonResponseHeaders(),
	}
}

// routeTimeouts are the per-route limits of a chat route.
type routeTimeouts struct {
	Request, Idle, PerTry time.Duration
	MaxAttempts           int
}

// makeModelRoute sends chat requests for one public model (the router hop
// sets ModelHeader) through priority groups: each attempt goes to the
// next group, and within a group Envoy splits by weight. A request whose
// preferences change the order overrides the groups through dynamic
// metadata (PlanNamespace). Retries are fallbacks: an attempt that fails
// before its response headers (connect error, reset, 5xx, 429, per-try
// timeout) moves to the next group; after the headers, the answer is
// committed.
//
// A request's plan may hold fewer attempts than the configured maximum, and
// Envoy repeats the last group past the end, so each model gets one route
// per attempt count: the router hop picks it with AttemptsHeader.
func makeModelRoute(model string, attempts int, groups [][]weightedCluster, t routeTimeouts) *routev3.Route {
	spec := &prioritygroupv3.PriorityGroupClusterSpecifier{OverrideMetadataNamespace: PlanNamespace}
	for i, g := range groups {
		pg := &prioritygroupv3.PriorityGroup{Name: fmt.Sprintf("p%d", i)}
		for _, c := range g {
			pg.Clusters = append(pg.Clusters, &prioritygroupv3.ClusterWeight{ClusterName: c.Cluster, Weight: wrapperspb.UInt32(uint32(c.Weight))})
		}
		spec.PriorityGroups = append(spec.PriorityGroups, pg)
	}
	exact := func(name, value string) *routev3.HeaderMatcher {
		return &routev3.HeaderMatcher{Name: name, HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{
			StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: value}}}}
	}
	r := &routev3.Route{
		Name: fmt.Sprintf("chat_model_%s_%d", model, attempts),
		Match: &routev3.RouteMatch{
			// Any path: the router hop sets these headers only on the API
			// paths it serves, and sets :path to the provider's for a
			// request it translates itself (a direct cluster) before the
			// route is matched again.
			PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"},
			Headers:       []*routev3.HeaderMatcher{exact(ModelHeader, model), exact(AttemptsHeader, strconv.Itoa(attempts))},
		},
		Action: &routev3.Route_Route{Route: &routev3.RouteAction{
			ClusterSpecifier: &routev3.RouteAction_InlineClusterSpecifierPlugin{InlineClusterSpecifierPlugin: &routev3.ClusterSpecifierPlugin{
				Extension: &corev3.TypedExtensionConfig{Name: "envoy.router.cluster_specifier_plugin.priority_group", TypedConfig: mustAny(spec)},
			}},
			Timeout:     durationpb.New(t.Request),
			IdleTimeout: durationpb.New(t.Idle),
			RetryPolicy: &routev3.RetryPolicy{
				RetryOn:               "5xx,reset,connect-failure,refused-stream,retriable-status-codes",
				RetriableStatusCodes:  []uint32{429},
				NumRetries:            wrapperspb.UInt32(uint32(attempts - 1)),
				PerTryTimeout:         durationpb.New(t.PerTry),
				RefreshClusterOnRetry: true,
				// Fail over fast: the next attempt goes to another provider.
				RetryBackOff: &routev3.RetryPolicy_RetryBackOff{BaseInterval: durationpb.New(10 * time.Millisecond), MaxInterval: durationpb.New(100 * time.Millisecond)},
			},
		}},
	}
	if attempts == 1 {
		// num_retries 0 still retries once in Envoy when retry_on is set.
		// With no retry_on Envoy keeps no retry state (never retries), and
		// still bounds the one attempt by the per-try timeout; without it,
		// a hung provider would hold the client for the idle timeout.
		r.GetRoute().RetryPolicy = &routev3.RetryPolicy{PerTryTimeout: durationpb.New(t.PerTry), NumRetries: wrapperspb.UInt32(0)}
	}
	return r
}

// servedPaths lists the API paths under prefix for a not-found message
// (JSON-safe: paths have no quotes), with the model endpoints when prefix
// is "".
func servedPaths(prefix string) string {
	var ps []string
	for _, p := range APIPaths {
		if strings.HasPrefix(p, prefix) {
			ps = append(ps, p)
		}
	}
	out := "POST " + strings.Join(ps, ", ")
	if prefix == "" {
		out += " and GET " + modelsPath + ", " + modelsPath + "/{id}"
	}
	return out
}

// weightedCluster is one entry of a priority group.
type weightedCluster struct {
	Cluster string
	Weight  int
}

// makeRouteConfig builds the gateway's routes: the model list and each
// model, one route per provider, and OpenAI-shaped answers for everything
// else.
func makeRouteConfig(ms models, byModel []modelRouteSet, maxBody uint64, version string) *routev3.RouteConfiguration {
	var routes []*routev3.Route
	// The routes an API request matches before the router hop picks a
	// model. They must forward, not answer directly: Envoy takes the
	// request body buffer limit from the route entry. Reached after the hop
	// only if no model route matched, they answer 503 (no endpoints) rather
	// than drop the request.
	for _, path := range APIPaths {
		routes = append(routes, &routev3.Route{
			Name:  "unrouted_" + strings.Trim(strings.ReplaceAll(path, "/", "_"), "_"),
			Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Path{Path: path}},
			Action: &routev3.Route_Route{Route: &routev3.RouteAction{
				ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: UnroutedCluster},
			}},
			TypedPerFilterConfig: stampRouterHop(version),
		})
	}
	// The key and usage API (GET /api/v1/key, /api/v1/generation): the
	// router hop answers it.
	routes = append(routes, &routev3.Route{
		Name:  "management_api",
		Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/api/v1/"}},
		Action: &routev3.Route_Route{Route: &routev3.RouteAction{
			ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: UnroutedCluster},
		}},
		TypedPerFilterConfig: stampRouterHop(version),
	})
	routes = append(routes, storedResponsesRoute(version)) // responses.go
	// Under /v1/messages/ an Anthropic client is asking: its own shape.
	messagesNotFound := directRoute("messages_not_found", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: MessagesPath + "/"}}, 404,
		`{"type":"error","error":{"type":"not_found_error","message":"unknown path; this gateway serves `+servedPaths(MessagesPath)+`"}}`)
	messagesNotFound.TypedPerFilterConfig = disableRouterHop()
	routes = append(routes, messagesNotFound)
	notFound := directRoute("not_found", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}}, 404,
		`{"error":{"message":"unknown path; this gateway serves `+servedPaths("")+`","type":"invalid_request_error","code":"unknown_url"}}`)
	notFound.TypedPerFilterConfig = disableRouterHop()
	routes = append(routes, notFound)
	return &routev3.RouteConfiguration{
		Name:                           RouteName,
		MaxDirectResponseBodySizeBytes: wrapperspb.UInt32(directBodyLimit(ms)),
		VirtualHosts: []*routev3.VirtualHost{{
			Name:                   "switchboard",
			Domains:                []string{"*"},
			Matcher:                routeTable(modelEndpointRoutes(ms), byModel, routes),
			RequestBodyBufferLimit: wrapperspb.UInt64(maxBody),
			// The upstream hop maps each attempt to its planned candidate.
			IncludeRequestAttemptCount: true,
		}},
	}
}
