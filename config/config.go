// Package config is Switchboard's one typed configuration model: YAML in,
// validated once, then read by the xDS builder and the ext_proc server.
package config

import (
	"net"
	"net/url"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/switchboard-gw/switchboard/translators"
)

// Config is the whole gateway configuration.
type Config struct {
	// Listener is where Envoy accepts client traffic.
	Listener Listener `yaml:"listener"`
	// XDS is the control plane's gRPC endpoint that Envoy's bootstrap dials.
	XDS Endpoint `yaml:"xds"`
	// ExtProc is the ext_proc gRPC endpoint; Envoy dials it and switchboard
	// listens on it.
	ExtProc Endpoint `yaml:"extproc"`
	// Admin is the ext_proc server's HTTP admin endpoint (GET /status,
	// /stats, /metrics, /healthz; config/signals.go). Default: off. Off
	// loopback it needs admin.token.
	Admin Admin `yaml:"admin"`
	// ControlTLS is mutual TLS between Envoy and switchboard (config/tls.go).
	// Default: off, which only loopback addresses allow.
	ControlTLS ControlTLS `yaml:"control_tls"`
	// Limits bound what a client may send.
	Limits Limits `yaml:"limits"`
	// Timeouts for upstream provider calls.
	Timeouts Timeouts `yaml:"timeouts"`
	// Providers are the upstream LLM APIs.
	Providers []Provider `yaml:"providers"`
	// Models are the public model names clients ask for.
	Models []Model `yaml:"models"`
	// Routing sets fallback and the central policy requests cannot loosen.
	Routing Routing `yaml:"routing"`
	// Health sets how failing providers leave rotation and come back.
	Health Health `yaml:"health"`
	// AccessLog is Envoy's one JSON line per request.
	AccessLog AccessLog `yaml:"access_log"`
	// Governance is tenants, gateway keys, limits and budgets
	// (config/governance.go).
	Governance Governance `yaml:"governance"`
	// Plugins configures the middleware chain (web search, ...).
	Plugins Plugins `yaml:"plugins"`
	// Responses keeps the Responses API's stored answers
	// (config/responses.go).
	Responses Responses `yaml:"responses"`
	// Telemetry is OTLP traces (config/signals.go). Default: off.
	Telemetry Telemetry `yaml:"telemetry"`
}

// AccessLog is Envoy's access log: one JSON line per request, refused ones
// included, with no prompt, answer or credential in it.
type AccessLog struct {
	// Enabled turns the access log on or off. Default true.
	Enabled *bool `yaml:"enabled"`
	// Path is an absolute file path Envoy appends to. Default: Envoy's
	// stdout.
	Path string `yaml:"path"`
}

// On reports whether the access log is written.
func (a AccessLog) On() bool { return a.Enabled == nil || *a.Enabled }

// Routing is the fallback behaviour and central policy.
type Routing struct {
	// MaxAttempts bounds upstream attempts per request, fallbacks
	// included. Default 3.
	MaxAttempts int `yaml:"max_attempts"`
	// PerTryTimeout bounds each attempt, a single provider's included,
	// until the provider's response headers arrive (for a stream, until
	// the first byte of its body); a slower attempt falls back, or the
	// client gets 504 when no attempt is left. Default 60s.
	PerTryTimeout Duration `yaml:"per_try_timeout"`
	// Policy applies to every request; a request may narrow it, never
	// widen it.
	Policy Policy `yaml:"policy"`
}

// Policy is the central routing policy.
type Policy struct {
	// ZDR admits only providers with zero data retention. Default false.
	ZDR bool `yaml:"zdr"`
	// DenyDataCollection skips providers that train on prompts. Default false.
	DenyDataCollection bool `yaml:"deny_data_collection"`
	// Providers, when set, is the allow-list of provider names.
	Providers []string `yaml:"providers"`
	// Regions, when set, is the allow-list of provider regions.
	Regions []string `yaml:"regions"`
	// MaxPrice caps USD per million tokens. Zero fields are no cap.
	MaxPrice Price `yaml:"max_price"`
}

