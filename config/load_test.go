package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestParseErrors feeds literal YAML (line 1 is the first line after the
// backquote) and checks the whole error text when exact is set, or each
// substring in contains.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name     string
		yaml     string
		env      map[string]string
		exact    string
		contains []string
	}{
		{
			name: "unknown top-level field",
			yaml: `listener:
  port: 8080
lisener:
  port: 9000
`,
			exact: `cfg.yaml:3: unknown field "lisener"`,
		},
		{
			name: "unknown nested field",
			yaml: `listener:
  port: 8080
  prot: 9
`,
			exact: `cfg.yaml:3: unknown field "prot"`,
		},
		{
			name: "unknown field in a provider",
			yaml: `providers:
  - name: openai
    schema: openai
    base_url: https://api.openai.com/v1
    apikey: {env: OPENAI_API_KEY}
models:
  - {name: m, providers: [{provider: openai}]}
`,
			exact: `cfg.yaml:5: unknown field "apikey"`,
		},
		{
			name: "unknown provider in a model",
			yaml: `providers:
  - name: openai
    schema: openai
    base_url: https://api.openai.com/v1
  - name: anthropic
    schema: anthropic
    base_url: https://api.anthropic.com
models:
  - name: a
    providers: [{provider: openai}]
  - {name: b, providers: [{provider: anthropic}]}
  - name: c
    providers:
      - provider: antropic
`,
			exact: `cfg.yaml:14: models[2].providers[0].provider "antropic": unknown provider (known: anthropic, openai)`,
		},
		{
			name: "unknown provider in flow style",
			yaml: `providers:
  - {name: openai, schema: openai, base_url: "https://api.openai.com/v1"}
models:
  - name: a
    providers:
      - {provider: openai}
      - {provider: gemini, weight: 2}
`,
			exact: `cfg.yaml:7: models[0].providers[1].provider "gemini": unknown provider (known: openai)`,
		},
		{
			name: "known list leaves out invalid and duplicate names",
			yaml: `providers:
  - {name: openai, schema: openai, base_url: "https://api.openai.com/v1"}
  - {name: openai, schema: openai, base_url: "https://api.openai.com/v1"}
  - {name: Bad Name, schema: openai, base_url: "https://api.openai.com/v1"}
models:
  - {name: a, providers: [{provider: Bad Name}]}
`,
			exact: `cfg.yaml:3: providers[1].name "openai": duplicate provider name
cfg.yaml:4: providers[2].name "Bad Name": must be lowercase letters, digits, '.', '_' or '-'
cfg.yaml:6: models[0].providers[0].provider "Bad Name": unknown provider (known: openai)`,
		},
		{
			name: "duplicate model name",
			yaml: `providers:
  - {name: local, schema: openai, base_url: "http://127.0.0.1:9100/v1"}
models:
  - {name: m, providers: [{provider: local}]}
  - name: m
    providers: [{provider: local}]
`,
			exact: `cfg.yaml:5: models[1].name "m": duplicate model name`,
		},
		{
			name: "provider listed twice for one model",
			yaml: `providers:
  - {name: local, schema: openai, base_url: "http://127.0.0.1:9100/v1"}
models:
  - name: m
    providers:
      - {provider: local, model: a}
      - {provider: local, model: b}
`,
			exact: `cfg.yaml:7: models[0].providers[1].provider "local": provider listed twice for this model`,
		},
		{
			name: "bad model fields",
			yaml: `providers:
  - {name: local, schema: openai, base_url: "http://127.0.0.1:9100/v1"}
models:
  - name: "my model"
    providers: [{provider: local}]
  - name: empty
    providers: []
  - name: neg
    providers:
      - {provider: local, weight: -1, priority: -2}
  - providers: [{provider: local}]
`,
			exact: `cfg.yaml:4: models[0].name "my model": must be a non-empty name without spaces
cfg.yaml:7: models[1].providers: must list at least one provider
cfg.yaml:10: models[2].providers[0].weight "-1": must not be negative
cfg.yaml:10: models[2].providers[0].priority "-2": must not be negative
cfg.yaml:11: models[3].name: must be a non-empty name without spaces`,
		},
		{
			name: "unknown schema",
			yaml: `providers:
  - name: g
    schema: gemeni
    base_url: https://generativelanguage.googleapis.com
`,
			exact: `cfg.yaml:3: providers[0].schema "gemeni": unknown schema (known: anthropic, azure-openai, bedrock, gemini, openai, vertex-ai)`,
		},
		{
			name: "missing schema",
			yaml: `providers:
  - name: g
    base_url: https://generativelanguage.googleapis.com
`,
			exact: `cfg.yaml:2: providers[0].schema: is required (known: anthropic, azure-openai, bedrock, gemini, openai, vertex-ai)`,
		},
		{
			name: "bad provider name",
			yaml: `providers:
  - name: OpenAI
    schema: openai
    base_url: https://api.openai.com/v1
`,
			exact: `cfg.yaml:2: providers[0].name "OpenAI": must be lowercase letters, digits, '.', '_' or '-'`,
		},
		{
			name: "missing base_url",
			yaml: `providers:
  - name: openai
    schema: openai
`,
			exact: `cfg.yaml:2: providers[0].base_url: is required`,
		},
		{
			name: "base_url without scheme",
			yaml: `providers:
  - name: openai
    schema: openai
    base_url: api.openai.com/v1
`,
			exact: `cfg.yaml:4: providers[0].base_url "api.openai.com/v1": must be an absolute http:// or https:// URL`,
		},
		{
			name: "base_url other scheme",
			yaml: `providers:
  - {name: openai, schema: openai, base_url: "ftp://api.openai.com/v1"}
`,
			exact: `cfg.yaml:2: providers[0].base_url "ftp://api.openai.com/v1": must be an absolute http:// or https:// URL`,
		},
		{
			name: "base_url unparsable",
			yaml: `providers:
  - {name: openai, schema: openai, base_url: "https://api openai.com/%zz"}
`,
			exact: `cfg.yaml:2: providers[0].base_url "https://api openai.com/%zz": must be an absolute http:// or https:// URL`,
		},
		{
			name: "base_url port without host",
			yaml: `providers:
  - {name: openai, schema: openai, base_url: "http://:9100/v1"}
`,
			exact: `cfg.yaml:2: providers[0].base_url "http://:9100/v1": must be an absolute http:// or https:// URL`,
		},
		{
			name: "base_url port out of range",
			yaml: `providers:
  - {name: openai, schema: openai, base_url: "http://127.0.0.1:99999/v1"}
`,
			exact: `cfg.yaml:2: providers[0].base_url "http://127.0.0.1:99999/v1": port must be between 1 and 65535`,
		},
		{
			name: "base_url with query",
			yaml: `providers:
  - {name: openai, schema: openai, base_url: "https://api.openai.com/v1?key=x"}
`,
			exact: `cfg.yaml:2: providers[0].base_url "https://api.openai.com/v1?key=x": must not carry a query, fragment or user info`,
		},
		{
			name: "base_url with user info",
			yaml: `providers:
  - {name: openai, schema: openai, base_url: "https://user:secret@api.openai.com/v1"}
`,
			contains: []string{"providers[0].base_url", "must not carry a query, fragment or user info"},
		},
		{
			name: "api_key with env and file",
			yaml: `providers:
  - name: openai
    schema: openai
    base_url: https://api.openai.com/v1
    api_key: {env: OPENAI_API_KEY, file: /run/secrets/openai}
`,
			env:   map[string]string{"OPENAI_API_KEY": "sk-test"},
			exact: `cfg.yaml:5: providers[0].api_key: must set exactly one of env or file`,
		},
		{
			name: "api_key with neither",
			yaml: `providers:
  - name: openai
    schema: openai
    base_url: https://api.openai.com/v1
    api_key: {}
`,
			exact: `cfg.yaml:5: providers[0].api_key: must set exactly one of env or file`,
		},
		{
			name: "missing env var for a required provider",
			yaml: `providers:
  - name: openai
    schema: openai
    base_url: https://api.openai.com/v1
    api_key:
      env: OPENAI_API_KEY
`,
			exact: `cfg.yaml:6: providers[0].api_key.env "OPENAI_API_KEY": environment variable is not set (mark the provider optional: true to skip it instead)`,
		},
		{
			name: "blank env var counts as missing",
			yaml: `providers:
  - name: openai
    schema: openai
    base_url: https://api.openai.com/v1
    api_key: {env: OPENAI_API_KEY}
`,
			env:   map[string]string{"OPENAI_API_KEY": "  \n"},
			exact: `cfg.yaml:5: providers[0].api_key.env "OPENAI_API_KEY": environment variable is not set (mark the provider optional: true to skip it instead)`,
		},
		{
			name: "missing key file for a required provider",
			yaml: `providers:
  - name: openai
    schema: openai
    base_url: https://api.openai.com/v1
    api_key: {file: /nonexistent/switchboard/openai.key}
`,
			exact: `cfg.yaml:5: providers[0].api_key.file "/nonexistent/switchboard/openai.key": cannot read key file (missing or empty)`,
		},
		{
			name: "bad duration",
			yaml: `timeouts:
  connect: 10s
  request: ten minutes
`,
			exact: `cfg.yaml:3: invalid duration "ten minutes" (use e.g. 30s, 10m, 1h)`,
		},
		{
			name: "negative duration",
			yaml: `timeouts:
  idle: -5s
`,
			exact: `cfg.yaml:2: timeouts.idle "-5s": must be positive`,
		},
		{
			name: "non-loopback listener without caller authentication",
			yaml: `listener:
  address: 0.0.0.0
`,
			exact: `cfg.yaml:2: listener.address "0.0.0.0": a non-loopback listener needs caller authentication: declare governance.tenants and keys, or set listener.allow_unauthenticated: true to accept the risk`,
		},
		{
			name: "public IPv6 listener without caller authentication",
			yaml: `listener: {address: "::"}
`,
			exact: `cfg.yaml:1: listener.address "::": a non-loopback listener needs caller authentication: declare governance.tenants and keys, or set listener.allow_unauthenticated: true to accept the risk`,
		},
		{
			name: "client headers timeout longer than the whole request's",
			yaml: `timeouts: {client_headers: 2m, client_request: 1m}
`,
			exact: `cfg.yaml:1: timeouts.client_headers "2m0s": must not exceed timeouts.client_request`,
		},
		{
			name: "stream idle timeout not below the idle timeout",
			yaml: `timeouts: {idle: 1m, stream_idle: 1m}
`,
			exact: `cfg.yaml:1: timeouts.stream_idle "1m0s": must be below timeouts.idle`,
		},
		{
			name: "negative stream keepalive",
			yaml: `timeouts: {stream_keepalive: -1s}
`,
			exact: `cfg.yaml:1: timeouts.stream_keepalive "-1s": must be positive`,
		},
		{
			name: "negative client timeout",
			yaml: `timeouts: {client_request: -1s}
`,
			exact: `cfg.yaml:1: timeouts.client_request "-1s": must be positive`,
		},
		{
			name: "relative access log path",
			yaml: `access_log: {path: logs/access.json}
`,
			exact: `cfg.yaml:1: access_log.path "logs/access.json": must be an absolute path`,
		},
		{
			name: "port too large",
			yaml: `listener:
  address: 0.0.0.0
  allow_unauthenticated: true
  port: 70000
`,
			exact: `cfg.yaml:4: listener.port "70000": must be between 1 and 65535`,
		},
		{
			name: "port negative",
			yaml: `listener: {port: -1}
`,
			exact: `cfg.yaml:1: listener.port "-1": must be between 1 and 65535`,
		},
		{
			name: "port not a number",
			yaml: `listener:
  port: http
`,
			exact: "cfg.yaml:2: cannot unmarshal !!str `http` into int",
		},
		{
			name: "listener address not an IP",
			yaml: `listener:
  address: localhost
`,
			exact: `cfg.yaml:2: listener.address "localhost": must be an IP address`,
		},
		{
			name: "bad gRPC endpoints",
			yaml: `xds:
  address: 127.0.0.1
extproc:
  address: 127.0.0.1:70000
`,
			exact: `cfg.yaml:2: xds.address "127.0.0.1": must be host:port
cfg.yaml:4: extproc.address "127.0.0.1:70000": port must be between 1 and 65535`,
		},
		{
			name: "endpoint without host",
			yaml: `xds: {address: ":18000"}
`,
			exact: `cfg.yaml:1: xds.address ":18000": must be host:port`,
		},
		{
			name: "admin address checked when set",
			yaml: `admin: {address: "localhost"}
`,
			exact: `cfg.yaml:1: admin.address "localhost": must be host:port`,
		},
		{
			name: "admin port out of range",
			yaml: `admin:
  address: 127.0.0.1:0
`,
			exact: `cfg.yaml:2: admin.address "127.0.0.1:0": port must be between 1 and 65535`,
		},
		{
			name: "max_attempts too large",
			yaml: `routing:
  max_attempts: 11
`,
			exact: `cfg.yaml:2: routing.max_attempts "11": must be between 1 and 10`,
		},
		{
			name: "max_attempts negative",
			yaml: `routing: {max_attempts: -1}
`,
			exact: `cfg.yaml:1: routing.max_attempts "-1": must be between 1 and 10`,
		},
		{
			name: "per_try_timeout negative",
			yaml: `routing:
  per_try_timeout: -1s
`,
			exact: `cfg.yaml:2: routing.per_try_timeout "-1s": must be positive`,
		},
		{
			name: "policy max_price negative",
			yaml: `routing:
  policy:
    max_price: {prompt: -1, request: -0.5}
`,
			exact: `cfg.yaml:3: routing.policy.max_price.prompt "-1": must not be negative
cfg.yaml:3: routing.policy.max_price.request "-0.5": must not be negative`,
		},
		{
			name: "policy field unknown",
			yaml: `routing:
  policy:
    zdr: true
    allow: [openai]
`,
			exact: `cfg.yaml:4: unknown field "allow"`,
		},
		{
			name: "consecutive_5xx negative",
			yaml: `health:
  consecutive_5xx: -2
`,
			exact: `cfg.yaml:2: health.consecutive_5xx "-2": must be at least 1`,
		},
		{
			name: "max_ejection below base_ejection",
			yaml: `health:
  base_ejection: 2m
  max_ejection: 1m
`,
			contains: []string{`cfg.yaml:3: health.max_ejection "1m0s": must `, `at least health.base_ejection`},
		},
		{
			name: "base_ejection negative",
			yaml: `health:
  base_ejection: -1s
`,
			// Reported as health.max_ejection "5m0s" today; see the report.
			contains: []string{` health.`, `must be positive`},
		},
		{
			name: "negative prices",
			yaml: `providers:
  - {name: local, schema: openai, base_url: "http://127.0.0.1:9100/v1"}
models:
  - name: m
    providers:
      - provider: local
        pricing:
          prompt: 1
          completion: -2
          cached_prompt: -0.1
`,
			exact: `cfg.yaml:9: models[0].providers[0].pricing.completion "-2": must not be negative
cfg.yaml:10: models[0].providers[0].pricing.cached_prompt "-0.1": must not be negative`,
		},
		{
			name: "image model on a schema that makes no images",
			yaml: `providers:
  - {name: claude, schema: anthropic, base_url: "http://127.0.0.1:9100"}
  - {name: local, schema: openai, base_url: "http://127.0.0.1:9100/v1"}
models:
  - name: pictures
    type: image
    providers: [{provider: local}, {provider: claude}]
  - name: sounds
    type: audio
    providers: [{provider: local}]
`,
			exact: `cfg.yaml:7: models[0].providers[1].provider "claude": schema anthropic makes no images (image models need openai, azure-openai, gemini, vertex-ai or bedrock)
cfg.yaml:9: models[1].type "audio": must be chat, embeddings or image`,
		},
		{
			name: "unknown capability",
			yaml: `providers:
  - {name: local, schema: openai, base_url: "http://127.0.0.1:9100/v1"}
models:
  - name: m
    providers:
      - provider: local
        capabilities: [tools, telepathy]
`,
			exact: `cfg.yaml:7: models[0].providers[0].capabilities[1] "telepathy": unknown capability (known: json_schema, reasoning, tools, vision)`,
		},
		{
			name: "unknown capability on the model",
			yaml: `providers:
  - {name: local, schema: openai, base_url: "http://127.0.0.1:9100/v1"}
models:
  - name: m
    capabilities: [Vision]
    providers:
      - provider: local
`,
			contains: []string{`"Vision": unknown capability (known: json_schema, reasoning, tools, vision)`},
		},
		{
			name: "negative context length",
			yaml: `providers:
  - {name: local, schema: openai, base_url: "http://127.0.0.1:9100/v1"}
models:
  - name: m
    providers:
      - {provider: local, context_length: -5}
`,
			exact: `cfg.yaml:6: models[0].providers[0].context_length "-5": must not be negative`,
		},
		{
			name: "pricing of the wrong type",
			yaml: `providers:
  - {name: local, schema: openai, base_url: "http://127.0.0.1:9100/v1"}
models:
  - name: m
    providers:
      - {provider: local, pricing: {prompt: cheap}}
`,
			exact: "cfg.yaml:6: cannot unmarshal !!str `cheap` into float64",
		},
		{
			name: "request limit too small",
			yaml: `limits:
  max_request_bytes: 100
`,
			exact: `cfg.yaml:2: limits.max_request_bytes "100": must be between 1024 and 1073741824`,
		},
		{
			name: "in-flight budget below the request limit",
			yaml: `limits:
  max_request_bytes: 2048
  max_inflight_bytes: 1024
`,
			exact: `cfg.yaml:3: limits.max_inflight_bytes "1024": must be at least limits.max_request_bytes, or no body that size could ever pass`,
		},
		{
			name: "several errors sorted by line",
			yaml: `providers:
  - name: openai
    schema: openai
    base_url: https://api.openai.com/v1
    api_key: {env: OPENAI_API_KEY}
  - name: anthropic
    schema: antropic
    base_url: https://api.anthropic.com
listener:
  port: 0
  address: "::1"
  extra: true
timeouts: {connect: -1s, request: -2s}
models:
  - name: gpt
    providers: [{provider: opneai}]
limits:
  max_request_bytes: 1
`,
			exact: `cfg.yaml:5: providers[0].api_key.env "OPENAI_API_KEY": environment variable is not set (mark the provider optional: true to skip it instead)
cfg.yaml:7: providers[1].schema "antropic": unknown schema (known: anthropic, azure-openai, bedrock, gemini, openai, vertex-ai)
cfg.yaml:12: unknown field "extra"
cfg.yaml:13: timeouts.connect "-1s": must be positive
cfg.yaml:13: timeouts.request "-2s": must be positive
cfg.yaml:16: models[0].providers[0].provider "opneai": unknown provider (known: anthropic, openai)
cfg.yaml:18: limits.max_request_bytes "1": must be between 1024 and 1073741824`,
		},
		{
			name: "syntax error",
			yaml: `listener:
  port: 8080
 address: x
`,
			contains: []string{"cfg.yaml: yaml: line ", "did not find expected key"},
		},
		{
			name:     "not a mapping",
			yaml:     "- a\n- b\n",
			contains: []string{"cfg.yaml:1:", "cannot unmarshal !!seq into config.Config"},
		},
		{
			name:  "empty file",
			yaml:  "",
			exact: `cfg.yaml: config is empty`,
		},
		{
			name:  "comments only",
			yaml:  "# nothing yet\n",
			exact: `cfg.yaml: config is empty`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Parse("cfg.yaml", []byte(tc.yaml), mapEnv(tc.env))
			if err == nil {
				t.Fatalf("Parse succeeded (%d providers, %d models), want an error", len(l.Providers), len(l.Models))
			}
			if tc.exact != "" && err.Error() != tc.exact {
				t.Errorf("error =\n%s\nwant\n%s", err, tc.exact)
			}
			for _, s := range tc.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error =\n%s\nwant it to contain %q", err, s)
				}
			}
		})
	}
}

