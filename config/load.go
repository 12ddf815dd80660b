package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/switchboard-gw/switchboard/translators"
)

// FieldError is one problem in a config file, located by path and line.
type FieldError struct {
	File  string
	Line  int
	Path  string // e.g. models[2].providers[0].provider
	Value string // the offending value, quoted in messages when set
	Msg   string
}

func (e FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(":")
	}
	if e.Line > 0 {
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(":")
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	// Decoding errors (unknown fields, wrong types) know no path.
	if e.Path != "" {
		b.WriteString(e.Path)
		if e.Value != "" {
			b.WriteString(" ")
			b.WriteString(strconv.Quote(e.Value))
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one config, in file order.
type Errors []FieldError

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Loaded is a validated config plus what loading found worth a warning.
type Loaded struct {
	*Config
	// Warnings are non-fatal: disabled optional providers, models left out.
	Warnings []string
	// Catalog is the routing view built once from the config.
	Catalog *Catalog
	// ControlTLSDigest hashes the control_tls files' contents ("" when
	// off), so a rotated certificate changes the pushed resources.
	ControlTLSDigest string
	// Version is the config version Envoy's routes carry for this config
	// (xds.BuildVersioned), set by the process that built them; "" when
	// not built.
	Version string
}

// Env reads environment variables; tests pass a map.
type Env func(string) (string, bool)

// Load reads, decodes strictly, validates and resolves the config file.
func Load(path string) (*Loaded, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data, os.LookupEnv)
}

// Parse is Load on bytes; name is used in error messages.
func Parse(name string, data []byte, env Env) (*Loaded, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	// Unknown fields and wrong types are reported with the validation
	// errors: the decoder fills every field it can, so one pass finds all.
	var decodeErrs Errors
	if err := dec.Decode(&c); errors.Is(err, io.EOF) {
		// An empty file is more likely a half-written one than a wish to
		// serve nothing; Watch must not swap it in.
		return nil, Errors{{File: name, Msg: "config is empty"}}
	} else if err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		decodeErrs = typeErrors(te)
	}
	c.applyDefaults()
	errs, warns := c.validate(env)
	addErr := func(path, value, format string, args ...any) {
		errs = append(errs, FieldError{Path: path, Value: value, Msg: fmt.Sprintf(format, args...)})
	}
	tlsDigest := c.checkControlTLS(filepath.Dir(name), addErr)
	c.checkGovernance(filepath.Dir(name), env, addErr)
	c.checkPlugins(env, addErr)
	c.Responses.check(addErr)
	c.checkSignals(env, addErr)
	for i := range errs {
		errs[i].Line = lineOf(&root, errs[i].Path)
	}
	errs = append(decodeErrs, errs...)
	for i := range errs {
		errs[i].File = name
	}
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
		return nil, errs
	}
	l := &Loaded{Config: &c, Warnings: warns, ControlTLSDigest: tlsDigest}
	l.Catalog = newCatalog(&c)
	for _, m := range c.Models {
		if _, ok := l.Catalog.models[m.Name]; !ok {
			l.Warnings = append(l.Warnings, fmt.Sprintf("model %q left out: all its providers are disabled", m.Name))
		}
	}
	return l, nil
}

// typeErrors turns the decoder's "line N: message" strings into FieldErrors.
func typeErrors(te *yaml.TypeError) Errors {
	out := make(Errors, 0, len(te.Errors))
	for _, s := range te.Errors {
		fe := FieldError{Msg: s}
		if rest, ok := strings.CutPrefix(s, "line "); ok {
			if n, msg, ok := strings.Cut(rest, ": "); ok {
				if line, err := strconv.Atoi(n); err == nil {
					fe.Line, fe.Msg = line, msg
				}
			}
		}
		// "field foo not found in type config.Listener" names a Go type.
		if m := unknownFieldRE.FindStringSubmatch(fe.Msg); m != nil {
			fe.Msg = "unknown field " + strconv.Quote(m[1])
		}
		out = append(out, fe)
	}
	return out
}