// Health drives Envoy's outlier detection on provider clusters.
type Health struct {
	// Consecutive5xx ejects a provider after this many failures in a row.
	// Default 5.
	Consecutive5xx int `yaml:"consecutive_5xx"`
	// BaseEjection is how long a first ejection lasts; it grows with each
	// repeat. Default 30s.
	BaseEjection Duration `yaml:"base_ejection"`
	// MaxEjection caps an ejection. Default 5m.
	MaxEjection Duration `yaml:"max_ejection"`
}

// Price is USD per million tokens.
type Price struct {
	Prompt       float64 `yaml:"prompt"`
	Completion   float64 `yaml:"completion"`
	CachedPrompt float64 `yaml:"cached_prompt"`
	// Request is a flat USD fee per request.
	Request float64 `yaml:"request"`
	// Image is USD per image made (image models).
	Image float64 `yaml:"image"`
}

// Model types: the endpoints that serve each say which they take
// (translators.API.ModelType).
const (
	ModelChat       = translators.ModelTypeChat
	ModelEmbeddings = translators.ModelTypeEmbeddings
	ModelImage      = translators.ModelTypeImage
)

// Capabilities a request may need.
const (
	CapTools      = "tools"
	CapVision     = "vision"
	CapJSONSchema = "json_schema"
	CapReasoning  = "reasoning"
)

// KnownCapabilities lists valid capability names.
var KnownCapabilities = []string{CapJSONSchema, CapReasoning, CapTools, CapVision}

// Listener is Envoy's client-facing HTTP listener.
type Listener struct {
	// Address to bind. Default "127.0.0.1". A non-loopback address
	// needs AllowUnauthenticated.
	Address string `yaml:"address"`
	// Port to bind. Default 8080.
	Port int `yaml:"port"`
	// AllowUnauthenticated accepts a non-loopback Address although the
	// gateway does not authenticate callers: anyone who reaches the port
	// spends the providers' keys. Default false.
	AllowUnauthenticated bool `yaml:"allow_unauthenticated"`
}

// Endpoint is a host:port for a gRPC service.
type Endpoint struct {
	// Address as host:port. Defaults: xds 127.0.0.1:18000, extproc 127.0.0.1:18001.
	Address string `yaml:"address"`
	// Replicas (extproc only) are more ext_proc servers, host:port each,
	// that Envoy balances requests over with Address; each runs
	// `switchboard extproc --listen` on its own. Replicas share limits
	// through governance.limits (Redis) and records through
	// governance.store (PostgreSQL). Default none.
	Replicas []string `yaml:"replicas"`
}

// Addresses are Address and the replicas.
func (e Endpoint) Addresses() []string { return append([]string{e.Address}, e.Replicas...) }

// HostPort splits Address.
func (e Endpoint) HostPort() (string, int) {
	h, p, _ := net.SplitHostPort(e.Address)
	n, _ := strconv.Atoi(p)
	return h, n
}

// Limits bound client requests.
type Limits struct {
	// MaxRequestBytes is the largest request body accepted; larger bodies get
	// 413. Default 64 MiB.
	MaxRequestBytes int64 `yaml:"max_request_bytes"`
	// MaxInflightBytes bounds the request body bytes each ext_proc hop
	// holds at once across all requests; a request that would pass it
	// gets 503 overloaded with Retry-After, instead of the process
	// growing until it is killed. ext_proc's memory is about five times
	// this at worst (gRPC buffers, the parsed and the translated body).
	// Default 256 MiB; at least max_request_bytes.
	MaxInflightBytes int64 `yaml:"max_inflight_bytes"`
}

// Timeouts for provider calls, and for clients sending their requests.
// LLM calls are slow: the provider defaults are generous. Clients are
// held to tighter bounds: a request trickled in slowly holds memory.
type Timeouts struct {
	// ClientHeaders bounds receiving a request's headers, from the first
	// byte. Slower clients get 408. Default 10s.
	ClientHeaders Duration `yaml:"client_headers"`
	// ClientRequest bounds receiving a whole request, body included, from
	// the first byte until it goes to the provider; the answer's time does
	// not count. Slower clients get 408. Default 1m.
	ClientRequest Duration `yaml:"client_request"`
	// Connect is the TCP/TLS connect timeout to a provider. Default 10s.
	Connect Duration `yaml:"connect"`
	// Request bounds a whole upstream exchange, streams included. Default 10m.
	Request Duration `yaml:"request"`
	// Idle bounds the silence between two bytes of a stream. Default 5m.
	Idle Duration `yaml:"idle"`
	// StreamIdle, when set, ends an SSE answer that has sent nothing for
	// this long with the gateway's error chunk and [DONE] (Anthropic's
	// error event on /v1/messages), rather than a silent cut at Idle.
	// Must be below Idle. Default 0: off.
	StreamIdle Duration `yaml:"stream_idle"`
	// StreamKeepalive, when set, writes an SSE comment line
	// (": keep-alive") to a stream's client after this long without a
	// byte, so proxies and SDKs keep a slow answer's connection open.
	// Default 0: off.
	StreamKeepalive Duration `yaml:"stream_keepalive"`
}

