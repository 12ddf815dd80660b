package xds

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	prioritygroupv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/router/cluster_specifiers/priority_group/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

const httpOptionsKey = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"

func TestListener(t *testing.T) {
	cfg := parse(t, testYAML, testEnv)
	snap := build(t, cfg)
	if n := len(snap.GetResources(resource.ListenerType)); n != 1 {
		t.Fatalf("got %d listeners, want 1", n)
	}
	l := getListener(t, snap)
	sa := l.GetAddress().GetSocketAddress()
	if sa.GetAddress() != "127.0.0.1" || sa.GetPortValue() != 9090 {
		t.Errorf("listener address = %s:%d, want 127.0.0.1:9090", sa.GetAddress(), sa.GetPortValue())
	}
	if len(l.GetFilterChains()) != 1 || len(l.GetFilterChains()[0].GetFilters()) != 1 {
		t.Fatalf("want one filter chain with one filter, got %v", l.GetFilterChains())
	}
	hcm := unpack(t, l.GetFilterChains()[0].GetFilters()[0].GetTypedConfig(), &hcmv3.HttpConnectionManager{})
	if got := hcm.GetRds().GetRouteConfigName(); got != RouteName {
		t.Errorf("RDS route name = %q, want %q", got, RouteName)
	}
	if hcm.GetRds().GetConfigSource().GetAds() == nil {
		t.Errorf("RDS config source is not ADS")
	}
	if got := hcm.GetStreamIdleTimeout().AsDuration(); got != 45*time.Second {
		t.Errorf("stream idle timeout = %v, want timeouts.idle 45s", got)
	}
	// Slow clients: the headers, then the whole request, must arrive in time.
	if got := hcm.GetRequestHeadersTimeout().AsDuration(); got != 4*time.Second {
		t.Errorf("request headers timeout = %v, want timeouts.client_headers 4s", got)
	}
	if got := hcm.GetRequestTimeout().AsDuration(); got != 25*time.Second {
		t.Errorf("request timeout = %v, want timeouts.client_request 25s", got)
	}
	var names []string
	for _, f := range hcm.GetHttpFilters() {
		names = append(names, f.GetName())
	}
	// set_filter_state first: it keeps the request's id and path for
	// the access log before any filter changes them.
	if want := []string{"envoy.filters.http.set_filter_state", "envoy.filters.http.ext_proc", "envoy.filters.http.router"}; !slices.Equal(names, want) {
		t.Fatalf("HCM filters = %q, want %q", names, want)
	}
	// The router hop tells a provider's response from Envoy's own reply by
	// x-envoy-upstream-service-time (extproc/router_answer.go).
	if r := unpack(t, hcm.GetHttpFilters()[2].GetTypedConfig(), &routerv3.Router{}); r.GetSuppressEnvoyHeaders() {
		t.Errorf("router filter suppresses Envoy's headers")
	}
	ep := unpack(t, hcm.GetHttpFilters()[1].GetTypedConfig(), &extprocv3.ExternalProcessor{})
	checkExtProcHop(t, ep, HopRouter)
	pm := ep.GetProcessingMode()
	// It translates the answers the upstream hop hands over: an upstream
	// filter holding answer bodies crashed Envoy 1.40. The request body
	// comes right after the headers (extproc/joined.go).
	if pm.GetRequestBodyMode() != extprocv3.ProcessingMode_STREAMED || !ep.GetSendBodyWithoutWaitingForHeaderResponse() ||
		pm.GetResponseHeaderMode() != extprocv3.ProcessingMode_SEND || pm.GetResponseBodyMode() != extprocv3.ProcessingMode_STREAMED {
		t.Errorf("router hop processing mode = %v, want a streamed request body sent without waiting, response headers, streamed response body", pm)
	}
	// Room for a slow upload and for a direct stream's first byte.
	if got, want := ep.GetMaxMessageTimeout().AsDuration(), BodyWait(cfg.Timeouts.ClientRequest.D()); got < want || cfg.Timeouts.ClientRequest.D() < time.Second {
		t.Errorf("router hop max_message_timeout = %v, want at least %v (timeouts.client_request)", got, want)
	}
	// The router hop writes the plan override, the request metadata and
	// small bodies for the upstream hop, and the attempt it sends to a
	// direct cluster.
	if got := ep.GetMetadataOptions().GetReceivingNamespaces().GetUntyped(); !slices.Equal(got, []string{PlanNamespace, RequestNamespace, BodyNamespace, AttemptNamespace}) {
		t.Errorf("router hop receiving namespaces = %q, want [%s %s %s %s]", got, PlanNamespace, RequestNamespace, BodyNamespace, AttemptNamespace)
	}
	// A request it translates for a direct cluster gets the provider's
	// :authority, which Envoy forbids by default.
	if r := ep.GetMutationRules(); !r.GetAllowAllRouting().GetValue() || !r.GetAllowEnvoy().GetValue() {
		t.Errorf("router hop mutation rules = %v, want routing and x-envoy-* headers allowed", r)
	}
	if got := ep.GetMetadataOptions().GetForwardingNamespaces().GetUntyped(); !slices.Equal(got, []string{AttemptNamespace}) {
		t.Errorf("router hop forwards metadata %q, want the upstream hop's hand-over [%s]", got, AttemptNamespace)
	}
	if got := len(hcm.GetLocalReplyConfig().GetMappers()); got == 0 {
		t.Errorf("no local reply mappers")
	}
}

