package extproc

import (
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchboard-gw/switchboard/translators"
	"github.com/switchboard-gw/switchboard/xds"
)

// The upstream hop hands a successful answer's body to the router hop
// (handOff); the router hop takes it up (adoptResponse) with the same
// translation code.

// handOff answers the response headers and, when the router hop takes
// over, leaves it what it needs to translate the body and closes this
// hop's stream: Envoy then passes the body through this filter
// unprocessed. A filter on the provider cluster that holds the end of
// a response after the provider's HTTP/1 stream has finished crashes
// Envoy 1.40 on the next flow-control watermark (the router calls
// readDisable on the finished stream), so only the connection manager's
// filter holds answer bodies. Without a router hop that takes over (an
// older one during a rolling upgrade), this hop translates as before.
func (p *upstreamProcessor) handOff(m *extprocv3.HeaderMutation) *extprocv3.ProcessingResponse {
	resp := continueResponseHeaders(m)
	if !p.handOver {
		return resp
	}
	mode := "whole"
	switch p.mode {
	case modeStream:
		mode = "stream"
	case modePassThrough:
		mode = "passthrough"
	}
	resp.DynamicMetadata = namespaceStruct(xds.AttemptNamespace, p.handoverFields(mode))
	p.handedOff, p.completed = true, true
	return resp
}

// spill hands an unsized answer that outgrew what this hop holds
// (spillAt) to the router hop mid-body: the held headers go with the
// hand-over, then every chunk so far unchanged, and the rest passes
// through this filter unprocessed. The router hop holds the status no
// longer than its own limit, so the answer is committed from here on.
func (p *upstreamProcessor) spill() *extprocv3.ProcessingResponse {
	p.queue = append(p.queue, p.handOff(p.held))
	for range p.heldChunks {
		p.queue = append(p.queue, continueResponseBody(nil))
	}
	p.held, p.heldChunks, p.buf = nil, 0, nil
	return continueResponseBody(nil)
}

// handoverFields are what the router hop needs to take over this
// attempt's answer (adopt).
func (p *upstreamProcessor) handoverFields(mode string) map[string]*structpb.Value {
	// Built directly: structpb.NewStruct goes through a map[string]any
	// and boxes every value twice (BenchmarkHandOff).
	return map[string]*structpb.Value{
		"provider": structpb.NewStringValue(p.provider.Name), "model": structpb.NewStringValue(p.model),
		"upstream_model": structpb.NewStringValue(p.cand.Model), "attempt": structpb.NewNumberValue(float64(p.attempt)),
		"mode": structpb.NewStringValue(mode), "stream": structpb.NewBoolValue(p.x.Stream),
		"include_usage": structpb.NewBoolValue(p.x.IncludeUsage), "exclude": structpb.NewBoolValue(p.x.ExcludeReasoning),
		"base64": structpb.NewBoolValue(p.x.Base64), "native": structpb.NewBoolValue(p.x.Native),
		"sent_unix_us": structpb.NewNumberValue(float64(p.sent.UnixMicro())),
		"publisher":    structpb.NewStringValue(p.x.Publisher),
	}
}

// adoptResponse sets up p, in the router hop, to translate the answer the
// upstream hop handed over (see handOff). It reports false when the
// hand-over names a provider or model the running config no longer has;
// the body then passes through.
func (p *upstreamProcessor) adoptResponse(h *extprocv3.HttpHeaders, a map[string]*structpb.Value) bool {
	if !p.adopt(a) {
		return false
	}
	p.status = statusOf(h)
	switch a["mode"].GetStringValue() {
	case "stream":
		p.mode = modeStream
		p.stream = p.x.NewStream()
	case "passthrough":
		p.mode, p.completed = modePassThrough, true
	default:
		p.mode = modeWhole
		// Settle the status before the client sees it: the headers wait
		// for the body (see maxHeldUnsized).
		p.held, p.holdLimit = &extprocv3.HeaderMutation{}, maxHeldUnsized
	}
	return true
}

// adopt sets up p, in the router hop, as the attempt the hand-over a
// describes.
func (p *upstreamProcessor) adopt(a map[string]*structpb.Value) bool {
	prov, ok := p.cfg.Catalog.Provider(a["provider"].GetStringValue())
	if !ok {
		return false
	}
	p.provider = prov
	p.secrets.add(prov.APIKey()) // dynamic tokens are cut by their shape
	p.model = a["model"].GetStringValue()
	route, ok := p.cfg.Catalog.Model(p.model)
	if ok {
		p.cand, ok = route.Candidate(prov.Name)
	}
	if !ok {
		return false
	}
	p.cand.Model = a["upstream_model"].GetStringValue()
	p.attempt = int(a["attempt"].GetNumberValue())
	x, ok := translators.Resume(translators.Facts{
		API: p.api.Endpoint, Schema: translators.Schema(prov.Schema), Provider: prov.Name, Model: p.cand.Model,
		Stream: a["stream"].GetBoolValue(), IncludeUsage: a["include_usage"].GetBoolValue(),
		ExcludeReasoning: a["exclude"].GetBoolValue(), Base64: a["base64"].GetBoolValue(), Native: a["native"].GetBoolValue(),
		Publisher: a["publisher"].GetStringValue(),
	}, p.client)
	if !ok {
		return false
	}
	x.Price = translators.Price(p.cand.Spec.Pricing)
	p.applyRun(x) // the plugins transform the answer in its chat form
	p.x = x
	p.spec, _ = translators.SpecFor(x.Schema)
	p.sent = time.UnixMicro(int64(a["sent_unix_us"].GetNumberValue()))
	p.start = p.sent
	return true
}

// namespaceStruct is dynamic metadata holding one namespace's fields.
func namespaceStruct(ns string, fields map[string]*structpb.Value) *structpb.Struct {
	return &structpb.Struct{Fields: map[string]*structpb.Value{ns: structpb.NewStructValue(&structpb.Struct{Fields: fields})}}
}
