package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// freeAddr is a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestServeListensExtProcFirst: once Envoy can fetch its config from the
// xDS port, the ext_proc port already accepts: Envoy sends requests to
// ext_proc the moment it has routes, and a port not yet listening is a
// 503 for each of them (seen at start-up as "connection refused" while
// governance and the stores opened).
func TestServeListensExtProcFirst(t *testing.T) {
	xdsAddr, epAddr := freeAddr(t), freeAddr(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "switchboard.yaml")
	yaml := fmt.Sprintf(`xds: {address: %q}
extproc: {address: %q}
providers:
  - {name: local, schema: openai, base_url: "http://127.0.0.1:9/v1"}
models:
  - {name: demo, providers: [{provider: local}]}
governance:
  store: {path: %q}
`, xdsAddr, epAddr, filepath.Join(dir, "gov.db"))
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runServer(ctx, []string{"--config", cfg, "--log-level", "error"}, true, true) }()
	defer func() {
		cancel()
		<-done
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-done:
			t.Fatalf("serve ended: %v", err)
		default:
		}
		if c, err := net.DialTimeout("tcp", xdsAddr, 50*time.Millisecond); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("xds never listened")
		}
		time.Sleep(200 * time.Microsecond)
	}
	c, err := net.DialTimeout("tcp", epAddr, time.Second)
	if err != nil {
		t.Fatalf("xds serves config while ext_proc does not listen: %v", err)
	}
	c.Close()
}
