package extproc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/tidwall/gjson"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/governance"
	"github.com/switchboard-gw/switchboard/routing"
	"github.com/switchboard-gw/switchboard/translators"
	"github.com/switchboard-gw/switchboard/xds"
)

// Gov is who may call the gateway (gateway keys and their tenants), what
// they may spend (limits and budgets, reserved before a request and
// settled after) and what they spent (usage records). The router hop
// asks it once per request: it holds the request's reservation for the
// life of its gRPC stream.
type Gov struct {
	Auth     *governance.Authenticator
	Limiter  governance.Limiter
	Recorder *governance.Recorder
	Store    governance.Store
	log      *zap.Logger

	mu       sync.Mutex
	declared string // the config version whose tenants and keys Auth has
}

// OpenGov opens the store the config names, loads its keys and the spend
// of the running periods, and follows changes until ctx ends. stop
// flushes the records and closes the store.
func OpenGov(ctx context.Context, cfg *config.Loaded, log *zap.Logger) (*Gov, func(), error) {
	store, err := governance.OpenStore(ctx, cfg.Governance.Store)
	if err != nil {
		return nil, nil, fmt.Errorf("governance: open the store: %w", err)
	}
	fail := func(err error) (*Gov, func(), error) {
		store.Close()
		return nil, nil, err
	}
	auth, err := governance.NewAuthenticator(ctx, store, log, governance.AuthOptions{})
	if err != nil {
		return fail(fmt.Errorf("governance: load keys: %w", err))
	}
	lim, err := governance.OpenLimits(ctx, cfg.Governance.Limits, log)
	if err != nil {
		return fail(fmt.Errorf("governance: open the limits: %w", err))
	}
	// Budgets carry on from the spend already recorded.
	if err := lim.Seed(ctx, store, time.Now()); err != nil {
		log.Warn("governance: budgets start without the recorded spend", zap.Error(err))
	}
	rec, err := governance.OpenDurableRecorder(store, log, governance.RecorderOptions{}, governance.SpoolDir(cfg.Governance.Store))
	if err != nil {
		return fail(err)
	}
	g := &Gov{Auth: auth, Limiter: lim, Recorder: rec, Store: store, log: log}
	if err := g.declare(cfg); err != nil {
		return fail(err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go auth.Run(runCtx)
	seeding := make(chan struct{})
	go func() { lim.KeepSeeded(runCtx, store, 5*time.Second, log); close(seeding) }()
	if c := cfg.Governance.Capture; c != nil {
		go g.purgeCaptures(runCtx, c.Retention.D())
	}
	go func() { rec.Run(runCtx, 5*time.Second); close(done) }()
	stop := func() {
		cancel()
		<-done
		<-seeding // before the store closes under it
		if err := rec.Close(); err != nil {
			log.Warn("governance: close the usage spool", zap.Error(err))
		}
		store.Close()
	}
	return g, stop, nil
}

// declare gives Auth the tenants and keys of the config version in use.
func (g *Gov) declare(cfg *config.Loaded) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.declared == cfg.Version && cfg.Version != "" {
		return nil
	}
	tenants, keys, err := governance.FromConfig(cfg.Governance)
	if err != nil {
		return fmt.Errorf("governance: declared tenants and keys: %w", err)
	}
	g.Auth.SetDeclared(tenants, keys)
	g.declared = cfg.Version
	return nil
}

// caller is the governed side of one request in the router hop.
type caller struct {
	bearer, apiKey string // presented credentials
	who            *governance.Principal
	res            *governance.Reservation
	start          time.Time
	model          string
	stream         bool
	promptEstimate int64 // tokens, from the request's size
	ttft, gen      time.Duration
}

// gatewayKeyPrefix marks the gateway's own keys.
const gatewayKeyPrefix = "sk-sb-"

// takeCredential reads a request header that may carry a gateway key.
func (c *caller) takeCredential(kv *corev3.HeaderValue) {
	switch kv.GetKey() {
	case "authorization":
		v := headerString(kv)
		if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
			c.bearer = strings.TrimSpace(v[7:])
		}
	case "x-api-key":
		c.apiKey = headerString(kv)
	}
}

