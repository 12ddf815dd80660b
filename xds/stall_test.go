package xds

import (
	"testing"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"

	"github.com/switchboard-gw/switchboard/config"
)

func listenerFilters(t *testing.T, c *config.Config) []*hcmv3.HttpFilter {
	t.Helper()
	var hcm hcmv3.HttpConnectionManager
	if err := makeListener(c).GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(&hcm); err != nil {
		t.Fatal(err)
	}
	f := hcm.GetHttpFilters()
	// The access log's request state is first whenever the log is on.
	if len(f) == 0 || f[0].GetName() != "envoy.filters.http.set_filter_state" {
		t.Fatalf("first filter is not the access log's set_filter_state: %v", f)
	}
	return f[1:]
}

// The stream hop costs nothing unless a stream timeout is set; then it is
// first in the chain (last on the way back, after the router hop's
// translation) and asks only for response headers.
func TestStreamHopFilter(t *testing.T) {
	c := &config.Config{}
	if f := listenerFilters(t, c); len(f) != 2 || f[0].GetName() != "envoy.filters.http.ext_proc" {
		t.Fatalf("without stream timeouts: filters %v", f)
	}
	c.Timeouts.StreamIdle = config.Duration(30 * time.Second)
	f := listenerFilters(t, c)
	if len(f) != 3 || f[0].GetName() != StreamHopFilter {
		t.Fatalf("with stream_idle: filters %v", f)
	}
	var ep extprocv3.ExternalProcessor
	if err := f[0].GetTypedConfig().UnmarshalTo(&ep); err != nil {
		t.Fatal(err)
	}
	m := ep.GetProcessingMode()
	if m.GetRequestHeaderMode() != extprocv3.ProcessingMode_SKIP || m.GetResponseBodyMode() != extprocv3.ProcessingMode_NONE || !ep.GetAllowModeOverride() || ep.GetSendBodyWithoutWaitingForHeaderResponse() {
		t.Fatalf("stream hop mode: %v", &ep)
	}
	md := map[string]string{}
	for _, kv := range ep.GetGrpcService().GetInitialMetadata() {
		md[kv.GetKey()] = kv.GetValue()
	}
	if md[HopMetadata] != HopStream || md[StreamIdleMetadata] != "30000" || md[StreamKeepaliveMetadata] != "0" {
		t.Fatalf("stream hop metadata: %v", md)
	}
}
