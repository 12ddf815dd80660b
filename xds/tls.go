package xds

import (
	"net"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchboard-gw/switchboard/config"
)

// controlTLSSocket is Envoy's side of mutual TLS to switchboard: its
// client certificate, the CA it checks switchboard against, and the
// name switchboard's certificate must carry. Envoy reads the files when
// it builds the cluster; the digest in the cluster's metadata changes
// with their contents, so a rotation is a new cluster version and Envoy
// reads them again.
func controlTLSSocket(t config.ControlTLS) *corev3.TransportSocket {
	file := func(p string) *corev3.DataSource {
		return &corev3.DataSource{Specifier: &corev3.DataSource_Filename{Filename: p}}
	}
	san := &tlsv3.SubjectAltNameMatcher{SanType: tlsv3.SubjectAltNameMatcher_DNS,
		Matcher: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: t.ServerName}}}
	if net.ParseIP(t.ServerName) != nil {
		san.SanType = tlsv3.SubjectAltNameMatcher_IP_ADDRESS
	}
	ctx := &tlsv3.UpstreamTlsContext{
		Sni: t.ServerName,
		CommonTlsContext: &tlsv3.CommonTlsContext{
			AlpnProtocols:   []string{"h2"},
			TlsCertificates: []*tlsv3.TlsCertificate{{CertificateChain: file(t.EnvoyCert), PrivateKey: file(t.EnvoyKey)}},
			ValidationContextType: &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
				TrustedCa:                 file(t.CA),
				MatchTypedSubjectAltNames: []*tlsv3.SubjectAltNameMatcher{san},
			}},
		},
	}
	if net.ParseIP(t.ServerName) != nil {
		ctx.Sni = "" // SNI carries host names only
	}
	return &corev3.TransportSocket{Name: "envoy.transport_sockets.tls", ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: mustAny(ctx)}}
}

// withControlTLS secures the ext_proc cluster when the config asks.
func withControlTLS(c *clusterv3.Cluster, cfg *config.Loaded) {
	if !cfg.ControlTLS.Enabled() {
		return
	}
	c.TransportSocket = controlTLSSocket(cfg.ControlTLS)
	c.Metadata = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
		MetadataNamespace: {Fields: map[string]*structpb.Value{"tls_digest": structpb.NewStringValue(cfg.ControlTLSDigest)}},
	}}
}
