package extproc

import (
	"bytes"
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/tidwall/gjson"
	"go.uber.org/zap"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/middleware"
	"github.com/switchboard-gw/switchboard/routing"
	"github.com/switchboard-gw/switchboard/translators"
	"github.com/switchboard-gw/switchboard/xds"
)

// Response headers that say who served a request and how.
const (
	// DroppedParamsHeader lists request parameters the provider could not
	// honour and the gateway left out.
	DroppedParamsHeader = "x-switchboard-dropped-params"
	// AttemptHeader is the attempt that answered (1 = no fallback).
	AttemptHeader = "x-switchboard-attempt"
	// FallbacksHeader lists the provider/model of earlier failed attempts.
	FallbacksHeader = "x-switchboard-fallbacks"
)

// removeUpstream are request headers never sent to a provider even when
// the hop did not see them: any credential an earlier attempt set for
// another provider (header changes persist into the next attempt), and
// the gateway's internal headers. Every other header off the schema's
// allow-list (translators.ForwardsRequestHeader) is removed as seen. A
// translator's own headers are set after removal.
var removeUpstream = []string{
	"authorization", "x-api-key", "api-key", "x-goog-api-key", "anthropic-version", "anthropic-beta",
	"x-amz-date", "x-amz-security-token", "x-amz-content-sha256", "accept-encoding", "accept",
	"x-envoy-attempt-count", "x-session-id", xds.ModelHeader, xds.AttemptsHeader,
}

// Bounds on what the upstream hop holds for one response.
const (
	maxWholeResponse = 64 << 20 // a non-streamed answer, translated whole
	maxErrorBody     = 1 << 20  // the head of a provider error body, where the message is
	// maxHeldWhole is the largest whole answer (by content-length) whose
	// headers answer waits for its body: while it waits, Envoy's
	// message timeout runs, so only answers that arrive at once qualify.
	maxHeldWhole = 1 << 20
	// maxHeldUnsized is how much of an unsized (or large) whole answer the
	// router hop, or the upstream hop on an attempt with a fallback behind
	// it, reads before it lets the headers go: below Envoy's 1 MiB
	// connection buffer, whose watermark would otherwise stop the body
	// while the hop waits for it. Chat answers are far smaller, so their
	// status is settled before the client sees it.
	maxHeldUnsized = 512 << 10
)

type responseMode int

const (
	modeStream responseMode = iota + 1
	modeWhole
	modeError       // an error body; its headers answer waits for it
	modePassThrough // an answer too large to read, already in the client's schema
	modeDiscard     // the answer was replaced by an error; drop the rest
)

// upstreamProcessor is the per-attempt hop on a provider cluster. It
// translates the request for the provider this attempt goes to and the
// response back to the OpenAI schema, streams event by event.
type upstreamProcessor struct {
	s   *Server
	cfg *config.Loaded

	provider *config.Provider
	model    string // public model name of this attempt
	cand     config.Candidate
	attempt  int              // 1-based, from Envoy's x-envoy-attempt-count
	plan     string           // the router hop's encoded plan
	ctype    string           // the client's content-type (router hop's metadata): how DecodeBody reads the body
	api      *translators.API // the client's API
	client   translators.ClientContext
	beta     string // the client's anthropic-beta header
	// run is the router hop's middleware state, for answers it
	// translates; chatForm and handoverAll come from its metadata.
	run                   *middleware.Run
	chatForm, handoverAll bool
	capture               *captureState     // the router hop's, when captured
	spec                  *translators.Spec // the provider's schema
	// x is this attempt: its provider request and answer translation.
	x     *translators.Exchange
	start time.Time
	sent  time.Time // request handed to the provider
	// errHeader keeps an error response's headers for translators that
	// read the error from them.
	errHeader map[string]string
	first     time.Time // first response body byte
	// strip are the request's headers off the schema's allow-list.
	strip []string
	// holdLimit, when set, is how much of the body the held headers
	// answer may wait for (the router hop's whole answers); spillAt is
	// the upstream hop's own bound for an unsized answer, past which the
	// router hop takes the rest (spill).
	holdLimit, spillAt int
	// secrets cuts this attempt's credentials out of provider errors.
	secrets  scrubber
	reserved reservation // the request body, while it is translated

	mode      responseMode
	status    int // upstream status
	apiErr    *translators.APIError
	stream    translators.StreamTranslator
	buf       []byte // whole response or error body so far
	out       []byte // reused output buffer for stream chunks
	usage     translators.Usage
	completed bool
	badAnswer bool   // a 2xx whose body was no valid answer
	errCode   string // the error this attempt answered with, if any
	respID    string // the answer's id, for its usage record
	// meter, in the router hop, checks a stream's running cost against
	// the caller's budgets; events counts the provider's stream events
	// (about one token each) for the estimate.
	meter   func(u translators.Usage, events int64) *translators.APIError
	events  int64
	scratch []byte
	// held is the headers answer of an error response, waiting for its
	// body; heldChunks counts the body chunks not answered yet.
	held       *extprocv3.HeaderMutation
	heldChunks int
	queue      []*extprocv3.ProcessingResponse
	// handOver: the router hop translates successful answers this hop
	// does not hold (the request metadata says so); handedOff once it
	// has, and this hop's stream then closes.
	handOver, handedOff bool
	// routerWhole: the router hop can answer a whole response itself,
	// status included (router_answer.go); inRouter: p is that answer.
	routerWhole, inRouter bool
	// turn is a Responses request's part in the response store
	// (responses_store.go); nil when it keeps none.
	turn *respTurn
}