func TestParseErrorsAreFieldErrors(t *testing.T) {
	_, err := Parse("cfg.yaml", []byte(`listener: {port: 0, address: nope}
limits: {max_request_bytes: 1}
`), noEnv)
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error %T is not config.Errors: %v", err, err)
	}
	if len(es) != 2 {
		t.Fatalf("got %d errors, want 2:\n%v", len(es), err)
	}
	for _, e := range es {
		if e.File != "cfg.yaml" || e.Line == 0 || e.Path == "" {
			t.Errorf("error %+v lacks file, line or path", e)
		}
	}
}

// TestParseErrorOrderIsStable guards against map iteration order leaking
// into errors that share a line.
func TestParseErrorOrderIsStable(t *testing.T) {
	const in = `timeouts: {connect: -1s, request: -2s, idle: -3s}
xds: {address: nope}
extproc: {address: nope}
`
	_, first := Parse("cfg.yaml", []byte(in), noEnv)
	if first == nil {
		t.Fatal("Parse succeeded, want errors")
	}
	for range 20 {
		_, err := Parse("cfg.yaml", []byte(in), noEnv)
		if err == nil || err.Error() != first.Error() {
			t.Fatalf("error changed between runs:\n%v\nthen\n%v", first, err)
		}
	}
}

func TestOptionalProviderMissingKey(t *testing.T) {
	l := mustParse(t, `providers:
  - name: local
    schema: openai
    base_url: http://127.0.0.1:9100/v1
  - name: openai
    schema: openai
    base_url: https://api.openai.com/v1
    api_key: {env: OPENAI_API_KEY}
    optional: true
models:
  - name: gpt
    providers: [{provider: openai}]
  - name: mixed
    providers:
      - {provider: openai}
      - {provider: local, priority: 1}
`, noEnv)
	wantWarnings := []string{
		`provider "openai" disabled: environment variable OPENAI_API_KEY is not set`,
		`model "gpt" left out: all its providers are disabled`,
	}
	if !slices.Equal(l.Warnings, wantWarnings) {
		t.Errorf("warnings =\n%q\nwant\n%q", l.Warnings, wantWarnings)
	}
	if p := &l.Providers[1]; !p.Disabled() || p.APIKey() != "" {
		t.Errorf("openai: disabled %v, key %q; want disabled, no key", p.Disabled(), p.APIKey())
	}
	if _, ok := l.Catalog.Provider("openai"); ok {
		t.Errorf("catalog has the disabled provider openai")
	}
	if _, ok := l.Catalog.Model("gpt"); ok {
		t.Errorf("catalog has model gpt, whose only provider is disabled")
	}
	r, ok := l.Catalog.Model("mixed")
	if !ok {
		t.Fatalf("catalog lacks model mixed")
	}
	if len(r.Candidates) != 1 || r.Candidates[0].Provider.Name != "local" {
		t.Errorf("mixed candidates = %+v, want only local", r.Candidates)
	}
	if got := l.Catalog.ModelNames(); !slices.Equal(got, []string{"mixed"}) {
		t.Errorf("ModelNames() = %q, want [mixed]", got)
	}
}

