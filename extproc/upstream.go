package extproc

import (
	"context"
	"strconv"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/tidwall/gjson"
	"go.uber.org/zap"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/translators"
	"github.com/switchboard-gw/switchboard/xds"
)

// DroppedParamsHeader lists request parameters the provider could not
// honour and the gateway left out.
const DroppedParamsHeader = "x-switchboard-dropped-params"

// Bounds on what the upstream hop holds for one response.
const (
	maxWholeResponse = 64 << 20 // a non-streamed answer, translated whole
	maxErrorBody     = 1 << 20  // a provider error body
)

type responseMode int

const (
	modeStream responseMode = iota + 1
	modeWhole
	modeError
	modeDiscard // the answer was replaced by an error; drop the rest
)

// upstreamProcessor is the per-attempt hop on a provider cluster. It
// translates the request for the provider this attempt goes to and the
// response back to the OpenAI schema, streams event by event.
type upstreamProcessor struct {
	s   *Server
	cfg *config.Loaded

	provider *config.Provider
	model    string // public model name
	tr       translators.Translator
	req      translators.Request
	start    time.Time

	mode      responseMode
	status    int // upstream status
	apiErr    *translators.APIError
	stream    translators.StreamTranslator
	buf       []byte // whole response or error body so far
	out       []byte // reused output buffer for stream chunks
	usage     translators.Usage
	completed bool
}

func (p *upstreamProcessor) requestHeaders(_ context.Context, h *extprocv3.HttpHeaders, md *corev3.Metadata) *extprocv3.ProcessingResponse {
	p.start = time.Now()
	name := md.GetFilterMetadata()[xds.MetadataNamespace].GetFields()["provider"].GetStringValue()
	if name == "" {
		// Older Envoys forward no cluster metadata; the router's choice is
		// then the only attempt.
		name = headerValue(h, xds.ProviderHeader)
	}
	if prov, ok := p.cfg.Catalog.Provider(name); ok {
		p.provider = prov
		p.tr = p.s.tr[translators.Schema(prov.Schema)]
	}
	p.model = headerValue(h, ModelHeader)
	if p.provider == nil || p.tr == nil {
		return immediate(&translators.APIError{Status: 503, Type: translators.TypeServer, Code: "provider_unavailable",
			Message: "provider " + quoteTrunc(name) + " is not configured (the config may have just changed); retry"})
	}
	return continueRequestHeaders(nil, false)
}

func (p *upstreamProcessor) requestBody(ctx context.Context, b *extprocv3.HttpBody) *extprocv3.ProcessingResponse {
	if p.provider == nil {
		return continueRequestBody(nil, nil, false) // headers were already refused
	}
	route, ok := p.cfg.Catalog.Model(p.model)
	if !ok {
		route, ok = p.cfg.Catalog.Model(gjson.GetBytes(b.GetBody(), "model").Str)
	}
	var cand config.Candidate
	if ok {
		cand, ok = route.Candidate(p.provider.Name)
	}
	if !ok {
		return immediate(&translators.APIError{Status: 503, Type: translators.TypeServer, Code: "provider_unavailable",
			Message: "provider " + quoteTrunc(p.provider.Name) + " no longer serves model " + quoteTrunc(p.model) + "; retry"})
	}
	pr := p.provider
	req, err := p.tr.Request(b.GetBody(), translators.Target{
		Model: cand.Model, PathPrefix: pr.PathPrefix(), APIKey: pr.APIKey(),
		APIVersion: pr.APIVersion, Project: pr.Project, Region: pr.Region,
	})
	if err != nil {
		return immediate(asAPIError(err))
	}
	if err := p.s.auths.authorize(ctx, pr, &req); err != nil {
		p.s.log.Error("provider credentials unavailable", zap.String("provider", pr.Name), zap.Error(err))
		return immediate(&translators.APIError{Status: 502, Type: translators.TypeUpstream, Code: "provider_auth_failed",
			Message: "the gateway could not obtain credentials for provider " + quoteTrunc(pr.Name)})
	}
	p.req = req
	set := make([]*corev3.HeaderValueOption, 0, len(req.Headers)+2)
	set = append(set, header(":path", req.Path), header("content-length", strconv.Itoa(len(req.Body))))
	for _, h := range req.Headers {
		set = append(set, header(h.Key, h.Value))
	}
	m := &extprocv3.HeaderMutation{
		SetHeaders: set,
		// The client's credentials are for the gateway, never the provider;
		// compressed answers could not be translated.
		RemoveHeaders: []string{"authorization", "x-api-key", "api-key", "accept-encoding", xds.ProviderHeader, ModelHeader},
	}
	return continueRequestBody(m, replaceBody(req.Body), false)
}

