// Package envoy renders Envoy's bootstrap: only the node id, the admin
// endpoint and the ADS cluster. Everything else comes from the control
// plane over ADS.
package envoy

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"text/template"
)

//go:embed bootstrap.yaml.tmpl
var bootstrapTemplate string

// The template quotes every string it is given (a JSON string is a YAML
// double-quoted scalar): unquoted, Envoy's YAML 1.1 parser reads a node id
// "on" or "n" as a boolean and "a: b" as a map, and fails to start.
var tmpl = template.Must(template.New("bootstrap").Funcs(template.FuncMap{"quote": quote}).Parse(bootstrapTemplate))

func quote(s string) (string, error) {
	b, err := json.Marshal(s)
	return string(b), err
}

// DefaultMaxHeapBytes is Envoy's heap limit when Options leave it unset:
// room for a dozen 64 MiB request bodies in flight, well under a small
// node's memory.
const DefaultMaxHeapBytes = 1 << 30

// Options fill the bootstrap template.
type Options struct {
	NodeID       string
	XDSAddress   string // host:port of the control plane
	AdminAddress string // host:port of Envoy's admin endpoint
	// TLS, when its files are set, is Envoy's side of mutual TLS to the
	// control plane (config control_tls).
	TLS TLS
	// MaxHeapBytes bounds Envoy's heap (overload manager): at 95% Envoy
	// returns free memory to the system, at 98% it answers new requests
	// with 503. 0 is DefaultMaxHeapBytes.
	MaxHeapBytes uint64
}

// TLS names the PEM files of Envoy's client identity and the CA it
// checks the control plane against, and the name the control plane's
// certificate carries.
type TLS struct{ Cert, Key, CA, ServerName string }

// DefaultOptions match examples/switchboard.yaml and envoy/bootstrap.yaml.
func DefaultOptions() Options {
	return Options{NodeID: "switchboard-envoy", XDSAddress: "127.0.0.1:18000", AdminAddress: "127.0.0.1:9901"}
}

// Bootstrap renders the bootstrap YAML.
func Bootstrap(o Options) ([]byte, error) {
	if o.NodeID == "" {
		return nil, errors.New("envoy: node id is empty")
	}
	xh, xp, err := splitHostPort(o.XDSAddress)
	if err == nil && xp == 0 {
		// Port 0 (any free port) suits the admin endpoint, not a peer.
		err = fmt.Errorf("bad port in %q", o.XDSAddress)
	}
	if err != nil {
		return nil, fmt.Errorf("envoy: xds address: %w", err)
	}
	ah, ap, err := splitHostPort(o.AdminAddress)
	if err != nil {
		return nil, fmt.Errorf("envoy: admin address: %w", err)
	}
	t := o.TLS
	if (t != TLS{}) && (t.Cert == "" || t.Key == "" || t.CA == "") {
		return nil, errors.New("envoy: TLS needs a certificate, a key and a CA")
	}
	if t.ServerName == "" {
		t.ServerName = xh
	}
	_, notIP := netip.ParseAddr(t.ServerName)
	heap := o.MaxHeapBytes
	if heap == 0 {
		heap = DefaultMaxHeapBytes
	}
	var b bytes.Buffer
	err = tmpl.Execute(&b, map[string]any{
		"NodeID": o.NodeID, "XDSHost": xh, "XDSPort": xp, "AdminHost": ah, "AdminPort": ap, "MaxHeapBytes": heap,
		"TLS": t.Cert != "", "TLSCert": t.Cert, "TLSKey": t.Key, "TLSCA": t.CA, "TLSName": t.ServerName, "TLSNameIsIP": notIP == nil,
	})
	if err != nil {
		return nil, fmt.Errorf("envoy: render bootstrap: %w", err)
	}
	return b.Bytes(), nil
}

func splitHostPort(a string) (string, int, error) {
	h, p, err := net.SplitHostPort(a)
	if err != nil {
		return "", 0, err
	}
	if h == "" {
		return "", 0, fmt.Errorf("no host in %q", a)
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 {
		return "", 0, fmt.Errorf("bad port in %q", a)
	}
	return h, n, nil
}