func (p *upstreamProcessor) requestHeaders(ctx context.Context, h *extprocv3.HttpHeaders, md *corev3.Metadata) *extprocv3.ProcessingResponse {
	p.start = time.Now()
	p.cfg = p.s.configFor(md.GetFilterMetadata()[xds.RequestNamespace].GetFields()["version"].GetStringValue(), p.cfg)
	// The cluster this attempt goes to says which provider it is.
	name := md.GetFilterMetadata()[xds.MetadataNamespace].GetFields()["provider"].GetStringValue()
	if prov, ok := p.cfg.Catalog.Provider(name); ok {
		p.provider = prov
		p.spec, _ = translators.SpecFor(translators.Schema(prov.Schema))
	}
	req := md.GetFilterMetadata()[xds.RequestNamespace].GetFields()
	endpoint := req["endpoint"].GetStringValue()
	if endpoint == "" {
		endpoint = xds.ChatPath // a router hop older than the endpoint field
	}
	p.api, _ = translators.APIFor(endpoint)
	if p.api == nil {
		return immediate(&translators.APIError{Status: 503, Type: translators.TypeServer, Code: "unknown_endpoint",
			Message: "the request's API is unknown to this gateway version (an upgrade may be in progress); retry"})
	}
	if p.provider == nil || p.spec == nil {
		return immediate(&translators.APIError{Status: 503, Type: translators.TypeServer, Code: "provider_unavailable",
			Message: "provider " + quoteTrunc(name) + " is not configured (the config may have just changed); retry"})
	}
	p.model = req["model"].GetStringValue()
	p.plan = req["plan"].GetStringValue()
	p.chatForm, p.handoverAll = req["chat_form"].GetBoolValue(), req["handover_all"].GetBoolValue()
	p.handOver = req["responses"].GetStringValue() == xds.HopRouter
	p.routerWhole = req[routerWholeField].GetBoolValue()
	p.turn = turnOf(req) // responses_store.go
	p.ctype = req["content_type"].GetStringValue()
	p.attempt, _ = strconv.Atoi(headerValue(h, "x-envoy-attempt-count"))
	p.attempt = max(p.attempt, 1)
	if !p.reserved.takeLength(p.s.bodies, headerValue(h, "content-length"), p.cfg.Limits.MaxInflightBytes) {
		return p.fail(overloaded())
	}
	p.readRequestHeaders(h)
	// The plan names the public model of this attempt: a fallback model
	// in the request's 'models' list differs from the first.
	for _, e := range routing.DecodeGroup(p.plan, p.attempt) {
		if e.Provider == p.provider.Name {
			p.model = e.Model
			break
		}
	}
	if body, ok := forwardedBody(md); ok && !h.GetEndOfStream() {
		return p.translate(ctx, body, true) // forward.go: no body exchange
	}
	return continueRequestHeaders(nil, false)
}

func (p *upstreamProcessor) requestBody(ctx context.Context, b *extprocv3.HttpBody) *extprocv3.ProcessingResponse {
	if p.provider == nil || p.x != nil {
		// Refused at the headers, or translated there (Envoy sends no
		// body then; an older one would).
		return continueRequestBody(nil, nil, false)
	}
	return p.translate(ctx, b.GetBody(), false)
}

