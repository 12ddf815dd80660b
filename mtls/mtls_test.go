package mtls

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/switchboard-gw/switchboard/internal/testcerts"
)

// dial connects with the given client certificate (none if cert is "")
// and reports whether the server accepted it: a gRPC server speaks first
// (its HTTP/2 settings) only after a verified handshake.
func dial(t *testing.T, addr string, ca, cert, key string) bool {
	t.Helper()
	pem, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	cfg := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", NextProtos: []string{"h2"}}
	if cert != "" {
		kp, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{kp}
	}
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [1]byte
	_, err = c.Read(b[:])
	return err == nil
}

func TestServerCredentials(t *testing.T) {
	dir := t.TempDir()
	f, err := testcerts.Write(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	other, err := testcerts.Write(dir, "other-")
	if err != nil {
		t.Fatal(err)
	}
	creds, err := ServerCredentials(Files{Cert: f.ServerCert, Key: f.ServerKey, CA: f.CA})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(grpc.Creds(creds))
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	addr := lis.Addr().String()

	if !dial(t, addr, f.CA, f.ClientCert, f.ClientKey) {
		t.Error("a client certificate from the CA was refused")
	}
	if dial(t, addr, f.CA, "", "") {
		t.Error("a client without a certificate was let in")
	}
	if dial(t, addr, f.CA, other.ClientCert, other.ClientKey) {
		t.Error("a client certificate from another CA was let in")
	}

	// Rotation: the files now hold the other CA's set; the next handshake
	// uses them, with no restart.
	time.Sleep(10 * time.Millisecond) // a new modification time
	for _, p := range [][2]string{{other.CA, f.CA}, {other.ServerCert, f.ServerCert}, {other.ServerKey, f.ServerKey}} {
		b, err := os.ReadFile(p[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p[1], b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if !dial(t, addr, other.CA, other.ClientCert, other.ClientKey) {
		t.Error("after rotation, the new CA's client was refused")
	}
	if dial(t, addr, other.CA, f.ClientCert, f.ClientKey) {
		t.Error("after rotation, the old CA's client was let in")
	}
	// A half-written key keeps the last good set serving.
	if err := os.WriteFile(f.ServerKey, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !dial(t, addr, other.CA, other.ClientCert, other.ClientKey) {
		t.Error("a broken key file stopped the server")
	}
}
