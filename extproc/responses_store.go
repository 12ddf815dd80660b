package extproc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/tidwall/gjson"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchboard-gw/switchboard/governance"
	"github.com/switchboard-gw/switchboard/translators"
	"github.com/switchboard-gw/switchboard/xds"
)

// The Responses API's state, kept by the gateway (store: true, the
// default): the answer a client received is stored with the conversation
// that led to it, under its resp_ id and the caller's key.
//
//   - previous_response_id: the router hop expands it into the stored
//     conversation before it plans (Normalize), and the upstream hop does
//     again per attempt, before translating. An attempt that goes natively
//     to the provider that made the previous response (OpenAI or Azure
//     OpenAI, which keep it under the same id) gets previous_response_id
//     as sent; every other attempt gets the conversation in input. An id
//     the store lacks, or another key's, is 404.
//   - The answer is stored by the hop that translates it: the upstream hop
//     for a whole answer it holds, the router hop for the streams and large
//     answers handed to it (a stream's: response.completed's object).
//   - GET and DELETE /v1/responses/{id}: the router hop answers from the
//     store.
//
// The hops run on different gRPC streams, maybe on different replicas: the
// store is the only state they share. The embedded SQLite store serves one
// node; several replicas need a store they all reach (a PostgreSQL
// ResponseStore).

// responsesPrefix is where stored responses are read and deleted.
const responsesPrefix = xds.ResponsesStorePrefix

// keyIDField is the request metadata field that names the caller's key
// for the upstream hop; the router hop sets it on Responses requests when
// the store is on ("" without gateway keys).
const keyIDField = "responses_key_id"

// storeTimeout bounds one write of a stored response: the answer waits
// for it, so a follow-up sent at once finds it.
const storeTimeout = 2 * time.Second

// purgeEvery is how often expired responses are deleted.
const purgeEvery = time.Hour

// SetResponseStore turns on the Responses API's stored state.
func (s *Server) SetResponseStore(rs governance.ResponseStore) { s.responses = rs }

// responsesOpener is a governance store that keeps stored responses too.
type responsesOpener interface {
	Responses(ctx context.Context) (*governance.SQLiteResponses, error)
}

// OpenResponseStore opens the store of Responses answers in the
// governance store's file and purges what expired, hourly, at the running
// config's retention, until stop. Without a governance store that keeps
// them, it returns nil: previous_response_id is then refused as before.
func OpenResponseStore(ctx context.Context, g *Gov, log *zap.Logger) (governance.ResponseStore, func(), error) {
	if g == nil {
		return nil, func() {}, nil
	}
	o, ok := g.Store.(responsesOpener)
	if !ok {
		log.Warn("the governance store keeps no Responses answers: previous_response_id and GET /v1/responses/{id} are off")
		return nil, func() {}, nil
	}
	rs, err := o.Responses(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("extproc: open the response store: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		purgeResponses(runCtx, rs, log, time.Now)
		t := time.NewTicker(purgeEvery)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
				purgeResponses(runCtx, rs, log, time.Now)
			}
		}
	}()
	return rs, func() { cancel(); <-done }, nil
}

// purgeResponses deletes the stored responses expired at now().
func purgeResponses(ctx context.Context, rs governance.ResponseStore, log *zap.Logger, now func() time.Time) {
	n, err := rs.PurgeResponses(ctx, now())
	switch {
	case err != nil && ctx.Err() == nil:
		log.Warn("purge of stored responses failed", zap.Error(err))
	case n > 0:
		log.Info("stored responses purged", zap.Int64("deleted", n))
	}
}

// respTurn is one Responses request's part in the store, in the hop that
// may store its answer.
type respTurn struct {
	keyID string
	store bool
	// input is the conversation stored with the answer: the previous
	// response's input and output, then the request's own input.
	input   []byte
	capture translators.ResponsesCapture // a stream's final object
}

