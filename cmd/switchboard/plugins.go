package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/middleware"
	"github.com/switchboard-gw/switchboard/plugins/compress"
	"github.com/switchboard-gw/switchboard/plugins/fileparser"
	"github.com/switchboard-gw/switchboard/plugins/healing"
	"github.com/switchboard-gw/switchboard/plugins/web"
	"github.com/switchboard-gw/switchboard/tokens"
	"github.com/switchboard-gw/switchboard/translators"
)

// checkForced checks the block of every plugin the config's tenants and
// keys force, as the chain reads it on each of their requests: a bad
// block is a config error naming it, not a 400 on every request of the
// tenant.
func checkForced(file string, l *config.Loaded, chain *middleware.Chain) error {
	if chain == nil {
		return nil
	}
	var errs config.Errors
	check := func(at string, p config.PluginPolicy) {
		for i, f := range p.Force {
			if len(f.Options) == 0 {
				continue
			}
			if err := chain.CheckOptions(f.ID, f.Options); err != nil {
				msg := err.Error()
				if ae, ok := errors.AsType[*translators.APIError](err); ok {
					msg = ae.Message // the client's error, minus its status
				}
				errs = append(errs, config.FieldError{File: file, Path: fmt.Sprintf("%s.plugins.force[%d]", at, i), Msg: msg})
			}
		}
	}
	for i, t := range l.Governance.Tenants {
		check(fmt.Sprintf("governance.tenants[%d]", i), t.Plugins)
	}
	for i, k := range l.Governance.Keys {
		check(fmt.Sprintf("governance.keys[%d]", i), k.Plugins)
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// buildPlugins wires the middleware chain: the file parser, middle-out
// and response healing always, web search when the config names a
// backend. Plugins are built at start: changing plugins.* takes a
// restart: plugin policies are checked at load against the config's
// plugins (config.Plugins.Offered, which must match what is built here),
// so web added to a running gateway is refused by the chain until then,
// with 503 plugin_unavailable where a policy forces it. Answers go back through the chain reversed: healing, last in,
// repairs an answer before web search cites it.
func buildPlugins(cfg *config.Loaded, current func() *config.Loaded, log *zap.Logger) (*middleware.Chain, *web.Plugin, error) {
	// Plugins that need no outside service are always offered; a
	// request still has to ask for them.
	contextOf := func(model string) compress.Limits {
		if r, ok := current().Catalog.Model(model); ok {
			return compress.Limits{ContextTokens: r.ContextLength}
		}
		return compress.Limits{}
	}
	// Middle-out counts a model's tokens with its OpenAI encoding, or
	// approximates with o200k_base and a margin when any of its providers
	// serves another family. o200k_base is built now (about 25 ms), not on
	// the first request that needs it.
	countOf := func(model string) tokens.Options {
		r, ok := current().Catalog.Model(model)
		if !ok {
			return tokens.Options{}
		}
		ids := make([]string, len(r.Candidates))
		for i, c := range r.Candidates {
			ids[i] = c.Model
		}
		return tokens.ForModels(ids...)
	}
	if _, err := tokens.Counter(tokens.O200k); err != nil {
		log.Warn("middle-out counts tokens by estimate", zap.Error(err))
	}
	var webPlugin *web.Plugin
	plugins := []middleware.Plugin{
		fileparser.Plugin{Parser: fileparser.New(fileparser.Config{})},
		compress.Plugin{LimitsOf: contextOf, OptionsOf: countOf},
		healing.Plugin{},
	}
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
			return nil, nil, fmt.Errorf("plugins.web: %w", err)
		}
		p, err := web.New(web.Config{
			Backends: []web.Backend{b}, DefaultResults: w.DefaultResults, MaxResults: w.MaxResults,
			Timeout: w.Timeout.D(), FailureMode: web.FailureMode(w.FailureMode), CostPerResult: w.CostPerResult,
			PreferNative: w.PreferNative, Log: log.Named("web"),
		})
		if err != nil {
			return nil, nil, fmt.Errorf("plugins.web: %w", err)
		}
		plugins = append(plugins, p)
		webPlugin = p
	}
	chain, err := middleware.NewChain(plugins...)
	if err != nil {
		return nil, nil, err
	}
	// Config validates plugin policies against the ids it says the chain
	// has; they must be the ones built here.
	ids := chain.IDs()
	slices.Sort(ids)
	if offered := cfg.Plugins.Offered(); !slices.Equal(ids, offered) {
		return nil, nil, fmt.Errorf("plugins: the chain has %v but config.Plugins.Offered says %v", ids, offered)
	}
	return chain, webPlugin, nil
}

// serveWebLoop serves the web search loop (plugins/web.Loop) on
// plugins.web.loop_address until stop: Envoy's loop cluster sends it
// server-tool requests, and it sends each round back to Envoy's
// listener.
func serveWebLoop(cfg *config.Loaded, current func() *config.Loaded, p *web.Plugin, log *zap.Logger, errc chan<- error) (stop func(), err error) {
	w := cfg.Plugins.Web
	gateway := func() string {
		l := current().Listener
		host := l.Address
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			host = "127.0.0.1" // the listener is on every address, loopback too
		}
		return "http://" + net.JoinHostPort(host, strconv.Itoa(l.Port))
	}
	loop := &web.Loop{
		Plugin:  p,
		Gateway: gateway,
		Client:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}},
		MaxBody: cfg.Limits.MaxRequestBytes,
		Log:     log,
	}
	lis, err := net.Listen("tcp", w.LoopAddress)
	if err != nil {
		return nil, fmt.Errorf("plugins.web.loop_address: %w", err)
	}
	srv := &http.Server{Handler: loop, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("web search loop: %w", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
