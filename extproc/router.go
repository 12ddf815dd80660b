package extproc

import (
	"context"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/tidwall/gjson"
	"go.uber.org/zap"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/translators"
	"github.com/switchboard-gw/switchboard/xds"
)

// ModelHeader carries the public model name to the upstream hop and logs.
const ModelHeader = "x-switchboard-model"

// routerProcessor is the router-level hop: it checks the request, resolves
// the model and chooses the provider cluster by setting a header the routes
// match, then clears the route cache so Envoy routes again.
type routerProcessor struct {
	s        *Server
	cfg      *config.Loaded
	method   string
	path     string
	internal []string // client-sent x-switchboard-* headers to drop
}

func (p *routerProcessor) requestHeaders(_ context.Context, h *extprocv3.HttpHeaders, _ *corev3.Metadata) *extprocv3.ProcessingResponse {
	for _, kv := range h.GetHeaders().GetHeaders() {
		switch k := kv.GetKey(); {
		case k == ":method":
			p.method = string(kv.GetRawValue()) + kv.GetValue()
		case k == ":path":
			p.path = string(kv.GetRawValue()) + kv.GetValue()
		case strings.HasPrefix(k, "x-switchboard-"):
			// Only the gateway may choose a provider.
			p.internal = append(p.internal, k)
		}
	}
	if p.method != "POST" {
		return immediate(&translators.APIError{Status: 405, Type: translators.TypeInvalidRequest, Code: "method_not_allowed",
			Message: p.method + " is not allowed on " + pathOnly(p.path) + "; use POST"})
	}
	if h.GetEndOfStream() {
		return immediate(translators.BadRequest("missing_body", "request body is required"))
	}
	return continueRequestHeaders(nil, false)
}

func (p *routerProcessor) requestBody(ctx context.Context, b *extprocv3.HttpBody) *extprocv3.ProcessingResponse {
	body := b.GetBody()
	if err := translators.ValidateChat(body); err != nil {
		return immediate(asAPIError(err))
	}
	model := gjson.GetBytes(body, "model")
	if model.Type != gjson.String || model.Str == "" {
		return immediate(&translators.APIError{Status: 404, Type: translators.TypeInvalidRequest, Code: "model_not_found",
			Message: "request has no 'model'; GET /v1/models lists the models this gateway serves"})
	}
	route, ok := p.cfg.Catalog.Model(model.Str)
	if !ok {
		return immediate(&translators.APIError{Status: 404, Type: translators.TypeInvalidRequest, Code: "model_not_found",
			Message: "model " + quoteTrunc(model.Str) + " is not served by this gateway; GET /v1/models lists the models it serves"})
	}
	c := route.Pick(nil)
	p.s.log.Debug("routed", zap.String("model", route.Name), zap.String("provider", c.Provider.Name))
	m := &extprocv3.HeaderMutation{
		RemoveHeaders: p.internal,
		SetHeaders: []*corev3.HeaderValueOption{
			header(xds.ProviderHeader, c.Provider.Name),
			header(ModelHeader, route.Name),
		},
	}
	return continueRequestBody(m, nil, true)
}

func (p *routerProcessor) responseHeaders(context.Context, *extprocv3.HttpHeaders) *extprocv3.ProcessingResponse {
	return continueResponseHeaders(nil)
}

func (p *routerProcessor) responseBody(context.Context, *extprocv3.HttpBody) *extprocv3.ProcessingResponse {
	return continueResponseBody(nil)
}

func (p *routerProcessor) done() {}

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