// loadPrevious reads the response a request continues, for keyID only:
// another key's is not found either (ids are not secrets).
func loadPrevious(ctx context.Context, rs governance.ResponseStore, id, keyID string) (governance.StoredResponse, *translators.APIError) {
	r, err := rs.Response(ctx, id, time.Now())
	if err == nil && r.KeyID != keyID {
		err = governance.ErrNotFound
	}
	if errors.Is(err, governance.ErrNotFound) {
		return r, &translators.APIError{Status: 404, Type: translators.TypeInvalidRequest, Code: "previous_response_not_found", Param: "previous_response_id",
			Message: "Previous response with id " + quoteTrunc(id) + " not found."}
	}
	if err != nil {
		return r, storeUnavailable()
	}
	return r, nil
}

func storeUnavailable() *translators.APIError {
	return &translators.APIError{Status: 503, Type: translators.TypeServer, Code: "store_unavailable", Message: "the response store cannot be read right now; retry"}
}

// callerKeyID is the caller's gateway key id; "" without keys.
func (p *routerProcessor) callerKeyID() string {
	if p.caller.who == nil {
		return ""
	}
	return p.caller.who.KeyID
}

// expandPrevious is the router hop's side of a Responses request: it
// expands previous_response_id into the stored conversation, which the
// hop then plans on, and keeps what storing the answer needs.
func (p *routerProcessor) expandPrevious(ctx context.Context, body []byte) ([]byte, *translators.APIError) {
	rs := p.s.responses
	if rs == nil || p.api == nil || p.api.Endpoint != translators.EndpointResponses {
		return body, nil
	}
	own, err := translators.ReadResponsesTurn(body)
	if err != nil {
		return nil, asAPIError(err)
	}
	t := &respTurn{keyID: p.callerKeyID(), store: own.Store, input: own.Input}
	p.turn = t
	if own.Previous == "" {
		return body, nil
	}
	prev, e := loadPrevious(ctx, rs, own.Previous, t.keyID)
	if e != nil {
		return nil, e
	}
	history := translators.ResponsesHistory(prev.Input, prev.Response)
	t.input = translators.JoinItems(history, own.Input)
	out, err := translators.ExpandResponses(body, history, own)
	if err != nil {
		return nil, asAPIError(err)
	}
	return out, nil
}

// stampTurn tells the upstream hop whose Responses request this is.
func (p *routerProcessor) stampTurn(md *structpb.Struct) {
	if p.turn == nil || md == nil {
		return
	}
	if req := md.GetFields()[xds.RequestNamespace].GetStructValue(); req != nil {
		req.Fields[keyIDField] = structpb.NewStringValue(p.turn.keyID)
	}
}

// turnOf is the upstream hop's respTurn, from the router hop's metadata;
// nil when the router hop keeps no state for the request.
func turnOf(req map[string]*structpb.Value) *respTurn {
	v, ok := req[keyIDField]
	if !ok {
		return nil
	}
	return &respTurn{keyID: v.GetStringValue()}
}

// turnBody is the upstream hop's side: the body this attempt translates.
// An attempt that goes natively to the provider that made the previous
// response passes previous_response_id on; any other gets the stored
// conversation in input.
func (p *upstreamProcessor) turnBody(ctx context.Context, body []byte, t translators.Target) ([]byte, *translators.APIError) {
	rs := p.s.responses
	if p.turn == nil || rs == nil || p.api.Endpoint != translators.EndpointResponses {
		return body, nil
	}
	own, err := translators.ReadResponsesTurn(body)
	if err != nil {
		return nil, asAPIError(err)
	}
	p.turn.store, p.turn.input = own.Store, own.Input
	if own.Previous == "" {
		return body, nil
	}
	prev, e := loadPrevious(ctx, rs, own.Previous, p.turn.keyID)
	if e != nil {
		return nil, e
	}
	history := translators.ResponsesHistory(prev.Input, prev.Response)
	p.turn.input = translators.JoinItems(history, own.Input)
	if prev.Native && prev.Provider == p.provider.Name && translators.NativeFor(p.api, p.spec, t) {
		return body, nil // the provider has it under that id
	}
	out, err := translators.ExpandResponses(body, history, own)
	if err != nil {
		return nil, asAPIError(err)
	}
	return out, nil
}