// readRequestHeaders finds, in the request headers the hop sees, the
// ones off the provider schema's allow-list (strip) and the client's
// anthropic-beta.
func (p *upstreamProcessor) readRequestHeaders(h *extprocv3.HttpHeaders) {
	schema := translators.Schema(p.provider.Schema)
	for _, k := range removeUpstream {
		if !translators.ForwardsRequestHeader(schema, k) {
			p.strip = append(p.strip, k)
		}
	}
	for _, kv := range h.GetHeaders().GetHeaders() {
		k := kv.GetKey()
		if k == "anthropic-beta" {
			p.beta = headerString(kv) // a pass-through to Claude carries it
		}
		if !translators.ForwardsRequestHeader(schema, k) && !slices.Contains(removeUpstream, k) {
			p.strip = append(p.strip, k)
		}
	}
}

// translate builds this attempt's provider request from the client's
// body, answering the request headers (atHeaders, the body came as
// metadata) or the body.
func (p *upstreamProcessor) translate(ctx context.Context, raw []byte, atHeaders bool) *extprocv3.ProcessingResponse {
	defer p.reserved.drop() // translated: the hop holds the body no more
	if !p.reserved.take(p.s.bodies, int64(len(raw)), p.cfg.Limits.MaxInflightBytes) {
		return p.fail(overloaded())
	}
	m, body, early := p.buildRequest(ctx, raw)
	if early != nil {
		return early
	}
	var resp *extprocv3.ProcessingResponse
	if atHeaders {
		resp = replaceRequest(m, body)
	} else {
		resp = continueRequestBody(m, replaceBody(body), false)
	}
	// The attempt is listed even if no response comes.
	resp.DynamicMetadata = p.attemptMetadata(false)
	if p.routerAnswers() {
		p.leaveResponse(resp) // router_answer.go
	}
	return resp
}

// buildRequest translates raw for this attempt's provider: the header
// changes and the body to send, or the answer to give instead (an error,
// or a request the gateway answers itself).
func (p *upstreamProcessor) buildRequest(ctx context.Context, raw []byte) (*extprocv3.HeaderMutation, []byte, *extprocv3.ProcessingResponse) {
	fail := func(e *translators.APIError) (*extprocv3.HeaderMutation, []byte, *extprocv3.ProcessingResponse) {
		return nil, nil, p.fail(e)
	}
	route, ok := p.cfg.Catalog.Model(p.model)
	var cand config.Candidate
	if ok {
		cand, ok = route.Candidate(p.provider.Name)
	}
	if !ok {
		return fail(&translators.APIError{Status: 503, Type: translators.TypeServer, Code: "provider_unavailable",
			Message: "provider " + quoteTrunc(p.provider.Name) + " no longer serves model " + quoteTrunc(p.model) + "; retry"})
	}
	p.cand = cand
	pr := p.provider
	target := translators.Target{
		Model: cand.Model, PathPrefix: pr.PathPrefix(),
		APIVersion: pr.APIVersion, Project: pr.Project, Region: pr.Region,
		Host: pr.Host(), AnthropicBeta: p.beta,
	}
	body, err := p.api.DecodeBody(p.ctype, raw) // a multipart form: its JSON form
	if err != nil {
		return fail(asAPIError(err))
	}
	body, e := p.turnBody(ctx, body, target) // responses_store.go: previous_response_id
	if e != nil {
		return fail(e)
	}
	x, err := translators.Begin(p.api, p.spec, body, target, pr.APIKey(), translators.Facts{Provider: pr.Name, ChatForm: p.chatForm})
	if err != nil {
		return fail(asAPIError(err))
	}
	x.Price = translators.Price(cand.Spec.Pricing)
	if x.Local != nil {
		// The gateway answers this one itself.
		p.completed = true
		return nil, nil, localAnswer(x.Local, x.LocalHeaders)
	}
	if err := p.s.auths.authorize(ctx, pr, &x.Upstream); err != nil {
		p.s.log.Error("provider credentials unavailable", zap.String("provider", pr.Name), zap.Error(err))
		return fail(&translators.APIError{Status: 502, Type: translators.TypeUpstream, Code: "provider_auth_failed",
			Message: "the gateway could not obtain credentials for provider " + quoteTrunc(pr.Name)})
	}
	p.x = x
	req := x.Upstream
	p.secrets.add(pr.APIKey())
	for _, h := range req.Headers {
		if slices.Contains(credentialHeaders, strings.ToLower(h.Key)) {
			p.secrets.add(h.Value)
		}
	}
	set := make([]*corev3.HeaderValueOption, 0, len(req.Headers)+2)
	set = append(set, header(":path", req.Path), header(":authority", pr.Authority()), header("content-length", strconv.Itoa(len(req.Body))))
	for _, h := range req.Headers {
		set = append(set, header(h.Key, h.Value))
	}
	m := &extprocv3.HeaderMutation{
		SetHeaders: set,
		// The client's credentials are for the gateway, never the provider;
		// compressed answers could not be translated.
		// Header changes persist into the next attempt, so every
		// credential header any schema sets is removed too: a fallback
		// must never carry another provider's key.
		RemoveHeaders: p.strip,
	}
	p.sent = time.Now()
	return m, req.Body, nil
}

