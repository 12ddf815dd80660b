package extproc

import (
	"context"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/xds"
)

// VersionedConfigs also gives configs by version: the router hop serves a
// request with the config of the routes Envoy matched it in, which Envoy
// names on the stream (xds.ConfigVersionMetadata). While Envoy rejects a
// new config, its requests keep the config it runs.
type VersionedConfigs interface {
	Configs
	Lookup(version string) (*config.Loaded, bool)
}

// configFor picks the config of version, or cur when version is "" or not
// known here (a config this process never loaded: it is counted).
func (s *Server) configFor(version string, cur *config.Loaded) *config.Loaded {
	if version == "" || cur != nil && cur.Version == version {
		return cur
	}
	if vc, ok := s.configs.(VersionedConfigs); ok {
		if l, ok := vc.Lookup(version); ok {
			return l
		}
	}
	s.metrics.unknownVersion.Inc()
	return cur
}

// streamVersion is the config version Envoy sent on the stream.
func streamVersion(ctx context.Context) string {
	if v := metadata.ValueFromIncomingContext(ctx, xds.ConfigVersionMetadata); len(v) > 0 {
		return v[0]
	}
	return ""
}

// stampVersion tells the upstream hop which config version planned the
// request.
func stampVersion(md *structpb.Struct, version string) {
	if req := md.GetFields()[xds.RequestNamespace].GetStructValue(); req != nil && version != "" {
		req.Fields["version"] = structpb.NewStringValue(version)
	}
}
