// Package target starts what the benchmark measures, all on loopback ports
// chosen at run time: the fake provider, a plain Envoy routing straight to
// it (the baseline), and Envoy with switchboard in front of it.
package target

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/switchboard-gw/switchboard/bench/fake"
	"github.com/switchboard-gw/switchboard/bench/proc"
	"github.com/switchboard-gw/switchboard/envoy"
)

// Env is what every target needs.
type Env struct {
	Dir         string // scratch directory for configs
	Envoy       string // Envoy binary
	Switchboard string // switchboard binary (or a profiling build of it)
	Self        string // the bench binary, which serves the fake with `fake`
	Concurrency int    // Envoy --concurrency
	// LogLevel is switchboard's --log-level; "info" logs every completion.
	LogLevel string
	// SwitchboardArgs are extra arguments after `serve --config FILE`.
	SwitchboardArgs []string
	// Peers (`make bench-peers`): Envoy AI Gateway's extproc binary and
	// the folder LiteLLM was pip-installed into.
	AIGWExtProc string
	LiteLLM     string
	// ModuleFloor is the in-process floor's dynamic module
	// (libswitchboard_floor.so, built from bench/peers/modfloor).
	ModuleFloor string
}

// Stack is a set of running processes serving one listener.
type Stack struct {
	Name  string
	Port  int
	Admin int // Envoy's admin port; 0 for the fake
	// SwitchboardAdmin is switchboard's admin HTTP port (GET /metrics);
	// 0 for the fake and the baseline.
	SwitchboardAdmin int
	Procs            []*proc.Proc // in start order
}

