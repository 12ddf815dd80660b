package config

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
)

// Plugins configures the middleware chain: plugins a request may enable
// with OpenRouter's syntax ("plugins": [{"id": "web"}], the :online
// suffix). A plugin without a block here is not offered.
type Plugins struct {
	Web *WebPlugin `yaml:"web"`
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

	key string
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
