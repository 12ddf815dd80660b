package extproc

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/tidwall/gjson"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/middleware"
	"github.com/switchboard-gw/switchboard/routing"
	"github.com/switchboard-gw/switchboard/translators"
	"github.com/switchboard-gw/switchboard/xds"
)

// routerProcessor is the router-level hop: it checks the request and
// plans its attempts (routing.Build), sets the model header the routes
// match and the plan header the upstream hop reads, overrides the route's
// priority groups when the plan differs from the configured default, and
// clears the route cache so Envoy routes again.
type routerProcessor struct {
	s       *Server
	cfg     *config.Loaded
	method  string
	path    string
	session string           // x-session-id, for sticky routing
	ctype   string           // content-type, for APIs whose body is no JSON
	api     *translators.API // the client's API, by path
	// client is what answers repeat of the client's request.
	client   translators.ClientContext
	internal []string // client-sent control headers to drop
	held     reservation
	caller   caller
	// mgmt is the management key's id on the key API; mgmtPath the
	// key API call answered once its body is in.
	mgmt, mgmtPath string
	// rate are the caller's x-ratelimit-* headers for the answer.
	rate []*corev3.HeaderValueOption
	// usage is what an attempt the upstream hop answered itself reported;
	// attempts what every attempt reported (governance.go).
	usage    attemptUsage
	attempts []attemptUsage
	// run is the middleware chain's state for this request (plugins.go).
	run *middleware.Run
	// searched is what the web search loop reported for the searches it
	// ran before this round (middleware.SearchesHeader), charged here.
	searched    middleware.Usage
	searchesRaw string
	// capture holds the prompt and answer of a captured tenant (capture.go).
	capture *captureState
	// answer translates the body the upstream hop handed over; closed
	// once the hop needs nothing more from this request.
	answer *upstreamProcessor
	closed bool
	// plan is the encoded plan, for an answer this hop settles
	// (router_answer.go); own is that attempt.
	plan string
	own  *upstreamProcessor
	// headers are the request's; directOK: Envoy's routes come from a
	// config this process built, so they have direct clusters; direct:
	// this hop sent the request to one, translated (direct.go).
	headers          *extprocv3.HttpHeaders
	directOK, direct bool
	// firstByte is when a direct stream's first byte is due (wake).
	firstByte time.Time
	// slow asks Envoy to wait for a held answer's body (or a direct
	// stream's first byte) slow to come (router_answer.go).
	slow patience
	// turn is a Responses request's part in the response store
	// (responses_store.go).
	turn *respTurn
}

func (p *routerProcessor) requestHeaders(ctx context.Context, h *extprocv3.HttpHeaders, _ *corev3.Metadata) *extprocv3.ProcessingResponse {
	p.caller.start = time.Now()
	p.headers = h
	for _, kv := range h.GetHeaders().GetHeaders() {
		switch k := kv.GetKey(); {
		case k == "authorization" || k == "x-api-key":
			p.caller.takeCredential(kv)
		case k == ":method":
			p.method = headerString(kv)
		case k == ":path":
			p.path = headerString(kv)
		case k == "x-session-id":
			p.session = headerString(kv)
		case k == "content-type":
			p.ctype = headerString(kv)
		case k == "content-length":
			if !p.held.takeLength(p.s.bodies, headerString(kv), p.cfg.Limits.MaxInflightBytes) {
				p.api, _ = translators.APIFor(pathOnly(p.path)) // the error's shape follows the path
				return p.fail(overloaded())
			}
		case k == middleware.SearchesHeader:
			p.searchesRaw = headerString(kv)
			p.internal = append(p.internal, k)
		case strings.HasPrefix(k, "x-switchboard-"), slices.Contains(xds.ControlHeaders, k):
			// Only the gateway decides providers, retries and timeouts.
			p.internal = append(p.internal, k)
		}
	}
	endpoint := pathOnly(p.path)
	p.api, _ = translators.APIFor(endpoint)
	if strings.HasPrefix(endpoint, managementPrefix) {
		return p.management(ctx, endpoint, h.GetEndOfStream())
	}
	if strings.HasPrefix(endpoint, responsesPrefix) {
		return p.storedResponse(ctx, endpoint) // responses_store.go
	}
	if p.method != "POST" {
		return p.fail(&translators.APIError{Status: 405, Type: translators.TypeInvalidRequest, Code: "method_not_allowed",
			Message: p.method + " is not allowed on " + endpoint + "; use POST"})
	}
	if p.api == nil {
		return p.fail(&translators.APIError{Status: 404, Type: translators.TypeInvalidRequest, Code: "unknown_path",
			Message: "unknown path " + quoteTrunc(endpoint)})
	}
	if h.GetEndOfStream() {
		return p.fail(translators.BadRequest("missing_body", "request body is required"))
	}
	if e := p.authenticate(ctx); e != nil {
		return p.fail(e)
	}
	if e := p.readSearches(); e != nil { // plugins.go
		return p.fail(e)
	}
	return continueRequestHeaders(nil, false)
}

