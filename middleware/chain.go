package middleware

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/translators"
)

// Chain is the ordered set of plugins the gateway runs. It is built once
// from config and shared by all requests.
type Chain struct {
	plugins []Plugin
	ids     []string
}

// NewChain builds a chain; the order is the order plugins start in.
func NewChain(plugins ...Plugin) (*Chain, error) {
	c := &Chain{}
	for i, p := range plugins {
		if p == nil {
			return nil, fmt.Errorf("middleware: plugin %d is nil", i)
		}
		id := p.ID()
		if id == "" {
			return nil, fmt.Errorf("middleware: plugin %d has no id", i)
		}
		if slices.Contains(c.ids, id) {
			return nil, fmt.Errorf("middleware: plugin %q is in the chain twice", id)
		}
		c.plugins, c.ids = append(c.plugins, p), append(c.ids, id)
	}
	return c, nil
}

// IDs lists the chain's plugin ids in order, for Policy.Validate.
func (c *Chain) IDs() []string { return slices.Clone(c.ids) }

// Has reports whether the chain has plugin id.
func (c *Chain) Has(id string) bool { return slices.Contains(c.ids, id) }

// OptionChecker is a plugin that can check a plugin block before any
// request carries it (a block a tenant or key forces, from the config).
type OptionChecker interface {
	CheckOptions(block []byte) error
}

// CheckOptions checks plugin id's block as the plugin reads it on a
// request; nil for plugins without options to check, or not in the chain.
func (c *Chain) CheckOptions(id string, block []byte) error {
	for _, p := range c.plugins {
		if oc, ok := p.(OptionChecker); ok && p.ID() == id {
			return oc.CheckOptions(block)
		}
	}
	return nil
}

// Request is one client request as the chain sees it.
type Request struct {
	// Body is the chat request in the OpenAI form (Normalized.Body), as
	// the client sent it: plugins, transforms and :online included.
	Body []byte
	// Policy is the tenant's policy narrowed by the key's
	// (Policy.Narrow); the zero Policy changes nothing.
	Policy Policy
	// NativeSearch: every provider the request may reach searches the
	// web itself (Input.NativeSearch).
	NativeSearch bool
}

// Run is the chain on one request.
type Run struct {
	// Body is the chat request to plan and translate: stripped of the
	// plugin syntax and rewritten by the plugins. It is the request's own
	// body when nothing changed.
	Body []byte
	// Local, when set, is a whole chat.completion a plugin answered with
	// (after the Afters of the plugins before it); nothing goes upstream
	// (translators.Exchange.Local).
	Local []byte
	// Usage holds one entry per plugin that spent something.
	Usage []Usage
	// Warnings are plugin notes for the client, "<id>: <note>".
	Warnings []string

	afters []After // in start order
}

// Active reports whether any plugin transforms the answer.
func (r *Run) Active() bool { return r != nil && len(r.afters) > 0 }

