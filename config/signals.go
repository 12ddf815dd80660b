package config

import (
	"net"
	"net/url"
	"strconv"
)

// Admin is the ext_proc server's HTTP admin endpoint: GET /status,
// /stats, /metrics, /xds and /healthz.
type Admin struct {
	// Address as host:port. Default: off. Off loopback it needs Token.
	Endpoint `yaml:",inline"`
	// Token, when set, is the Bearer token every admin request but
	// GET /healthz must send (Authorization: Bearer ...), read from an
	// environment variable or a file like a provider key, at least 16
	// characters. Required when Address is not on loopback. Default: none.
	Token *Secret `yaml:"token"`

	token string // resolved
}

// BearerToken is the resolved admin token ("" when none is configured).
func (a Admin) BearerToken() string { return a.token }

// minAdminToken is the shortest admin token accepted.
const minAdminToken = 16

// Telemetry is what switchboard exports besides Prometheus metrics.
type Telemetry struct {
	// Traces are OTLP traces of the request path. Default: off.
	Traces *Traces `yaml:"traces"`
}

// Trace exporter protocols.
const (
	OTLPGRPC = "grpc"
	OTLPHTTP = "http"
)

// Traces exports one span per request (the router hop, from its headers
// to the end of its answer) and one child span per provider attempt,
// with the OpenTelemetry GenAI semantic-convention attributes. Changing
// it needs a restart.
type Traces struct {
	// OTLPEndpoint is the collector's URL: http://host:4317 for grpc,
	// http://host:4318/v1/traces for http (the path defaults to
	// /v1/traces). https verifies the collector's certificate with the
	// system roots; http sends in the clear. Required.
	OTLPEndpoint string `yaml:"otlp_endpoint"`
	// Protocol is grpc or http (protobuf over HTTP). Default grpc.
	Protocol string `yaml:"protocol"`
	// SampleRatio is the share of requests traced, from 0 to 1; an
	// attempt follows its request. Default 1.
	SampleRatio *float64 `yaml:"sample_ratio"`
	// CaptureContent puts the request's messages (gen_ai.input.messages,
	// cut at 16 KiB) on the request span. Prompts are often personal or
	// secret: keep it off unless the trace store may hold them. Default
	// false.
	CaptureContent bool `yaml:"capture_content"`
}

// Ratio is SampleRatio with its default.
func (t *Traces) Ratio() float64 {
	if t.SampleRatio == nil {
		return 1
	}
	return *t.SampleRatio
}

// checkSignals validates the admin endpoint's credential and the
// telemetry block, and reads the admin token.
func (c *Config) checkSignals(env Env, add func(path, value, format string, args ...any)) {
	a := &c.Admin
	if a.Token != nil {
		a.token = readSecret("admin.token", a.Token, env, add)
		if a.token != "" && len(a.token) < minAdminToken {
			// The value is a credential: the error names where it is.
			at, where := "admin.token.env", a.Token.Env
			if a.Token.File != "" {
				at, where = "admin.token.file", a.Token.File
			}
			add(at, where, "the token must be at least %d characters", minAdminToken)
			a.token = ""
		}
	}
	if h, _, err := net.SplitHostPort(a.Address); err == nil && h != "" && !IsLoopback(h) && a.Token == nil {
		add("admin.address", a.Address, "a non-loopback admin endpoint needs admin.token ({env: NAME} or {file: PATH}): it shows the config, providers and traffic")
	}
	t := c.Telemetry.Traces
	if t == nil {
		return
	}
	switch u, err := url.Parse(t.OTLPEndpoint); {
	case t.OTLPEndpoint == "":
		add("telemetry.traces.otlp_endpoint", "", "is required (e.g. http://127.0.0.1:4317)")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		add("telemetry.traces.otlp_endpoint", t.OTLPEndpoint, "must be an http:// or https:// URL with a host")
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		add("telemetry.traces.otlp_endpoint", redactURL(u), "must not carry credentials, a query or a fragment")
	case t.Protocol != OTLPHTTP && u.Path != "" && u.Path != "/":
		add("telemetry.traces.otlp_endpoint", t.OTLPEndpoint, "a grpc endpoint has no path")
	}
	switch t.Protocol {
	case "":
		t.Protocol = OTLPGRPC
	case OTLPGRPC, OTLPHTTP:
	default:
		add("telemetry.traces.protocol", t.Protocol, "unknown protocol (known: grpc, http)")
	}
	if r := t.SampleRatio; r != nil && (*r < 0 || *r > 1 || *r != *r) {
		add("telemetry.traces.sample_ratio", strconv.FormatFloat(*r, 'g', -1, 64), "must be between 0 and 1")
	}
}

// redactURL drops the userinfo of a URL for an error message.
func redactURL(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}