// authenticate finds who calls. With no key or tenant anywhere, anyone
// may (the loopback demo); otherwise a request needs a valid key.
func (p *routerProcessor) authenticate(ctx context.Context) *translators.APIError {
	g := p.s.gov
	if g == nil {
		return nil
	}
	if err := g.declare(p.cfg); err != nil {
		p.s.log.Error("governance config", zap.Error(err))
	}
	if !g.Auth.Required() {
		return nil
	}
	presented := p.caller.bearer
	if presented == "" && p.api != nil && p.api.Anthropic {
		presented = p.caller.apiKey // Anthropic clients send x-api-key
	}
	if presented == "" {
		return &translators.APIError{Status: 401, Type: translators.TypeAuthentication, Code: "missing_api_key",
			Message: "this gateway needs a key: send Authorization: Bearer sk-sb-..." + anthropicHint(p.api)}
	}
	who, err := g.Auth.Authenticate(ctx, presented)
	var ae *governance.AuthError
	var fe *governance.ForbiddenError
	switch {
	case err == nil:
		p.caller.who = &who
		return nil
	case errors.As(err, &ae):
		code := "invalid_api_key"
		switch {
		case errors.Is(err, governance.ErrKeyRevoked):
			code = "api_key_revoked"
		case errors.Is(err, governance.ErrKeyExpired):
			code = "api_key_expired"
		case errors.Is(err, governance.ErrKeyDisabled), errors.Is(err, governance.ErrTenantDisabled):
			code = "api_key_disabled"
		}
		return &translators.APIError{Status: 401, Type: translators.TypeAuthentication, Code: code, Message: strings.TrimPrefix(err.Error(), "governance: ")}
	case errors.As(err, &fe):
		return &translators.APIError{Status: 403, Type: translators.TypeInvalidRequest, Code: "forbidden", Message: fe.Rule + ": " + fe.Msg}
	default:
		p.s.log.Error("governance: authenticate", zap.Error(err))
		return &translators.APIError{Status: 503, Type: translators.TypeServer, Code: "auth_unavailable", Message: "the gateway cannot check keys right now; retry"}
	}
}

func anthropicHint(api *translators.API) string {
	if api != nil && api.Anthropic {
		return " or x-api-key"
	}
	return ""
}

// policy is the central routing policy narrowed by the caller's tenant
// and key.
func (p *routerProcessor) policy() (config.Policy, *translators.APIError) {
	pol := p.cfg.Routing.Policy
	if p.caller.who == nil {
		return pol, nil
	}
	merged, err := governance.MergePolicy(pol, p.caller.who.Policy)
	if err != nil {
		return pol, &translators.APIError{Status: 403, Type: translators.TypeInvalidRequest, Code: "forbidden_by_policy",
			Message: "tenant " + p.caller.who.Tenant + ": " + err.Error()}
	}
	return merged, nil
}

// allowModel refuses a model the caller's tenant or key does not allow.
func (p *routerProcessor) allowModel(model string) *translators.APIError {
	if w := p.caller.who; w != nil && !w.AllowsModel(model) {
		return &translators.APIError{Status: 403, Type: translators.TypeInvalidRequest, Code: "model_not_allowed", Param: "model",
			Message: "model " + quoteTrunc(model) + " is not allowed for key " + w.KeyPrefix + "… (tenant " + w.Tenant + ")"}
	}
	return nil
}

// defaultOutputEstimate is the completion tokens reserved for a request
// that names no max_tokens.
const defaultOutputEstimate = 1024

// reserve takes the request from the caller's rate limits and its
// estimated cost from their budgets, before any provider is called:
// prompt tokens estimated at four bytes each, plus max_tokens, at the
// dearest price the plan may use.
func (p *routerProcessor) reserve(ctx context.Context, body []byte, plan routing.Plan) (*translators.APIError, []*corev3.HeaderValueOption) {
	g := p.s.gov
	if g == nil || p.caller.who == nil {
		return nil, nil
	}
	prompt := int64(len(body)) / 4
	out := gjson.GetBytes(body, "max_completion_tokens").Int()
	if out <= 0 {
		out = gjson.GetBytes(body, "max_tokens").Int()
	}
	if out <= 0 {
		out = defaultOutputEstimate
	}
	est := translators.Usage{PromptTokens: prompt, CompletionTokens: out}
	if p.api.ModelType == translators.ModelTypeImage {
		est.Images = max(1, gjson.GetBytes(body, "n").Int())
	}
	var cost float64
	for _, grp := range plan.Groups {
		for _, c := range grp {
			if v, ok := translators.Price(c.Spec.Pricing).Cost(est); ok && v > cost {
				cost = v
			}
		}
	}
	p.caller.promptEstimate = prompt
	res, err := g.Limiter.Reserve(ctx, governance.ReserveRequest{Scopes: p.caller.who.Scopes, Tokens: prompt + out, Cost: governance.USD(cost)})
	var le *governance.LimitError
	switch {
	case err == nil:
		p.caller.res = res
		return nil, rateHeaders(res.Status)
	case errors.As(err, &le):
		p.s.metrics.genAI.rejections.WithLabelValues(le.Code(), p.caller.who.Tenant).Inc()
		e := &translators.APIError{Status: le.HTTPStatus(), Type: translators.TypeRateLimit, Code: le.Code(), Message: le.Error()}
		if le.RetryAfter > 0 {
			e.RetryAfter = strconv.FormatInt(int64((le.RetryAfter+time.Second-1)/time.Second), 10)
		}
		if le.Kind == governance.LimitBudget {
			e.Type = "insufficient_quota"
		}
		return e, rateHeaders(le.Status)
	default:
		p.s.log.Error("governance: reserve", zap.Error(err))
		return &translators.APIError{Status: 503, Type: translators.TypeServer, Code: "limits_unavailable", Message: "the gateway cannot check limits right now; retry"}, nil
	}
}