func (p *routerProcessor) requestBody(ctx context.Context, b *extprocv3.HttpBody) *extprocv3.ProcessingResponse {
	defer p.held.drop() // the body is answered: this hop holds it no more
	body := b.GetBody()
	if p.mgmtPath != "" {
		return p.keysAPI(ctx, p.mgmtPath, body)
	}
	if !p.held.take(p.s.bodies, int64(len(body)), p.cfg.Limits.MaxInflightBytes) {
		return p.fail(overloaded())
	}
	// A multipart form (image edits) becomes the JSON form the rest reads.
	body, err := p.api.DecodeBody(p.ctype, body)
	if err != nil {
		return p.fail(asAPIError(err))
	}
	// Before any parser reads it: bounded nesting, no repeated keys.
	if e := translators.CheckRequestJSON(body); e != nil {
		return p.fail(e)
	}
	// The web search loop takes the request as the client sent it.
	if loop, e := p.toWebLoop(body); e != nil { // plugins.go
		return p.fail(e)
	} else if loop {
		return p.webLoop()
	}
	// A Responses follow-up is planned on the whole conversation.
	body, e := p.expandPrevious(ctx, body) // responses_store.go
	if e != nil {
		return p.fail(e)
	}
	// Every API is planned on its OpenAI form.
	n, err := p.api.Normalize(body)
	body, p.client = n.Body, n.Client
	if err != nil {
		return p.fail(asAPIError(err))
	}
	var local *extprocv3.ProcessingResponse
	if body, local = p.startPlugins(ctx, body); local != nil {
		return local
	}
	p.startCapture(body)
	prefs, perr := routing.ParsePrefs(body, p.session)
	if perr != nil {
		return p.fail(perr)
	}
	if prefs.Model == "" {
		return p.fail(&translators.APIError{Status: 404, Type: translators.TypeInvalidRequest, Code: "model_not_found",
			Message: "request has no 'model'; GET /v1/models lists the models this gateway serves"})
	}
	if route, ok := p.cfg.Catalog.Model(prefs.Model); ok {
		if route.Type != p.api.ModelType {
			return p.fail(translators.BadRequest("wrong_model_type", "model "+quoteTrunc(prefs.Model)+" is a "+route.Type+" model; it is not served on "+p.api.Path))
		}
	}
	if e := p.allowModel(prefs.Model); e != nil {
		return p.fail(e)
	}
	pol, perr := p.policy()
	if perr != nil {
		return p.fail(perr)
	}
	plan, perr := routing.Build(p.cfg.Catalog, pol, p.cfg.Routing.MaxAttempts, prefs, p.s.stats)
	if perr != nil {
		return p.fail(perr)
	}
	p.caller.model, p.caller.stream = prefs.Model, gjson.GetBytes(body, "stream").Bool()
	if e, hs := p.reserve(ctx, body, plan); e != nil {
		r := p.fail(e)
		m := r.GetImmediateResponse().Headers
		m.SetHeaders = append(m.SetHeaders, hs...)
		return r
	} else {
		p.rate = hs
	}
	if len(plan.Skipped) > 0 {
		p.s.log.Debug("candidates skipped", zap.String("model", prefs.Model), zap.Int("skipped", len(plan.Skipped)))
	}
	set := []*corev3.HeaderValueOption{
		header(xds.ModelHeader, prefs.Model),
		// Picks the model's route with one retry per further planned
		// attempt, never more than planned.
		header(xds.AttemptsHeader, strconv.Itoa(len(plan.Groups))),
	}
	m := &extprocv3.HeaderMutation{RemoveHeaders: p.internal, SetHeaders: set}
	resp := continueRequestBody(m, nil, true)
	resp.DynamicMetadata = planMetadata(prefs.Model, p.api.Path, plan)
	p.offerWhole(resp) // router_answer.go
	stampVersion(resp.DynamicMetadata, p.cfg.Version)
	p.stampTurn(resp.DynamicMetadata) // responses_store.go
	if p.api.Decodes() {
		// Every attempt's hop reads the client's form by its type; the
		// header itself is the previous attempt's once one translated it.
		resp.DynamicMetadata.Fields[xds.RequestNamespace].GetStructValue().Fields["content_type"] = structpb.NewStringValue(p.ctype)
	}
	p.pluginRequest(m, resp, body)
	p.captureRequest(resp)
	if p.goDirect(ctx, resp, m, plan, b.GetBody()) { // direct.go
		return resp
	}
	overrideGroups(resp.DynamicMetadata, plan)
	if !p.api.Decodes() {
		forwardBody(resp, b.GetBody()) // forward.go
	}
	return resp
}

