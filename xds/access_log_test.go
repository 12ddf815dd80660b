package xds

import (
	"strings"
	"testing"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	filev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	streamv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	setfilterstatev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/set_filter_state/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/structpb"
)

func TestAccessLogConfig(t *testing.T) {
	tests := []struct {
		name   string
		yaml   string
		logger string // "" for no access log
		path   string
	}{
		{name: "default: stdout", logger: "envoy.access_loggers.stdout"},
		{name: "file", yaml: "access_log: {path: /var/log/switchboard/access.json}\n", logger: "envoy.access_loggers.file", path: "/var/log/switchboard/access.json"},
		{name: "off", yaml: "access_log: {enabled: false}\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := getListener(t, build(t, parse(t, tc.yaml+testYAML, testEnv)))
			hcm := unpack(t, l.GetFilterChains()[0].GetFilters()[0].GetTypedConfig(), &hcmv3.HttpConnectionManager{})
			logs := hcm.GetAccessLog()
			stateFirst := hcm.GetHttpFilters()[0].GetName() == "envoy.filters.http.set_filter_state"
			if tc.logger == "" {
				if len(logs) != 0 || stateFirst {
					t.Fatalf("access logs = %v, filters %v; want neither a log nor its request state", logs, hcm.GetHttpFilters())
				}
				return
			}
			if !stateFirst {
				t.Fatalf("first filter %s, want set_filter_state keeping the request's id and path", hcm.GetHttpFilters()[0].GetName())
			}
			state := unpack(t, hcm.GetHttpFilters()[0].GetTypedConfig(), &setfilterstatev3.Config{})
			for i, key := range []string{RequestIDState, PathState} {
				if v := state.GetOnRequestHeaders(); len(v) != 2 || v[i].GetObjectKey() != key || !v[i].GetReadOnly() {
					t.Fatalf("request state %v, want %s read-only", v, key)
				}
			}
			if len(logs) != 1 || logs[0].GetName() != tc.logger {
				t.Fatalf("access logs = %v, want one %s", logs, tc.logger)
			}
			checkAccessLogFormat(t, logs[0], tc.path)
		})
	}
}

// checkAccessLogFormat checks the logger's JSON fields, and its file.
func checkAccessLogFormat(t *testing.T, a *accesslogv3.AccessLog, path string) {
	t.Helper()
	var js *structpb.Struct
	if path == "" {
		js = unpack(t, a.GetTypedConfig(), &streamv3.StdoutAccessLog{}).GetLogFormat().GetJsonFormat()
	} else {
		f := unpack(t, a.GetTypedConfig(), &filev3.FileAccessLog{})
		if f.GetPath() != path {
			t.Errorf("file = %q, want %q", f.GetPath(), path)
		}
		js = f.GetLogFormat().GetJsonFormat()
	}
	for _, k := range []string{"request_id", "method", "path", "status", "error", "model", "provider", "attempts", "duration_ms", "ttfb_ms", "bytes_received", "bytes_sent",
		"key_id", "tenant", "prompt_tokens", "completion_tokens", "cost_usd"} {
		if js.GetFields()[k].GetStringValue() == "" {
			t.Errorf("access log has no %q field", k)
		}
	}
	// Never a body or a credential.
	for k, v := range js.GetFields() {
		s := strings.ToUpper(v.GetStringValue())
		for _, bad := range []string{"AUTHORIZATION", "API-KEY", "X-GOOG", "BODY", "COOKIE"} {
			if strings.Contains(s, bad) {
				t.Errorf("field %s = %s reads %s", k, v.GetStringValue(), bad)
			}
		}
	}
}
