package extproc

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"

	"github.com/switchboard-gw/switchboard/governance"
	"github.com/switchboard-gw/switchboard/translators"
)

// managementPrefix is where the OpenRouter-compatible key and usage API
// lives; the router hop answers it itself.
const managementPrefix = "/api/v1/"

// management serves GET /api/v1/key (the calling key: label, limits,
// spend) and GET /api/v1/generation?id= (one usage record, to the key
// that made the request), in OpenRouter's shapes.
func (p *routerProcessor) management(ctx context.Context, endpoint string, eos bool) *extprocv3.ProcessingResponse {
	g := p.s.gov
	if g == nil || !g.Auth.Required() && len(p.cfg.Governance.ManagementKeys) == 0 {
		return p.fail(&translators.APIError{Status: 404, Type: translators.TypeNotFound, Code: "governance_off",
			Message: "this gateway has no keys; create a tenant and a key (switchboard tenants create / keys create) to use " + endpoint})
	}
	if endpoint == keysPath || strings.HasPrefix(endpoint, keysPath+"/") {
		p.mgmt = p.managementKey()
		if p.mgmt == "" {
			if p.caller.bearer == "" {
				return p.fail(&translators.APIError{Status: 401, Type: translators.TypeAuthentication, Code: "missing_api_key", Message: endpoint + " needs a management key: Authorization: Bearer <key>"})
			}
			return p.fail(&translators.APIError{Status: 403, Type: translators.TypeInvalidRequest, Code: "management_key_required",
				Message: endpoint + " takes a management key (governance.management_keys), not a tenant's key"})
		}
		if (p.method == "POST" || p.method == "PATCH") && !eos {
			p.mgmtPath = endpoint // answered with the body
			return continueRequestHeaders(nil, false)
		}
		return p.keysAPI(ctx, endpoint, nil)
	}
	if p.method != "GET" {
		return p.fail(&translators.APIError{Status: 405, Type: translators.TypeInvalidRequest, Code: "method_not_allowed",
			Message: p.method + " is not allowed on " + endpoint + "; use GET"})
	}
	if p.mgmt = p.managementKey(); p.mgmt == "" {
		if e := p.authenticate(ctx); e != nil {
			return p.fail(e)
		}
		if p.caller.who == nil {
			return p.fail(&translators.APIError{Status: 401, Type: translators.TypeAuthentication, Code: "missing_api_key", Message: endpoint + " needs a key"})
		}
	}
	who := p.caller.who
	switch endpoint {
	case "/api/v1/key":
		if who == nil {
			return jsonAnswer(200, map[string]any{"data": map[string]any{"label": "management key " + p.mgmt, "management": true}})
		}
		return jsonAnswer(200, map[string]any{"data": keyInfo(ctx, g, who)})
	case "/api/v1/generation":
		id := ""
		if u, err := url.Parse(p.path); err == nil {
			id = u.Query().Get("id")
		}
		if id == "" {
			return p.fail(&translators.APIError{Status: 400, Type: translators.TypeInvalidRequest, Code: "missing_id", Param: "id", Message: "GET /api/v1/generation needs ?id=<the response's id>"})
		}
		rec, err := g.Recorder.Generation(ctx, id)
		if errors.Is(err, governance.ErrNotFound) || err == nil && who != nil && rec.KeyID != who.KeyID {
			// Another key's record is not found either: ids are not secrets.
			return p.fail(&translators.APIError{Status: 404, Type: translators.TypeNotFound, Code: "generation_not_found", Message: "no generation " + quoteTrunc(id) + " for this key"})
		}
		if err != nil {
			return p.fail(&translators.APIError{Status: 503, Type: translators.TypeServer, Code: "store_unavailable", Message: "the usage store cannot be read right now; retry"})
		}
		return jsonAnswer(200, map[string]any{"data": generationInfo(rec)})
	}
	return p.fail(&translators.APIError{Status: 404, Type: translators.TypeNotFound, Code: "unknown_url", Message: "unknown path " + quoteTrunc(endpoint) + "; this gateway serves GET /api/v1/key and /api/v1/generation"})
}

// spender is a limiter that can say what a scope spent.
type spender interface {
	Spent(scope governance.Scope, p governance.Period) (spent, reserved governance.NanoUSD)
}