func TestOptionalProviderWithKey(t *testing.T) {
	l := mustParse(t, `providers:
  - name: openai
    schema: openai
    base_url: https://api.openai.com/v1
    api_key: {env: OPENAI_API_KEY}
    optional: true
models:
  - {name: gpt, providers: [{provider: openai}]}
`, mapEnv(map[string]string{"OPENAI_API_KEY": " sk-test\n"}))
	if p := &l.Providers[0]; p.Disabled() || p.APIKey() != "sk-test" {
		t.Errorf("openai: disabled %v, key %q; want enabled, key sk-test (trimmed)", p.Disabled(), p.APIKey())
	}
	if len(l.Warnings) != 0 {
		t.Errorf("warnings = %q, want none", l.Warnings)
	}
}

func TestAPIKeyFromFile(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "anthropic.key")
	if err := os.WriteFile(keyFile, []byte("sk-ant-test\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.key")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l := mustParse(t, `providers:
  - name: anthropic
    schema: anthropic
    base_url: https://api.anthropic.com
    api_key: {file: "`+keyFile+`"}
  - name: spare
    schema: anthropic
    base_url: https://api.anthropic.com
    api_key: {file: "`+empty+`"}
    optional: true
models:
  - {name: claude, providers: [{provider: anthropic}, {provider: spare}]}
`, noEnv)
	if got := l.Providers[0].APIKey(); got != "sk-ant-test" {
		t.Errorf("APIKey() = %q, want sk-ant-test", got)
	}
	if !l.Providers[1].Disabled() {
		t.Errorf("optional provider with an empty key file is enabled")
	}
	want := []string{`provider "spare" disabled: key file ` + empty + ` is missing or empty`}
	if !slices.Equal(l.Warnings, want) {
		t.Errorf("warnings = %q, want %q", l.Warnings, want)
	}
}