// checkExtProcHop checks an ext_proc filter dials the ext_proc cluster and
// names its hop in the gRPC metadata.
func checkExtProcHop(t *testing.T, ep *extprocv3.ExternalProcessor, hop string) {
	t.Helper()
	if got := ep.GetGrpcService().GetEnvoyGrpc().GetClusterName(); got != ExtProcCluster {
		t.Errorf("%s hop: gRPC cluster = %q, want %q", hop, got, ExtProcCluster)
	}
	md := ep.GetGrpcService().GetInitialMetadata()
	if len(md) != 1 || md[0].GetKey() != HopMetadata || md[0].GetValue() != hop {
		t.Errorf("%s hop: initial metadata = %v, want %s=%s", hop, md, HopMetadata, hop)
	}
}

// TestUpstreamMessageTimeout: the upstream hop may wait a stream's first
// byte for longer than any per-try timeout.
func TestUpstreamMessageTimeout(t *testing.T) {
	for _, perTry := range []time.Duration{time.Second, 15 * time.Second, 60 * time.Second, 10 * time.Minute} {
		ep := upstreamExtProc(perTry)
		if got := ep.GetMaxMessageTimeout().AsDuration(); got < FirstByteWait(perTry) || FirstByteWait(perTry) <= perTry {
			t.Errorf("per-try %v: max message timeout %v, first-byte wait %v; want wait > per-try and within the max", perTry, got, FirstByteWait(perTry))
		}
	}
}