func (p *upstreamProcessor) responseHeaders(_ context.Context, h *extprocv3.HttpHeaders, _ *corev3.Metadata) *extprocv3.ProcessingResponse {
	p.status = statusOf(h)
	set := []*corev3.HeaderValueOption{
		header(xds.ProviderHeader, p.provider.Name),
		header(xds.ModelHeader, p.model),
		header(AttemptHeader, strconv.Itoa(p.attempt)),
	}
	if earlier := routing.Earlier(p.plan, p.attempt); len(earlier) > 0 {
		// Which providers failed over to this one (their errors are in the
		// logs): the client sees why its answer came from a fallback.
		names := make([]string, len(earlier))
		for i, e := range earlier {
			names[i] = e.Provider + "/" + e.Model
		}
		set = append(set, header(FallbacksHeader, strings.Join(names, ",")))
	}
	if d := p.x.Upstream.Dropped; len(d) > 0 {
		set = append(set, header(DroppedParamsHeader, strings.Join(d, ",")))
	}
	remove := []string{"content-length", "content-encoding"}
	for _, kv := range h.GetHeaders().GetHeaders() {
		// retry-after is the gateway's to set or remove once the status
		// is settled (answer).
		if k := kv.GetKey(); !translators.ForwardsResponseHeader(k) && k != "content-length" && k != "content-encoding" && k != "retry-after" {
			remove = append(remove, k)
		}
	}
	switch {
	case p.status < 200 || p.status > 299:
		p.mode = modeError
		ra := headerValue(h, "retry-after")
		if ra == "" {
			ra = p.x.RetryAfter(func(k string) string { return headerValue(h, k) }, time.Now())
		}
		if p.x.ReadsErrorHeaders() {
			// Some providers name the error only in a header.
			p.errHeader = map[string]string{}
			for _, kv := range h.GetHeaders().GetHeaders() {
				p.errHeader[kv.GetKey()] = headerString(kv)
			}
		}
		p.apiErr = translators.UpstreamError(p.status, ra, "")
		if !h.GetEndOfStream() {
			// The headers answer waits for the error body (Envoy sends
			// the body without waiting: send_body_without_waiting_for_
			// header_response), so the status and Retry-After the client
			// sees can come from it, and Envoy decides on a fallback from
			// the final status. Nothing is buffered in Envoy: it crashed
			// (1.40) when a buffered upstream body outgrew its limit.
			p.held = &extprocv3.HeaderMutation{SetHeaders: set, RemoveHeaders: remove}
			return nil
		}
	// Streams come as SSE or, from Bedrock, as a binary event stream; a
	// JSON body to a stream request is answered whole.
	case p.x.Stream && !strings.HasPrefix(headerValue(h, "content-type"), "application/json"):
		p.mode = modeStream
		p.stream = p.x.NewStream()
		set = append(set, header("content-type", "text/event-stream"), header("cache-control", "no-cache"))
	default:
		p.mode = modeWhole
		set = append(set, header("content-type", "application/json"))
	}
	if h.GetEndOfStream() {
		// No body will come: answer now rather than send an empty 200.
		return p.endWithoutBody()
	}
	n, err := strconv.ParseInt(headerValue(h, "content-length"), 10, 64)
	if p.mode == modeWhole {
		switch {
		case err == nil && n > maxWholeResponse:
			return p.tooLargeToProcess(n, set, remove)
		case p.inRouter:
			// The router hop answers this attempt: the headers wait for
			// the body, up to what it may hold (maxHeldUnsized).
			p.held, p.holdLimit = &extprocv3.HeaderMutation{SetHeaders: set, RemoveHeaders: remove}, maxHeldUnsized
			return nil
		case err == nil && n <= maxHeldWhole && !p.handoverAll:
			// The headers answer goes with the translated body: one round
			// trip less, and a status that can still change if the answer
			// cannot be translated.
			p.held = &extprocv3.HeaderMutation{SetHeaders: set, RemoveHeaders: remove}
			return nil
		case err != nil && p.handOver && !p.handoverAll:
			// Unsized, as most providers send whole answers: the status
			// waits for the body too, so a 2xx that is no answer falls
			// back. Until Envoy's router sees the headers its per-try
			// timeout runs, and Envoy is asked to wait as long. An answer
			// past maxHeldUnsized goes to the router hop (spill).
			p.held, p.spillAt = &extprocv3.HeaderMutation{SetHeaders: set, RemoveHeaders: remove}, maxHeldUnsized
			return waitLonger(xds.FirstByteWait(p.cfg.Routing.PerTryTimeout.D()))
		}
	}
	if p.mode == modeStream {
		// A stream's headers go with its first body byte: until Envoy's
		// router sees them, routing.per_try_timeout still runs, so a
		// provider that sends headers and then nothing falls back (or
		// gets 504) like one that hangs. Envoy is asked to wait past the
		// per-try timeout.
		p.held = &extprocv3.HeaderMutation{SetHeaders: set, RemoveHeaders: remove}
		return waitLonger(xds.FirstByteWait(p.cfg.Routing.PerTryTimeout.D()))
	}
	// Large or unsized answers: the headers go on now. A whole answer is
	// collected (up to maxWholeResponse) as it streams; Envoy holds none
	// of it.
	return p.handOff(&extprocv3.HeaderMutation{SetHeaders: set, RemoveHeaders: remove})
}

