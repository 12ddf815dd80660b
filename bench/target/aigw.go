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

// AIGWExtProc is the process name of Envoy AI Gateway's ext_proc server.
const AIGWExtProc = "aigw-extproc"

// Envoy AI Gateway v1.0.0 has no OpenAI-to-Anthropic-Messages translator
// for chat completions; it translates to Claude on Vertex AI
// (GCPAnthropic: the Messages body and SSE stream at
// .../models/M:rawPredict and :streamRawPredict, which the fake serves)
// and on Bedrock (AWSAnthropic, answering in AWS event-stream framing).
// The benchmark uses the first, with a static token.
//
// version must equal the binary's: built from the Go module rather than
// by the project's release Makefile, it carries no tag and says "dev".
const aigwFilterConfig = `# Envoy AI Gateway extproc config (internal/filterapi.Config).
version: dev
backends:
  - name: fake-openai
    schema: {name: OpenAI, prefix: v1}
  - name: fake-anthropic
    schema: {name: GCPAnthropic, version: vertex-2023-10-16}
    modelNameOverride: claude-bench-1
    auth: {gcp: {accessToken: bench, region: local, projectName: bench}}
models:
  - {name: ` + ModelOpenAI + `}
  - {name: ` + ModelAnthropic + `}
`

// aigwEnvoyTmpl is laid out as Envoy AI Gateway's own data-plane tests
// run it (tests/data-plane/envoy.yaml): an ext_proc filter on the
// listener that reads the model and sets x-ai-eg-model, routes on that
// header, and an upstream ext_proc filter on each provider's cluster
// that translates and adds auth, picking the backend by the host's
// per_route_rule_backend_name metadata. Timeouts and limits are the
// baseline's.
var aigwEnvoyTmpl = template.Must(template.New("aigw").Parse(`# Envoy + Envoy AI Gateway extproc.
admin:
  address: {socket_address: {address: 127.0.0.1, port_value: {{.Admin}}}}
static_resources:
  listeners:
    - name: aigw
      address: {socket_address: {address: 127.0.0.1, port_value: {{.Port}}}}
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: aigw
                codec_type: AUTO
                stream_idle_timeout: 300s
                request_timeout: 0s
                route_config:
                  name: aigw
                  virtual_hosts:
                    - name: aigw
                      domains: ["*"]
                      routes:
{{- range .Backends}}
                        - match:
                            prefix: "/"
                            headers: [{name: x-ai-eg-model, string_match: {exact: {{.Model}}}}]
                          route: {cluster: {{.Name}}, timeout: 600s, idle_timeout: 300s}
{{- end}}
                http_filters:
                  - name: envoy.filters.http.ext_proc
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor
                      allow_mode_override: true
                      processing_mode: {request_header_mode: SEND, request_body_mode: BUFFERED, response_header_mode: SEND, response_body_mode: BUFFERED}
                      grpc_service: {envoy_grpc: {cluster_name: extproc}, timeout: 30s}
                      message_timeout: 60s
                      metadataOptions: {receivingNamespaces: {untyped: [io.envoy.ai_gateway]}}
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
                      suppress_envoy_headers: true
  clusters:
    - name: extproc
      type: STATIC
      connect_timeout: 2s
      typed_extension_protocol_options:
        envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
          "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
          explicit_http_config: {http2_protocol_options: {}}
      load_assignment:
        cluster_name: extproc
        endpoints:
          - lb_endpoints:
              - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: {{.ExtProc}}}}}
{{- range .Backends}}
    - name: {{.Name}}
      type: STATIC
      connect_timeout: 2s
      circuit_breakers:
        thresholds: [{max_connections: 1048576, max_pending_requests: 1048576, max_requests: 1048576}]
      typed_extension_protocol_options:
        envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
          "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
          explicit_http_config: {http_protocol_options: {}}
          http_filters:
            - name: upstream_extproc
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor
                allow_mode_override: true
                request_attributes: ["xds.upstream_host_metadata.filter_metadata['aigateway.envoy.io']['per_route_rule_backend_name']"]
                processing_mode: {request_header_mode: SEND, request_body_mode: NONE, response_header_mode: SKIP, response_body_mode: NONE}
                grpc_service: {envoy_grpc: {cluster_name: extproc}, timeout: 30s}
                message_timeout: 60s
                metadataOptions: {receivingNamespaces: {untyped: [io.envoy.ai_gateway]}}
            # The translated body's length, which the extproc leaves in metadata.
            - name: envoy.filters.http.header_mutation
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.http.header_mutation.v3.HeaderMutation
                mutations:
                  request_mutations:
                    - append:
                        append_action: ADD_IF_ABSENT
                        header: {key: content-length, value: "%DYNAMIC_METADATA(io.envoy.ai_gateway:content_length)%"}
            - name: envoy.filters.http.upstream_codec
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec
      load_assignment:
        cluster_name: {{.Name}}
        endpoints:
          - lb_endpoints:
              - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: {{$.Upstream}}}}}
                metadata: {filter_metadata: {aigateway.envoy.io: {per_route_rule_backend_name: {{.Name}}}}}
{{- end}}
`))