func TestClusters(t *testing.T) {
	snap := build(t, parse(t, testYAML, testEnv))
	var names []string
	for name := range snap.GetResources(resource.ClusterType) {
		names = append(names, name)
	}
	sort.Strings(names)
	// anthropic is optional and has no key: no cluster.
	if want := []string{"direct_local", "direct_openai", "provider_local", "provider_openai", "switchboard_extproc", "switchboard_unrouted"}; !slices.Equal(names, want) {
		t.Fatalf("clusters = %q, want %q", names, want)
	}

	t.Run("ext_proc", func(t *testing.T) {
		c := getCluster(t, snap, ExtProcCluster)
		checkEndpoint(t, c, "127.0.0.1", 18101)
		if c.GetType() != clusterv3.Cluster_STATIC {
			t.Errorf("type = %v, want STATIC for an IP", c.GetType())
		}
		opts := unpack(t, c.GetTypedExtensionProtocolOptions()[httpOptionsKey], &httpv3.HttpProtocolOptions{})
		if opts.GetExplicitHttpConfig().GetHttp2ProtocolOptions() == nil {
			t.Errorf("ext_proc cluster is not HTTP/2: %v", opts)
		}
	})

	t.Run("unrouted", func(t *testing.T) {
		c := getCluster(t, snap, UnroutedCluster)
		if n := len(c.GetLoadAssignment().GetEndpoints()); n != 0 {
			t.Errorf("unrouted cluster has %d endpoints, want none", n)
		}
	})

	tests := []struct {
		name      string
		provider  string
		host      string
		port      uint32
		tls       bool
		discovery clusterv3.Cluster_DiscoveryType
	}{
		{name: "https", provider: "openai", host: "api.openai.com", port: 443, tls: true, discovery: clusterv3.Cluster_LOGICAL_DNS},
		{name: "http", provider: "local", host: "127.0.0.1", port: 9100, tls: false, discovery: clusterv3.Cluster_STATIC},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := getCluster(t, snap, ClusterName(tc.provider))
			if c.GetName() != "provider_"+tc.provider {
				t.Errorf("name = %q", c.GetName())
			}
			checkEndpoint(t, c, tc.host, tc.port)
			if c.GetType() != tc.discovery {
				t.Errorf("type = %v, want %v", c.GetType(), tc.discovery)
			}
			if got := c.GetConnectTimeout().AsDuration(); got != 3*time.Second {
				t.Errorf("connect timeout = %v, want timeouts.connect 3s", got)
			}
			md := c.GetMetadata().GetFilterMetadata()[MetadataNamespace].GetFields()["provider"].GetStringValue()
			if md != tc.provider {
				t.Errorf("metadata %s.provider = %q, want %q", MetadataNamespace, md, tc.provider)
			}

			opts := unpack(t, c.GetTypedExtensionProtocolOptions()[httpOptionsKey], &httpv3.HttpProtocolOptions{})
			var filters []string
			for _, f := range opts.GetHttpFilters() {
				filters = append(filters, f.GetName())
			}
			if want := []string{"envoy.filters.http.ext_proc", "envoy.filters.http.upstream_codec"}; !slices.Equal(filters, want) {
				t.Fatalf("upstream filters = %q, want %q", filters, want)
			}
			ep := unpack(t, opts.GetHttpFilters()[0].GetTypedConfig(), &extprocv3.ExternalProcessor{})
			checkExtProcHop(t, ep, HopUpstream)
			if got := ep.GetMetadataOptions().GetClusterMetadataForwardingNamespaces().GetUntyped(); !slices.Equal(got, []string{MetadataNamespace}) {
				t.Errorf("forwarded cluster metadata = %q, want [%s]", got, MetadataNamespace)
			}
			// The router hop's request metadata (public model, plan) reaches
			// every attempt; headers would not survive into a retry unchanged.
			// So does a small body (extproc/forward.go).
			if got := ep.GetMetadataOptions().GetForwardingNamespaces().GetUntyped(); !slices.Equal(got, []string{RequestNamespace, BodyNamespace}) {
				t.Errorf("forwarded request metadata = %q, want [%s %s]", got, RequestNamespace, BodyNamespace)
			}
			if got := ep.GetMetadataOptions().GetReceivingNamespaces().GetUntyped(); !slices.Equal(got, []string{AttemptNamespace}) {
				t.Errorf("upstream hop may write metadata %q, want only its hand-over [%s]", got, AttemptNamespace)
			}
			od := c.GetOutlierDetection()
			if od.GetConsecutive_5Xx().GetValue() != 4 || od.GetConsecutiveGatewayFailure().GetValue() != 4 ||
				od.GetEnforcingConsecutiveGatewayFailure().GetValue() != 100 || od.GetMaxEjectionPercent().GetValue() != 100 {
				t.Errorf("outlier detection = %v, want health.consecutive_5xx 4 for 5xx and gateway failures, enforced, all hosts ejectable", od)
			}
			if od.GetBaseEjectionTime().AsDuration() != 20*time.Second || od.GetMaxEjectionTime().AsDuration() != 3*time.Minute {
				t.Errorf("ejection = base %v, max %v; want health 20s, 3m", od.GetBaseEjectionTime().AsDuration(), od.GetMaxEjectionTime().AsDuration())
			}
			// The hop holds a stream's headers until its first byte, for up
			// to FirstByteWait: the message timeout must allow that.
			if got := ep.GetMaxMessageTimeout().AsDuration(); got < FirstByteWait(15*time.Second) {
				t.Errorf("upstream hop max message timeout = %v, want at least FirstByteWait(per_try_timeout 15s)", got)
			}
			if got := ep.GetProcessingMode().GetResponseBodyMode(); got != extprocv3.ProcessingMode_STREAMED {
				t.Errorf("upstream hop response body mode = %v, want STREAMED", got)
			}

			ts := c.GetTransportSocket()
			if !tc.tls {
				if ts != nil {
					t.Errorf("http provider has a transport socket: %v", ts)
				}
				if opts.GetExplicitHttpConfig().GetHttpProtocolOptions() == nil {
					t.Errorf("http provider is not explicit HTTP/1.1: %v", opts.GetUpstreamProtocolOptions())
				}
				return
			}
			if ts.GetName() != "envoy.transport_sockets.tls" {
				t.Fatalf("transport socket = %v, want TLS", ts)
			}
			if opts.GetAutoConfig() == nil {
				t.Errorf("https provider does not negotiate the protocol with ALPN: %v", opts.GetUpstreamProtocolOptions())
			}
			tls := unpack(t, ts.GetTypedConfig(), &tlsv3.UpstreamTlsContext{})
			if tls.GetSni() != tc.host {
				t.Errorf("SNI = %q, want %q", tls.GetSni(), tc.host)
			}
			vc := tls.GetCommonTlsContext().GetValidationContext()
			if vc.GetTrustedCa().GetFilename() == "" {
				t.Errorf("no trusted CA: the upstream certificate would not be verified")
			}
			sans := vc.GetMatchTypedSubjectAltNames()
			if len(sans) != 1 || sans[0].GetMatcher().GetExact() != tc.host || sans[0].GetSanType() != tlsv3.SubjectAltNameMatcher_DNS {
				t.Errorf("SAN matchers = %v, want DNS %q", sans, tc.host)
			}
		})
	}
}

