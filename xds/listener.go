package xds

import (
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/switchboard-gw/switchboard/config"
)

// makeListener builds the client-facing HTTP listener.
func makeListener(c *config.Config) *listenerv3.Listener {
	hcm := &hcmv3.HttpConnectionManager{
		StatPrefix: "switchboard",
		CodecType:  hcmv3.HttpConnectionManager_AUTO,
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
			RouteConfigName: RouteName,
			ConfigSource: &corev3.ConfigSource{
				ResourceApiVersion:    corev3.ApiVersion_V3,
				ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
			},
		}},
		HttpFilters: []*hcmv3.HttpFilter{
			{Name: "envoy.filters.http.ext_proc", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(routerExtProc(c.Timeouts, c.Routing.PerTryTimeout.D()))}},
			{Name: "envoy.filters.http.router", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&routerv3.Router{})}},
		},
		// LLM streams pause for long stretches while a model thinks.
		StreamIdleTimeout: durationpb.New(c.Timeouts.Idle.D()),
		// A client that trickles its request holds Envoy's memory (the
		// body is buffered for the router hop): its headers, then the
		// whole request, must arrive in time, or it gets 408. The request
		// timeout stops once the request has gone upstream, so a model's
		// thinking does not count.
		RequestHeadersTimeout: durationpb.New(c.Timeouts.ClientHeaders.D()),
		RequestTimeout:        durationpb.New(c.Timeouts.ClientRequest.D()),
		// When a provider's stream is cut mid-answer Envoy resets the
		// client's, closing the connection after this grace for the
		// client to close first. The 1 s default left the client waiting
		// a second for the end of a broken stream; 100 ms still lets a
		// local reply (413 to a client still sending) be read first.
		DelayedCloseTimeout: durationpb.New(delayedClose),
		LocalReplyConfig:    localReplyConfig(),
		AccessLog:           accessLogs(c.AccessLog),
	}
	// Stream hop (xds/stall.go): first in the chain, so last on the way back.
	if f := streamHopFilter(c.Timeouts); f != nil {
		hcm.HttpFilters = append([]*hcmv3.HttpFilter{f}, hcm.HttpFilters...)
	}
	// Before every filter that could change the request's id or path.
	if c.AccessLog.On() {
		hcm.HttpFilters = append([]*hcmv3.HttpFilter{clientRequestState()}, hcm.HttpFilters...)
	}
	return &listenerv3.Listener{
		Name:    ListenerName,
		Address: socketAddress(c.Listener.Address, c.Listener.Port),
		FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
			Name:       "envoy.filters.network.http_connection_manager",
			ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(hcm)},
		}}}},
	}
}

// delayedClose is the HTTP connection manager's delayed_close_timeout.
const delayedClose = 100 * time.Millisecond
