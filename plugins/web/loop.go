package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/sjson"
	"go.uber.org/zap"

	"github.com/switchboard-gw/switchboard/middleware"
)

// Loop serves the tool form of web search: the model decides to search,
// the gateway runs the search and continues the model's turn with the
// results, round after round, streaming to the client throughout.
//
// It is an HTTP server the router hop sends a /v1/messages request that
// declares Anthropic's web_search server tool to (Envoy routes it to this
// server's cluster). Each round is an ordinary request back through
// Envoy's listener, with the caller's own credentials: every round is
// authenticated, routed, translated, limited and billed as any request
// is, on any provider. A round's body is the client's request with the
// server tool replaced by a web_search function tool (ServerToolFunction);
// a round whose only tool calls are web_search is continued: the searches
// run, the client gets server_tool_use and web_search_tool_result blocks,
// and the next round carries the calls and their results. The client sees
// one message, as Anthropic answers with its server tool.
type Loop struct {
	// Plugin runs the searches (its backend, limits and cleaning).
	Plugin *Plugin
	// Gateway is the base URL of Envoy's listener the rounds go to, e.g.
	// http://127.0.0.1:8080, read per request (a reload may move it).
	Gateway func() string
	// Client sends the rounds. Default: a client with keep-alives and no
	// overall timeout (Envoy's route timeouts bound each round, and the
	// client's context ends them).
	Client *http.Client
	// MaxBody bounds the request body. Default 64 MiB.
	MaxBody int64
	// MaxRounds caps the server tool's max_uses (searches per turn).
	// Default 10.
	MaxRounds int
	// Log receives failures (never prompts, queries or credentials).
	Log *zap.Logger
}

// roundHeaders are the request headers a round carries from the client's
// request: its credentials and the API's own. Everything else (hop-by-
// hop, forwarding, Envoy's) is Envoy's to set.
var roundHeaders = []string{"Authorization", "X-Api-Key", "Anthropic-Version", "Anthropic-Beta", "X-Session-Id", "Traceparent", "User-Agent"}

// answerHeaders are the response headers the first round's answer passes
// to the client: the gateway's own (who served, limits) and the type.
var answerHeaders = []string{"Content-Type", "Retry-After", "X-Switchboard-Provider", "X-Switchboard-Model"}

func (l *Loop) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != MessagesPath && r.URL.Path != ResponsesPath {
		loopError(w, http.StatusNotFound, "not_found_error", "the web search loop serves POST "+MessagesPath+" and "+ResponsesPath)
		return
	}
	limit := l.MaxBody
	if limit <= 0 {
		limit = 64 << 20
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		loopError(w, http.StatusBadRequest, "invalid_request_error", "reading the request: "+err.Error())
		return
	}
	if int64(len(body)) > limit {
		loopError(w, http.StatusRequestEntityTooLarge, "request_too_large", "request body over "+strconv.FormatInt(limit, 10)+" bytes")
		return
	}
	rt := &loopRun{l: l, ctx: r.Context(), in: r.Header, w: w}
	rt.flush, _ = w.(http.Flusher)
	if r.URL.Path == ResponsesPath {
		rt.responses(body) // loop_responses.go
		return
	}
	t, err := newMessagesTurn(body, l.maxRounds())
	if err != nil {
		loopError(w, http.StatusBadRequest, "invalid_request_error", err.Error())
		return
	}
	if t.stream {
		rt.stream(t)
		return
	}
	rt.whole(t)
}

// MessagesPath is Anthropic's Messages API path.
const MessagesPath = "/v1/messages"

func (l *Loop) maxRounds() int {
	if l.MaxRounds > 0 {
		return l.MaxRounds
	}
	return 10
}

func (l *Loop) client() *http.Client {
	if l.Client != nil {
		return l.Client
	}
	return http.DefaultClient
}

func (l *Loop) log() *zap.Logger {
	if l.Log != nil {
		return l.Log
	}
	return zap.NewNop()
}