// fail answers the client at once, in the error shape of the API it
// called: Anthropic's on /v1/messages, OpenAI's elsewhere.
func (p *routerProcessor) fail(e *translators.APIError) *extprocv3.ProcessingResponse {
	return immediateFor(p.api, e)
}

// planMetadata is what the router hop leaves in Envoy for later: the plan
// for the upstream hop (overrideGroups adds the priority groups Envoy's
// priority_group cluster specifier reads, when they differ).
func planMetadata(model, endpoint string, plan routing.Plan) *structpb.Struct {
	// "responses": this hop translates the successful answers the
	// upstream hop hands over (upstreamProcessor.handOff).
	// Built directly, once per request: structpb.NewStruct goes through
	// map[string]any and boxes every value twice.
	str := structpb.NewStringValue
	fields := map[string]*structpb.Value{xds.RequestNamespace: structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
		"model": str(model), "plan": str(plan.Encode()), "endpoint": str(endpoint), "responses": str(xds.HopRouter),
	}})}
	return &structpb.Struct{Fields: fields}
}

// overrideGroups adds the plan's priority groups to md when they differ
// from the route's configured ones. A direct request names its own
// cluster instead (directOverride).
func overrideGroups(md *structpb.Struct, plan routing.Plan) {
	if !plan.Default {
		md.Fields[xds.PlanNamespace] = groupsOverride(plan, xds.ClusterName)
	}
}

// groupsOverride is the plan's priority groups as Envoy's priority_group
// cluster specifier reads them from PlanNamespace, each provider's
// cluster named by cluster.
func groupsOverride(plan routing.Plan, cluster func(provider string) string) *structpb.Value {
	str := structpb.NewStringValue
	groups := make([]*structpb.Value, len(plan.Groups))
	for i, g := range plan.Groups {
		clusters := make([]*structpb.Value, len(g))
		for j, c := range g {
			clusters[j] = structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
				"cluster_name": str(cluster(c.Provider.Name)), "weight": structpb.NewNumberValue(float64(c.Weight)),
			}})
		}
		groups[i] = structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
			"name": str("r" + strconv.Itoa(i)), "clusters": structpb.NewListValue(&structpb.ListValue{Values: clusters}),
		}})
	}
	return structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
		"priority_groups": structpb.NewListValue(&structpb.ListValue{Values: groups}),
	}})
}

