package config

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/testcerts"
)

func TestControlTLS(t *testing.T) {
	dir := t.TempDir()
	f, err := testcerts.Write(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	other, err := testcerts.Write(dir, "other-")
	if err != nil {
		t.Fatal(err)
	}
	block := func(cert, key, ca, ecert, ekey, extra string) string {
		return "control_tls: {cert: " + cert + ", key: " + key + ", ca: " + ca + ", envoy_cert: " + ecert + ", envoy_key: " + ekey + extra + "}\n"
	}
	good := block(f.ServerCert, f.ServerKey, f.CA, f.ClientCert, f.ClientKey, "")
	tests := []struct {
		name, yaml string
		wantErr    string // "" accepts
	}{
		{name: "loopback needs no TLS", yaml: "extproc: {address: 127.0.0.1:18001}\n"},
		{name: "admin off loopback", yaml: "admin: {address: 0.0.0.0:9902}\n",
			wantErr: `admin.address "0.0.0.0:9902": a non-loopback admin endpoint needs admin.token`},
		{name: "ext_proc off loopback without TLS", yaml: "extproc: {address: 0.0.0.0:18001}\n",
			wantErr: `extproc.address "0.0.0.0:18001": is not on loopback: set control_tls (mutual TLS between Envoy and switchboard), or anyone who reaches this port can take the provider keys`},
		{name: "xds on a host name without TLS", yaml: "xds: {address: switchboard.internal:18000}\n",
			wantErr: `xds.address "switchboard.internal:18000": is not on loopback: set control_tls`},
		{name: "off loopback with TLS", yaml: "extproc: {address: 0.0.0.0:18001}\n" + block(f.ServerCert, f.ServerKey, f.CA, f.ClientCert, f.ClientKey, ", server_name: localhost")},
		{name: "on loopback with TLS", yaml: good},
		{name: "a missing file", yaml: block(f.ServerCert, filepath.Join(dir, "nope.pem"), f.CA, f.ClientCert, f.ClientKey, ""),
			wantErr: `control_tls.key "` + filepath.Join(dir, "nope.pem") + `": cannot be read`},
		{name: "a missing field", yaml: "control_tls: {cert: " + f.ServerCert + "}\n", wantErr: `control_tls.key: is required when control_tls is set`},
		{name: "key of another certificate", yaml: block(f.ServerCert, other.ServerKey, f.CA, f.ClientCert, f.ClientKey, ""),
			wantErr: "control_tls.cert"},
		{name: "Envoy's certificate from another CA", yaml: block(f.ServerCert, f.ServerKey, f.CA, other.ClientCert, other.ClientKey, ""),
			wantErr: "control_tls.envoy_cert"},
		{name: "server name the certificate lacks", yaml: block(f.ServerCert, f.ServerKey, f.CA, f.ClientCert, f.ClientKey, ", server_name: switchboard.example"),
			wantErr: "does not verify against control_tls.ca"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Parse(filepath.Join(dir, "cfg.yaml"), []byte(tc.yaml), noEnv)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if l.ControlTLS.Enabled() && (l.ControlTLSDigest == "" || !filepath.IsAbs(l.ControlTLS.Cert)) {
					t.Errorf("digest %q, cert path %q: want a digest and absolute paths", l.ControlTLSDigest, l.ControlTLS.Cert)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}
