package extproc

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/tidwall/gjson"
	"go.uber.org/zap"

	"github.com/switchboard-gw/switchboard/governance"
	"github.com/switchboard-gw/switchboard/middleware"
	"github.com/switchboard-gw/switchboard/translators"
)

// keysPath is the management API: create, list, get, update and delete
// gateway keys, in OpenRouter's shapes, for management keys only.
const keysPath = "/api/v1/keys"

// managementKey is the id of the management key the caller presented,
// or "".
func (p *routerProcessor) managementKey() string {
	if p.caller.bearer == "" {
		return ""
	}
	h := governance.FormatHash(governance.HashKey(p.caller.bearer))
	for _, k := range p.cfg.Governance.ManagementKeys {
		if subtle.ConstantTimeCompare([]byte(strings.ToLower(k.Hash)), []byte(h)) == 1 {
			return k.ID
		}
	}
	return ""
}

// keyRequest is what POST and PATCH /api/v1/keys take.
type keyRequest struct {
	Tenant    string   `json:"tenant"`
	Name      string   `json:"name"` // OpenRouter's name for the label
	Label     string   `json:"label"`
	Limit     *float64 `json:"limit"` // lifetime budget in USD
	Disabled  *bool    `json:"disabled"`
	ExpiresAt *string  `json:"expires_at"`
	// Plugins is the key's plugin policy (it narrows its tenant's);
	// on PATCH it replaces the key's.
	Plugins *pluginsRequest `json:"plugins"`
}

// pluginsRequest is a plugin policy as the key API takes and shows it,
// as the config's plugins block: force items are plugin blocks
// ({"id": "web", "max_results": 3}) or bare ids.
type pluginsRequest struct {
	Allow []string          `json:"allow,omitempty"`
	Deny  []string          `json:"deny,omitempty"`
	Force []json.RawMessage `json:"force,omitempty"`
}

// keyPlugins reads a key's plugin policy from the key API and checks it
// against the plugins this gateway runs and the key's tenant.
func (p *routerProcessor) keyPlugins(r *pluginsRequest, tenant governance.Tenant) (middleware.Policy, *translators.APIError) {
	bad := func(msg string) (middleware.Policy, *translators.APIError) {
		e := translators.BadRequest("invalid_plugins", msg)
		e.Param = "plugins"
		return middleware.Policy{}, e
	}
	pol := middleware.Policy{Allow: r.Allow, Deny: r.Deny}
	for i, raw := range r.Force {
		f := middleware.Forced{ID: gjson.GetBytes(raw, "id").Str, Options: raw}
		if s := gjson.ParseBytes(raw); s.Type == gjson.String {
			f = middleware.Forced{ID: s.Str}
		} else if !s.IsObject() || f.ID == "" {
			return bad("'plugins.force[" + strconv.Itoa(i) + "]' must be a plugin id or an object with an 'id'")
		}
		pol.Force = append(pol.Force, f)
	}
	var known []string
	if p.s.chain != nil {
		known = p.s.chain.IDs()
	}
	if err := pol.Validate(known); err != nil {
		return bad(strings.TrimPrefix(err.Error(), "middleware: policy: "))
	}
	if err := tenant.Rules.Plugins.ValidateKey(pol); err != nil {
		return bad("tenant " + tenant.Name + ": " + strings.TrimPrefix(err.Error(), "middleware: policy: "))
	}
	return pol, nil
}

