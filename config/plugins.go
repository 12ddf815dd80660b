package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Plugins configures the middleware chain: plugins a request may enable
// with OpenRouter's syntax ("plugins": [{"id": "web"}], the :online
// suffix). A plugin without a block here is not offered.
type Plugins struct {
	Web *WebPlugin `yaml:"web"`
}

// The plugin ids of the chain cmd/switchboard builds (each plugin
// package's own id); buildPlugins checks that its chain is Offered.
const (
	PluginWeb        = "web"
	PluginFileParser = "file-parser"
	PluginHealing    = "response-healing"
	PluginMiddleOut  = "middle-out"
)

// Offered lists the ids of the plugins the gateway runs with this config,
// sorted: file-parser, middle-out and response-healing always, web when
// plugins.web configures it. Plugin policies may name only these.
func (p Plugins) Offered() []string {
	ids := []string{PluginFileParser, PluginMiddleOut, PluginHealing}
	if p.Web != nil {
		ids = append(ids, PluginWeb)
	}
	slices.Sort(ids)
	return ids
}

// PluginPolicy is what a tenant's or a key's requests may do with the
// plugins (docs/plugins.md). A key's policy narrows its tenant's. Default:
// a request may enable any plugin the gateway offers, and none is forced.
type PluginPolicy struct {
	// Allow lists the plugins a request may enable. Default: all.
	Allow []string `yaml:"allow"`
	// Deny lists plugins a request may not enable; it wins over allow.
	Deny []string `yaml:"deny"`
	// Force lists plugins that run on every request whether it asks or
	// not, each as a request's plugin block ({id: web, max_results: 3})
	// or a bare id. A request that enables a forced plugin itself keeps
	// its own block; a key cannot deny a plugin its tenant forces.
	Force []ForcedPlugin `yaml:"force"`
}

// Empty reports whether the policy changes nothing.
func (p PluginPolicy) Empty() bool { return len(p.Allow) == 0 && len(p.Deny) == 0 && len(p.Force) == 0 }

// ForcedPlugin is one always-on plugin of a PluginPolicy.
type ForcedPlugin struct {
	ID string
	// Options is the plugin block as a JSON object, id included.
	Options []byte
}

// UnmarshalYAML takes a plugin block (a mapping with an id) or a bare id.
func (f *ForcedPlugin) UnmarshalYAML(n *yaml.Node) error {
	bad := func(msg string) error {
		return &yaml.TypeError{Errors: []string{"line " + strconv.Itoa(n.Line) + ": " + msg}}
	}
	switch n.Kind {
	case yaml.ScalarNode:
		*f = ForcedPlugin{ID: n.Value}
		return nil
	case yaml.MappingNode:
		var m map[string]any
		if err := n.Decode(&m); err != nil {
			return bad("a forced plugin must be a plugin id or {id: ID, ...}")
		}
		b, err := json.Marshal(m)
		if err != nil {
			return bad("forced plugin block: " + err.Error())
		}
		id, _ := m["id"].(string)
		*f = ForcedPlugin{ID: id, Options: b}
		return nil
	}
	return bad("a forced plugin must be a plugin id or {id: ID, ...}")
}

// checkPluginPolicy validates a tenant's or key's plugins block; at is
// its owner's path. For a key, tenant is its tenant's policy.
func checkPluginPolicy(at string, p, tenant *PluginPolicy, offered []string, add func(string, string, string, ...any)) {
	at += ".plugins"
	unknown := func(path, id string) bool {
		if slices.Contains(offered, id) {
			return false
		}
		hint := ""
		if id == PluginWeb {
			hint = "; web is offered when plugins.web configures a search backend"
		}
		add(path, id, "unknown plugin (known: %s%s)", strings.Join(offered, ", "), hint)
		return true
	}
	for i, id := range p.Allow {
		unknown(fmt.Sprintf("%s.allow[%d]", at, i), id)
	}
	for i, id := range p.Deny {
		path := fmt.Sprintf("%s.deny[%d]", at, i)
		if !unknown(path, id) && tenant != nil && tenant.forces(id) {
			add(path, id, "the tenant forces this plugin; a key cannot turn it off")
		}
	}
	for i, f := range p.Force {
		path := fmt.Sprintf("%s.force[%d]", at, i)
		switch {
		case f.ID == "":
			add(path+".id", "", "a forced plugin needs an id")
		case unknown(path, f.ID):
		case slices.Contains(p.Deny, f.ID):
			add(path, f.ID, "the plugin is also denied")
		case slices.ContainsFunc(p.Force[:i], func(g ForcedPlugin) bool { return g.ID == f.ID }):
			add(path, f.ID, "the plugin is forced twice")
		case tenant != nil && !tenant.forces(f.ID) && !tenant.allows(f.ID):
			add(path, f.ID, "the tenant does not allow this plugin; a key cannot widen its tenant")
		}
	}
}

func (p *PluginPolicy) forces(id string) bool {
	return slices.ContainsFunc(p.Force, func(f ForcedPlugin) bool { return f.ID == id })
}

func (p *PluginPolicy) allows(id string) bool {
	return !slices.Contains(p.Deny, id) && (len(p.Allow) == 0 || slices.Contains(p.Allow, id))
}