// Provider is one upstream LLM API.
type Provider struct {
	// Name identifies the provider in models and logs.
	Name string `yaml:"name"`
	// Schema is the wire format: openai, azure-openai, anthropic, gemini,
	// vertex-ai or bedrock.
	Schema string `yaml:"schema"`
	// BaseURL is the API root, e.g. https://api.openai.com/v1. Default: the
	// schema's public endpoint (none for openai-compatible hosts and azure).
	BaseURL string `yaml:"base_url"`
	// APIKey says where the credential comes from. Optional for keyless hosts.
	Key *Secret `yaml:"api_key"`
	// Optional disables the provider, instead of failing the config, when
	// its API key is not set. Default false.
	Optional bool `yaml:"optional"`
	// APIVersion is the azure-openai api-version. Default "2024-10-21".
	APIVersion string `yaml:"api_version"`
	// Project is the Google Cloud project (vertex-ai; required there).
	Project string `yaml:"project"`
	// Region is the Vertex AI location (required there) or the AWS region
	// (bedrock; default: read from the base_url host).
	Region string `yaml:"region"`
	// CredentialsFile is a Google service account key file (vertex-ai).
	// Default: Google application default credentials. Bedrock uses the
	// AWS default credential chain unless api_key is set.
	CredentialsFile string `yaml:"credentials_file"`

	// Resolved at load time.
	key      string
	disabled bool
	url      *url.URL
}

// Secret names where a credential is read from; exactly one of Env or File.
type Secret struct {
	// Env is an environment variable holding the key.
	Env string `yaml:"env"`
	// File is a file holding the key (trailing whitespace trimmed).
	File string `yaml:"file"`
}

// Model is a public model name mapped to provider models.
type Model struct {
	// Name is what clients put in "model".
	Name string `yaml:"name"`
	// OwnedBy is shown in /v1/models. Default: the first provider's name.
	OwnedBy string `yaml:"owned_by"`
	// Type is what the model serves: chat (/v1/chat/completions and
	// /v1/messages), embeddings (/v1/embeddings) or image
	// (/v1/images/generations). Default chat.
	Type string `yaml:"type"`
	// Providers serve this model.
	Providers []ModelProvider `yaml:"providers"`
	// ContextLength is the model's context window in tokens, the default
	// for its providers; 0 is unknown (not checked).
	ContextLength int `yaml:"context_length"`
	// Capabilities the model has (tools, vision, json_schema, reasoning),
	// the default for its providers. Unset: all.
	Capabilities []string `yaml:"capabilities"`
}

// ModelProvider is one provider serving a model.
type ModelProvider struct {
	// Provider is a provider name.
	Provider string `yaml:"provider"`
	// Model is the provider's model id. Default: the public name.
	Model string `yaml:"model"`
	// Weight splits traffic among providers of equal priority. Default 1.
	Weight int `yaml:"weight"`
	// Priority orders providers; lower is tried first. Default 0.
	Priority int `yaml:"priority"`
	// Pricing in USD per million tokens; used by sort: price, max_price
	// and the cost reported per request.
	Pricing Price `yaml:"pricing"`
	// ContextLength overrides the model's context length here.
	ContextLength int `yaml:"context_length"`
	// Capabilities overrides the model's capabilities here.
	Capabilities []string `yaml:"capabilities"`
	// ZDR marks zero data retention at this provider. Default false.
	ZDR bool `yaml:"zdr"`
	// TrainsOnPrompts marks a provider that may train on prompts.
	TrainsOnPrompts bool `yaml:"trains_on_prompts"`
	// Region where the provider serves this model, e.g. "us", "eu".
	Region string `yaml:"region"`
}