// aigwBackend is a model routed to one of aigwFilterConfig's backends.
type aigwBackend struct{ Model, Name string }

// aigwEnvoyYAML is the Envoy bootstrap in front of the AI Gateway extproc.
func aigwEnvoyYAML(port, admin, extProc, fakePort int) ([]byte, error) {
	var b bytes.Buffer
	err := aigwEnvoyTmpl.Execute(&b, map[string]any{"Port": port, "Admin": admin, "ExtProc": extProc, "Upstream": fakePort,
		"Backends": []aigwBackend{{ModelOpenAI, "fake-openai"}, {ModelAnthropic, "fake-anthropic"}}})
	return b.Bytes(), err
}

// StartAIGW runs Envoy AI Gateway's extproc (env.AIGWExtProc) and an
// Envoy configured as the AI Gateway configures it, in front of the fake.
func StartAIGW(env Env, fakePort int) (*Stack, error) {
	if _, err := os.Stat(env.AIGWExtProc); err != nil {
		return nil, fmt.Errorf("aigw: no extproc binary (run `make peers`): %w", err)
	}
	ports, err := freePorts(4)
	if err != nil {
		return nil, err
	}
	listen, admin, extProc, extAdmin := ports[0], ports[1], ports[2], ports[3]
	cfg := filepath.Join(env.Dir, "aigw-extproc.yaml")
	if err := os.WriteFile(cfg, []byte(aigwFilterConfig), 0o644); err != nil {
		return nil, fmt.Errorf("aigw: write config: %w", err)
	}
	boot, err := aigwEnvoyYAML(listen, admin, extProc, fakePort)
	if err != nil {
		return nil, fmt.Errorf("aigw: envoy config: %w", err)
	}
	bootPath := filepath.Join(env.Dir, "aigw-envoy.yaml")
	if err := os.WriteFile(bootPath, boot, 0o644); err != nil {
		return nil, fmt.Errorf("aigw: write envoy config: %w", err)
	}
	s := &Stack{Name: "aigw", Port: listen}
	// No OpenTelemetry exporters: metrics stay in its Prometheus registry.
	p, err := proc.StartEnv(AIGWExtProc, filepath.Join(env.Dir, "aigw-extproc.log"), []string{"OTEL_SDK_DISABLED=true"}, env.AIGWExtProc,
		"-configPath", cfg, "-extProcAddr", fmt.Sprintf("127.0.0.1:%d", extProc), "-adminPort", fmt.Sprint(extAdmin))
	if err != nil {
		return nil, fmt.Errorf("aigw: %w", err)
	}
	s.Procs = append(s.Procs, p)
	if err := s.startEnvoy(env, bootPath, admin); err != nil {
		s.Stop()
		return nil, fmt.Errorf("aigw: %w", err)
	}
	// /v1/models is answered by the extproc itself: both processes are up.
	if err := s.waitHTTP("/v1/models", 30*time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}
