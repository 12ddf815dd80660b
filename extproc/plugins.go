package extproc

import (
	"bytes"
	"context"
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/tidwall/gjson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/middleware"
	"github.com/switchboard-gw/switchboard/translators"
	"github.com/switchboard-gw/switchboard/xds"
)

// The middleware chain runs in the router hop: on the request's chat
// form before planning (a plugin may rewrite it, or answer it itself),
// and on the answer's chat form before it becomes the client's API. A
// rewritten request goes upstream in chat form (Facts.ChatForm), and
// every successful answer is handed to the router hop, which holds the
// plugins' state for the request.

// SetPlugins turns the middleware chain on.
func (s *Server) SetPlugins(c *middleware.Chain) { s.chain = c }

// startPlugins runs the chain on the request's chat form. It returns the
// body to plan on, or a response when the request is answered here.
func (p *routerProcessor) startPlugins(ctx context.Context, body []byte) ([]byte, *extprocv3.ProcessingResponse) {
	// Plugins work on conversations; embeddings and images pass (a
	// forced plugin would otherwise turn them into chat requests).
	if p.s.chain == nil || p.api.ModelType != translators.ModelTypeChat {
		return body, nil
	}
	req := middleware.Request{Body: body, NativeSearch: p.providersSearch(body)}
	if w := p.caller.who; w != nil {
		// The caller's tenant and key: what it may enable, what is
		// always on. No key (auth off) is no policy.
		req.Policy = w.Plugins
	}
	run, err := p.s.chain.Begin(ctx, req)
	if err != nil {
		return nil, p.fail(asAPIError(err))
	}
	if run.Local != nil {
		out, err := p.api.FromChat(middleware.ApplyUsage(run.Local, run.Usage), p.client)
		if err != nil {
			return nil, p.fail(asAPIError(err))
		}
		return nil, localAnswer(out, nil)
	}
	if !run.Active() && bytes.Equal(run.Body, body) {
		return body, nil
	}
	p.run = run
	return run.Body, nil
}

// toWebLoop reports whether a request that declares a web search tool
// goes to the web search loop (plugins/web.Loop): Anthropic's
// web_search server tool on /v1/messages, or the Responses API's
// web_search tool on /v1/responses. The model calls the search, the
// gateway runs it and continues the turn, on any provider. The request
// goes there as the client sent it; each round comes back through Envoy
// as a request of its own, authenticated, routed and billed as any. With
// plugins.web.prefer_native and only providers that take the API
// natively and search themselves (Anthropic for the server tool, OpenAI's
// own API for Responses) the tool goes to them as sent; without plugins.web it goes natively to
// those providers and is refused (messages) or dropped (responses)
// elsewhere.
func (p *routerProcessor) toWebLoop(body []byte) (bool, *translators.APIError) {
	if p.s.chain == nil || p.cfg.Plugins.Web == nil || !p.s.chain.Has(middleware.WebID) {
		return false, nil
	}
	var is func(string) bool
	var native translators.Schema
	switch p.api.Endpoint {
	case translators.EndpointMessages:
		is, native = translators.IsWebSearchTool, translators.SchemaAnthropic
	case translators.EndpointResponses:
		is, native = translators.IsResponsesWebSearchTool, translators.SchemaOpenAI
	default:
		return false, nil
	}
	found := false
	gjson.GetBytes(body, "tools").ForEach(func(_, t gjson.Result) bool {
		found = is(t.Get("type").Str)
		return !found
	})
	// The client's body names the model as the chat form does.
	nativeTo := func(c config.Candidate) bool {
		spec, ok := translators.SpecFor(translators.Schema(c.Provider.Schema))
		return ok && spec.Schema == native && translators.NativeFor(p.api, spec, translators.Target{Model: c.Model, Host: c.Provider.Host()})
	}
	if !found || p.preferNative(body, nativeTo) {
		return false, nil
	}
	if w := p.caller.who; w != nil {
		if e := w.Plugins.Permits(middleware.WebID, "tools"); e != nil {
			return false, e
		}
	}
	return true, nil
}