// tooLargeToProcess handles an answer whose content-length is over
// maxWholeResponse: it is never read. An answer already in the client's
// schema passes through untranslated; others get a clear 502.
func (p *upstreamProcessor) tooLargeToProcess(n int64, set []*corev3.HeaderValueOption, remove []string) *extprocv3.ProcessingResponse {
	passThrough := p.mode == modeWhole && p.x.Native
	p.s.log.Warn("provider answer too large to process", zap.String("provider", p.provider.Name), zap.Int64("bytes", n),
		zap.Bool("passed_through", passThrough))
	if passThrough {
		// Already in the client's schema: each chunk goes on unread.
		p.mode = modePassThrough
		p.completed = true
		return p.handOff(&extprocv3.HeaderMutation{SetHeaders: set, RemoveHeaders: slices.DeleteFunc(remove, func(h string) bool { return h == "content-length" })})
	}
	p.completed = true
	return p.fail(&translators.APIError{Status: 502, Type: translators.TypeUpstream, Code: "upstream_response_too_large",
		Message: "the provider's answer (" + strconv.FormatInt(n, 10) + " bytes) is too large for the gateway to translate"})
}

// upstreamError maps the provider's error response, body included.
func (p *upstreamProcessor) upstreamError() *translators.APIError {
	var header func(string) string
	if p.errHeader != nil {
		header = func(k string) string { return p.errHeader[k] }
	}
	return p.x.Error(p.status, p.apiErr.RetryAfter, header, p.buf)
}

func (p *upstreamProcessor) endWithoutBody() *extprocv3.ProcessingResponse {
	if p.mode == modeError {
		return p.fail(p.upstreamError())
	}
	return p.fail(&translators.APIError{Status: 502, Type: translators.TypeUpstream, Code: "empty_upstream_response",
		Message: "provider returned an empty response"})
}

