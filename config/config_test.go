package config

import (
	"slices"
	"testing"
	"time"
)

// mapEnv is an Env backed by a map, so tests never read the real
// environment.
func mapEnv(m map[string]string) Env {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// noEnv is an empty environment.
var noEnv = mapEnv(nil)

// mustParse parses YAML that the test expects to be valid.
func mustParse(t *testing.T, yaml string, env Env) *Loaded {
	t.Helper()
	l, err := Parse("cfg.yaml", []byte(yaml), env)
	if err != nil {
		t.Fatalf("Parse: unexpected error:\n%v", err)
	}
	return l
}

func TestDefaults(t *testing.T) {
	l := mustParse(t, `
providers:
  - name: local
    schema: openai
    base_url: http://127.0.0.1:9100/v1
models:
  - name: small
    providers:
      - provider: local
`, noEnv)
	c := l.Config
	if c.Listener.Address != "127.0.0.1" || c.Listener.Port != 8080 || c.Listener.AllowUnauthenticated {
		t.Errorf("listener = %+v, want 127.0.0.1:8080, authentication not waived", c.Listener)
	}
	if c.XDS.Address != "127.0.0.1:18000" {
		t.Errorf("xds.address = %q, want 127.0.0.1:18000", c.XDS.Address)
	}
	if c.ExtProc.Address != "127.0.0.1:18001" {
		t.Errorf("extproc.address = %q, want 127.0.0.1:18001", c.ExtProc.Address)
	}
	if c.Limits.MaxRequestBytes != 64<<20 {
		t.Errorf("limits.max_request_bytes = %d, want %d", c.Limits.MaxRequestBytes, 64<<20)
	}
	if got := c.Timeouts; got.Connect.D() != 10*time.Second || got.Request.D() != 10*time.Minute || got.Idle.D() != 5*time.Minute {
		t.Errorf("timeouts = connect %v, request %v, idle %v; want 10s, 10m, 5m", got.Connect.D(), got.Request.D(), got.Idle.D())
	}
	if got := c.Timeouts; got.ClientHeaders.D() != 10*time.Second || got.ClientRequest.D() != time.Minute {
		t.Errorf("timeouts = client_headers %v, client_request %v; want 10s, 1m", got.ClientHeaders.D(), got.ClientRequest.D())
	}
	m := c.Models[0]
	if m.OwnedBy != "local" {
		t.Errorf("owned_by = %q, want the first provider %q", m.OwnedBy, "local")
	}
	mp := m.Providers[0]
	if mp.Model != "small" || mp.Weight != 1 || mp.Priority != 0 {
		t.Errorf("model provider = %+v, want model small, weight 1, priority 0", mp)
	}
	if len(l.Warnings) != 0 {
		t.Errorf("warnings = %q, want none", l.Warnings)
	}
	p := c.Providers[0]
	if p.APIKey() != "" || p.Disabled() {
		t.Errorf("keyless provider: key %q, disabled %v; want none, enabled", p.APIKey(), p.Disabled())
	}
	if r := c.Routing; r.MaxAttempts != 3 || r.PerTryTimeout.D() != 60*time.Second {
		t.Errorf("routing = max_attempts %d, per_try_timeout %v; want 3, 60s", r.MaxAttempts, r.PerTryTimeout.D())
	}
	if pol := c.Routing.Policy; pol.ZDR || pol.DenyDataCollection || pol.Providers != nil || pol.Regions != nil || pol.MaxPrice != (Price{}) {
		t.Errorf("routing.policy = %+v, want empty", pol)
	}
	if h := c.Health; h.Consecutive5xx != 5 || h.BaseEjection.D() != 30*time.Second || h.MaxEjection.D() != 5*time.Minute {
		t.Errorf("health = consecutive_5xx %d, base %v, max %v; want 5, 30s, 5m", h.Consecutive5xx, h.BaseEjection.D(), h.MaxEjection.D())
	}
	if !c.AccessLog.On() || c.AccessLog.Path != "" {
		t.Errorf("access_log = %+v, want on, to Envoy's stdout", c.AccessLog)
	}
	if c.Admin.Address != "" {
		t.Errorf("admin.address = %q, want empty (off)", c.Admin.Address)
	}
	if mp.Pricing != (Price{}) || mp.ContextLength != 0 || mp.Capabilities != nil || mp.ZDR || mp.TrainsOnPrompts || mp.Region != "" {
		t.Errorf("model provider = %+v, want no pricing, context length, capabilities or data policy", mp)
	}
	r, _ := l.Catalog.Model("small")
	cand := r.Candidates[0]
	if cand.Spec != &c.Models[0].Providers[0] || cand.Route != r {
		t.Errorf("candidate Spec/Route do not point at the config entry and its route")
	}
	for _, capability := range KnownCapabilities {
		if !cand.Can(capability) {
			t.Errorf("Can(%q) = false with no capabilities listed, want every capability", capability)
		}
	}
}

// TestModelDefaultsForProviders: a model's context length and
// capabilities apply to each provider that does not set its own.
func TestModelDefaultsForProviders(t *testing.T) {
	l := mustParse(t, `
providers:
  - {name: a, schema: openai, base_url: "http://127.0.0.1:9100/v1"}
  - {name: b, schema: openai, base_url: "http://127.0.0.1:9200/v1"}
models:
  - name: m
    context_length: 128000
    capabilities: [tools, vision]
    providers:
      - {provider: a}
      - {provider: b, context_length: 32000, capabilities: [tools]}
`, noEnv)
	r, ok := l.Catalog.Model("m")
	if !ok {
		t.Fatal("no model m")
	}
	if r.ContextLength != 128000 {
		t.Errorf("route context length = %d, want 128000", r.ContextLength)
	}
	tests := []struct {
		provider string
		context  int
		can      map[string]bool
	}{
		{provider: "a", context: 128000, can: map[string]bool{CapTools: true, CapVision: true, CapJSONSchema: false, CapReasoning: false}},
		{provider: "b", context: 32000, can: map[string]bool{CapTools: true, CapVision: false}},
	}
	for _, tc := range tests {
		t.Run(tc.provider, func(t *testing.T) {
			c, ok := r.Candidate(tc.provider)
			if !ok {
				t.Fatalf("no candidate on %s", tc.provider)
			}
			if c.Spec.ContextLength != tc.context {
				t.Errorf("context length = %d, want %d", c.Spec.ContextLength, tc.context)
			}
			for capability, want := range tc.can {
				if got := c.Can(capability); got != want {
					t.Errorf("Can(%q) = %v, want %v", capability, got, want)
				}
			}
		})
	}
}

func TestExplicitValuesKept(t *testing.T) {
	l := mustParse(t, `
listener: {address: 127.0.0.1, port: 9000}
xds: {address: "localhost:19000"}
extproc: {address: "[::1]:19001"}
limits: {max_request_bytes: 2048}
timeouts: {connect: 2s, request: 90s, idle: 1m30s}
providers:
  - {name: local, schema: openai, base_url: "http://127.0.0.1:9100/v1"}
models:
  - name: small
    owned_by: acme
    providers:
      - {provider: local, model: small-v2, weight: 7, priority: 3}
`, noEnv)
	c := l.Config
	if c.Listener.Address != "127.0.0.1" || c.Listener.Port != 9000 {
		t.Errorf("listener = %+v", c.Listener)
	}
	if h, p := c.XDS.HostPort(); h != "localhost" || p != 19000 {
		t.Errorf("xds HostPort = %q, %d", h, p)
	}
	if h, p := c.ExtProc.HostPort(); h != "::1" || p != 19001 {
		t.Errorf("extproc HostPort = %q, %d", h, p)
	}
	if c.Limits.MaxRequestBytes != 2048 {
		t.Errorf("max_request_bytes = %d", c.Limits.MaxRequestBytes)
	}
	if got := c.Timeouts; got.Connect.D() != 2*time.Second || got.Request.D() != 90*time.Second || got.Idle.D() != 90*time.Second {
		t.Errorf("timeouts = %v %v %v", got.Connect.D(), got.Request.D(), got.Idle.D())
	}
	m := c.Models[0]
	if m.OwnedBy != "acme" {
		t.Errorf("owned_by = %q, want acme", m.OwnedBy)
	}
	if mp := m.Providers[0]; mp.Model != "small-v2" || mp.Weight != 7 || mp.Priority != 3 {
		t.Errorf("model provider = %+v", mp)
	}
}

func TestRoutingValuesKept(t *testing.T) {
	l := mustParse(t, `
admin: {address: "127.0.0.1:18002"}
routing:
  max_attempts: 10
  per_try_timeout: 90s
  policy:
    zdr: true
    deny_data_collection: true
    providers: [local]
    regions: [eu, us]
    max_price: {prompt: 5, completion: 15, cached_prompt: 1, request: 0.01}
health: {consecutive_5xx: 1, base_ejection: 10s, max_ejection: 10s}
providers:
  - {name: local, schema: openai, base_url: "http://127.0.0.1:9100/v1"}
models:
  - name: small
    providers:
      - provider: local
        pricing: {prompt: 0.15, completion: 0.6, cached_prompt: 0.075, request: 0.001}
        context_length: 4096
        capabilities: [tools, json_schema, reasoning, vision]
        zdr: true
        trains_on_prompts: true
        region: eu
`, noEnv)
	c := l.Config
	if h, p := c.Admin.HostPort(); h != "127.0.0.1" || p != 18002 {
		t.Errorf("admin HostPort = %q, %d", h, p)
	}
	if r := c.Routing; r.MaxAttempts != 10 || r.PerTryTimeout.D() != 90*time.Second {
		t.Errorf("routing = %+v", r)
	}
	pol := c.Routing.Policy
	if !pol.ZDR || !pol.DenyDataCollection || !slices.Equal(pol.Providers, []string{"local"}) || !slices.Equal(pol.Regions, []string{"eu", "us"}) ||
		pol.MaxPrice != (Price{Prompt: 5, Completion: 15, CachedPrompt: 1, Request: 0.01}) {
		t.Errorf("routing.policy = %+v", pol)
	}
	if h := c.Health; h.Consecutive5xx != 1 || h.BaseEjection.D() != 10*time.Second || h.MaxEjection.D() != 10*time.Second {
		t.Errorf("health = %+v", h)
	}
	mp := c.Models[0].Providers[0]
	if mp.Pricing != (Price{Prompt: 0.15, Completion: 0.6, CachedPrompt: 0.075, Request: 0.001}) || mp.ContextLength != 4096 ||
		!slices.Equal(mp.Capabilities, []string{"tools", "json_schema", "reasoning", "vision"}) || !mp.ZDR || !mp.TrainsOnPrompts || mp.Region != "eu" {
		t.Errorf("model provider = %+v", mp)
	}
}

func TestProviderURL(t *testing.T) {
	tests := []struct {
		name      string
		baseURL   string
		host      string
		port      int
		prefix    string
		tls       bool
		authority string
	}{
		{name: "https default port", baseURL: "https://api.openai.com/v1", host: "api.openai.com", port: 443, prefix: "/v1", tls: true, authority: "api.openai.com"},
		{name: "https no path", baseURL: "https://api.anthropic.com", host: "api.anthropic.com", port: 443, prefix: "", tls: true, authority: "api.anthropic.com"},
		{name: "root slash trimmed", baseURL: "https://api.anthropic.com/", host: "api.anthropic.com", port: 443, prefix: "", tls: true, authority: "api.anthropic.com"},
		{name: "http default port", baseURL: "http://localhost/v1", host: "localhost", port: 80, prefix: "/v1", tls: false, authority: "localhost"},
		{name: "http explicit port", baseURL: "http://127.0.0.1:9100/v1/", host: "127.0.0.1", port: 9100, prefix: "/v1", tls: false, authority: "127.0.0.1:9100"},
		{name: "https explicit port", baseURL: "https://llm.example.com:8443/api/openai//", host: "llm.example.com", port: 8443, prefix: "/api/openai", tls: true, authority: "llm.example.com:8443"},
		{name: "ipv6", baseURL: "http://[::1]:9100", host: "::1", port: 9100, prefix: "", tls: false, authority: "[::1]:9100"},
		{name: "upper-case scheme", baseURL: "HTTPS://api.openai.com/v1", host: "api.openai.com", port: 443, prefix: "/v1", tls: true, authority: "api.openai.com"},
		{name: "escaped path kept escaped", baseURL: "https://h.example/a%2Fb/", host: "h.example", port: 443, prefix: "/a%2Fb", tls: true, authority: "h.example"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := mustParse(t, `
providers:
  - name: p
    schema: openai
    base_url: "`+tc.baseURL+`"
models:
  - {name: m, providers: [{provider: p}]}
`, noEnv)
			p := &l.Providers[0]
			if got := p.Host(); got != tc.host {
				t.Errorf("Host() = %q, want %q", got, tc.host)
			}
			if got := p.Port(); got != tc.port {
				t.Errorf("Port() = %d, want %d", got, tc.port)
			}
			if got := p.PathPrefix(); got != tc.prefix {
				t.Errorf("PathPrefix() = %q, want %q", got, tc.prefix)
			}
			if got := p.TLS(); got != tc.tls {
				t.Errorf("TLS() = %v, want %v", got, tc.tls)
			}
			if got := p.Authority(); got != tc.authority {
				t.Errorf("Authority() = %q, want %q", got, tc.authority)
			}
			if p.URL() == nil {
				t.Errorf("URL() = nil")
			}
		})
	}
}