// webLoop sends the request to the loop's route, unchanged.
func (p *routerProcessor) webLoop() *extprocv3.ProcessingResponse {
	m := &extprocv3.HeaderMutation{RemoveHeaders: p.internal, SetHeaders: []*corev3.HeaderValueOption{header(xds.ModelHeader, xds.LoopModel)}}
	return continueRequestBody(m, nil, true)
}

// providersSearch reports, when plugins.web.prefer_native is set,
// whether every candidate of the request's model searches the web itself
// (translators.Spec.WebSearch), so the web plugin may leave it to them.
func (p *routerProcessor) providersSearch(chat []byte) bool {
	return p.preferNative(chat, func(c config.Candidate) bool {
		spec, ok := translators.SpecFor(translators.Schema(c.Provider.Schema))
		return ok && spec.WebSearch != nil && spec.WebSearch(c.Model)
	})
}

// preferNative reports whether plugins.web.prefer_native is set and
// every candidate of the chat body's model (":online" looked through)
// passes native.
func (p *routerProcessor) preferNative(chat []byte, native func(config.Candidate) bool) bool {
	if w := p.cfg.Plugins.Web; w == nil || !w.PreferNative {
		return false
	}
	name, _ := strings.CutSuffix(gjson.GetBytes(chat, "model").Str, ":online")
	route, ok := p.cfg.Catalog.Model(name)
	if !ok || len(route.Candidates) == 0 {
		return false
	}
	for _, c := range route.Candidates {
		if !native(c) {
			return false
		}
	}
	return true
}

// pluginRequest is the request body answer when plugins rewrote the
// request: the new body goes upstream, and the upstream hop is told it is
// the chat form and to hand every answer over.
func (p *routerProcessor) pluginRequest(m *extprocv3.HeaderMutation, resp *extprocv3.ProcessingResponse, body []byte) {
	if p.run == nil {
		return
	}
	m.SetHeaders = append(m.SetHeaders, header("content-length", strconv.Itoa(len(body))))
	resp.GetRequestBody().GetResponse().BodyMutation = replaceBody(body)
	req := resp.DynamicMetadata.Fields[xds.RequestNamespace].GetStructValue()
	req.Fields["handover_all"] = structpb.NewBoolValue(true)
	if p.api.Endpoint != translators.EndpointChat {
		req.Fields["chat_form"] = structpb.NewBoolValue(true)
	}
}

// applyRun gives an answer's exchange the plugins' transforms.
func (p *upstreamProcessor) applyRun(x *translators.Exchange) {
	run := p.run
	if run == nil {
		return
	}
	x.AfterChat = func(chat []byte, _ translators.Usage) ([]byte, error) {
		out, err := run.Answer(chat)
		if err != nil {
			return nil, err
		}
		return middleware.ApplyUsage(out, run.Usage), nil
	}
	if t := run.Transformer(); t != nil {
		t = middleware.WithUsage(t, run.Usage)
		x.WrapChat = func(st translators.StreamTranslator) translators.StreamTranslator {
			return middleware.WrapStream(st, t)
		}
	}
}

// pluginUsage is what the plugins' own calls spent (searches and their
// results), the web search loop's included.
func (p *routerProcessor) pluginUsage() middleware.Usage {
	us := []middleware.Usage{p.searched}
	if p.run != nil {
		us = append(us, p.run.Usage...)
	}
	return middleware.Total(us)
}

// readSearches takes the searches the web search loop reports on a round
// (middleware.SearchesHeader) and prices them. Without plugins.web the
// header is dropped unread: nothing here ran searches.
func (p *routerProcessor) readSearches() *translators.APIError {
	w := p.cfg.Plugins.Web
	if p.searchesRaw == "" || w == nil {
		return nil
	}
	u, err := middleware.ParseSearches(p.searchesRaw)
	if err != nil {
		return translators.BadRequest("invalid_header", err.Error())
	}
	u.Cost = float64(u.Results) * w.CostPerResult
	p.searched = u
	return nil
}