func (p *upstreamProcessor) responseBody(ctx context.Context, b *extprocv3.HttpBody) *extprocv3.ProcessingResponse {
	chunk, eos := b.GetBody(), b.GetEndOfStream()
	if p.first.IsZero() && len(chunk) > 0 {
		p.first = time.Now()
	}
	switch p.mode {
	case modeStream:
		if p.held != nil {
			// The first byte came: the headers go on, and when the router
			// hop translates answers, it takes this chunk and the rest
			// (handOff), so the chunk passes here unchanged.
			m := p.held
			p.held = nil
			p.queue = append(p.queue, p.handOff(m))
			if p.handedOff {
				return continueResponseBody(nil)
			}
		}
		if p.meter != nil {
			if r := p.metered(chunk); r != nil {
				if eos {
					p.scratch = p.stream.Finish(p.scratch)
					p.finish(ctx, p.stream.Usage())
				}
				return r
			}
		} else {
			p.out = p.stream.Translate(p.out[:0], chunk)
		}
		if p.respID == "" && len(p.out) > 0 {
			p.respID = streamID(p.out)
		}
		if eos {
			p.out = p.stream.Finish(p.out)
			p.finish(ctx, p.stream.Usage())
		}
		p.out = p.secrets.scrubBytes(p.out) // an in-stream error may quote the request
		p.captureTurn(ctx, p.out, eos)      // responses_store.go
		p.capture.add(p.out)
		return continueResponseBody(replaceBody(p.out))
	case modeWhole:
		if !p.collect(chunk, maxWholeResponse) {
			if p.held == nil {
				// The client has a 200 already: end the exchange now
				// (Envoy resets both sides) rather than read the rest.
				p.mode = modeDiscard
				return p.fail(p.tooLarge("response"))
			}
			return p.answer(p.tooLarge("response"), nil, false)
		}
		if !eos {
			if p.held != nil && p.holdLimit > 0 && len(p.buf) > p.holdLimit {
				p.release() // too large to hold: the status is committed
				return continueResponseBody(replaceBody(nil))
			}
			if p.held != nil && p.spillAt > 0 && len(p.buf) > p.spillAt {
				return p.spill()
			}
			if p.held != nil {
				p.heldChunks++
				return nil // answered with the headers, once the body is in
			}
			return continueResponseBody(replaceBody(nil))
		}
		out, usage, err := p.x.Answer(p.buf)
		if err != nil {
			// Not an answer, whatever the status said: a failure of the
			// provider (health, fallback while the headers are held).
			// What the body reports was billed all the same.
			p.badAnswer = true
			e := asAPIError(err)
			p.s.log.Warn("untranslatable provider response", zap.String("provider", p.provider.Name), zap.String("error", p.secrets.scrub(err.Error())))
			p.finish(ctx, usage)
			return p.answer(e, nil, true)
		}
		p.respID = gjson.GetBytes(out, "id").Str
		p.keepResponse(ctx, out) // responses_store.go
		p.finish(ctx, usage)
		p.capture.add(out)
		return p.answer(nil, out, true)
	case modeError:
		p.collectHead(chunk)
		if !eos {
			p.heldChunks++
			return nil // answered with the headers, once the body is in
		}
		e := p.upstreamError()
		p.s.log.Info("provider error", zap.String("provider", p.provider.Name), zap.Int("upstream_status", p.status),
			zap.Int("status", e.Status), zap.String("code", e.Code))
		p.finish(ctx, translators.Usage{})
		return p.answer(e, nil, true)
	case modePassThrough:
		return continueResponseBody(nil)
	case modeDiscard:
		if p.stream != nil && !p.completed {
			// A stream the gateway ended: the client gets no more, but
			// the provider's own count of what it billed still comes.
			p.scratch = p.stream.Translate(p.scratch[:0], chunk)
			if eos {
				p.scratch = p.stream.Finish(p.scratch)
				p.finish(ctx, p.stream.Usage())
			}
		}
		return continueResponseBody(replaceBody(nil))
	}
	return continueResponseBody(nil)
}

// collect appends a chunk to the held body within a limit.
func (p *upstreamProcessor) collect(chunk []byte, limit int) bool {
	if len(p.buf)+len(chunk) > limit {
		return false
	}
	p.buf = append(p.buf, chunk...)
	return true
}

// collectHead keeps the head of an error body, up to maxErrorBody: the
// message is there.
func (p *upstreamProcessor) collectHead(chunk []byte) {
	if room := maxErrorBody - len(p.buf); room > 0 {
		p.buf = append(p.buf, chunk[:min(room, len(chunk))]...)
	}
}

// answer sends the translated body, or the error e in the client's
// shape. When the headers answer was held back for the body, it goes
// first, with e's status and Retry-After, then every held chunk
// (cleared), in order.
func (p *upstreamProcessor) answer(e *translators.APIError, body []byte, eos bool) *extprocv3.ProcessingResponse {
	if e != nil {
		body = p.errorBody(e)
		p.errCode = e.Code
	}
	if m := p.held; m != nil {
		if e != nil {
			m.SetHeaders = append(m.SetHeaders, header(":status", strconv.Itoa(e.Status)), header("content-type", "application/json"))
			if e.RetryAfter != "" {
				m.SetHeaders = append(m.SetHeaders, header("retry-after", e.RetryAfter))
			} else {
				m.RemoveHeaders = append(m.RemoveHeaders, "retry-after")
			}
		}
		if eos && p.holdLimit > 0 {
			// The router hop's held answer, now whole: the body goes with
			// the headers answer (CONTINUE_AND_REPLACE), and Envoy drops
			// the chunks it holds and expects no answer for them, as for
			// a request (joined.go): one message back instead of one per
			// chunk. (The upstream hop's held answers keep the per-chunk
			// answers: its filter sits on the provider cluster.)
			return p.releaseWith(body)
		}
		p.release()
	} else if e != nil {
		// The headers already went: only the body can say it failed.
		p.s.log.Warn("error after the response headers were sent", zap.String("provider", p.provider.Name), zap.Int("status", e.Status), zap.String("code", e.Code))
	}
	return continueResponseBody(replaceBody(body))
}