func rateHeaders(st governance.Status) []*corev3.HeaderValueOption {
	var out []*corev3.HeaderValueOption
	for k, vs := range st.Headers() {
		out = append(out, header(strings.ToLower(k), vs[0]))
	}
	return out
}

// settle charges what the request really used and records it, once:
// served is the attempt whose answer (or error) the client got, and
// every attempt the upstream hops reported (p.attempts) is charged what
// it billed, failed-over ones included.
func (p *routerProcessor) settle(served attemptUsage) {
	g := p.s.gov
	if g == nil || p.caller.who == nil || p.caller.res == nil {
		return
	}
	res := p.caller.res
	p.caller.res = nil
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	attempts := withServed(p.attempts, served)
	var used governance.Usage
	var recs []governance.Attempt
	for _, a := range attempts {
		c := governance.USD(a.cost)
		used.Tokens += a.Total()
		used.Cost += c
		recs = append(recs, governance.Attempt{Provider: a.provider, Model: a.model, Status: a.status, Error: a.errCode, Tokens: tokensOf(a.Usage), Cost: c})
	}
	plugins := p.pluginUsage()
	used.Cost += governance.USD(plugins.Cost)
	if err := g.Limiter.Settle(ctx, res, used); err != nil {
		p.s.log.Error("governance: settle", zap.Error(err))
	}
	id := served.id
	if id == "" {
		id = "gen-" + res.ID
	}
	rec := governance.Generation{
		ID: id, Created: res.At, KeyID: p.caller.who.KeyID, Tenant: p.caller.who.Tenant,
		Model: p.caller.model, Provider: served.provider, UpstreamModel: served.model, Streamed: p.caller.stream,
		Cancelled: served.status == 0,
		Tokens:    tokensOf(served.Usage),
		Cost:      used.Cost, Latency: time.Since(p.caller.start), TimeToFirst: p.caller.ttft, GenerationTime: p.caller.gen,
		UpstreamID: id, Capture: p.captured(), Attempts: recs,
		WebSearches: plugins.SearchCalls, SearchResults: plugins.Results,
	}
	if err := g.Recorder.Record(rec); err != nil {
		p.s.log.Warn("governance: usage record dropped", zap.Error(err))
	}
}

func tokensOf(u translators.Usage) governance.Tokens {
	return governance.Tokens{Prompt: u.PromptTokens, Completion: u.CompletionTokens, Cached: u.CachedTokens,
		CacheWrite: u.CacheWriteTokens, Reasoning: u.ReasoningTokens}
}

// withServed is the request's attempts with the served one's final
// figures in its place (the router hop counts what it translated
// itself), in attempt order. Attempts from an upstream hop that reports
// none of its own (an older version) are the served one alone.
func withServed(attempts []attemptUsage, served attemptUsage) []attemptUsage {
	if served.provider == "" {
		return attempts
	}
	for i, a := range attempts {
		if a.attempt == served.attempt {
			out := slices.Clone(attempts)
			out[i] = served
			return out
		}
	}
	return append(slices.Clone(attempts), served)
}

// billedByOthers is what the request's attempts other than attempt n
// billed (USD): those that failed over before it.
func billedByOthers(attempts []attemptUsage, n int) float64 {
	var c float64
	for _, a := range attempts {
		if a.attempt != n {
			c += a.cost
		}
	}
	return c
}

// attemptUsage is what the upstream hop reports of one attempt, in the
// attempt metadata: its usage and cost when the hop settled the answer
// itself (errors, answers that were no answer, small whole answers),
// else who it went to. The router hop charges every attempt with it.
type attemptUsage struct {
	translators.Usage
	cost            float64
	provider, model string // provider and upstream model
	id              string // the answer's id
	status          int    // 0: no response (yet)
	attempt         int    // 1-based; 0 from an older upstream hop
	errCode         string // the error the attempt answered with
}

// Attempt metadata fields: "usage" is the latest attempt the upstream hop
// settled (what older router hops read), and attempt_<n> each attempt's.
// Envoy merges every hop's metadata into the request's field by field,
// and an attempt's upstream hop shares the request's, so the fields of a
// failed-over attempt are still there when the router hop reads the
// final response's: nothing is kept between hops in a process, and any
// replica may serve any of them.
const (
	usageField         = "usage"
	attemptFieldPrefix = "attempt_"
)