func (p *routerProcessor) keysAPI(ctx context.Context, endpoint string, body []byte) *extprocv3.ProcessingResponse {
	g := p.s.gov
	id := strings.TrimPrefix(strings.TrimPrefix(endpoint, keysPath), "/")
	bad := func(code, msg string) *extprocv3.ProcessingResponse {
		return p.fail(&translators.APIError{Status: 400, Type: translators.TypeInvalidRequest, Code: code, Message: msg})
	}
	var req keyRequest
	if body != nil {
		if e := translators.CheckRequestJSON(body); e != nil {
			return p.fail(e)
		}
		if err := json.Unmarshal(body, &req); err != nil {
			return bad("invalid_request", "the body must be a JSON object: "+err.Error())
		}
	}
	now := time.Now()
	switch {
	case id == "" && p.method == "GET":
		_, keys := g.Auth.Snapshot()
		out := make([]any, 0, len(keys))
		for i := range keys {
			out = append(out, keyJSON(&keys[i], now))
		}
		return jsonAnswer(200, map[string]any{"data": out})
	case id == "" && p.method == "POST":
		if req.Tenant == "" {
			return bad("missing_tenant", "a new key needs 'tenant'")
		}
		tenant, ok := g.tenant(req.Tenant)
		if !ok {
			return p.fail(&translators.APIError{Status: 404, Type: translators.TypeNotFound, Code: "tenant_not_found", Message: "no tenant " + quoteTrunc(req.Tenant)})
		}
		var plugins middleware.Policy
		if req.Plugins != nil {
			var e *translators.APIError
			if plugins, e = p.keyPlugins(req.Plugins, tenant); e != nil {
				return p.fail(e)
			}
		}
		secret, k, err := governance.NewSecret(now)
		if err != nil {
			return p.storeFailed(err)
		}
		k.Tenant, k.Label, k.Rules.Plugins = req.Tenant, firstNonEmpty(req.Label, req.Name), plugins
		if req.Limit != nil {
			k.Rules.Budgets.Lifetime = governance.Budget{USD: governance.USD(*req.Limit)}
		}
		if req.ExpiresAt != nil {
			t, err := time.Parse(time.RFC3339, *req.ExpiresAt)
			if err != nil {
				return bad("invalid_expires_at", "'expires_at' must be RFC 3339")
			}
			k.ExpiresAt = t
		}
		if err := g.Store.CreateKey(ctx, k); err != nil {
			return p.storeFailed(err)
		}
		p.s.log.Info("key created by the management API", zap.String("key_id", k.ID), zap.String("tenant", k.Tenant), zap.String("by", p.mgmt))
		g.refresh(ctx)
		// The secret is shown here once, as OpenRouter's create does.
		return jsonAnswer(201, map[string]any{"data": keyJSON(&k, now), "key": secret})
	case id != "" && (p.method == "GET" || p.method == "PATCH" || p.method == "DELETE"):
		_, keys := g.Auth.Snapshot()
		var k *governance.Key
		for i := range keys {
			if keys[i].ID == id {
				k = &keys[i]
			}
		}
		if k == nil {
			return p.fail(&translators.APIError{Status: 404, Type: translators.TypeNotFound, Code: "key_not_found", Message: "no key " + quoteTrunc(id)})
		}
		if p.method == "GET" {
			return jsonAnswer(200, map[string]any{"data": keyJSON(k, now)})
		}
		if k.Source == governance.DeclaredInConfig {
			return p.fail(&translators.APIError{Status: 409, Type: translators.TypeInvalidRequest, Code: "declared_in_config",
				Message: "key " + quoteTrunc(id) + " is declared in the config; change it there"})
		}
		var plugins middleware.Policy
		if req.Plugins != nil && p.method == "PATCH" {
			tenant, _ := g.tenant(k.Tenant)
			var e *translators.APIError
			if plugins, e = p.keyPlugins(req.Plugins, tenant); e != nil {
				return p.fail(e)
			}
		}
		err := g.Store.UpdateKey(ctx, id, func(k *governance.Key) error {
			if p.method == "DELETE" {
				k.RevokedAt = now
				return nil
			}
			if l := firstNonEmpty(req.Label, req.Name); l != "" {
				k.Label = l
			}
			if req.Disabled != nil {
				k.Disabled = *req.Disabled
			}
			if req.Limit != nil {
				k.Rules.Budgets.Lifetime = governance.Budget{USD: governance.USD(*req.Limit)}
			}
			if req.Plugins != nil {
				k.Rules.Plugins = plugins
			}
			return nil
		})
		if err != nil {
			return p.storeFailed(err)
		}
		g.refresh(ctx)
		if p.method == "DELETE" {
			return jsonAnswer(200, map[string]any{"data": map[string]any{"id": id, "deleted": true}})
		}
		updated, err := g.Store.Key(ctx, id)
		if err != nil {
			return p.storeFailed(err)
		}
		return jsonAnswer(200, map[string]any{"data": keyJSON(&updated, now)})
	}
	return p.fail(&translators.APIError{Status: 405, Type: translators.TypeInvalidRequest, Code: "method_not_allowed",
		Message: p.method + " is not allowed on " + endpoint})
}

func (p *routerProcessor) storeFailed(err error) *extprocv3.ProcessingResponse {
	if errors.Is(err, governance.ErrNotFound) {
		return p.fail(&translators.APIError{Status: 404, Type: translators.TypeNotFound, Code: "not_found", Message: "not found"})
	}
	p.s.log.Error("governance: key API", zap.Error(err))
	return p.fail(&translators.APIError{Status: 503, Type: translators.TypeServer, Code: "store_unavailable", Message: "the key store cannot be changed right now; retry"})
}

// tenant is a tenant requests are checked against now.
func (g *Gov) tenant(name string) (governance.Tenant, bool) {
	tenants, _ := g.Auth.Snapshot()
	for _, t := range tenants {
		if t.Name == name {
			return t, true
		}
	}
	return governance.Tenant{}, false
}

// refresh makes a change through the API take effect at once on this
// replica (others follow within a poll).
func (g *Gov) refresh(ctx context.Context) {
	if err := g.Auth.Refresh(ctx); err != nil {
		g.log.Warn("governance: refresh after a change", zap.Error(err))
	}
}

// keyJSON is a key as the API shows it: never its secret or hash.
func keyJSON(k *governance.Key, now time.Time) map[string]any {
	out := map[string]any{
		"id": k.ID, "label": k.Label, "name": k.Label, "tenant": k.Tenant, "prefix": k.Prefix,
		"status": k.Status(now), "disabled": k.Disabled, "source": string(k.Source),
		"created_at": k.Created.UTC().Format(time.RFC3339),
	}
	if !k.ExpiresAt.IsZero() {
		out["expires_at"] = k.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if b := k.Rules.Budgets.Lifetime; b.Set() {
		out["limit"] = b.USD.Dollars()
	} else {
		out["limit"] = nil
	}
	if pl := k.Rules.Plugins; !pl.Empty() {
		r := pluginsRequest{Allow: pl.Allow, Deny: pl.Deny}
		for _, f := range pl.Force {
			block := f.Options
			if len(block) == 0 {
				block, _ = json.Marshal(map[string]string{"id": f.ID})
			}
			r.Force = append(r.Force, block)
		}
		out["plugins"] = r
	}
	return out
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