// releaseWith answers the held headers with the whole body.
func (p *upstreamProcessor) releaseWith(body []byte) *extprocv3.ProcessingResponse {
	r := continueResponseHeaders(p.held)
	c := r.GetResponseHeaders().GetResponse()
	c.Status, c.BodyMutation = extprocv3.CommonResponse_CONTINUE_AND_REPLACE, replaceBody(body)
	if p.completed && !p.inRouter {
		r.DynamicMetadata = p.attemptMetadata(true)
	}
	p.held, p.heldChunks = nil, 0
	return r
}

// release lets the held headers answer go, then every held chunk
// (cleared: the body comes whole at the end).
func (p *upstreamProcessor) release() {
	r := continueResponseHeaders(p.held)
	if p.completed && !p.inRouter {
		// The answer is settled here: its usage goes to the router hop
		// (which, when it settled the answer itself, has it already).
		r.DynamicMetadata = p.attemptMetadata(true)
	}
	p.queue = append(p.queue, r)
	for range p.heldChunks {
		p.queue = append(p.queue, continueResponseBody(replaceBody(nil)))
	}
	p.held, p.heldChunks = nil, 0
}

func (p *upstreamProcessor) complete() bool { return p.handedOff }

// pending hands over the answers held back for earlier messages; they go
// to Envoy before the current one.
func (p *upstreamProcessor) pending() []*extprocv3.ProcessingResponse {
	q := p.queue
	p.queue = p.queue[:0]
	return q
}

// fail answers at once in the error shape of the client's API.
func (p *upstreamProcessor) fail(e *translators.APIError) *extprocv3.ProcessingResponse {
	return immediateFor(p.api, e)
}

// errorBody renders an error in the shape of the client's API, with
// any credential the provider quoted cut out.
func (p *upstreamProcessor) errorBody(e *translators.APIError) []byte {
	if scrubbed := p.secrets.scrub(e.Message); scrubbed != e.Message {
		c := *e
		c.Message = scrubbed
		e = &c
	}
	return p.api.ErrorBody(e)
}

func (p *upstreamProcessor) tooLarge(what string) *translators.APIError {
	p.mode = modeDiscard
	return &translators.APIError{Status: 502, Type: translators.TypeUpstream, Code: "upstream_response_too_large", Message: "provider " + what + " exceeds the gateway's limit"}
}

// finish records the attempt once: usage, cost, and the provider's live
// latency, throughput and health.
func (p *upstreamProcessor) finish(_ context.Context, u translators.Usage) {
	if p.completed {
		return
	}
	p.completed = true
	p.usage = u
	now := time.Now()
	o := routing.Outcome{Status: p.status, CompletionTokens: u.CompletionTokens}
	if p.badAnswer {
		o.Status = 502
	}
	// A token count is no completion: its speed says nothing of the
	// provider's generation, so it feeds health only.
	if !p.first.IsZero() && p.api.Generates() {
		o.TTFT, o.Generation = p.first.Sub(p.sent), now.Sub(p.first)
	}
	p.record(o, u)
	msg := "completion"
	if !p.api.Generates() {
		msg = "token count"
	}
	ce := p.s.log.Check(zap.InfoLevel, msg)
	if ce == nil {
		return // below the log level: build no fields (4% of a request's allocations)
	}
	fields := make([]zap.Field, 0, 13)
	fields = append(fields,
		zap.String("model", p.model),
		zap.String("provider", p.provider.Name),
		zap.String("upstream_model", p.cand.Model),
		zap.Int("attempt", p.attempt),
		zap.Int("upstream_status", p.status),
		zap.Bool("stream", p.x != nil && p.x.Stream),
		zap.Int64("prompt_tokens", u.PromptTokens),
		zap.Int64("completion_tokens", u.CompletionTokens),
		zap.Int64("cached_tokens", u.CachedTokens),
		zap.Int64("reasoning_tokens", u.ReasoningTokens),
		zap.Duration("ttft", o.TTFT),
		zap.Duration("duration", now.Sub(p.start)),
	)
	if c, ok := p.cost(u); ok {
		fields = append(fields, zap.Float64("cost_usd", c))
	}
	ce.Write(fields...)
}