var unknownFieldRE = regexp.MustCompile(`^field (\S+) not found in type `)

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// validate checks every field and resolves credentials; it returns every
// problem, not just the first.
func (c *Config) validate(env Env) (errs Errors, warns []string) {
	add := func(path, value, format string, args ...any) {
		errs = append(errs, FieldError{Path: path, Value: value, Msg: fmt.Sprintf(format, args...)})
	}
	if c.Listener.Port < 1 || c.Listener.Port > 65535 {
		add("listener.port", strconv.Itoa(c.Listener.Port), "must be between 1 and 65535")
	}
	if ip := net.ParseIP(c.Listener.Address); ip == nil {
		add("listener.address", c.Listener.Address, "must be an IP address")
	} else if !ip.IsLoopback() && !c.Listener.AllowUnauthenticated && len(c.Governance.Tenants) == 0 {
		// Declared tenants turn gateway keys on (a request needs one).
		// Callers are not authenticated yet: an open port spends the
		// providers' keys for anyone who reaches it.
		add("listener.address", c.Listener.Address, "a non-loopback listener needs caller authentication: declare governance.tenants and keys, or set listener.allow_unauthenticated: true to accept the risk")
	}
	// Slices, not maps: errors on one line must come out in a stable order.
	for _, ep := range []struct {
		path string
		ep   Endpoint
	}{{"xds.address", c.XDS}, {"extproc.address", c.ExtProc}, {"admin.address", c.Admin.Endpoint}} {
		if ep.path == "admin.address" && ep.ep.Address == "" {
			continue // off
		}
		if h, p, err := net.SplitHostPort(ep.ep.Address); err != nil || h == "" {
			add(ep.path, ep.ep.Address, "must be host:port")
		} else if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			add(ep.path, ep.ep.Address, "port must be between 1 and 65535")
		}
	}
	if len(c.XDS.Replicas) > 0 || len(c.Admin.Replicas) > 0 {
		add("xds.replicas", "", "only extproc has replicas")
	}
	for i, r := range c.ExtProc.Replicas {
		at := fmt.Sprintf("extproc.replicas[%d]", i)
		if h, p, err := net.SplitHostPort(r); err != nil || h == "" {
			add(at, r, "must be host:port")
		} else if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			add(at, r, "port must be between 1 and 65535")
		} else if !c.ControlTLS.Enabled() && !IsLoopback(h) {
			add(at, r, "is not on loopback: set control_tls (mutual TLS between Envoy and switchboard), or anyone who reaches this port can take the provider keys")
		} else if r == c.ExtProc.Address || slices.Contains(c.ExtProc.Replicas[:i], r) {
			add(at, r, "duplicate ext_proc address")
		}
	}
	if c.Routing.MaxAttempts < 1 || c.Routing.MaxAttempts > 10 {
		add("routing.max_attempts", strconv.Itoa(c.Routing.MaxAttempts), "must be between 1 and 10")
	}
	if c.Routing.PerTryTimeout < 0 {
		add("routing.per_try_timeout", c.Routing.PerTryTimeout.D().String(), "must be positive")
	}
	checkPrice("routing.policy.max_price", c.Routing.Policy.MaxPrice, add)
	if c.Health.Consecutive5xx < 1 {
		add("health.consecutive_5xx", strconv.Itoa(c.Health.Consecutive5xx), "must be at least 1")
	}
	if c.Health.BaseEjection < 0 {
		add("health.base_ejection", c.Health.BaseEjection.D().String(), "must be positive")
	} else if c.Health.MaxEjection < c.Health.BaseEjection {
		add("health.max_ejection", c.Health.MaxEjection.D().String(), "must be at least health.base_ejection")
	}
	if c.Limits.MaxRequestBytes < 1024 || c.Limits.MaxRequestBytes > 1<<30 {
		add("limits.max_request_bytes", strconv.FormatInt(c.Limits.MaxRequestBytes, 10), "must be between 1024 and 1073741824")
	}
	if c.Limits.MaxInflightBytes < c.Limits.MaxRequestBytes {
		add("limits.max_inflight_bytes", strconv.FormatInt(c.Limits.MaxInflightBytes, 10), "must be at least limits.max_request_bytes, or no body that size could ever pass")
	}
	for _, d := range []struct {
		path string
		d    Duration
	}{{"timeouts.connect", c.Timeouts.Connect}, {"timeouts.request", c.Timeouts.Request}, {"timeouts.idle", c.Timeouts.Idle},
		{"timeouts.client_headers", c.Timeouts.ClientHeaders}, {"timeouts.client_request", c.Timeouts.ClientRequest},
		{"timeouts.stream_idle", c.Timeouts.StreamIdle}, {"timeouts.stream_keepalive", c.Timeouts.StreamKeepalive}} {
		if d.d < 0 {
			add(d.path, d.d.D().String(), "must be positive")
		}
	}
	if c.Timeouts.StreamIdle > 0 && c.Timeouts.Idle > 0 && c.Timeouts.StreamIdle >= c.Timeouts.Idle {
		// Envoy's own idle timeout would cut the stream first, silently.
		add("timeouts.stream_idle", c.Timeouts.StreamIdle.D().String(), "must be below timeouts.idle")
	}
	if c.Timeouts.ClientRequest > 0 && c.Timeouts.ClientHeaders > c.Timeouts.ClientRequest {
		add("timeouts.client_headers", c.Timeouts.ClientHeaders.D().String(), "must not exceed timeouts.client_request")
	}

	if p := c.AccessLog.Path; p != "" && !strings.HasPrefix(p, "/") {
		add("access_log.path", p, "must be an absolute path")
	}

	known := map[string]*Provider{}
	for i := range c.Providers {
		p := &c.Providers[i]
		at := fmt.Sprintf("providers[%d]", i)
		if !nameRE.MatchString(p.Name) {
			add(at+".name", p.Name, "must be lowercase letters, digits, '.', '_' or '-'")
		} else if known[p.Name] != nil {
			add(at+".name", p.Name, "duplicate provider name")
		} else {
			known[p.Name] = p
		}
		if _, ok := translators.SpecFor(translators.Schema(p.Schema)); !ok {
			if p.Schema == "" {
				add(at+".schema", "", "is required (known: %s)", schemaNames())
			} else {
				add(at+".schema", p.Schema, "unknown schema (known: %s)", schemaNames())
			}
		}
		schemaProblems(p, at, add)
		u, err := url.Parse(p.BaseURL)
		switch {
		case p.BaseURL == "":
			add(at+".base_url", "", "is required")
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "":
			add(at+".base_url", p.BaseURL, "must be an absolute http:// or https:// URL")
		case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
			add(at+".base_url", p.BaseURL, "must not carry a query, fragment or user info")
		case !validURLPort(u.Port()):
			add(at+".base_url", p.BaseURL, "port must be between 1 and 65535")
		default:
			p.url = u
		}
		if p.Key != nil {
			p.key, p.disabled = resolveKey(p, at, env, add, &warns)
		}
	}
	knownNames := strings.Join(sortedKeys(known), ", ")
	for i, name := range c.Routing.Policy.Providers {
		if known[name] == nil {
			add(fmt.Sprintf("routing.policy.providers[%d]", i), name, "unknown provider (known: %s)", knownNames)
		}
	}
	known = enabledOnly(known)
	names := map[string]bool{}
	for i, m := range c.Models {
		at := fmt.Sprintf("models[%d]", i)
		if m.Name == "" || strings.ContainsAny(m.Name, " \t\n") {
			add(at+".name", m.Name, "must be a non-empty name without spaces")
		} else if names[m.Name] {
			add(at+".name", m.Name, "duplicate model name")
		}
		names[m.Name] = true
		if len(m.Providers) == 0 {
			add(at+".providers", "", "must list at least one provider")
		}
		if m.Type != ModelChat && m.Type != ModelEmbeddings && m.Type != ModelImage {
			add(at+".type", m.Type, "must be chat, embeddings or image")
		}
		// A model's capabilities and context length are its providers'
		// defaults (applyDefaults copies them): check them once, here.
		checkCapabilities(at+".capabilities", m.Capabilities, add)
		if m.ContextLength < 0 {
			add(at+".context_length", strconv.Itoa(m.ContextLength), "must not be negative")
		}
		serving := map[string]bool{}
		for j, mp := range m.Providers {
			pat := fmt.Sprintf("%s.providers[%d]", at, j)
			if _, ok := known[mp.Provider]; !ok && !c.isDisabled(mp.Provider) {
				add(pat+".provider", mp.Provider, "unknown provider (known: %s)", knownNames)
			} else if serving[mp.Provider] {
				// The upstream hop finds a model's candidate by provider
				// name, so a second entry could never be used.
				add(pat+".provider", mp.Provider, "provider listed twice for this model")
			}
			serving[mp.Provider] = true
			if pr := known[mp.Provider]; pr != nil && m.Type == ModelImage {
				if spec, ok := translators.SpecFor(translators.Schema(pr.Schema)); ok && !spec.ServesEndpoint(translators.EndpointImages) {
					add(pat+".provider", mp.Provider, "schema %s makes no images (image models need openai, azure-openai, gemini, vertex-ai or bedrock)", pr.Schema)
				}
			}
			if mp.Weight < 0 {
				add(pat+".weight", strconv.Itoa(mp.Weight), "must not be negative")
			}
			if mp.Priority < 0 {
				add(pat+".priority", strconv.Itoa(mp.Priority), "must not be negative")
			}
			checkPrice(pat+".pricing", mp.Pricing, add)
			if inherited := len(mp.Capabilities) > 0 && len(m.Capabilities) > 0 && &mp.Capabilities[0] == &m.Capabilities[0]; !inherited {
				checkCapabilities(pat+".capabilities", mp.Capabilities, add)
			}
			if mp.ContextLength < 0 && mp.ContextLength != m.ContextLength {
				add(pat+".context_length", strconv.Itoa(mp.ContextLength), "must not be negative")
			}
		}
	}
	return errs, warns
}