// URL is the listener's address for path.
func (s *Stack) URL(path string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", s.Port, path) }

// Proc returns the process named name, or nil.
func (s *Stack) Proc(name string) *proc.Proc {
	for _, p := range s.Procs {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Stop ends the processes, last started first.
func (s *Stack) Stop() {
	for i := len(s.Procs) - 1; i >= 0; i-- {
		s.Procs[i].Stop()
	}
}

// Process names.
const (
	Fake        = "fake"
	Envoy       = "envoy"
	Switchboard = "switchboard"
)

// FreePort returns a loopback port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func freePorts(n int) ([]int, error) {
	ports := make([]int, n)
	for i := range ports {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	return ports, nil
}

// StartFake runs the fake provider in its own process, so its CPU time is
// counted apart from the load generator's.
func StartFake(env Env, o fake.Options) (*Stack, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	p, err := proc.Start(Fake, filepath.Join(env.Dir, "fake.log"), env.Self, "fake", "-listen", fmt.Sprintf("127.0.0.1:%d", port),
		"-chunks", strconv.Itoa(o.Chunks), "-chunk-text", o.ChunkText, "-interval", o.Interval.String())
	if err != nil {
		return nil, err
	}
	s := &Stack{Name: Fake, Port: port, Procs: []*proc.Proc{p}}
	if err := s.waitHTTP("/healthz", 10*time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// baselineTmpl is plain Envoy: one listener, one route, one cluster. With
// ExtProc set it is the ext_proc floor (floor.go): the same Envoy with
// only an ext_proc filter added in front of the router, and its cluster.
var baselineTmpl = template.Must(template.New("baseline").Parse(`# Plain Envoy: one listener, one route, one cluster{{if .ExtProc}}, and an ext_proc filter in front of a server that does no work{{else if .Module}}, and a Go dynamic-module filter that only copies the bodies{{else}}, no ext_proc{{end}}.
admin:
  address: {socket_address: {address: 127.0.0.1, port_value: {{.Admin}}}}
static_resources:
  listeners:
    - name: baseline
      address: {socket_address: {address: 127.0.0.1, port_value: {{.Port}}}}
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: baseline
                codec_type: AUTO
                stream_idle_timeout: 300s
                request_timeout: 0s
                route_config:
                  name: baseline
                  virtual_hosts:
                    - name: fake
                      domains: ["*"]
                      routes:
                        - match: {prefix: "/"}
                          route: {cluster: fake, timeout: 600s, idle_timeout: 300s}
                http_filters:
{{- if .ExtProc}}
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
{{- end}}
{{- if .Module}}
                  - name: envoy.filters.http.dynamic_modules
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter
                      dynamic_module_config: {name: switchboard_floor, do_not_close: true}
                      filter_name: floor
{{- end}}
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
{{- if .ExtProc}}
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
{{- end}}
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

// StartBaseline runs Envoy alone, routing every request to the fake.
func StartBaseline(env Env, fakePort int) (*Stack, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	boot := filepath.Join(env.Dir, "baseline-envoy.yaml")
	f, err := os.Create(boot)
	if err != nil {
		return nil, err
	}
	err = baselineTmpl.Execute(f, map[string]int{"Port": ports[0], "Admin": ports[1], "Upstream": fakePort})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	s := &Stack{Name: "baseline", Port: ports[0]}
	if err := s.startEnvoy(env, boot, ports[1]); err != nil {
		return nil, err
	}
	if err := s.waitHTTP("/healthz", 30*time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// Models the gateway serves: one per provider schema.
const (
	ModelOpenAI    = "bench-openai"    // OpenAI schema: pass-through
	ModelAnthropic = "bench-anthropic" // Anthropic schema: translated
)

// The models are priced (USD per million tokens), so answers carry
// usage.cost and a governed gateway's budgets are charged.
const gatewayConfig = `# switchboard config for the benchmark.
listener: {address: 127.0.0.1, port: %d}
xds: {address: "127.0.0.1:%d"}
extproc: {address: "127.0.0.1:%d"}
admin: {address: "127.0.0.1:%d"}
timeouts: {connect: 2s, request: 10m, idle: 5m}
providers:
  - name: fake-openai
    schema: openai
    base_url: http://127.0.0.1:%d/v1
  - name: fake-anthropic
    schema: anthropic
    base_url: http://127.0.0.1:%d
models:
  - name: ` + ModelOpenAI + `
    providers: [{provider: fake-openai, model: bench-1, pricing: {prompt: 1, completion: 2}}]
  - name: ` + ModelAnthropic + `
    providers: [{provider: fake-anthropic, model: claude-bench-1, pricing: {prompt: 1, completion: 2}}]
`

// BenchKey is the gateway key of a governed gateway's one tenant
// ("sk-sb-" and 43 base62 characters, as the CLI makes them).
const BenchKey = "sk-sb-bench" + "00000000000000000000000000000000000000"

// governanceConfig turns keys and limits on: one tenant and its key, with
// every kind of limit set far above what the benchmark sends, so each
// request runs the whole path (key check, reserve of rate, token,
// concurrency and budget counters in Redis, settle, usage record)
// and none is refused. Records go to the embedded store next to the
// config.
const governanceConfig = `governance:
  limits: {kind: redis, address: "%s", on_store_failure: closed}
  tenants:
    - {name: bench, rpm: 1000000000, tpm: 1000000000, max_concurrent: 1000000, budgets: {daily: 1000000}}
  keys:
    - {id: bench, tenant: bench, hash: "sha256:%x", rpm: 1000000000, max_concurrent: 1000000}
`

// Governance, when set, turns a gateway's governance on with its limits
// in the Redis at RedisAddr; requests need Authorization: Bearer BenchKey.
type Governance struct{ RedisAddr string }

// StartGateway runs `switchboard serve` and an Envoy bootstrapped from it.
// Both schemas are served by one gateway; the model picks the provider.
// With gov the gateway is governed, named "governed" (its files too).
func StartGateway(env Env, fakePort int, gov *Governance) (*Stack, error) {
	ports, err := freePorts(5)
	if err != nil {
		return nil, err
	}
	listen, xdsPort, extPort, admin, sbAdmin := ports[0], ports[1], ports[2], ports[3], ports[4]
	name, file := "gateway", func(f string) string { return filepath.Join(env.Dir, f) }
	if gov != nil {
		name, file = "governed", func(f string) string { return filepath.Join(env.Dir, "governed-"+f) }
	}
	cfg := file("switchboard.yaml")
	if err := os.WriteFile(cfg, gatewayYAML(listen, xdsPort, extPort, sbAdmin, fakePort, gov), 0o644); err != nil {
		return nil, err
	}
	s := &Stack{Name: name, Port: listen, SwitchboardAdmin: sbAdmin}
	args := append([]string{"serve", "--config", cfg, "--log-level", env.LogLevel}, env.SwitchboardArgs...)
	sb, err := proc.Start(Switchboard, file("switchboard.log"), env.Switchboard, args...)
	if err != nil {
		return nil, err
	}
	s.Procs = append(s.Procs, sb)
	boot, err := envoy.Bootstrap(envoy.Options{
		NodeID:       "bench",
		XDSAddress:   fmt.Sprintf("127.0.0.1:%d", xdsPort),
		AdminAddress: fmt.Sprintf("127.0.0.1:%d", admin),
	})
	if err != nil {
		s.Stop()
		return nil, err
	}
	bootPath := filepath.Join(env.Dir, name+"-envoy.yaml")
	if err := os.WriteFile(bootPath, boot, 0o644); err != nil {
		s.Stop()
		return nil, err
	}
	if err := s.startEnvoy(env, bootPath, admin); err != nil {
		s.Stop()
		return nil, err
	}
	if err := s.waitHTTP("/v1/models", 30*time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// gatewayYAML is a gateway's config: its ports, the fake's, and
// governance when gov is set.
func gatewayYAML(listen, xdsPort, extPort, sbAdmin, fakePort int, gov *Governance) []byte {
	text := fmt.Appendf(nil, gatewayConfig, listen, xdsPort, extPort, sbAdmin, fakePort, fakePort)
	if gov != nil {
		text = fmt.Appendf(text, governanceConfig, gov.RedisAddr, sha256.Sum256([]byte(BenchKey)))
	}
	return text
}

// Redis is the process name of the limits' Redis.
const Redis = "redis"

// StartRedis runs redis-server bin on a free loopback port with no
// persistence, as the test suite does (internal/testservers).
func StartRedis(env Env, bin string) (*Stack, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	p, err := proc.Start(Redis, filepath.Join(env.Dir, "redis.log"), bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--dir", env.Dir, "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	if err != nil {
		return nil, err
	}
	s := &Stack{Name: Redis, Port: port, Procs: []*proc.Proc{p}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := ping(s.Addr())
		if err == nil {
			return s, nil
		}
		if p.Exited() || time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("redis: not ready (%v):\n%s", err, p.Log(4000))
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Addr is the stack's listener as host:port.
func (s *Stack) Addr() string { return fmt.Sprintf("127.0.0.1:%d", s.Port) }

// ping sends Redis a PING and wants +PONG.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	b := make([]byte, 7)
	if _, err := io.ReadFull(c, b); err != nil {
		return err
	}
	if string(b) != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", b)
	}
	return nil
}

func (s *Stack) startEnvoy(env Env, bootPath string, admin int, vars ...string) error {
	p, err := proc.StartEnv(Envoy, filepath.Join(env.Dir, s.Name+"-envoy.log"), vars, env.Envoy, "-c", bootPath, "--log-level", "warn",
		"--concurrency", strconv.Itoa(env.Concurrency), "--base-id", strconv.Itoa(admin), "--disable-hot-restart")
	if err != nil {
		return err
	}
	s.Procs = append(s.Procs, p)
	s.Admin = admin
	return nil
}

// waitHTTP polls path until it answers 200 (the baseline passes /healthz
// on to the fake). The processes have no readiness signal to wait on.
func (s *Stack) waitHTTP(path string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c := &http.Client{Timeout: time.Second}
	for {
		resp, err := c.Get(s.URL(path))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		for _, p := range s.Procs {
			if p.Exited() {
				return fmt.Errorf("%s: %s exited during start-up:\n%s", s.Name, p.Name, p.Log(4000))
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: not ready after %v (last error: %v)", s.Name, timeout, err)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// Logs returns every process's recent output, for a failure report.
func (s *Stack) Logs() string {
	var b strings.Builder
	for _, p := range s.Procs {
		fmt.Fprintf(&b, "--- %s log ---\n%s\n", p.Name, p.Log(4000))
	}
	return b.String()
}

// Counters reads the Envoy counters whose names match the regular
// expression filter.
func (s *Stack) Counters(filter string) (map[string]int64, error) {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/stats?usedonly&filter=%s", s.Admin, url.QueryEscape(filter)))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		name, v, ok := strings.Cut(line, ": ")
		if n, err := strconv.ParseInt(v, 10, 64); ok && err == nil {
			out[name] = n
		}
	}
	return out, nil
}

// Check sends one whole and one streamed request (with the headers hdr)
// and verifies that the answers are in the OpenAI schema and carry the
// fake's text, so a misconfigured target cannot produce fast,
// meaningless numbers.
func Check(ctx context.Context, c *http.Client, url string, hdr http.Header, whole, stream []byte, text string) error {
	for _, body := range [][]byte{whole, stream} {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		for k, v := range hdr {
			req.Header[k] = v
		}
		req.Header.Set("content-type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		isStream := bytes.Equal(body, stream)
		switch {
		case resp.StatusCode != http.StatusOK:
			return fmt.Errorf("status %d: %.300s", resp.StatusCode, b)
		case !isStream && !bytes.Contains(b, []byte(`"chat.completion"`)):
			return fmt.Errorf("not an OpenAI chat.completion: %.300s", b)
		case isStream && (!bytes.Contains(b, []byte(`"chat.completion.chunk"`)) || !bytes.HasSuffix(bytes.TrimSpace(b), []byte("data: [DONE]"))):
			return fmt.Errorf("not an OpenAI chunk stream ending in [DONE]: %.300s", b)
		case !bytes.Contains(b, []byte(text)):
			return fmt.Errorf("the fake's text %q is missing: %.300s", text, b)
		}
	}
	return nil
}
