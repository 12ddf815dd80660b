package target

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	dmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/dynamic_modules/v3"

	"github.com/switchboard-gw/switchboard/xds"
)

// TestModuleFloorConfig: the in-process floor is the baseline with the
// dynamic-module filter before the router, loading the module by the
// name its library has, never unloaded (Go cannot be).
func TestModuleFloorConfig(t *testing.T) {
	var text bytes.Buffer
	if err := baselineTmpl.Execute(&text, map[string]int{"Port": 9300, "Admin": 9301, "Module": 1, "Upstream": 9302}); err != nil {
		t.Fatal(err)
	}
	l := parseBootstrap(t, text.Bytes()).GetStaticResources().GetListeners()[0]
	f := httpFilter[*dmv3.DynamicModuleFilter](t, l, "envoy.filters.http.dynamic_modules")
	if c := f.GetDynamicModuleConfig(); c.GetName() != moduleName || !c.GetDoNotClose() {
		t.Errorf("module config %v, want %s, do_not_close", c, moduleName)
	}
	if bytes.Contains(text.Bytes(), []byte("ext_proc")) {
		t.Error("the in-process floor has an ext_proc filter")
	}
}

// TestModuleFloor builds the Go module and runs it in a real Envoy:
// Envoy loads it (an Envoy that cannot exits at start), at the ABI
// version it was built for, and requests pass through it both ways
// unchanged, whole and streamed.
func TestModuleFloor(t *testing.T) {
	envoy := testEnvoy(t)
	dir := t.TempDir()
	so := filepath.Join(dir, "lib"+moduleName+".so")
	build := exec.Command("go", "build", "-buildmode=c-shared", "-o", so, "../peers/modfloor")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the module: %v\n%s", err, out)
	}
	var (
		mu  sync.Mutex
		got []string
	)
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(b))
		mu.Unlock()
		w.Header().Set("content-type", "text/event-stream")
		for _, ev := range []string{"data: 1\n\n", "data: 2\n\n", "data: [DONE]\n\n"} {
			_, _ = io.WriteString(w, ev)
			w.(http.Flusher).Flush()
		}
	}))
	defer fake.Close()
	port := fake.Listener.Addr().(*net.TCPAddr).Port

	st, err := StartModuleFloor(Env{Dir: dir, Envoy: envoy, Concurrency: 1, ModuleFloor: so}, port)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Stop()
	body := `{"model":"m","messages":[{"role":"user","content":"` + strings.Repeat("x", 200<<10) + `"}]}`
	resp, err := http.Post(st.URL("/v1/chat/completions"), "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(out) != "data: 1\n\ndata: 2\n\ndata: [DONE]\n\n" {
		t.Errorf("status %d body %q, want the fake's stream unchanged", resp.StatusCode, out)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[1] != body { // the first is waitHTTP's /healthz
		t.Errorf("the fake got %d requests; want the body unchanged", len(got))
	}
	if logs := st.Logs(); strings.Contains(logs, "deprecated") || strings.Contains(strings.ToLower(logs), "error") {
		t.Errorf("Envoy log: %s", logs)
	}
}

// testEnvoy is a real Envoy binary (ENVOY_BIN, set by the Makefile, or
// the Makefile's install folder); the test fails without one.
func testEnvoy(t *testing.T) string {
	t.Helper()
	bin, err := xds.FindEnvoy("")
	if err != nil {
		t.Fatalf("ENVOY_BIN: %v", err)
	}
	if bin == "" {
		if p, err := filepath.Abs("../../.tools/envoy-1.40.0/envoy"); err == nil {
			if _, err := os.Stat(p); err == nil {
				bin = p
			}
		}
	}
	if bin == "" {
		t.Fatal("no Envoy binary: run `make envoy` or set ENVOY_BIN; this test is never skipped")
	}
	return bin
}