// keyInfo is OpenRouter's GET /api/v1/key data for the calling key: its
// spend from the counters (Memory's, or the Redis every replica
// shares), left out when they cannot be read.
func keyInfo(ctx context.Context, g *Gov, who *governance.Principal) map[string]any {
	out := map[string]any{"label": who.KeyLabel, "key_id": who.KeyID, "tenant": who.Tenant, "is_free_tier": false}
	key := who.Scopes[0]
	now := time.Now()
	if spent, ok := spendOf(ctx, g.Limiter, key.Scope, now); ok {
		out["usage"], out["usage_daily"], out["usage_monthly"] = spent[governance.Lifetime], spent[governance.Day], spent[governance.Month]
		// limit is the lifetime budget, as OpenRouter's credit limit.
		if b := key.Rules.Budgets.Lifetime; b.Set() {
			out["limit"], out["limit_remaining"] = b.USD.Dollars(), max(0, b.USD.Dollars()-spent[governance.Lifetime])
		} else {
			out["limit"], out["limit_remaining"] = nil, nil
		}
	}
	if r := key.Rules.RPM; r > 0 {
		out["rate_limit"] = map[string]any{"requests": r, "interval": "1m"}
	}
	return out
}

// spendOf is a scope's spend (USD) per period kind at now, from the
// limiter's counters: Memory's, or the Redis every replica shares.
// False when the limiter keeps none or they cannot be read.
func spendOf(ctx context.Context, lim governance.Limiter, scope governance.Scope, now time.Time) (map[governance.PeriodKind]float64, bool) {
	var read func(governance.Period) (governance.NanoUSD, error)
	l, _ := lim.(*governance.Limits)
	m, ok := lim.(spender)
	switch {
	case l != nil && l.Memory != nil:
		m, ok = l.Memory, true
	case !ok && l != nil && l.Redis != nil:
		read = func(p governance.Period) (governance.NanoUSD, error) {
			s, _, err := l.Redis.Spent(ctx, scope, p)
			return s, err
		}
	}
	if ok {
		read = func(p governance.Period) (governance.NanoUSD, error) { s, _ := m.Spent(scope, p); return s, nil }
	}
	if read == nil {
		return nil, false
	}
	out := map[governance.PeriodKind]float64{}
	for _, k := range []governance.PeriodKind{governance.Lifetime, governance.Day, governance.Month} {
		s, err := read(governance.PeriodOf(k, now))
		if err != nil {
			return nil, false
		}
		out[k] = s.Dollars()
	}
	return out, true
}

// generationInfo is OpenRouter's GET /api/v1/generation data.
func generationInfo(g governance.Generation) map[string]any {
	return map[string]any{
		"id": g.ID, "created_at": g.Created.UTC().Format(time.RFC3339Nano), "model": g.Model, "provider_name": g.Provider,
		"upstream_model": g.UpstreamModel, "upstream_id": g.UpstreamID, "streamed": g.Streamed, "cancelled": g.Cancelled,
		"finish_reason": g.FinishReason, "native_finish_reason": g.NativeFinishReason,
		"tokens_prompt": g.Tokens.Prompt, "tokens_completion": g.Tokens.Completion,
		"native_tokens_prompt": g.Tokens.Prompt, "native_tokens_completion": g.Tokens.Completion,
		"native_tokens_cached": g.Tokens.Cached, "native_tokens_cache_write": g.Tokens.CacheWrite, "native_tokens_reasoning": g.Tokens.Reasoning,
		"total_cost": g.Cost.Dollars(), "cache_discount": g.CacheDiscount.Dollars(),
		"latency": g.Latency.Milliseconds(), "generation_time": g.GenerationTime.Milliseconds(),
		"key_id": g.KeyID, "tenant": g.Tenant, "attempts": g.Attempts, "capture": g.Capture,
		"num_search_results": g.SearchResults, "num_web_searches": g.WebSearches,
	}
}

func jsonAnswer(status int, v any) *extprocv3.ProcessingResponse {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"error":{"message":"cannot encode the answer","type":"server_error","param":null,"code":"internal_error"}}`)
	}
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ImmediateResponse{ImmediateResponse: &extprocv3.ImmediateResponse{
		Status:  &typev3.HttpStatus{Code: typev3.StatusCode(status)},
		Headers: &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{header("content-type", "application/json")}},
		Body:    b,
		Details: "switchboard_management",
	}}}
}
