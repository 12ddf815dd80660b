package config

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
)

// ControlTLS is mutual TLS between Envoy and switchboard, on the xDS and
// ext_proc gRPC links. Without it those ports trust whoever connects: the
// ext_proc port hands the provider keys to a process that pretends to be
// Envoy's upstream hop, and the xDS port reconfigures Envoy. Required
// when xds.address or extproc.address is not on loopback. Paths are
// relative to the config file; switchboard and Envoy both read them, and
// both pick up rotated files without a restart.
type ControlTLS struct {
	// Cert and Key are switchboard's certificate (PEM) for its xDS and
	// ext_proc ports.
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// CA is the PEM bundle each side checks the other's certificate
	// against.
	CA string `yaml:"ca"`
	// EnvoyCert and EnvoyKey are Envoy's client certificate: the ext_proc
	// cluster pushed to Envoy and `switchboard bootstrap` name them.
	EnvoyCert string `yaml:"envoy_cert"`
	EnvoyKey  string `yaml:"envoy_key"`
	// ServerName is the name (DNS or IP) Envoy requires in switchboard's
	// certificate. Default: the host of extproc.address.
	ServerName string `yaml:"server_name"`
}

// Enabled reports whether any of it is set.
func (t ControlTLS) Enabled() bool { return t != (ControlTLS{}) }

// IsLoopback reports whether host (a name or an IP) stays on this
// machine.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkControlTLS resolves the TLS paths against dir, checks that the
// files hold usable keys and certificates that chain to the CA, and
// returns a digest of their contents: pushed in the ext_proc cluster, a
// rotated file makes Envoy read the files again.
func (c *Config) checkControlTLS(dir string, add func(path, value, format string, args ...any)) string {
	t := &c.ControlTLS
	if !t.Enabled() {
		for _, ep := range []struct {
			path string
			ep   Endpoint
		}{{"xds.address", c.XDS}, {"extproc.address", c.ExtProc}} {
			if h, _, err := net.SplitHostPort(ep.ep.Address); err == nil && h != "" && !IsLoopback(h) {
				add(ep.path, ep.ep.Address, "is not on loopback: set control_tls (mutual TLS between Envoy and switchboard), or anyone who reaches this port %s",
					map[string]string{"xds.address": "can reconfigure Envoy", "extproc.address": "can take the provider keys"}[ep.path])
			}
		}
		return ""
	}
	if t.ServerName == "" {
		t.ServerName, _ = c.ExtProc.HostPort()
	}
	h := sha256.New()
	paths := map[string]*string{"control_tls.cert": &t.Cert, "control_tls.key": &t.Key, "control_tls.ca": &t.CA,
		"control_tls.envoy_cert": &t.EnvoyCert, "control_tls.envoy_key": &t.EnvoyKey}
	data := map[string][]byte{}
	// In a fixed order: errors come out stable, and the digest too.
	for _, f := range []string{"control_tls.cert", "control_tls.key", "control_tls.ca", "control_tls.envoy_cert", "control_tls.envoy_key"} {
		p := paths[f]
		if *p == "" {
			add(f, "", "is required when control_tls is set")
			continue
		}
		if !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
		if abs, err := filepath.Abs(*p); err == nil {
			*p = abs
		}
		b, err := os.ReadFile(*p)
		if err != nil {
			add(f, *p, "cannot be read: %v", err)
			continue
		}
		data[f] = b
		h.Write(b)
	}
	if len(data) != len(paths) {
		return ""
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data["control_tls.ca"]) {
		add("control_tls.ca", t.CA, "holds no PEM certificate")
		return ""
	}
	for _, pair := range []struct {
		cert, key string
		usage     x509.ExtKeyUsage
	}{{"control_tls.cert", "control_tls.key", x509.ExtKeyUsageServerAuth}, {"control_tls.envoy_cert", "control_tls.envoy_key", x509.ExtKeyUsageClientAuth}} {
		kp, err := tls.X509KeyPair(data[pair.cert], data[pair.key])
		if err != nil {
			add(pair.cert, *paths[pair.cert], "is no certificate matching %s: %v", pair.key, err)
			continue
		}
		leaf, err := x509.ParseCertificate(kp.Certificate[0])
		if err == nil {
			inter := x509.NewCertPool()
			for _, der := range kp.Certificate[1:] {
				if ic, err := x509.ParseCertificate(der); err == nil {
					inter.AddCert(ic)
				}
			}
			opts := x509.VerifyOptions{Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{pair.usage}}
			if pair.usage == x509.ExtKeyUsageServerAuth {
				opts.DNSName = t.ServerName // Envoy checks this name
			}
			_, err = leaf.Verify(opts)
		}
		if err != nil {
			add(pair.cert, *paths[pair.cert], "does not verify against control_tls.ca: %v", err)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