func attemptField(n int) string { return attemptFieldPrefix + strconv.Itoa(n) }

func readAttemptUsage(a map[string]*structpb.Value) attemptUsage {
	return attemptFrom(a[usageField].GetStructValue().GetFields())
}

// readAttempts is every attempt the metadata reports, in order.
func readAttempts(a map[string]*structpb.Value) []attemptUsage {
	var out []attemptUsage
	for k, v := range a {
		if n, ok := strings.CutPrefix(k, attemptFieldPrefix); ok {
			if u := attemptFrom(v.GetStructValue().GetFields()); u.provider != "" {
				u.attempt, _ = strconv.Atoi(n)
				out = append(out, u)
			}
		}
	}
	slices.SortFunc(out, func(x, y attemptUsage) int { return x.attempt - y.attempt })
	return out
}

func attemptFrom(u map[string]*structpb.Value) attemptUsage {
	if u == nil {
		return attemptUsage{}
	}
	n := func(k string) int64 { return int64(u[k].GetNumberValue()) }
	return attemptUsage{
		Usage: translators.Usage{PromptTokens: n("prompt"), CompletionTokens: n("completion"), CachedTokens: n("cached"),
			CacheWriteTokens: n("cache_write"), ReasoningTokens: n("reasoning"), Images: n("images")},
		cost: u["cost"].GetNumberValue(), provider: u["provider"].GetStringValue(), model: u["model"].GetStringValue(),
		id: u["id"].GetStringValue(), status: int(n("status")), attempt: int(n("attempt")), errCode: u["error"].GetStringValue(),
	}
}

// attemptMetadata is attemptUsage as the upstream hop sends it: with
// the request (settled false: who the attempt goes to, no response yet)
// and with the answer it settled itself.
func (p *upstreamProcessor) attemptMetadata(settled bool) *structpb.Struct {
	if p.provider == nil {
		return nil
	}
	num := structpb.NewNumberValue
	f := map[string]*structpb.Value{
		"provider": structpb.NewStringValue(p.provider.Name), "model": structpb.NewStringValue(p.cand.Model),
		"attempt": num(float64(p.attempt)),
	}
	if !settled {
		return namespaceStruct(xds.AttemptNamespace, map[string]*structpb.Value{attemptField(p.attempt): structpb.NewStructValue(&structpb.Struct{Fields: f})})
	}
	c, _ := p.cost(p.usage)
	status := p.status
	if p.badAnswer {
		status = 502
	}
	u := p.usage
	f["prompt"], f["completion"], f["cached"] = num(float64(u.PromptTokens)), num(float64(u.CompletionTokens)), num(float64(u.CachedTokens))
	f["cache_write"], f["reasoning"], f["images"] = num(float64(u.CacheWriteTokens)), num(float64(u.ReasoningTokens)), num(float64(u.Images))
	f["cost"], f["id"], f["status"] = num(c), structpb.NewStringValue(p.respID), num(float64(status))
	if p.errCode != "" {
		f["error"] = structpb.NewStringValue(p.errCode)
	}
	v := structpb.NewStructValue(&structpb.Struct{Fields: f})
	return namespaceStruct(xds.AttemptNamespace, map[string]*structpb.Value{usageField: v, attemptField(p.attempt): v})
}

// meter returns the budget check of a streamed answer: once its running
// cost (tokens so far, or one per stream event before the provider says)
// passes what was reserved, it reserves more; a hard budget that would
// be crossed ends the stream with budget_exceeded. The overshoot is the
// chunk that crossed it. before is what the request's earlier attempts
// billed.
func (p *routerProcessor) meter(price translators.Price, before float64) func(translators.Usage, int64) *translators.APIError {
	return func(u translators.Usage, events int64) *translators.APIError {
		res := p.caller.res
		if res == nil {
			return nil
		}
		if u.PromptTokens == 0 {
			u.PromptTokens = p.caller.promptEstimate
		}
		u.CompletionTokens = max(u.CompletionTokens, events)
		c, ok := price.Cost(u)
		if !ok {
			return nil
		}
		need := governance.USD(c + before) // with what failed-over attempts billed
		if need <= res.Cost {
			return nil
		}
		// Reserve ahead in steps, not per chunk.
		step := max(need-res.Cost, res.Cost/4, governance.USD(0.000001))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err := p.s.gov.Limiter.Extend(ctx, res, step)
		var le *governance.LimitError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &le):
			p.s.metrics.genAI.rejections.WithLabelValues(le.Code(), p.caller.who.Tenant).Inc()
			return &translators.APIError{Status: le.HTTPStatus(), Type: "insufficient_quota", Code: le.Code(), Message: le.Error()}
		default:
			p.s.log.Error("governance: extend", zap.Error(err))
			return nil // the limits store failing does not cut a paid answer short
		}
	}
}
