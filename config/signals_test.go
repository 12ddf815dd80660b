package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSignalsConfig: the admin token and telemetry.traces are checked
// strictly, errors name the field, and a token is never quoted back.
func TestSignalsConfig(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "admin-token")
	if err := os.WriteFile(tokenFile, []byte("file-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(k string) (string, bool) {
		v, ok := map[string]string{"ADMIN_TOKEN": "env-token-0123456789", "SHORT": "tooshort-secret"}[k]
		return v, ok
	}
	tests := []struct {
		name, yaml string
		wantErr    string // "" accepts
		check      func(t *testing.T, l *Loaded)
	}{
		{name: "admin on loopback needs no token", yaml: "admin: {address: 127.0.0.1:9902}\n",
			check: func(t *testing.T, l *Loaded) {
				if l.Admin.BearerToken() != "" || l.Telemetry.Traces != nil {
					t.Errorf("token %q traces %v, want none", l.Admin.BearerToken(), l.Telemetry.Traces)
				}
			}},
		{name: "admin off loopback without a token", yaml: "admin: {address: 0.0.0.0:9902}\n",
			wantErr: `admin.address "0.0.0.0:9902": a non-loopback admin endpoint needs admin.token`},
		{name: "admin off loopback with a token from env", yaml: "admin: {address: 0.0.0.0:9902, token: {env: ADMIN_TOKEN}}\n",
			check: func(t *testing.T, l *Loaded) {
				if l.Admin.BearerToken() != "env-token-0123456789" || l.Admin.Address != "0.0.0.0:9902" {
					t.Errorf("token %q address %q", l.Admin.BearerToken(), l.Admin.Address)
				}
			}},
		{name: "admin token from a file", yaml: "admin: {address: 10.0.0.1:9902, token: {file: " + tokenFile + "}}\n",
			check: func(t *testing.T, l *Loaded) {
				if l.Admin.BearerToken() != "file-token-0123456789" {
					t.Errorf("token %q", l.Admin.BearerToken())
				}
			}},
		{name: "admin token env unset", yaml: "admin: {address: 0.0.0.0:9902, token: {env: NOPE}}\n",
			wantErr: `admin.token.env "NOPE": environment variable is not set`},
		{name: "admin token too short", yaml: "admin: {address: 0.0.0.0:9902, token: {env: SHORT}}\n",
			wantErr: `admin.token.env "SHORT": the token must be at least 16 characters`},
		{name: "admin token with neither env nor file", yaml: "admin: {address: 0.0.0.0:9902, token: {}}\n",
			wantErr: `admin.token: must set exactly one of env or file`},
		{name: "admin token unknown field", yaml: "admin: {address: 0.0.0.0:9902, token: {value: x}}\n",
			wantErr: `unknown field "value"`},
		{name: "traces over grpc", yaml: "telemetry: {traces: {otlp_endpoint: \"http://127.0.0.1:4317\"}}\n",
			check: func(t *testing.T, l *Loaded) {
				tr := l.Telemetry.Traces
				if tr.Protocol != OTLPGRPC || tr.Ratio() != 1 || tr.CaptureContent {
					t.Errorf("traces %+v ratio %v, want grpc, 1, no content", tr, tr.Ratio())
				}
			}},
		{name: "traces over http with a ratio", yaml: "telemetry: {traces: {otlp_endpoint: \"https://otel.example:4318/v1/traces\", protocol: http, sample_ratio: 0.25, capture_content: true}}\n",
			check: func(t *testing.T, l *Loaded) {
				tr := l.Telemetry.Traces
				if tr.Protocol != OTLPHTTP || tr.Ratio() != 0.25 || !tr.CaptureContent {
					t.Errorf("traces %+v", tr)
				}
			}},
		{name: "traces without an endpoint", yaml: "telemetry: {traces: {protocol: grpc}}\n",
			wantErr: `telemetry.traces.otlp_endpoint: is required`},
		{name: "traces endpoint not a URL", yaml: "telemetry: {traces: {otlp_endpoint: \"127.0.0.1:4317\"}}\n",
			wantErr: `telemetry.traces.otlp_endpoint "127.0.0.1:4317": must be an http:// or https:// URL with a host`},
		{name: "traces endpoint with credentials", yaml: "telemetry: {traces: {otlp_endpoint: \"http://user:hunter2@collector:4317\"}}\n",
			wantErr: `telemetry.traces.otlp_endpoint "http://collector:4317": must not carry credentials`},
		{name: "grpc endpoint with a path", yaml: "telemetry: {traces: {otlp_endpoint: \"http://collector:4317/v1/traces\"}}\n",
			wantErr: `telemetry.traces.otlp_endpoint "http://collector:4317/v1/traces": a grpc endpoint has no path`},
		{name: "unknown protocol", yaml: "telemetry: {traces: {otlp_endpoint: \"http://collector:4317\", protocol: thrift}}\n",
			wantErr: `telemetry.traces.protocol "thrift": unknown protocol (known: grpc, http)`},
		{name: "ratio over 1", yaml: "telemetry: {traces: {otlp_endpoint: \"http://collector:4317\", sample_ratio: 1.5}}\n",
			wantErr: `telemetry.traces.sample_ratio "1.5": must be between 0 and 1`},
		{name: "unknown traces field", yaml: "telemetry: {traces: {otlp_endpoint: \"http://collector:4317\", exporter: zipkin}}\n",
			wantErr: `unknown field "exporter"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Parse(filepath.Join(dir, "cfg.yaml"), []byte(tc.yaml), env)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				tc.check(t, l)
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
			}
			for _, secret := range []string{"tooshort-secret", "hunter2"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error quotes a credential: %v", err)
				}
			}
		})
	}
}