// resolveKey reads a provider's credential. A missing key disables an
// optional provider and is an error otherwise.
func resolveKey(p *Provider, at string, env Env, add func(string, string, string, ...any), warns *[]string) (string, bool) {
	s := p.Key
	switch {
	case (s.Env == "") == (s.File == ""):
		add(at+".api_key", "", "must set exactly one of env or file")
		return "", false
	case s.Env != "":
		if v, ok := env(s.Env); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v), false
		}
		if p.Optional {
			*warns = append(*warns, fmt.Sprintf("provider %q disabled: environment variable %s is not set", p.Name, s.Env))
			return "", true
		}
		add(at+".api_key.env", s.Env, "environment variable is not set (mark the provider optional: true to skip it instead)")
	default:
		b, err := os.ReadFile(s.File)
		if err == nil && len(bytes.TrimSpace(b)) > 0 {
			return string(bytes.TrimSpace(b)), false
		}
		if p.Optional {
			*warns = append(*warns, fmt.Sprintf("provider %q disabled: key file %s is missing or empty", p.Name, s.File))
			return "", true
		}
		add(at+".api_key.file", s.File, "cannot read key file (missing or empty)")
	}
	return "", false
}

func (c *Config) isDisabled(name string) bool {
	for i := range c.Providers {
		if c.Providers[i].Name == name {
			return c.Providers[i].disabled
		}
	}
	return false
}

