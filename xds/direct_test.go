package xds

import (
	"slices"
	"testing"

	headermutationv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/proto"
)

// A direct cluster is its provider's cluster without the upstream hop:
// the same endpoints, TLS, timeouts and health, and a filter that removes
// the headers set after the router hop translated the request.
func TestDirectCluster(t *testing.T) {
	snap := build(t, parse(t, testYAML, testEnv))
	for _, provider := range []string{"openai", "local"} {
		t.Run(provider, func(t *testing.T) {
			hooked, direct := getCluster(t, snap, ClusterName(provider)), getCluster(t, snap, DirectClusterName(provider))
			if direct.GetName() != "direct_"+provider {
				t.Errorf("name = %q", direct.GetName())
			}
			if !proto.Equal(direct.GetLoadAssignment().GetEndpoints()[0], hooked.GetLoadAssignment().GetEndpoints()[0]) ||
				direct.GetType() != hooked.GetType() || !proto.Equal(direct.GetConnectTimeout(), hooked.GetConnectTimeout()) ||
				!proto.Equal(direct.GetOutlierDetection(), hooked.GetOutlierDetection()) || !proto.Equal(direct.GetCircuitBreakers(), hooked.GetCircuitBreakers()) {
				t.Errorf("direct cluster %v differs from the provider's %v beyond its filters", direct, hooked)
			}
			if (direct.GetTransportSocket() == nil) != (provider == "local") {
				t.Errorf("transport socket = %v", direct.GetTransportSocket())
			}
			if ts := direct.GetTransportSocket(); ts != nil {
				got, want := unpack(t, ts.GetTypedConfig(), &tlsv3.UpstreamTlsContext{}), unpack(t, hooked.GetTransportSocket().GetTypedConfig(), &tlsv3.UpstreamTlsContext{})
				if !proto.Equal(got, want) {
					t.Errorf("TLS = %v, want the provider cluster's %v", got, want)
				}
			}
			if direct.GetMetadata() != nil {
				t.Errorf("metadata = %v, want none (no upstream hop reads it)", direct.GetMetadata())
			}
			opts := unpack(t, direct.GetTypedExtensionProtocolOptions()[httpOptionsKey], &httpv3.HttpProtocolOptions{})
			hookedOpts := unpack(t, hooked.GetTypedExtensionProtocolOptions()[httpOptionsKey], &httpv3.HttpProtocolOptions{})
			rest, hookedRest := proto.Clone(opts).(*httpv3.HttpProtocolOptions), proto.Clone(hookedOpts).(*httpv3.HttpProtocolOptions)
			rest.HttpFilters, hookedRest.HttpFilters = nil, nil
			if !proto.Equal(rest, hookedRest) {
				t.Errorf("protocol options = %v, want the provider cluster's %v", rest, hookedRest)
			}
			var filters []string
			for _, f := range opts.GetHttpFilters() {
				filters = append(filters, f.GetName())
			}
			if want := []string{"envoy.filters.http.header_mutation", "envoy.filters.http.upstream_codec"}; !slices.Equal(filters, want) {
				t.Fatalf("upstream filters = %q, want %q (no ext_proc)", filters, want)
			}
			hm := unpack(t, opts.GetHttpFilters()[0].GetTypedConfig(), &headermutationv3.HeaderMutation{})
			var removed []string
			for _, m := range hm.GetMutations().GetRequestMutations() {
				removed = append(removed, m.GetRemove())
			}
			want := []string{ModelHeader, AttemptsHeader, "x-envoy-attempt-count", "x-envoy-expected-rq-timeout-ms",
				"x-forwarded-proto", "x-request-id", "x-forwarded-for", "x-envoy-internal", "x-envoy-external-address"}
			if !slices.Equal(removed, want) || len(hm.GetMutations().GetResponseMutations()) != 0 {
				t.Errorf("header mutation = %v, want request headers %q removed, nothing else", hm, want)
			}
		})
	}
}