// loopRun is one client request's rounds.
type loopRun struct {
	l     *Loop
	ctx   context.Context
	in    http.Header
	w     http.ResponseWriter
	flush http.Flusher
	// started is set once the client has the answer's status.
	started bool
}

// send posts a round's body to path through the gateway. The round
// reports the searches run since the last one (middleware.SearchesHeader)
// so the gateway charges and records them with it.
func (rt *loopRun) send(path string, body []byte, unbilled *billing) (*http.Response, error) {
	req, err := http.NewRequestWithContext(rt.ctx, http.MethodPost, strings.TrimSuffix(rt.l.Gateway(), "/")+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("web loop: round request: %w", err)
	}
	for _, h := range roundHeaders {
		if v := rt.in.Values(h); len(v) > 0 {
			req.Header[h] = v
		}
	}
	req.Header.Set("Content-Type", "application/json")
	if b := *unbilled; b.calls > 0 {
		req.Header.Set(middleware.SearchesHeader, middleware.FormatSearches(b.calls, b.results))
		*unbilled = billing{}
	}
	resp, err := rt.l.client().Do(req)
	if err != nil {
		return nil, fmt.Errorf("web loop: round: %w", err)
	}
	return resp, nil
}

// wholeRound sends a round and reads its whole answer. False when the
// turn ends here: the client has the round's error, or fail's.
func (rt *loopRun) wholeRound(path string, body []byte, unbilled *billing, first bool, fail func(status int, msg string)) ([]byte, bool) {
	resp, err := rt.send(path, body, unbilled)
	if err != nil {
		rt.l.log().Warn("web search loop: round failed", zap.Error(err))
		fail(502, "web search: the gateway did not answer a round")
		return nil, false
	}
	if resp.StatusCode != 200 {
		rt.passError(resp)
		return nil, false
	}
	if first {
		rt.copyHeaders(resp)
	}
	msg, err := readCapped(resp, 64<<20)
	if err != nil {
		fail(502, "web search: reading a round's answer: "+errText(err))
		return nil, false
	}
	return msg, true
}

// passError gives the client a round's error answer as the gateway gave
// it (already in Anthropic's shape), when nothing has been sent yet.
func (rt *loopRun) passError(resp *http.Response) {
	defer resp.Body.Close()
	rt.copyHeaders(resp)
	rt.w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(rt.w, io.LimitReader(resp.Body, 1<<20))
}

func (rt *loopRun) copyHeaders(resp *http.Response) {
	for k, v := range resp.Header {
		if strings.HasPrefix(k, "X-Ratelimit-") || slices.Contains(answerHeaders, k) {
			rt.w.Header()[k] = v
		}
	}
}

// search runs one call's search: the tool's domain lists filter the
// cleaned results.
func (rt *loopRun) search(tool ServerTool, c Call) ([]Result, error) {
	p := rt.l.Plugin
	if c.Query == "" {
		return nil, errors.New("the call has no query")
	}
	q := cut(strings.Join(strings.Fields(c.Query), " "), p.cfg.MaxQueryBytes, true)
	start := time.Now()
	rs, err := p.search(rt.ctx, p.cfg.Backends[0], q, p.cfg.DefaultResults)
	if err != nil {
		rt.l.log().Warn("web search failed", zap.String("engine", p.cfg.Backends[0].Name()), zap.Duration("took", time.Since(start)), zap.Error(err))
		return nil, err
	}
	return tool.Filter(p.clean(rs)), nil
}

// loopError answers in Anthropic's error shape.
func loopError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(anthropicError(typ, msg))
}

func anthropicError(typ, msg string) []byte {
	out, _ := sjson.SetBytes([]byte(`{"type":"error","error":{"type":"","message":""}}`), "error.type", typ)
	out, _ = sjson.SetBytes(out, "error.message", msg)
	return out
}

// readCapped reads an answer body of at most limit bytes.
func readCapped(resp *http.Response, limit int64) ([]byte, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("answer over %d bytes", limit)
	}
	return b, nil
}
