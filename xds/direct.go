package xds

import (
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	mutationrulesv3 "github.com/envoyproxy/go-control-plane/envoy/config/common/mutation_rules/v3"
	headermutationv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
)

// A request the router hop translates itself (one attempt on one
// provider, a whole answer: extproc/direct.go) goes to the provider's
// direct cluster, which runs no ext_proc filter: one gRPC stream per
// request instead of two. Same endpoints, TLS and health as the
// provider's cluster.

// DirectClusterName is the direct cluster of a provider. Provider names
// never start a provider cluster's name with this prefix.
func DirectClusterName(provider string) string { return "direct_" + provider }

// DirectRemovedHeaders are request headers no provider gets that the
// router hop cannot remove itself, so the direct cluster does: the
// route's own match headers, what Envoy's router adds after the hop
// (the upstream hop removes those on the other clusters), and what the
// connection manager adds, which routing needs (Envoy matches no route
// without x-forwarded-proto).
var DirectRemovedHeaders = []string{
	ModelHeader, AttemptsHeader, "x-envoy-attempt-count", "x-envoy-expected-rq-timeout-ms",
	"x-forwarded-proto", "x-request-id", "x-forwarded-for", "x-envoy-internal", "x-envoy-external-address",
}

func makeDirectCluster(p providerCluster) *clusterv3.Cluster {
	var muts []*mutationrulesv3.HeaderMutation
	for _, h := range DirectRemovedHeaders {
		muts = append(muts, &mutationrulesv3.HeaderMutation{Action: &mutationrulesv3.HeaderMutation_Remove{Remove: h}})
	}
	f := &headermutationv3.HeaderMutation{Mutations: &headermutationv3.Mutations{RequestMutations: muts}}
	c := providerClusterWith(p, DirectClusterName(p.Name),
		&hcmv3.HttpFilter{Name: "envoy.filters.http.header_mutation", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(f)}})
	c.Metadata = nil // no upstream hop reads it
	return c
}