func TestFieldErrorFormat(t *testing.T) {
	tests := []struct {
		name string
		err  FieldError
		want string
	}{
		{name: "full", err: FieldError{File: "cfg.yaml", Line: 14, Path: "models[2].providers[0].provider", Value: "antropic", Msg: "unknown provider"},
			want: `cfg.yaml:14: models[2].providers[0].provider "antropic": unknown provider`},
		{name: "no value", err: FieldError{File: "cfg.yaml", Line: 3, Path: "providers[0].base_url", Msg: "is required"},
			want: `cfg.yaml:3: providers[0].base_url: is required`},
		{name: "no line", err: FieldError{File: "cfg.yaml", Path: "listener.port", Value: "0", Msg: "bad"},
			want: `cfg.yaml: listener.port "0": bad`},
		{name: "no file", err: FieldError{Line: 2, Path: "a", Msg: "bad"}, want: `2: a: bad`},
		{name: "bare", err: FieldError{Path: "a", Value: "x", Msg: "bad"}, want: `a "x": bad`},
		{name: "no path", err: FieldError{File: "cfg.yaml", Line: 5, Msg: `unknown field "prot"`}, want: `cfg.yaml:5: unknown field "prot"`},
		{name: "value quoted", err: FieldError{Path: "a", Value: "say \"hi\"\n", Msg: "bad"}, want: `a "say \"hi\"\n": bad`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error() =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
	es := Errors{{Path: "a", Msg: "one"}, {Path: "b", Msg: "two"}}
	if got, want := es.Error(), "a: one\nb: two"; got != want {
		t.Errorf("Errors.Error() = %q, want %q", got, want)
	}
}

// TestListenerExposure: loopback listeners need nothing; any other address
// loads only when the config waives caller authentication explicitly.
func TestListenerExposure(t *testing.T) {
	for _, tc := range []struct {
		listener string
		ok       bool
	}{
		{`{address: 127.0.0.1}`, true},
		{`{address: 127.0.0.9}`, true},
		{`{address: "::1"}`, true},
		{`{address: 0.0.0.0}`, false},
		{`{address: 10.1.2.3}`, false},
		{`{address: 0.0.0.0, allow_unauthenticated: true}`, true},
		{`{address: "::", allow_unauthenticated: true}`, true},
	} {
		t.Run(tc.listener, func(t *testing.T) {
			_, err := Parse("cfg.yaml", []byte("listener: "+tc.listener+"\n"+`providers: [{name: local, schema: openai, base_url: "http://127.0.0.1:9100/v1"}]
models: [{name: m, providers: [{provider: local}]}]
`), noEnv)
			if (err == nil) != tc.ok {
				t.Fatalf("Parse error = %v, want ok %v", err, tc.ok)
			}
		})
	}
}
