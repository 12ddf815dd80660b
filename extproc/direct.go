package extproc

import (
	"context"
	"slices"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchboard-gw/switchboard/routing"
	"github.com/switchboard-gw/switchboard/translators"
	"github.com/switchboard-gw/switchboard/xds"
)

// A plan of one attempt on one provider needs no upstream hop: no
// fallback follows, so there is no second translation for another
// provider. The router hop translates the request itself, with the
// upstream hop's code, and sends it to the provider's direct cluster
// (xds.DirectClusterName), which runs no ext_proc filter; it answers the
// response as it answers any last attempt (router_answer.go). One gRPC
// stream per request instead of two. A stream's headers wait for its
// first byte here, as in the upstream hop, and since Envoy's per-try
// timer stops once its router has the headers, this hop keeps the rest
// of the per-try timeout itself (wake.go).
//
// Only when Envoy's routes come from a config this process built
// (directOK): those have the direct clusters. During a rolling upgrade
// an older control plane's routes name a version this process does not
// know, and requests take the two hops.

// goDirect makes resp (the answer to the request body) send the request
// to the provider's direct cluster, translated, when the plan allows.
// original is the client's body; m is resp's header mutation.
func (p *routerProcessor) goDirect(ctx context.Context, resp *extprocv3.ProcessingResponse, m *extprocv3.HeaderMutation, plan routing.Plan, original []byte) bool {
	if !p.directOK || p.turn != nil || p.api.Decodes() || len(plan.Groups) != 1 || len(plan.Groups[0]) != 1 {
		return false
	}
	c := plan.Groups[0][0]
	spec, ok := translators.SpecFor(translators.Schema(c.Provider.Schema))
	if !ok {
		return false
	}
	req := resp.DynamicMetadata.GetFields()[xds.RequestNamespace].GetStructValue().GetFields()
	up := &upstreamProcessor{s: p.s, cfg: p.cfg, api: p.api, client: p.client, run: p.run, capture: p.capture,
		provider: c.Provider, spec: spec, model: c.Route.Name, plan: p.plan, attempt: 1, ctype: p.ctype,
		chatForm: req["chat_form"].GetBoolValue(), handoverAll: req["handover_all"].GetBoolValue(),
		inRouter: true, start: time.Now()}
	up.readRequestHeaders(p.headers)
	body := original
	if bm := resp.GetRequestBody().GetResponse().GetBodyMutation(); bm != nil {
		body = bm.GetBody() // the plugins' request
	}
	hm, out, early := up.buildRequest(ctx, body)
	if early != nil {
		// An error or a local answer: the upstream hop gives it, as for
		// any plan.
		return false
	}
	up.applyRun(up.x) // the plugins transform the answer in its chat form
	// The route matches on headers this hop must leave; the direct
	// cluster removes them (xds.DirectRemovedHeaders). The translation
	// sets content-length.
	m.SetHeaders = slices.DeleteFunc(m.SetHeaders, func(h *corev3.HeaderValueOption) bool { return h.GetHeader().GetKey() == "content-length" })
	m.SetHeaders = append(m.SetHeaders, hm.SetHeaders...)
	for _, k := range hm.RemoveHeaders {
		if !slices.Contains(xds.DirectRemovedHeaders, k) {
			m.RemoveHeaders = append(m.RemoveHeaders, k)
		}
	}
	resp.GetRequestBody().GetResponse().BodyMutation = replaceBody(out)
	fields := resp.DynamicMetadata.Fields
	// The attempt is listed even if no response comes. It stays here:
	// this hop settles it, and in Envoy's metadata it would come back
	// with every later message (the upstream hop's hand-over namespace).
	p.attempts = []attemptUsage{{provider: c.Provider.Name, model: up.cand.Model, attempt: 1}}
	fields[xds.PlanNamespace] = p.s.directOverride(plan)
	p.own, p.direct = up, true
	return true
}

// directOverride is the priority-group override sending a one-candidate
// plan to its provider's direct cluster. It is the same for every such
// request to the provider, so it is built once and shared: responses
// only marshal it, which protobuf allows concurrently.
func (s *Server) directOverride(plan routing.Plan) *structpb.Value {
	c := plan.Groups[0][0]
	key := directKey{c.Provider.Name, c.Weight}
	if v, ok := s.directGroups.Load(key); ok {
		return v.(*structpb.Value)
	}
	v, _ := s.directGroups.LoadOrStore(key, groupsOverride(plan, xds.DirectClusterName))
	return v.(*structpb.Value)
}

// directKey names a direct override: a provider, and the weight its
// cluster is listed with.
type directKey struct {
	provider string
	weight   int
}