func checkEndpoint(t *testing.T, c *clusterv3.Cluster, host string, port uint32) {
	t.Helper()
	eps := c.GetLoadAssignment().GetEndpoints()
	if len(eps) != 1 || len(eps[0].GetLbEndpoints()) != 1 {
		t.Fatalf("cluster %s: endpoints = %v, want one", c.GetName(), eps)
	}
	sa := eps[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress()
	if sa.GetAddress() != host || sa.GetPortValue() != port {
		t.Errorf("cluster %s: endpoint = %s:%d, want %s:%d", c.GetName(), sa.GetAddress(), sa.GetPortValue(), host, port)
	}
	if got := c.GetLoadAssignment().GetClusterName(); got != c.GetName() {
		t.Errorf("cluster %s: load assignment names %q", c.GetName(), got)
	}
}

func TestRoutes(t *testing.T) {
	snap, stamp, err := BuildVersioned(parse(t, testYAML, testEnv))
	if err != nil || len(stamp) != 16 {
		t.Fatalf("BuildVersioned: version %q, %v", stamp, err)
	}
	if n := len(snap.GetResources(resource.RouteType)); n != 1 {
		t.Fatalf("got %d route configurations, want 1", n)
	}
	rc := getRouteConfig(t, snap)
	if len(rc.GetVirtualHosts()) != 1 {
		t.Fatalf("got %d virtual hosts, want 1", len(rc.GetVirtualHosts()))
	}
	vh := rc.GetVirtualHosts()[0]
	if !slices.Equal(vh.GetDomains(), []string{"*"}) {
		t.Errorf("domains = %q, want [*]", vh.GetDomains())
	}
	if got := vh.GetRequestBodyBufferLimit().GetValue(); got != 1048576 {
		t.Errorf("request_body_buffer_limit = %d, want limits.max_request_bytes 1048576", got)
	}
	// The upstream hop learns the attempt number from Envoy.
	if !vh.GetIncludeRequestAttemptCount() {
		t.Errorf("include_request_attempt_count = false, want true")
	}
	byName := map[string]*routev3.Route{}
	var names []string
	for _, r := range tableRoutes(t, vh) {
		names = append(names, r.GetName())
		byName[r.GetName()] = r
	}
	// In the match tree's order (TestRouteTable checks how it picks).
	want := []string{"models_anthropic", "models", "model_not_found_anthropic", "model_not_found",
		"unrouted_v1_chat_completions", "unrouted_v1_messages", "unrouted_v1_embeddings", "unrouted_v1_responses",
		"unrouted_v1_completions", "unrouted_v1_messages_count_tokens", "unrouted_v1_images_generations", "unrouted_v1_images_edits", "management_api", "stored_responses", "messages_not_found", "not_found",
		"model_gpt-4o_anthropic", "model_gpt-4o", "model_local-small_anthropic", "model_local-small",
		"chat_model_gpt-4o_1", "chat_model_gpt-4o_2", "chat_model_gpt-4o_3", "unrouted_model_header",
		"chat_model_local-small_1", "chat_model_local-small_2", "chat_model_local-small_3"}
	if !slices.Equal(names, want) {
		t.Fatalf("routes = %q, want %q", names, want)
	}

	t.Run("models", func(t *testing.T) {
		r := byName["models"]
		if r.GetMatch().GetPath() != "/v1/models" {
			t.Errorf("match = %v, want path /v1/models", r.GetMatch())
		}
		checkRouterHopDisabled(t, r)
		dr := r.GetDirectResponse()
		if dr.GetStatus() != 200 {
			t.Errorf("status = %d, want 200", dr.GetStatus())
		}
		checkJSONHeader(t, r)
		var list struct {
			Object string `json:"object"`
			Data   []struct {
				ID      string `json:"id"`
				Object  string `json:"object"`
				Created *int64 `json:"created"`
				OwnedBy string `json:"owned_by"`
			} `json:"data"`
		}
		body := dr.GetBody().GetInlineString()
		if err := json.Unmarshal([]byte(body), &list); err != nil {
			t.Fatalf("models body is not JSON: %v\n%s", err, body)
		}
		if list.Object != "list" || len(list.Data) != 2 {
			t.Fatalf("models body = %s, want a list of 2", body)
		}
		want := [][2]string{{"gpt-4o", "openai"}, {"local-small", "acme"}}
		for i, m := range list.Data {
			if m.ID != want[i][0] || m.OwnedBy != want[i][1] || m.Object != "model" || m.Created == nil {
				t.Errorf("data[%d] = %+v, want id %q owned_by %q object model with created", i, m, want[i][0], want[i][1])
			}
		}
	})

	models := []struct {
		model  string
		groups [][]string // cluster:weight per priority group
	}{
		{model: "gpt-4o", groups: [][]string{{"provider_openai:1"}, {"provider_local:1"}}},
		{model: "local-small", groups: [][]string{{"provider_local:1"}}},
	}
	for _, m := range models {
		for n := 1; n <= 3; n++ {
			name := fmt.Sprintf("chat_model_%s_%d", m.model, n)
			t.Run(name, func(t *testing.T) {
				r := byName[name]
				// Any path: a request the router hop translated for a
				// direct cluster has the provider's path when it is
				// matched again.
				if r.GetMatch().GetPrefix() != "/" {
					t.Errorf("match = %v, want prefix /", r.GetMatch())
				}
				hs := r.GetMatch().GetHeaders()
				if len(hs) != 2 || hs[0].GetName() != ModelHeader || hs[0].GetStringMatch().GetExact() != m.model ||
					hs[1].GetName() != AttemptsHeader || hs[1].GetStringMatch().GetExact() != fmt.Sprint(n) {
					t.Errorf("header match = %v, want %s == %q and %s == %d", hs, ModelHeader, m.model, AttemptsHeader, n)
				}
				a := r.GetRoute()
				spec := priorityGroups(t, r)
				if got := showGroups(spec.GetPriorityGroups()); !slices.EqualFunc(got, m.groups, slices.Equal) {
					t.Errorf("priority groups = %q, want %q", got, m.groups)
				}
				for i, g := range spec.GetPriorityGroups() {
					if g.GetName() != fmt.Sprintf("p%d", i) {
						t.Errorf("group %d name = %q, want p%d", i, g.GetName(), i)
					}
				}
				if spec.GetOverrideMetadataNamespace() != PlanNamespace {
					t.Errorf("override metadata namespace = %q, want %q", spec.GetOverrideMetadataNamespace(), PlanNamespace)
				}
				if a.GetCluster() != "" || a.GetHostRewriteLiteral() != "" {
					t.Errorf("cluster %q, host rewrite %q: want neither (the upstream hop sets :authority)", a.GetCluster(), a.GetHostRewriteLiteral())
				}
				if got := a.GetTimeout().AsDuration(); got != 2*time.Minute {
					t.Errorf("timeout = %v, want timeouts.request 2m", got)
				}
				if got := a.GetIdleTimeout().AsDuration(); got != 45*time.Second {
					t.Errorf("idle timeout = %v, want timeouts.idle 45s", got)
				}
				if r.GetTypedPerFilterConfig() != nil {
					t.Errorf("chat route overrides filters: %v", r.GetTypedPerFilterConfig())
				}
				rp := a.GetRetryPolicy()
				if got := rp.GetPerTryTimeout().AsDuration(); got != 15*time.Second {
					t.Errorf("per-try timeout = %v, want routing.per_try_timeout 15s", got)
				}
				if n == 1 {
					// The per-try timeout bounds the one attempt; with no
					// retry_on Envoy never retries it.
					if rp.GetRetryOn() != "" || rp.GetNumRetries().GetValue() != 0 || len(rp.GetRetriableStatusCodes()) != 0 {
						t.Errorf("retry policy = %v, want only a per-try timeout for a single attempt", rp)
					}
					return
				}
				if rp.GetNumRetries().GetValue() != uint32(n-1) {
					t.Errorf("num_retries = %d, want %d", rp.GetNumRetries().GetValue(), n-1)
				}
				if got := strings.Split(rp.GetRetryOn(), ","); !slices.Equal(got, []string{"5xx", "reset", "connect-failure", "refused-stream", "retriable-status-codes"}) {
					t.Errorf("retry_on = %q", rp.GetRetryOn())
				}
				if !slices.Equal(rp.GetRetriableStatusCodes(), []uint32{429}) {
					t.Errorf("retriable status codes = %v, want [429]", rp.GetRetriableStatusCodes())
				}
				if !rp.GetRefreshClusterOnRetry() {
					t.Error("refresh_cluster_on_retry = false: every retry would go to the first group's cluster")
				}
				if bo := rp.GetRetryBackOff(); bo.GetBaseInterval().AsDuration() > 100*time.Millisecond || bo.GetMaxInterval().AsDuration() > time.Second {
					t.Errorf("retry back-off = %v, want a fast fallback", bo)
				}
			})
		}
	}

	for _, path := range APIPaths {
		name := "unrouted_" + strings.Trim(strings.ReplaceAll(path, "/", "_"), "_")
		t.Run(name, func(t *testing.T) {
			r := byName[name]
			if r.GetMatch().GetPath() != path || len(r.GetMatch().GetHeaders()) != 0 {
				t.Errorf("match = %v, want path %s with no header", r.GetMatch(), path)
			}
			if got := r.GetRoute().GetCluster(); got != UnroutedCluster {
				t.Errorf("cluster = %q, want %q", got, UnroutedCluster)
			}
			// The router hop must run here (it is what picks the provider),
			// told which config version these routes are.
			var pr extprocv3.ExtProcPerRoute
			if err := r.GetTypedPerFilterConfig()["envoy.filters.http.ext_proc"].UnmarshalTo(&pr); err != nil || len(r.GetTypedPerFilterConfig()) != 1 {
				t.Fatalf("%s filter overrides %v: %v", name, r.GetTypedPerFilterConfig(), err)
			}
			md := pr.GetOverrides().GetGrpcInitialMetadata()
			if pr.GetDisabled() || len(md) != 1 || md[0].GetKey() != ConfigVersionMetadata || md[0].GetValue() != stamp {
				t.Errorf("%s router hop override = %v, want only the config version %s in the gRPC metadata", name, &pr, stamp)
			}
		})
	}

	t.Run("not_found", func(t *testing.T) {
		r := byName["not_found"]
		if r.GetMatch().GetPrefix() != "/" {
			t.Errorf("match = %v, want prefix /", r.GetMatch())
		}
		if got := r.GetDirectResponse().GetStatus(); got != 404 {
			t.Errorf("status = %d, want 404", got)
		}
		checkRouterHopDisabled(t, r)
		checkJSONHeader(t, r)
		var body struct {
			Error struct{ Message, Type, Code string }
		}
		if err := json.Unmarshal([]byte(r.GetDirectResponse().GetBody().GetInlineString()), &body); err != nil || body.Error.Code != "unknown_url" {
			t.Errorf("404 body = %q (%v), want an OpenAI error with code unknown_url", r.GetDirectResponse().GetBody().GetInlineString(), err)
		}
	})
}

// priorityGroups unpacks a chat route's priority_group cluster specifier.
func priorityGroups(t *testing.T, r *routev3.Route) *prioritygroupv3.PriorityGroupClusterSpecifier {
	t.Helper()
	ext := r.GetRoute().GetInlineClusterSpecifierPlugin().GetExtension()
	if ext.GetName() != "envoy.router.cluster_specifier_plugin.priority_group" {
		t.Fatalf("route %s: cluster specifier plugin = %q, want priority_group", r.GetName(), ext.GetName())
	}
	return unpack(t, ext.GetTypedConfig(), &prioritygroupv3.PriorityGroupClusterSpecifier{})
}

// showGroups renders priority groups as cluster:weight lists.
func showGroups(gs []*prioritygroupv3.PriorityGroup) [][]string {
	out := make([][]string, len(gs))
	for i, g := range gs {
		for _, c := range g.GetClusters() {
			out[i] = append(out[i], fmt.Sprintf("%s:%d", c.GetClusterName(), c.GetWeight().GetValue()))
		}
	}
	return out
}

func checkRouterHopDisabled(t *testing.T, r *routev3.Route) {
	t.Helper()
	pf := unpack(t, r.GetTypedPerFilterConfig()["envoy.filters.http.ext_proc"], &extprocv3.ExtProcPerRoute{})
	if !pf.GetDisabled() {
		t.Errorf("route %s: ext_proc per-route = %v, want disabled", r.GetName(), pf)
	}
}

func checkJSONHeader(t *testing.T, r *routev3.Route) {
	t.Helper()
	for _, h := range r.GetResponseHeadersToAdd() {
		if h.GetHeader().GetKey() == "content-type" && h.GetHeader().GetValue() == "application/json" &&
			h.GetAppendAction() == corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
			return
		}
	}
	t.Errorf("route %s: no content-type: application/json response header", r.GetName())
}

