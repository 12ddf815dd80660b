package extproc

import (
	"context"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchboard-gw/switchboard/routing"
	"github.com/switchboard-gw/switchboard/translators"
	"github.com/switchboard-gw/switchboard/xds"
)

// The router hop answers the whole response of a plan's last attempt
// itself, status included, so the upstream hop's stream ends with the
// request (one exchange per attempt instead of two) and the answer is
// read once, by the filter that holds answer bodies anyway (handover.go).
// Only the last attempt qualifies: before it, Envoy decides on a
// fallback from the status the upstream hop settles (an error body's,
// or 502 for a 2xx that is no answer). Streams on a plan with
// fallbacks stay with the upstream hop: it holds their headers until the
// first byte, so Envoy's per-try timeout still runs and can fall back.
// A direct stream (direct.go) has no fallback; this hop bounds its first
// byte itself (wake).

const (
	// modeRouterName marks, in the attempt metadata, a response the
	// upstream hop left to the router hop.
	modeRouterName = "router"
	// routerWholeField, in the request metadata: the router hop can
	// answer whole responses itself (an older one during a rolling
	// upgrade cannot, and gets them answered as before).
	routerWholeField = "answers_whole"
	// upstreamServiceTime is set by Envoy's router on responses from a
	// provider, never on its own replies (connect failure, timeouts),
	// which is how the router hop tells them apart. The router filter
	// must not suppress Envoy's headers (xds TestListener).
	upstreamServiceTime = "x-envoy-upstream-service-time"
)

// offerWhole tells the upstream hop this hop answers whole responses,
// and keeps the plan for the answer's fallbacks header.
func (p *routerProcessor) offerWhole(resp *extprocv3.ProcessingResponse) {
	req := resp.DynamicMetadata.GetFields()[xds.RequestNamespace].GetStructValue()
	req.Fields[routerWholeField] = structpb.NewBoolValue(true)
	p.plan = req.Fields["plan"].GetStringValue()
}

// routerAnswers reports whether this attempt's response is left to the
// router hop: a whole answer on the plan's last attempt.
func (p *upstreamProcessor) routerAnswers() bool {
	return p.handOver && p.routerWhole && p.x != nil && !p.x.Stream && p.attempt >= routing.Attempts(p.plan)
}

// leaveResponse adds the hand-over to the request's answer and ends this
// hop's part: its stream closes, and Envoy passes the response through
// this filter unprocessed.
func (p *upstreamProcessor) leaveResponse(resp *extprocv3.ProcessingResponse) {
	f := resp.DynamicMetadata.GetFields()[xds.AttemptNamespace].GetStructValue().GetFields()
	for k, v := range p.handoverFields(modeRouterName) {
		f[k] = v
	}
	if d := p.x.Upstream.Dropped; len(d) > 0 {
		f["dropped"] = structpb.NewStringValue(strings.Join(d, ","))
	}
	p.handedOff, p.completed = true, true
}

// answerAttempt takes up the response the upstream hop left to this hop
// and answers it as the upstream hop would have (its responseHeaders).
func (p *routerProcessor) answerAttempt(ctx context.Context, h *extprocv3.HttpHeaders, md *corev3.Metadata, a map[string]*structpb.Value) *extprocv3.ProcessingResponse {
	up := &upstreamProcessor{s: p.s, cfg: p.cfg, api: p.api, client: p.client, run: p.run, capture: p.capture, turn: p.turn,
		plan: p.plan, inRouter: true}
	if !up.adopt(a) {
		p.s.log.Warn("response left for a provider or model no longer configured; passed through untranslated",
			zap.String("provider", a["provider"].GetStringValue()), zap.String("model", a["model"].GetStringValue()))
		p.closed = true
		return continueResponseHeaders(p.rateMutation())
	}
	if d := a["dropped"].GetStringValue(); d != "" {
		up.x.Upstream.Dropped = strings.Split(d, ",")
	}
	return p.answerOwn(ctx, h, md, up)
}

