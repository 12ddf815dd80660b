package main

import (
	"fmt"

	"go.uber.org/zap"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/middleware"
	"github.com/switchboard-gw/switchboard/plugins/web"
)

// buildPlugins wires the middleware chain the config names; nil when it
// names none. Plugins are built at start: changing them takes a restart.
func buildPlugins(cfg *config.Loaded, log *zap.Logger) (*middleware.Chain, error) {
	var plugins []middleware.Plugin
	if w := cfg.Plugins.Web; w != nil {
		hc := web.HTTPConfig{BaseURL: w.BaseURL, APIKey: w.Key()}
		var b web.Backend
		var err error
		switch w.Backend {
		case "exa":
			b, err = web.NewExa(hc)
		case "tavily":
			b, err = web.NewTavily(hc, false)
		case "brave":
			b, err = web.NewBrave(hc)
		default:
			b, err = web.NewSearXNG(hc)
		}
		if err != nil {
			return nil, fmt.Errorf("plugins.web: %w", err)
		}
		p, err := web.New(web.Config{
			Backends: []web.Backend{b}, DefaultResults: w.DefaultResults, MaxResults: w.MaxResults,
			Timeout: w.Timeout.D(), FailureMode: web.FailureMode(w.FailureMode), CostPerResult: w.CostPerResult,
			Log: log.Named("web"),
		})
		if err != nil {
			return nil, fmt.Errorf("plugins.web: %w", err)
		}
		plugins = append(plugins, p)
	}
	if len(plugins) == 0 {
		return nil, nil
	}
	return middleware.NewChain(plugins...)
}
