package target

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"text/template"
	"time"

	"github.com/switchboard-gw/switchboard/bench/proc"
)

// NullProc is the process name of the floor's ext_proc server.
const NullProc = "nullproc"

// The ext_proc floor: plain Envoy plus an ext_proc filter set up as
// switchboard's router hop is (the same processing modes, body sent
// without waiting for the headers answer, an HTTP/2 cluster), in front of
// an ext_proc server that does no work (`bench nullproc`): it answers
// with the same messages switchboard sends for a whole answer (the
// request's headers once its body is in, the response's headers with
// its body) and changes nothing. What this target adds to plain Envoy is
// what any ext_proc gateway of this shape pays before it does anything.
var floorEnvoyTmpl = template.Must(template.New("floor").Parse(`# Envoy + an ext_proc server that does no work.
admin:
  address: {socket_address: {address: 127.0.0.1, port_value: {{.Admin}}}}
static_resources:
  listeners:
    - name: floor
      address: {socket_address: {address: 127.0.0.1, port_value: {{.Port}}}}
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: floor
                codec_type: AUTO
                stream_idle_timeout: 300s
                request_timeout: 0s
                route_config:
                  name: floor
                  virtual_hosts:
                    - name: fake
                      domains: ["*"]
                      routes:
                        - match: {prefix: "/"}
                          route: {cluster: fake, timeout: 600s, idle_timeout: 300s}
                http_filters:
                  - name: envoy.filters.http.ext_proc
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor
                      grpc_service: {envoy_grpc: {cluster_name: extproc}}
                      processing_mode:
                        request_header_mode: SEND
                        request_body_mode: STREAMED
                        response_header_mode: SEND
                        response_body_mode: STREAMED
                        request_trailer_mode: SKIP
                        response_trailer_mode: SKIP
                      send_body_without_waiting_for_header_response: true
                      message_timeout: 10s
                      status_on_error: {code: ServiceUnavailable}
                      stat_prefix: floor
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
    - name: extproc
      type: STATIC
      connect_timeout: 1s
      typed_extension_protocol_options:
        envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
          "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
          explicit_http_config: {http2_protocol_options: {}}
      circuit_breakers:
        thresholds: [{max_connections: 1048576, max_pending_requests: 1048576, max_requests: 1048576}]
      load_assignment:
        cluster_name: extproc
        endpoints:
          - lb_endpoints:
              - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: {{.ExtProc}}}}}
    - name: fake
      type: STATIC
      connect_timeout: 2s
      circuit_breakers:
        thresholds: [{max_connections: 1048576, max_pending_requests: 1048576, max_requests: 1048576}]
      load_assignment:
        cluster_name: fake
        endpoints:
          - lb_endpoints:
              - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: {{.Upstream}}}}}
`))

// StartFloor runs the null ext_proc server (env.Self nullproc) and an
// Envoy that sends every request through it to the fake.
func StartFloor(env Env, fakePort int) (*Stack, error) {
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	listen, admin, extProc := ports[0], ports[1], ports[2]
	var boot bytes.Buffer
	if err := floorEnvoyTmpl.Execute(&boot, map[string]int{"Port": listen, "Admin": admin, "ExtProc": extProc, "Upstream": fakePort}); err != nil {
		return nil, fmt.Errorf("floor: envoy config: %w", err)
	}
	bootPath := filepath.Join(env.Dir, "floor-envoy.yaml")
	if err := os.WriteFile(bootPath, boot.Bytes(), 0o644); err != nil {
		return nil, fmt.Errorf("floor: write envoy config: %w", err)
	}
	s := &Stack{Name: "floor", Port: listen}
	p, err := proc.Start(NullProc, filepath.Join(env.Dir, "nullproc.log"), env.Self, "nullproc", "-listen", fmt.Sprintf("127.0.0.1:%d", extProc))
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	s.Procs = append(s.Procs, p)
	if err := s.startEnvoy(env, bootPath, admin); err != nil {
		s.Stop()
		return nil, fmt.Errorf("floor: %w", err)
	}
	if err := s.waitHTTP("/healthz", 30*time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}
