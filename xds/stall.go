package xds

import (
	"strconv"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/switchboard-gw/switchboard/config"
)

// The stream hop is a third ext_proc filter, first in the connection
// manager's chain, so on the way back it runs last: it sees the answer as
// the client will, after the router hop translated it. It asks for the
// response headers only; for a successful SSE answer it switches itself to
// FULL_DUPLEX_STREAMED (mode_override), where Envoy lets the server send
// body chunks at its own pace and end the client's stream
// (StreamedBodyResponse.end_of_stream) while the provider's is still
// open. Envoy then resets the provider's stream. That is what a stalled
// stream's error chunk and the keep-alive comments need; the router hop
// cannot do it, since mode_override is ignored with
// send_body_without_waiting_for_header_response, which its whole answers
// need.
const (
	HopStream = "stream"
	// StreamIdleMetadata and StreamKeepaliveMetadata carry
	// timeouts.stream_idle and timeouts.stream_keepalive (milliseconds) in
	// the stream hop's gRPC metadata, so the hop uses the values of the
	// listener Envoy runs.
	StreamIdleMetadata      = "x-switchboard-stream-idle-ms"
	StreamKeepaliveMetadata = "x-switchboard-stream-keepalive-ms"
	// StreamHopFilter names the filter in the chain (and in per-route
	// configs, which turn it off on static routes).
	StreamHopFilter = "switchboard.stream_hop"
)

// streamHopFilter is the stream hop's filter, or nil when neither
// timeouts.stream_idle nor timeouts.stream_keepalive is set (no cost then).
func streamHopFilter(t config.Timeouts) *hcmv3.HttpFilter {
	if t.StreamIdle <= 0 && t.StreamKeepalive <= 0 {
		return nil
	}
	return &hcmv3.HttpFilter{Name: StreamHopFilter, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(streamExtProc(t.StreamIdle.D(), t.StreamKeepalive.D()))}}
}

func streamExtProc(idle, keepalive time.Duration) *extprocv3.ExternalProcessor {
	g := extProcGrpc(HopStream)
	g.InitialMetadata = append(g.InitialMetadata,
		&corev3.HeaderValue{Key: StreamIdleMetadata, Value: strconv.FormatInt(idle.Milliseconds(), 10)},
		&corev3.HeaderValue{Key: StreamKeepaliveMetadata, Value: strconv.FormatInt(keepalive.Milliseconds(), 10)})
	return &extprocv3.ExternalProcessor{
		GrpcService:  g,
		ForwardRules: forwardRules([]string{":status", "content-type"}),
		ProcessingMode: &extprocv3.ProcessingMode{
			RequestHeaderMode:   extprocv3.ProcessingMode_SKIP,
			RequestBodyMode:     extprocv3.ProcessingMode_NONE,
			RequestTrailerMode:  extprocv3.ProcessingMode_SKIP,
			ResponseHeaderMode:  extprocv3.ProcessingMode_SEND,
			ResponseBodyMode:    extprocv3.ProcessingMode_NONE,
			ResponseTrailerMode: extprocv3.ProcessingMode_SKIP,
		},
		// SSE answers only: the hop answers their headers with
		// FULL_DUPLEX_STREAMED (trailers SEND, which that mode needs).
		// Every other answer keeps NONE, and Envoy closes the hop's gRPC
		// stream with the headers answer.
		AllowModeOverride: true,
		AllowedOverrideModes: []*extprocv3.ProcessingMode{{
			RequestBodyMode:     extprocv3.ProcessingMode_NONE,
			RequestTrailerMode:  extprocv3.ProcessingMode_SKIP,
			ResponseHeaderMode:  extprocv3.ProcessingMode_SEND,
			ResponseBodyMode:    extprocv3.ProcessingMode_FULL_DUPLEX_STREAMED,
			ResponseTrailerMode: extprocv3.ProcessingMode_SEND,
		}},
		MessageTimeout: durationpb.New(10 * time.Second),
		// The hop adds nothing an answer needs: if ext_proc cannot take
		// its headers, the answer goes on without it.
		FailureModeAllow: true,
		StatPrefix:       "switchboard_stream",
		MetadataOptions: &extprocv3.MetadataOptions{
			// The API the client called, for the error's shape.
			ForwardingNamespaces: &extprocv3.MetadataOptions_MetadataNamespaces{Untyped: []string{RequestNamespace}},
		},
	}
}