// WebPlugin is the web search plugin: the gateway searches, adds the
// results to the prompt, and cites them in the answer.
type WebPlugin struct {
	// Backend is the search API: searxng (self-hosted, the default),
	// exa, tavily or brave.
	Backend string `yaml:"backend"`
	// BaseURL is the backend's API root, e.g. http://searxng:8080 or
	// https://api.exa.ai.
	BaseURL string `yaml:"base_url"`
	// APIKey is the backend's key (exa, tavily, brave).
	APIKey *Secret `yaml:"api_key"`
	// DefaultResults and MaxResults bound a request's max_results.
	// Defaults 5 and 10.
	DefaultResults int `yaml:"default_results"`
	MaxResults     int `yaml:"max_results"`
	// Timeout bounds one search. Default 5s.
	Timeout Duration `yaml:"timeout"`
	// FailureMode: continue (answer without results, the default) or
	// fail (the request fails with 502).
	FailureMode string `yaml:"failure_mode"`
	// CostPerResult is the USD price of one result used, added to the
	// answer's cost. Default 0.
	CostPerResult float64 `yaml:"cost_per_result"`
	// PreferNative leaves Anthropic's web_search server tool to the
	// provider when every provider of the model runs it natively
	// (schema anthropic); otherwise the gateway searches. Default false:
	// the gateway searches for every provider.
	PreferNative bool `yaml:"prefer_native"`
	// LoopAddress is where the gateway serves Anthropic's web_search
	// server tool in its tool form (the model calls the search, round
	// after round): a loopback host:port that Envoy's loop cluster
	// reaches and that calls Envoy's listener back for each round.
	// Default 127.0.0.1:18002. It carries the caller's credentials, so it
	// never listens off loopback.
	LoopAddress string `yaml:"loop_address"`

	key string
}

// DefaultLoopAddress is plugins.web.loop_address's default.
const DefaultLoopAddress = "127.0.0.1:18002"

// LoopHostPort splits LoopAddress.
func (w *WebPlugin) LoopHostPort() (string, int) {
	h, p, _ := net.SplitHostPort(w.LoopAddress)
	n, _ := strconv.Atoi(p)
	return h, n
}

// Key is the resolved backend key.
func (w *WebPlugin) Key() string { return w.key }

// WebBackends are the search APIs the web plugin speaks.
var WebBackends = []string{"searxng", "exa", "tavily", "brave"}

func (c *Config) checkPlugins(env Env, add func(path, value, format string, args ...any)) {
	w := c.Plugins.Web
	if w == nil {
		return
	}
	if w.Backend == "" {
		w.Backend = "searxng"
	}
	if w.FailureMode == "" {
		w.FailureMode = "continue"
	}
	if w.LoopAddress == "" {
		w.LoopAddress = DefaultLoopAddress
	}
	if h, p, err := net.SplitHostPort(w.LoopAddress); err != nil || !IsLoopback(h) {
		add("plugins.web.loop_address", w.LoopAddress, "must be a loopback host:port (it carries callers' credentials)")
	} else if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
		add("plugins.web.loop_address", w.LoopAddress, "port must be 1-65535")
	}
	if !slices.Contains(WebBackends, w.Backend) {
		add("plugins.web.backend", w.Backend, "unknown backend (known: %s)", strings.Join(WebBackends, ", "))
	}
	if u, err := url.Parse(w.BaseURL); w.BaseURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("plugins.web.base_url", w.BaseURL, "must be an absolute http:// or https:// URL")
	}
	if w.FailureMode != "continue" && w.FailureMode != "fail" {
		add("plugins.web.failure_mode", w.FailureMode, "must be continue or fail")
	}
	if w.DefaultResults < 0 || w.MaxResults < 0 || w.MaxResults > 50 || (w.MaxResults > 0 && w.DefaultResults > w.MaxResults) {
		add("plugins.web.max_results", fmt.Sprint(w.MaxResults), "results must be between 0 and 50, default_results at most max_results")
	}
	if w.Timeout < 0 {
		add("plugins.web.timeout", w.Timeout.D().String(), "must be positive")
	}
	if w.CostPerResult < 0 {
		add("plugins.web.cost_per_result", fmt.Sprint(w.CostPerResult), "must not be negative")
	}
	needsKey := w.Backend != "searxng"
	switch {
	case w.APIKey == nil && needsKey:
		add("plugins.web.api_key", "", "is required for backend %s", w.Backend)
	case w.APIKey != nil && (w.APIKey.Env == "") == (w.APIKey.File == ""):
		add("plugins.web.api_key", "", "must set exactly one of env or file")
	case w.APIKey != nil && w.APIKey.Env != "":
		if v, ok := env(w.APIKey.Env); ok && strings.TrimSpace(v) != "" {
			w.key = strings.TrimSpace(v)
		} else {
			add("plugins.web.api_key.env", w.APIKey.Env, "environment variable is not set")
		}
	case w.APIKey != nil:
		b, err := os.ReadFile(w.APIKey.File)
		if err != nil || len(bytes.TrimSpace(b)) == 0 {
			add("plugins.web.api_key.file", w.APIKey.File, "cannot read key file (missing or empty)")
		} else {
			w.key = string(bytes.TrimSpace(b))
		}
	}
}
