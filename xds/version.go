package xds

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// ConfigVersionMetadata is the gRPC metadata key on router hop streams
// naming the config version of the routes Envoy matched. The router hop
// passes it on to the upstream hop in RequestNamespace ("version").
const ConfigVersionMetadata = "x-switchboard-config-version"

// stampRouterHop makes the router hop's stream carry the config version
// of the route configuration it was matched in: the routes a request
// first matches (the API paths) add it to the gRPC initial metadata.
// Envoy keeps a route configuration it rejected out, so ext_proc learns
// from each request which version Envoy runs, in any process and for any
// Envoy of a fleet.
func stampRouterHop(version string) map[string]*anypb.Any {
	if version == "" {
		return nil
	}
	return map[string]*anypb.Any{"envoy.filters.http.ext_proc": mustAny(&extprocv3.ExtProcPerRoute{
		Override: &extprocv3.ExtProcPerRoute_Overrides{Overrides: &extprocv3.ExtProcOverrides{
			GrpcInitialMetadata: []*corev3.HeaderValue{{Key: ConfigVersionMetadata, Value: version}},
		}},
	})}
}