func TestExampleConfig(t *testing.T) {
	data, err := os.ReadFile("../examples/switchboard.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		env       map[string]string
		models    []string
		providers []string
		warnings  int
	}{
		{
			name:      "no keys",
			models:    []string{"demo", "demo-claude", "demo-image"},
			providers: []string{"demo", "demo-anthropic"},
			warnings:  2 + 4, // two providers disabled, four models left out
		},
		{
			name:      "openai key",
			env:       map[string]string{"OPENAI_API_KEY": "sk-test"},
			models:    []string{"demo", "demo-claude", "demo-image", "gpt-4o-mini", "gpt-4.1"},
			providers: []string{"demo", "demo-anthropic", "openai"},
			warnings:  1 + 2,
		},
		{
			name:      "both keys",
			env:       map[string]string{"OPENAI_API_KEY": "sk-test", "ANTHROPIC_API_KEY": "sk-ant-test"},
			models:    []string{"demo", "demo-claude", "demo-image", "gpt-4o-mini", "gpt-4.1", "claude-sonnet-4-5", "claude-haiku-4-5"},
			providers: []string{"demo", "demo-anthropic", "openai", "anthropic"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Parse("examples/switchboard.yaml", data, mapEnv(tc.env))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := l.Catalog.ModelNames(); !slices.Equal(got, tc.models) {
				t.Errorf("models = %q, want %q", got, tc.models)
			}
			var names []string
			for _, p := range l.Catalog.Providers(l.Config) {
				names = append(names, p.Name)
			}
			if !slices.Equal(names, tc.providers) {
				t.Errorf("providers = %q, want %q", names, tc.providers)
			}
			if len(l.Warnings) != tc.warnings {
				t.Errorf("got %d warnings, want %d: %q", len(l.Warnings), tc.warnings, l.Warnings)
			}
			if l.Listener.Port != 8080 || l.Limits.MaxRequestBytes != 64<<20 {
				t.Errorf("listener port %d, max bytes %d", l.Listener.Port, l.Limits.MaxRequestBytes)
			}
			if p, ok := l.Catalog.Provider("openai"); ok && p.APIKey() != "sk-test" {
				t.Errorf("openai key = %q, want sk-test", p.APIKey())
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "switchboard.yaml")
	if err := os.WriteFile(path, []byte(`listener: {port: 9000}
providers:
  - {name: local, schema: openai, base_url: "http://127.0.0.1:9100/v1"}
models:
  - {name: m, providers: [{provider: local}]}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if l.Listener.Port != 9000 {
		t.Errorf("port = %d, want 9000", l.Listener.Port)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("listener: {port: 0, adress: x}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad); err == nil || err.Error() != bad+`:1: unknown field "adress"` {
		t.Errorf("Load(bad) error = %v, want it to name the file and line", err)
	}

	missing := filepath.Join(dir, "missing.yaml")
	_, err = Load(missing)
	if !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), "config: ") {
		t.Errorf("Load(missing) error = %v, want a wrapped os.ErrNotExist", err)
	}
}

// TestDockerExampleConfig: the compose config is the example config with
// a listener open inside the container, said explicitly.
func TestDockerExampleConfig(t *testing.T) {
	load := func(name string) *Loaded {
		data, err := os.ReadFile("../examples/" + name)
		if err != nil {
			t.Fatal(err)
		}
		l, err := Parse(name, data, noEnv)
		if err != nil {
			t.Fatalf("Parse %s: %v", name, err)
		}
		return l
	}
	local, docker := load("switchboard.yaml"), load("switchboard.docker.yaml")
	if local.Listener.Address != "127.0.0.1" || local.Listener.AllowUnauthenticated {
		t.Errorf("examples/switchboard.yaml listener = %+v, want loopback", local.Listener)
	}
	if docker.Listener.Address != "0.0.0.0" || !docker.Listener.AllowUnauthenticated {
		t.Errorf("examples/switchboard.docker.yaml listener = %+v, want 0.0.0.0 with allow_unauthenticated", docker.Listener)
	}
	docker.Listener = local.Listener
	if !reflect.DeepEqual(local.Config, docker.Config) {
		t.Errorf("examples/switchboard.docker.yaml differs from examples/switchboard.yaml beyond the listener")
	}
}