func TestModelsJSON(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		env  map[string]string
		want string
	}{
		{
			name: "models in config order",
			yaml: testYAML,
			env:  testEnv,
			want: `{"object":"list","data":[{"id":"gpt-4o","object":"model","created":0,"owned_by":"openai","providers":["openai","local"]},{"id":"local-small","object":"model","created":0,"owned_by":"acme","providers":["local"]}]}`,
		},
		{
			name: "context length, capabilities and the first priced provider's price per token",
			yaml: `providers:
  - {name: a, schema: openai, base_url: "http://127.0.0.1:9101/v1"}
  - {name: b, schema: openai, base_url: "http://127.0.0.1:9102/v1"}
  - {name: c, schema: openai, base_url: "http://127.0.0.1:9103/v1"}
models:
  - name: m
    context_length: 200000
    capabilities: [vision, tools]
    providers:
      - {provider: c, priority: 1, pricing: {prompt: 9, completion: 9}, capabilities: [reasoning]}
      - {provider: a}
      - {provider: b, pricing: {prompt: 3, completion: 15, cached_prompt: 0.3, request: 0.002}}
`,
			want: `{"object":"list","data":[{"id":"m","object":"model","created":0,"owned_by":"c","context_length":200000,` +
				`"capabilities":["reasoning","tools","vision"],"providers":["a","b","c"],` +
				`"pricing":{"prompt":"0.000003","completion":"0.000015","request":"0.002","input_cache_read":"0.0000003"}}]}`,
		},
		{
			name: "every model left out",
			yaml: `providers:
  - {name: openai, schema: openai, base_url: "https://api.openai.com/v1", api_key: {env: OPENAI_API_KEY}, optional: true}
models:
  - {name: gpt, providers: [{provider: openai}]}
`,
			want: `{"object":"list","data":[]}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ModelsJSON(parse(t, tc.yaml, tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("ModelsJSON =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// TestModelRouteGroups covers weighted levels and more levels than
// attempts: every level is configured, the plan's attempt count decides
// how many Envoy uses.
func TestModelRouteGroups(t *testing.T) {
	snap := build(t, parse(t, `routing: {max_attempts: 2}
providers:
  - {name: a, schema: openai, base_url: "http://127.0.0.1:9101/v1"}
  - {name: b, schema: openai, base_url: "http://127.0.0.1:9102/v1"}
  - {name: c, schema: openai, base_url: "http://127.0.0.1:9103/v1"}
  - {name: d, schema: openai, base_url: "http://127.0.0.1:9104/v1"}
models:
  - name: m
    providers:
      - {provider: d, priority: 9}
      - {provider: c, priority: 2}
      - {provider: a, weight: 3}
      - {provider: b}
`, nil))
	var names []string
	for _, r := range tableRoutes(t, getRouteConfig(t, snap).GetVirtualHosts()[0]) {
		names = append(names, r.GetName())
		if !strings.HasPrefix(r.GetName(), "chat_model_") {
			continue
		}
		want := [][]string{{"provider_a:3", "provider_b:1"}, {"provider_c:1"}, {"provider_d:1"}}
		if got := showGroups(priorityGroups(t, r).GetPriorityGroups()); !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("route %s: priority groups = %q, want %q", r.GetName(), got, want)
		}
	}
	if want := []string{"models_anthropic", "models", "model_not_found_anthropic", "model_not_found", "unrouted_v1_chat_completions", "unrouted_v1_messages",
		"unrouted_v1_embeddings", "unrouted_v1_responses", "unrouted_v1_completions", "unrouted_v1_messages_count_tokens", "unrouted_v1_images_generations", "unrouted_v1_images_edits", "management_api", "stored_responses", "messages_not_found", "not_found",
		"model_m_anthropic", "model_m", "chat_model_m_1", "chat_model_m_2", "unrouted_model_header"}; !slices.Equal(names, want) {
		t.Errorf("routes = %q, want %q (one per attempt count up to routing.max_attempts)", names, want)
	}
}