// responseHeaders takes over the answer when the upstream hop handed it
// over (its metadata comes with the headers, which it has already set).
// Anything else (errors and small answers the upstream hop translated
// itself, Envoy's own replies) passes through, and the stream closes.
func (p *routerProcessor) responseHeaders(ctx context.Context, h *extprocv3.HttpHeaders, md *corev3.Metadata) *extprocv3.ProcessingResponse {
	if p.direct {
		return p.answerOwn(ctx, h, md, p.own) // router_answer.go; p.attempts from goDirect
	}
	a := md.GetFilterMetadata()[xds.AttemptNamespace].GetFields()
	p.usage, p.attempts = readAttemptUsage(a), readAttempts(a)
	if a["mode"].GetStringValue() == modeRouterName {
		return p.answerAttempt(ctx, h, md, a) // router_answer.go
	}
	if a["mode"] != nil && !h.GetEndOfStream() {
		up := &upstreamProcessor{s: p.s, cfg: p.cfg, api: p.api, client: p.client, run: p.run, capture: p.capture, turn: p.turn}
		if up.adoptResponse(h, a) {
			p.answer = up
			if p.caller.res != nil && up.stream != nil {
				up.meter = p.meter(up.x.Price, billedByOthers(p.attempts, up.attempt))
			}
			if up.held != nil {
				// A whole answer: the headers answer waits for the body.
				up.held.SetHeaders = append(up.held.SetHeaders, p.rate...)
				return p.holdResponse(routerMessageWait)
			}
			return continueResponseHeaders(p.rateMutation())
		}
		p.s.log.Warn("answer handed over for a provider or model no longer configured; passed through untranslated",
			zap.String("provider", a["provider"].GetStringValue()), zap.String("model", a["model"].GetStringValue()))
	}
	p.closed = true
	return continueResponseHeaders(p.rateMutation())
}

// rateMutation adds the caller's x-ratelimit-* headers to an answer.
func (p *routerProcessor) rateMutation() *extprocv3.HeaderMutation {
	if len(p.rate) == 0 {
		return nil
	}
	return &extprocv3.HeaderMutation{SetHeaders: p.rate}
}

func (p *routerProcessor) responseBody(ctx context.Context, b *extprocv3.HttpBody) *extprocv3.ProcessingResponse {
	if b.GetEndOfStream() {
		p.closed = true
	}
	if p.answer == nil {
		return continueResponseBody(nil)
	}
	return p.answer.responseBody(ctx, b)
}

func (p *routerProcessor) pending() []*extprocv3.ProcessingResponse {
	if p.answer == nil {
		return nil
	}
	return p.answer.pending()
}

// complete is true once the answer needs nothing more: its headers
// passed through, or its last chunk is answered.
func (p *routerProcessor) complete() bool { return p.closed }

func (p *routerProcessor) done() {
	p.held.drop()
	if a := p.answer; a != nil {
		a.done()
		u, c := a.answerUsage() // signals.go: the access log logs the same
		var ttft, gen time.Duration
		if !a.first.IsZero() {
			ttft, gen = a.first.Sub(p.caller.start), time.Since(a.first)
		}
		p.caller.ttft, p.caller.gen = ttft, gen
		served := attemptUsage{Usage: u, cost: c, provider: a.provider.Name, model: a.cand.Model, id: a.respID,
			status: a.status, attempt: a.attempt, errCode: a.errCode}
		if a.badAnswer {
			served.status = 502
		}
		p.settle(served)
		p.observe(a.provider.Name, a.status, u, ttft, gen)
		return
	}
	if p.own != nil {
		p.own.done() // no response came (counted against the provider)
	}
	p.settle(p.usage)
	if p.caller.model != "" {
		p.observe(p.usage.provider, p.usage.status, p.usage.Usage, 0, 0)
	}
}

// observe records the request in the GenAI metrics.
func (p *routerProcessor) observe(provider string, status int, u translators.Usage, ttft, gen time.Duration) {
	tenant := ""
	if p.caller.who != nil {
		tenant = p.caller.who.Tenant
	}
	errType := ""
	if status == 0 || status >= 400 {
		errType = strconv.Itoa(status)
	}
	p.s.metrics.genAI.request(p.caller.model, provider, tenant, errType, u, time.Since(p.caller.start), ttft, gen)
}

func asAPIError(err error) *translators.APIError {
	if e, ok := err.(*translators.APIError); ok {
		return e
	}
	return &translators.APIError{Status: 500, Type: translators.TypeServer, Code: "internal_error", Message: err.Error()}
}

func pathOnly(p string) string {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		return p[:i]
	}
	return p
}

// quoteTrunc quotes a client-supplied value for an error message, cut short
// so a huge value cannot bloat the reply.
func quoteTrunc(s string) string {
	if len(s) > 100 {
		s = s[:100] + "..."
	}
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}

// routerMessageWait is how long Envoy waits for the router hop's answer
// to a whole answer's headers while the body comes in (override_message_
// timeout, within the filter's max_message_timeout), once the body is
// slow to come (bodyPatience).
const routerMessageWait = 30 * time.Second