func enabledOnly(m map[string]*Provider) map[string]*Provider {
	for k, p := range m {
		if p.disabled {
			delete(m, k)
		}
	}
	return m
}

// sortedKeys lists the valid provider names for "known:" hints.
func sortedKeys(m map[string]*Provider) []string {
	s := make([]string, 0, len(m))
	for k := range m {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

func schemaNames() string {
	s := make([]string, len(translators.Schemas))
	for i, k := range translators.Schemas {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// validURLPort accepts an absent port (defaulted by scheme) or 1-65535.
func validURLPort(p string) bool {
	if p == "" {
		return true
	}
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}

// lineOf finds the line of a dotted/indexed path in a YAML tree, falling
// back to the deepest ancestor found.
func lineOf(root *yaml.Node, path string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, part := range splitPath(path) {
		var next *yaml.Node
		switch {
		case part.key != "" && n.Kind == yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == part.key {
					next = n.Content[i+1]
					line = n.Content[i].Line
				}
			}
		case part.key == "" && n.Kind == yaml.SequenceNode && part.index < len(n.Content):
			next = n.Content[part.index]
			line = next.Line
		}
		if next == nil {
			return line
		}
		n = next
	}
	if n.Kind == yaml.ScalarNode {
		line = n.Line
	}
	return line
}

type pathPart struct {
	key   string
	index int
}

func splitPath(path string) []pathPart {
	var out []pathPart
	for _, seg := range strings.Split(path, ".") {
		name, rest, _ := strings.Cut(seg, "[")
		if name != "" {
			out = append(out, pathPart{key: name})
		}
		for rest != "" {
			idx, after, _ := strings.Cut(rest, "]")
			n, _ := strconv.Atoi(idx)
			out = append(out, pathPart{index: n})
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return out
}

// schemaProblems fills schema-specific defaults and checks the fields a
// schema needs, before the base URL is parsed. The facts are the
// schema's spec (translators.SpecFor).
func schemaProblems(p *Provider, at string, add func(string, string, string, ...any)) {
	spec, ok := translators.SpecFor(translators.Schema(p.Schema))
	if !ok {
		return // reported as an unknown schema
	}
	if p.APIVersion == "" {
		p.APIVersion = spec.DefaultAPIVersion
	}
	if p.Region == "" && p.BaseURL != "" && spec.RegionFromHost != nil {
		if u, err := url.Parse(p.BaseURL); err == nil {
			p.Region = spec.RegionFromHost(u.Hostname())
		}
	}
	fields := map[string]string{"project": p.Project, "region": p.Region}
	for _, r := range spec.Requires {
		if fields[r.Field] == "" {
			add(at+"."+r.Field, "", r.Why)
		}
	}
	if p.BaseURL == "" && spec.BaseURL != nil {
		p.BaseURL = spec.BaseURL(p.Region)
	}
}

func checkPrice(path string, p Price, add func(string, string, string, ...any)) {
	for _, f := range []struct {
		name string
		v    float64
	}{{"prompt", p.Prompt}, {"completion", p.Completion}, {"cached_prompt", p.CachedPrompt}, {"request", p.Request}, {"image", p.Image}} {
		if f.v < 0 {
			add(path+"."+f.name, strconv.FormatFloat(f.v, 'g', -1, 64), "must not be negative")
		}
	}
}

func checkCapabilities(path string, caps []string, add func(string, string, string, ...any)) {
	for i, c := range caps {
		if !slices.Contains(KnownCapabilities, c) {
			add(fmt.Sprintf("%s[%d]", path, i), c, "unknown capability (known: %s)", strings.Join(KnownCapabilities, ", "))
		}
	}
}