// answerOwn answers the response of up, an attempt this hop settles.
func (p *routerProcessor) answerOwn(ctx context.Context, h *extprocv3.HttpHeaders, md *corev3.Metadata, up *upstreamProcessor) *extprocv3.ProcessingResponse {
	p.own = up
	if headerValue(h, upstreamServiceTime) == "" {
		// Envoy's own reply: no response came from the provider. It
		// counts against the provider, as in the upstream hop (done).
		up.done()
		p.closed = true
		return continueResponseHeaders(p.rateMutation())
	}
	p.answer = up
	r := up.responseHeaders(ctx, h, md)
	if p.caller.res != nil && up.stream != nil {
		up.meter = p.meter(up.x.Price, billedByOthers(p.attempts, up.attempt))
	}
	switch {
	case up.mode == modeStream && up.held != nil:
		// A direct stream: its headers wait for the first byte, within
		// the per-try timeout, which this hop keeps (wake).
		up.held.SetHeaders = append(up.held.SetHeaders, p.rate...)
		p.firstByte = up.sent.Add(p.cfg.Routing.PerTryTimeout.D())
		return p.holdResponse(time.Until(p.firstByte) + time.Second)
	case r == nil:
		// Held for the body: answered with it (pending).
		up.held.SetHeaders = append(up.held.SetHeaders, p.rate...)
		return p.holdResponse(routerMessageWait)
	case r.GetImmediateResponse() != nil:
		p.closed = true
		hs := r.GetImmediateResponse().GetHeaders()
		hs.SetHeaders = append(hs.SetHeaders, p.rate...)
	default:
		if c := r.GetResponseHeaders().GetResponse(); c != nil && c.HeaderMutation != nil {
			c.HeaderMutation.SetHeaders = append(c.HeaderMutation.SetHeaders, p.rate...)
		}
	}
	return r
}

// holdResponse holds the answer to the response headers until the body
// (or a stream's first byte) comes. Most bodies come right after the
// headers, within the filter's 10 s message timeout: Envoy is asked to
// wait up to wait only when the body is slow (wake), which saves a
// message per answer.
func (p *routerProcessor) holdResponse(wait time.Duration) *extprocv3.ProcessingResponse {
	p.slow.start(time.Now().Add(wait))
	return nil
}

// heldHeaders reports whether the answer's headers wait for its body.
func (p *routerProcessor) heldHeaders() bool { return p.answer != nil && p.answer.held != nil }

// firstByteDue is a direct stream's first-byte deadline while its
// headers are held; zero otherwise.
func (p *routerProcessor) firstByteDue() time.Time {
	if !p.heldHeaders() || p.answer.mode != modeStream {
		return time.Time{}
	}
	return p.firstByte
}

// wakeAt is the earlier of a direct stream's first-byte deadline and the
// moment a held answer's body counts as slow (wake.go).
func (p *routerProcessor) wakeAt() time.Time {
	at := p.firstByteDue()
	if slow := p.slow.due(); p.heldHeaders() && !slow.IsZero() && (at.IsZero() || slow.Before(at)) {
		at = slow
	}
	return at
}

// wake asks Envoy to wait for a slow body, or answers a direct stream
// whose first byte did not come within the per-try timeout: 504, as
// Envoy answers a provider that sends no headers, counted against the
// provider.
func (p *routerProcessor) wake() *extprocv3.ProcessingResponse {
	due := p.firstByteDue()
	if due.IsZero() || time.Now().Before(due) {
		if p.heldHeaders() {
			return p.slow.ask()
		}
		return nil
	}
	up := p.answer
	up.held, up.mode = nil, modeDiscard
	up.status, up.errCode, up.completed = 504, "upstream_timeout", true
	up.record(routing.Outcome{Status: 504}, translators.Usage{})
	p.s.log.Info("attempt failed: no first byte within the per-try timeout", zap.String("model", up.model), zap.String("provider", up.provider.Name),
		zap.Int("attempt", up.attempt), zap.Duration("duration", time.Since(up.start)))
	p.closed = true
	r := up.fail(&translators.APIError{Status: 504, Type: translators.TypeUpstream, Code: "upstream_timeout", Message: "the provider did not answer in time"})
	hs := r.GetImmediateResponse().GetHeaders()
	hs.SetHeaders = append(hs.SetHeaders, p.rate...)
	return r
}