// Duration is a time.Duration written as "10s", "5m".
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return &yaml.TypeError{Errors: []string{"line " + strconv.Itoa(n.Line) + ": invalid duration " + strconv.Quote(n.Value) + " (use e.g. 30s, 10m, 1h)"}}
	}
	*d = Duration(v)
	return nil
}

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// APIKey returns the resolved credential ("" when none).
func (p *Provider) APIKey() string { return p.key }

// Disabled reports an optional provider left out for lack of a key.
func (p *Provider) Disabled() bool { return p.disabled }

// URL returns the parsed base URL.
func (p *Provider) URL() *url.URL { return p.url }

// TLS reports whether the provider is reached over https.
func (p *Provider) TLS() bool { return p.url.Scheme == "https" }

// Host is the base URL's host name.
func (p *Provider) Host() string { return p.url.Hostname() }

// Port is the base URL's port, defaulted by scheme.
func (p *Provider) Port() int {
	if s := p.url.Port(); s != "" {
		n, _ := strconv.Atoi(s)
		return n
	}
	if p.TLS() {
		return 443
	}
	return 80
}

// PathPrefix is the base URL path without a trailing slash.
func (p *Provider) PathPrefix() string {
	s := p.url.EscapedPath()
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

// Authority is the Host header value for the provider.
func (p *Provider) Authority() string { return p.url.Host }

func (c *Config) applyDefaults() {
	if c.Listener.Address == "" {
		c.Listener.Address = "127.0.0.1"
	}
	if c.Listener.Port == 0 {
		c.Listener.Port = 8080
	}
	if c.XDS.Address == "" {
		c.XDS.Address = "127.0.0.1:18000"
	}
	if c.ExtProc.Address == "" {
		c.ExtProc.Address = "127.0.0.1:18001"
	}
	if c.Limits.MaxRequestBytes == 0 {
		c.Limits.MaxRequestBytes = 64 << 20
	}
	if c.Limits.MaxInflightBytes == 0 {
		c.Limits.MaxInflightBytes = max(256<<20, c.Limits.MaxRequestBytes)
	}
	if c.Timeouts.Connect == 0 {
		c.Timeouts.Connect = Duration(10 * time.Second)
	}
	if c.Timeouts.Request == 0 {
		c.Timeouts.Request = Duration(10 * time.Minute)
	}
	if c.Timeouts.ClientHeaders == 0 {
		c.Timeouts.ClientHeaders = Duration(10 * time.Second)
	}
	if c.Timeouts.ClientRequest == 0 {
		c.Timeouts.ClientRequest = Duration(time.Minute)
	}
	if c.Timeouts.Idle == 0 {
		c.Timeouts.Idle = Duration(5 * time.Minute)
	}
	if c.Routing.MaxAttempts == 0 {
		c.Routing.MaxAttempts = 3
	}
	if c.Routing.PerTryTimeout == 0 {
		c.Routing.PerTryTimeout = Duration(60 * time.Second)
	}
	if c.Health.Consecutive5xx == 0 {
		c.Health.Consecutive5xx = 5
	}
	if c.Health.BaseEjection == 0 {
		c.Health.BaseEjection = Duration(30 * time.Second)
	}
	if c.Health.MaxEjection == 0 {
		c.Health.MaxEjection = Duration(5 * time.Minute)
	}
	c.Governance.applyDefaults()
	c.Responses.applyDefaults()
	for i := range c.Models {
		m := &c.Models[i]
		for j := range m.Providers {
			mp := &m.Providers[j]
			if mp.Model == "" {
				mp.Model = m.Name
			}
			if mp.Weight == 0 {
				mp.Weight = 1
			}
			if mp.ContextLength == 0 {
				mp.ContextLength = m.ContextLength
			}
			if mp.Capabilities == nil {
				mp.Capabilities = m.Capabilities
			}
		}
		if m.Type == "" {
			m.Type = ModelChat
		}
		if m.OwnedBy == "" && len(m.Providers) > 0 {
			m.OwnedBy = m.Providers[0].Provider
		}
	}
}