// Begin parses what the request asks of the chain, checks it against the
// policy and starts the plugins in chain order. Errors are
// *translators.APIError, ready for the client.
func (c *Chain) Begin(ctx context.Context, req Request) (*Run, error) {
	sel, err := Parse(req.Body)
	if err != nil {
		return nil, err
	}
	if sel.Empty() && req.Policy.Empty() {
		return &Run{Body: req.Body}, nil
	}
	sel, e := req.Policy.apply(sel)
	if e != nil {
		return nil, e
	}
	byID := make(map[string]Enabled, len(sel.Plugins))
	for _, en := range sel.Plugins {
		if !slices.Contains(c.ids, en.ID) && en.Path == "policy" {
			// The config offers a plugin this chain, built at start, lacks.
			return nil, &translators.APIError{Status: 503, Type: translators.TypeServer, Code: "plugin_unavailable",
				Message: "plugin " + strconv.Quote(en.ID) + " is forced by the caller's plugin policy but this gateway does not run it (plugins.* changes take a restart)"}
		}
		if !slices.Contains(c.ids, en.ID) {
			e := translators.BadRequest("unknown_plugin", "plugin "+strconv.Quote(en.ID)+" ("+en.Path+") is not served by this gateway (known: "+joinIDs(c.ids)+")")
			e.Param = en.Path
			return nil, e
		}
		byID[en.ID] = en
	}
	run := &Run{Body: Strip(req.Body)}
	stream := gjson.GetBytes(run.Body, "stream").Bool()
	for i, p := range c.plugins {
		en, ok := byID[p.ID()]
		if !ok {
			continue
		}
		step, err := p.Start(ctx, Input{Body: run.Body, Options: en.Options, Stream: stream, NativeSearch: req.NativeSearch})
		if err != nil {
			return nil, startError(p.ID(), err)
		}
		if !step.Usage.zero() {
			u := step.Usage
			u.Plugin = p.ID()
			run.Usage = append(run.Usage, u)
		}
		for _, w := range step.Warnings {
			run.Warnings = append(run.Warnings, p.ID()+": "+w)
		}
		if step.Body != nil {
			run.Body = step.Body
		}
		if step.Answer != nil {
			out, err := run.applyAnswer(step.Answer)
			if err != nil {
				return nil, startError(c.ids[i], err)
			}
			run.Local = out
			return run, nil
		}
		if step.After != nil {
			run.afters = append(run.afters, step.After)
		}
	}
	return run, nil
}

func startError(id string, err error) error {
	var ae *translators.APIError
	if errors.As(err, &ae) {
		return ae
	}
	return &translators.APIError{Status: 502, Type: translators.TypeUpstream, Code: "plugin_failed",
		Message: "plugin " + strconv.Quote(id) + " failed: " + err.Error()}
}

// Answer transforms a whole chat.completion through the plugins' Afters,
// the last started first. An error is a *translators.APIError.
func (r *Run) Answer(body []byte) ([]byte, error) {
	if !r.Active() {
		return body, nil
	}
	out, err := r.applyAnswer(body)
	if err != nil {
		return nil, startError("answer", err)
	}
	return out, nil
}

func (r *Run) applyAnswer(body []byte) ([]byte, error) {
	for i := len(r.afters) - 1; i >= 0; i-- {
		var err error
		if body, err = r.afters[i].Answer(body); err != nil {
			return nil, err
		}
	}
	return body, nil
}

// Transformer returns the composed stream transformer of the Afters (the
// last started sees chunks first), or nil when no plugin transforms the
// answer.
func (r *Run) Transformer() StreamTransformer {
	if !r.Active() {
		return nil
	}
	ts := make([]StreamTransformer, len(r.afters))
	for i, a := range r.afters {
		ts[len(ts)-1-i] = a.NewStream()
	}
	if len(ts) == 1 {
		return ts[0]
	}
	return newPipeline(ts)
}

// pipeline feeds each transformer's output to the next. Its stages are
// built once, so a chunk costs no allocation of its own.
type pipeline struct {
	ts     []StreamTransformer
	stages []func([]byte) // stages[i] feeds ts[i]; stages[len(ts)] is out
	out    func([]byte)
}

func newPipeline(ts []StreamTransformer) *pipeline {
	p := &pipeline{ts: ts, stages: make([]func([]byte), len(ts)+1)}
	p.stages[len(ts)] = func(c []byte) { p.out(c) }
	for i := len(ts) - 1; i >= 0; i-- {
		next := p.stages[i+1]
		p.stages[i] = func(c []byte) { p.ts[i].Chunk(c, next) }
	}
	return p
}

func (p *pipeline) Chunk(chunk []byte, emit func([]byte)) {
	p.out = emit
	p.stages[0](chunk)
}

func (p *pipeline) Finish(emit func([]byte)) {
	p.out = emit
	// Each stage's leftovers still go through the stages after it.
	for i, t := range p.ts {
		t.Finish(p.stages[i+1])
	}
}

func joinIDs(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	s := slices.Clone(ids)
	slices.Sort(s)
	return strings.Join(s, ", ")
}