// record feeds one finished attempt to the live provider figures that
// routing reads and to the Prometheus series.
func (p *upstreamProcessor) record(o routing.Outcome, u translators.Usage) {
	if p.attempt > 1 {
		p.s.metrics.fallbacks.WithLabelValues(p.model, p.provider.Name).Inc()
	}
	p.s.stats.Observe(p.provider.Name, p.cand.Model, o, p.breaker())
	c, priced := p.cost(u)
	p.s.metrics.observe(p.provider.Name, p.model, o.Status, u, c, priced)
}

// breaker is the gateway's circuit breaker, set like Envoy's outlier
// detection from the health config.
func (p *upstreamProcessor) breaker() routing.Breaker {
	h := p.cfg.Health
	return routing.Breaker{FailuresToOpen: h.Consecutive5xx, Cooldown: h.BaseEjection.D(), MaxCooldown: h.MaxEjection.D()}
}

// cost prices usage at the candidate's configured rates (USD).
func (p *upstreamProcessor) cost(u translators.Usage) (float64, bool) {
	if p.x == nil {
		return 0, false
	}
	return p.x.Cost(u)
}

func (p *upstreamProcessor) done() {
	p.reserved.drop()
	switch {
	case p.completed || p.provider == nil || p.sent.IsZero():
	case p.status == 0:
		// No response came: a connect failure, reset or per-try timeout;
		// Envoy falls back to the next attempt. It counts against the
		// provider.
		p.completed = true
		p.record(routing.Outcome{}, translators.Usage{})
		p.s.log.Info("attempt failed before a response", zap.String("model", p.model), zap.String("provider", p.provider.Name),
			zap.Int("attempt", p.attempt), zap.Duration("duration", time.Since(p.start)))
	case p.stream != nil:
		// The client or upstream went away mid-stream: count what was seen.
		p.completed = true
		u := p.stream.Usage()
		p.record(routing.Outcome{Status: p.status, CompletionTokens: u.CompletionTokens}, u)
		p.s.log.Info("completion aborted", zap.String("model", p.model), zap.String("provider", p.provider.Name),
			zap.Int64("prompt_tokens", u.PromptTokens), zap.Int64("completion_tokens", u.CompletionTokens),
			zap.Duration("duration", time.Since(p.start)))
	default:
		// Response headers came but the body never finished: Envoy reset
		// the attempt to retry it on its status (5xx, 429), or the client
		// went away. A retried failure must count against the provider.
		p.completed = true
		p.record(routing.Outcome{Status: p.status}, translators.Usage{})
		p.s.log.Info("attempt ended after its response headers", zap.String("model", p.model), zap.String("provider", p.provider.Name),
			zap.Int("attempt", p.attempt), zap.Int("upstream_status", p.status), zap.Duration("duration", time.Since(p.start)))
	}
}

// streamID is the id of the first event in SSE bytes that carries one.
func streamID(b []byte) string {
	for _, line := range bytes.Split(b, []byte("\n")) {
		if d, ok := bytes.CutPrefix(line, []byte("data: ")); ok {
			if id := gjson.GetBytes(d, "id"); id.Type == gjson.String {
				return id.Str
			}
			if id := gjson.GetBytes(d, "message.id"); id.Type == gjson.String {
				return id.Str // Anthropic's message_start
			}
			if id := gjson.GetBytes(d, "response.id"); id.Type == gjson.String {
				return id.Str // Responses' response.created
			}
		}
	}
	return ""
}

// metered translates a stream chunk event by event, checking the running
// cost against the caller's budgets after each, so a budget crossed
// mid-chunk ends the client's stream at that event. It returns the
// answer when the stream ended, nil when p.out holds the chunk.
func (p *upstreamProcessor) metered(chunk []byte) *extprocv3.ProcessingResponse {
	p.out = p.out[:0]
	for len(chunk) > 0 {
		n := bytes.Index(chunk, []byte("\n\n"))
		if n < 0 {
			n = len(chunk)
		} else {
			n += 2
			p.events++
		}
		p.out = p.stream.Translate(p.out, chunk[:n])
		chunk = chunk[n:]
		e := p.meter(p.stream.Usage(), p.events)
		if e == nil {
			continue
		}
		en, ok := p.stream.(translators.StreamEnder)
		if !ok {
			continue
		}
		// Over a hard budget: the client's stream ends here; the rest
		// is read only for the provider's own count of what it billed.
		p.out = p.secrets.scrubBytes(en.End(p.out, e))
		p.mode = modeDiscard
		p.scratch = p.stream.Translate(p.scratch[:0], chunk)
		p.s.log.Info("stream ended: budget crossed", zap.String("provider", p.provider.Name), zap.String("code", e.Code))
		return continueResponseBody(replaceBody(p.out))
	}
	return nil
}