func (p *upstreamProcessor) responseHeaders(_ context.Context, h *extprocv3.HttpHeaders) *extprocv3.ProcessingResponse {
	p.status = statusOf(h)
	set := []*corev3.HeaderValueOption{header("x-switchboard-provider", p.provider.Name)}
	if len(p.req.Dropped) > 0 {
		set = append(set, header(DroppedParamsHeader, strings.Join(p.req.Dropped, ",")))
	}
	remove := []string{"content-length", "content-encoding"}
	switch {
	case p.status < 200 || p.status > 299:
		p.mode = modeError
		// The status is settled now, before the body, from the status alone.
		p.apiErr = translators.UpstreamError(p.status, headerValue(h, "retry-after"), "")
		set = append(set, header(":status", strconv.Itoa(p.apiErr.Status)), header("content-type", "application/json"))
		if p.apiErr.RetryAfter == "" {
			remove = append(remove, "retry-after")
		}
	// Streams come as SSE or, from Bedrock, as a binary event stream; a
	// JSON body to a stream request is answered whole.
	case p.req.Stream && !strings.HasPrefix(headerValue(h, "content-type"), "application/json"):
		p.mode = modeStream
		p.stream = p.tr.NewStream(translators.StreamOptions{IncludeUsage: p.req.IncludeUsage})
		set = append(set, header("content-type", "text/event-stream"), header("cache-control", "no-cache"))
	default:
		p.mode = modeWhole
		set = append(set, header("content-type", "application/json"))
	}
	if h.GetEndOfStream() {
		// No body will come: answer now rather than send an empty 200.
		return p.endWithoutBody()
	}
	return continueResponseHeaders(&extprocv3.HeaderMutation{SetHeaders: set, RemoveHeaders: remove})
}

func (p *upstreamProcessor) endWithoutBody() *extprocv3.ProcessingResponse {
	if p.mode == modeError {
		return immediate(p.tr.Error(p.status, p.apiErr.RetryAfter, nil))
	}
	return immediate(&translators.APIError{Status: 502, Type: translators.TypeUpstream, Code: "empty_upstream_response",
		Message: "provider returned an empty response"})
}

func (p *upstreamProcessor) responseBody(ctx context.Context, b *extprocv3.HttpBody) *extprocv3.ProcessingResponse {
	chunk, eos := b.GetBody(), b.GetEndOfStream()
	switch p.mode {
	case modeStream:
		p.out = p.stream.Translate(p.out[:0], chunk)
		if eos {
			p.out = p.stream.Finish(p.out)
			p.finish(ctx, p.stream.Usage())
		}
		return continueResponseBody(replaceBody(p.out))
	case modeWhole:
		if !p.collect(chunk, maxWholeResponse) {
			return continueResponseBody(replaceBody(p.tooLarge("response")))
		}
		if !eos {
			return continueResponseBody(replaceBody(nil))
		}
		out, usage, err := p.tr.Response(p.buf)
		if err != nil {
			e := asAPIError(err)
			p.s.log.Warn("untranslatable provider response", zap.String("provider", p.provider.Name), zap.Error(err))
			p.finish(ctx, translators.Usage{})
			return continueResponseBody(replaceBody(e.Body()))
		}
		p.finish(ctx, usage)
		return continueResponseBody(replaceBody(out))
	case modeError:
		if !p.collect(chunk, maxErrorBody) {
			// Keep the head of an oversized error body: the message is there.
			p.buf = append(p.buf, chunk[:maxErrorBody-len(p.buf)]...)
		}
		if !eos {
			return continueResponseBody(replaceBody(nil))
		}
		e := p.tr.Error(p.status, p.apiErr.RetryAfter, p.buf)
		// Keep the status already sent in the headers.
		e.Status = p.apiErr.Status
		p.s.log.Info("provider error", zap.String("provider", p.provider.Name), zap.Int("upstream_status", p.status),
			zap.Int("status", e.Status), zap.String("code", e.Code))
		p.finish(ctx, translators.Usage{})
		return continueResponseBody(replaceBody(e.Body()))
	case modeDiscard:
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

func (p *upstreamProcessor) tooLarge(what string) []byte {
	e := &translators.APIError{Status: 502, Type: translators.TypeUpstream, Code: "upstream_response_too_large", Message: "provider " + what + " exceeds the gateway's limit"}
	p.mode = modeDiscard
	return e.Body()
}

// finish records the attempt once: usage now, cost and metrics later.
func (p *upstreamProcessor) finish(_ context.Context, u translators.Usage) {
	if p.completed {
		return
	}
	p.completed = true
	p.usage = u
	p.s.log.Info("completion",
		zap.String("model", p.model),
		zap.String("provider", p.provider.Name),
		zap.Int("upstream_status", p.status),
		zap.Bool("stream", p.req.Stream),
		zap.Int64("prompt_tokens", u.PromptTokens),
		zap.Int64("completion_tokens", u.CompletionTokens),
		zap.Int64("cached_tokens", u.CachedTokens),
		zap.Duration("duration", time.Since(p.start)),
	)
}

func (p *upstreamProcessor) done() {
	if p.stream != nil && !p.completed {
		// The client or upstream went away mid-stream: count what was seen.
		p.completed = true
		u := p.stream.Usage()
		p.s.log.Info("completion aborted", zap.String("model", p.model), zap.String("provider", p.provider.Name),
			zap.Int64("prompt_tokens", u.PromptTokens), zap.Int64("completion_tokens", u.CompletionTokens),
			zap.Duration("duration", time.Since(p.start)))
	}
}
