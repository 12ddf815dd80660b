// Package mtls serves switchboard's gRPC ports (xDS, ext_proc) with
// mutual TLS: a client must present a certificate signed by the
// configured CA. The certificate, key and CA are read again when their
// files change, so rotation needs no restart.
package mtls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc/credentials"
)

// Files name the PEM files of the server's identity and the client CA.
type Files struct{ Cert, Key, CA string }

// reloader holds the tls.Config built from the files as last seen. It is
// checked at each handshake: gRPC connections from Envoy are long-lived,
// so that is rare, and a stat of three files is cheap.
type reloader struct {
	files Files
	mu    sync.Mutex
	cfg   *tls.Config
	stamp [3]time.Time
	size  [3]int64
}

// ServerCredentials are gRPC transport credentials requiring and
// verifying a client certificate.
func ServerCredentials(f Files) (credentials.TransportCredentials, error) {
	r := &reloader{files: f}
	if _, err := r.current(); err != nil {
		return nil, err
	}
	return credentials.NewTLS(&tls.Config{
		MinVersion:         tls.VersionTLS12,
		NextProtos:         []string{"h2"},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return r.current() },
	}), nil
}

// current returns the config for the files' present contents, rebuilding
// it when one changed. A file caught mid-rotation that does not load
// keeps the previous config serving.
func (r *reloader) current() (*tls.Config, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var stamp [3]time.Time
	var size [3]int64
	for i, p := range []string{r.files.Cert, r.files.Key, r.files.CA} {
		st, err := os.Stat(p)
		if err != nil {
			if r.cfg != nil {
				return r.cfg, nil
			}
			return nil, fmt.Errorf("mtls: %w", err)
		}
		stamp[i], size[i] = st.ModTime(), st.Size()
	}
	if r.cfg != nil && stamp == r.stamp && size == r.size {
		return r.cfg, nil
	}
	cfg, err := load(r.files)
	if err != nil {
		if r.cfg != nil {
			return r.cfg, nil
		}
		return nil, err
	}
	r.cfg, r.stamp, r.size = cfg, stamp, size
	return cfg, nil
}

func load(f Files) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("mtls: server certificate: %w", err)
	}
	pem, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, fmt.Errorf("mtls: client CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("mtls: client CA: no PEM certificate in " + f.CA)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2"},
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}, nil
}