// captureTurn follows a Responses stream as the client gets it and, at
// its end, stores the final response.
func (p *upstreamProcessor) captureTurn(ctx context.Context, out []byte, eos bool) {
	if p.turn == nil || !p.turn.store || p.s.responses == nil {
		return
	}
	p.turn.capture.Write(out)
	if !eos {
		return
	}
	if resp, _, ok := p.turn.capture.Final(); ok {
		p.keepResponse(ctx, resp)
	}
}

// keepResponse stores an answer the client received, when it completed
// (or stopped at a limit): a failed one is nothing to continue.
func (p *upstreamProcessor) keepResponse(ctx context.Context, resp []byte) {
	t := p.turn
	if t == nil || !t.store || p.s.responses == nil || p.provider == nil {
		return
	}
	root := gjson.ParseBytes(resp)
	id := root.Get("id").Str
	if st := root.Get("status").Str; id == "" || st != "completed" && st != "incomplete" {
		return
	}
	now := time.Now()
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	err := p.s.responses.PutResponse(ctx, governance.StoredResponse{
		ID: id, KeyID: t.keyID, Provider: p.provider.Name, Native: p.x != nil && p.x.Native,
		Created: now, Expires: now.Add(p.cfg.Responses.Retention.D()), Input: t.input, Response: resp,
	})
	switch {
	case errors.Is(err, governance.ErrExists):
		p.s.log.Warn("a response with this id is stored already; the new one is not", zap.String("id", id), zap.String("provider", p.provider.Name))
	case err != nil:
		p.s.log.Warn("response not stored", zap.String("id", id), zap.Error(err))
	}
}

// storedResponse answers GET and DELETE /v1/responses/{id} from the store,
// for the key that made the response.
func (p *routerProcessor) storedResponse(ctx context.Context, endpoint string) *extprocv3.ProcessingResponse {
	if p.method != "GET" && p.method != "DELETE" {
		return p.fail(&translators.APIError{Status: 405, Type: translators.TypeInvalidRequest, Code: "method_not_allowed",
			Message: p.method + " is not allowed on " + quoteTrunc(endpoint) + "; use GET or DELETE"})
	}
	id := strings.TrimPrefix(endpoint, responsesPrefix)
	if id == "" || strings.Contains(id, "/") {
		return p.fail(&translators.APIError{Status: 404, Type: translators.TypeInvalidRequest, Code: "unknown_url",
			Message: "unknown path " + quoteTrunc(endpoint) + "; this gateway serves GET and DELETE /v1/responses/{id}"})
	}
	rs := p.s.responses
	if rs == nil {
		return p.fail(responseNotFound(id))
	}
	if e := p.authenticate(ctx); e != nil {
		return p.fail(e)
	}
	key := p.callerKeyID()
	if p.method == "DELETE" {
		err := rs.DeleteResponse(ctx, id, key)
		switch {
		case errors.Is(err, governance.ErrNotFound):
			return p.fail(responseNotFound(id))
		case err != nil:
			p.s.log.Warn("stored response not deleted", zap.String("id", id), zap.Error(err))
			return p.fail(storeUnavailable())
		}
		return localAnswer(append(append([]byte(`{"id":`), jsonString(id)...), `,"object":"response","deleted":true}`...), nil)
	}
	r, err := rs.Response(ctx, id, time.Now())
	switch {
	case errors.Is(err, governance.ErrNotFound) || err == nil && r.KeyID != key:
		return p.fail(responseNotFound(id))
	case err != nil:
		p.s.log.Warn("stored response not read", zap.String("id", id), zap.Error(err))
		return p.fail(storeUnavailable())
	}
	return localAnswer(r.Response, nil)
}

func responseNotFound(id string) *translators.APIError {
	return &translators.APIError{Status: 404, Type: translators.TypeInvalidRequest, Code: "response_not_found",
		Message: "Response with id " + quoteTrunc(id) + " not found."}
}

// jsonString is s as a JSON string.
func jsonString(s string) []byte {
	v, _ := json.Marshal(s) // a string always encodes
	return v
}
