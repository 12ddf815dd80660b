package extproc

import (
	"context"
	"strconv"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/translators"
	"github.com/switchboard-gw/switchboard/xds"
)

// The router hop reads a request's headers and body in one exchange. Its
// request body mode is STREAMED with send_body_without_waiting_for_
// header_response (xds routerExtProc): Envoy sends the body chunks right
// after the headers, without waiting for the headers answer, which this
// hop gives only once the body is in, with everything the body phase
// decided (headers, route-cache clearing, metadata) and the body itself
// (CONTINUE_AND_REPLACE), so Envoy expects no answer per chunk. One
// round trip before the request goes upstream instead of two, and no
// more messages than a buffered body took: Envoy's HTTP/1 codec sends a
// body's end as its own empty chunk, but only one answer goes back.
//
// Envoy in BUFFERED mode (an older control plane's config, during a
// rolling upgrade) says so in the stream's protocol configuration; the
// hop then answers the headers and the body each in turn, as before.

// quickBody is the largest body that goes back with the headers answer
// when the hop leaves it unchanged; a larger one passes chunk by chunk.
const quickBody = 64 << 10

// bodyPatience is how long the hop waits for a body before it asks Envoy
// to wait for the headers answer as long as the listener waits for the
// whole request (timeouts.client_request), within the filter's 10 s
// message timeout: a slow upload then ends in the listener's 408, not in
// an ext_proc timeout. Most bodies come with the headers, and cost no
// extra message. A variable for tests.
var bodyPatience = 5 * time.Second

// payloadTooLarge is Envoy's response code details for a body over its
// buffer limit.
const payloadTooLarge = "request_payload_too_large"

// joined wraps the router hop's processor for Envoy's STREAMED request
// bodies.
type joined struct {
	processor
	fail func(*translators.APIError) *extprocv3.ProcessingResponse
	// limit is limits.max_request_bytes: Envoy enforces it only on a
	// buffered body. wait is how long Envoy may wait for the headers
	// answer while the body comes.
	limit int64
	wait  time.Duration
	// held is the headers answer, until the body is in; body its chunks
	// so far, and chunks how many Envoy sent.
	held   *extprocv3.ProcessingResponse
	body   []byte
	chunks int
	queue  []*extprocv3.ProcessingResponse
	// length is the request's content-length (-1: none). A body is
	// complete at that length: a request with trailers never gets an
	// end-of-stream chunk while the headers answer is held.
	length int64
	// after says what the chunks that come after the answer get: none
	// once the body went with it, an unchanged pass otherwise.
	after afterAnswer
	// slow asks Envoy to wait for a body slow to come.
	slow  patience
	inner waker // the router hop's own wakes (a direct stream's first byte)
}

type afterAnswer int

const (
	beforeAnswer afterAnswer = iota
	chunksDropped
	chunksPass
)

// streamsRequestBody reports whether Envoy sends this stream's request
// body in chunks, without waiting for the headers answer.
func streamsRequestBody(req *extprocv3.ProcessingRequest) bool {
	pc := req.GetProtocolConfig()
	return pc.GetRequestBodyMode() == filterv3.ProcessingMode_STREAMED && pc.GetSendBodyWithoutWaitingForHeaderResponse()
}

// joinBody wraps the router hop's processor p (with its wakes w) for a
// request body that comes in chunks after the headers.
func joinBody(p processor, w waker, router *routerProcessor, cfg *config.Loaded) (processor, waker) {
	j := &joined{processor: p, inner: w, fail: router.fail, limit: cfg.Limits.MaxRequestBytes, wait: xds.BodyWait(cfg.Timeouts.ClientRequest.D())}
	return j, j
}

func (j *joined) requestHeaders(ctx context.Context, h *extprocv3.HttpHeaders, md *corev3.Metadata) *extprocv3.ProcessingResponse {
	r := j.processor.requestHeaders(ctx, h, md)
	if h.GetEndOfStream() || r.GetRequestHeaders() == nil || j.complete() {
		return r // a refusal, or nothing more to read
	}
	n, err := strconv.ParseInt(headerValue(h, "content-length"), 10, 64)
	if err != nil {
		n = -1
	}
	if n > j.limit {
		return j.tooLarge() // not worth reading
	}
	j.held, j.length = r, n
	j.slow.start(time.Now().Add(j.wait))
	return nil
}

// tooLarge refuses a body over limits.max_request_bytes; the chunks
// still coming are dropped with the request.
func (j *joined) tooLarge() *extprocv3.ProcessingResponse {
	j.held, j.body, j.after = nil, nil, chunksDropped
	r := j.fail(&translators.APIError{Status: 413, Type: translators.TypeInvalidRequest, Code: "request_too_large",
		Message: "request body exceeds the gateway's size limit (limits.max_request_bytes: " + strconv.FormatInt(j.limit, 10) + " bytes)"})
	// Envoy's own details for it, as when it buffered the body: the
	// access log and its local reply (the client's shape) stay as they
	// were.
	r.GetImmediateResponse().Details = payloadTooLarge
	return r
}

// wakeAt is when a body still coming needs Envoy to wait longer, else
// the router hop's own wake.
func (j *joined) wakeAt() time.Time {
	if j.held != nil && !j.slow.due().IsZero() {
		return j.slow.due()
	}
	if j.inner == nil {
		return time.Time{}
	}
	return j.inner.wakeAt()
}

func (j *joined) wake() *extprocv3.ProcessingResponse {
	if j.held != nil && !j.slow.due().IsZero() {
		return j.slow.ask()
	}
	if j.inner == nil {
		return nil
	}
	return j.inner.wake()
}

func (j *joined) requestBody(ctx context.Context, b *extprocv3.HttpBody) *extprocv3.ProcessingResponse {
	switch {
	case j.after == chunksDropped:
		return nil // Envoy dropped it: the body went with the headers answer
	case j.after == chunksPass:
		return continueRequestBody(nil, nil, false)
	case j.held == nil:
		return j.processor.requestBody(ctx, b) // the headers were answered
	}
	j.chunks++
	if int64(len(j.body))+int64(len(b.GetBody())) > j.limit {
		return j.tooLarge()
	}
	switch {
	case j.chunks == 1 && (b.GetEndOfStream() || int64(len(b.GetBody())) == j.length):
		j.body = b.GetBody() // one chunk: no copy
	case j.chunks == 1 && j.length > 0:
		// Sized, within the limit (checked at the headers): one
		// allocation for the whole body.
		j.body = append(make([]byte, 0, j.length), b.GetBody()...)
	default:
		j.body = append(j.body, b.GetBody()...)
	}
	if !b.GetEndOfStream() && int64(len(j.body)) != j.length {
		return nil // answered with the headers, once the body is in
	}
	held := j.held
	j.held = nil
	body := j.body
	j.body = nil
	r := j.processor.requestBody(ctx, &extprocv3.HttpBody{Body: body, EndOfStream: true})
	br := r.GetRequestBody().GetResponse()
	if br == nil {
		j.after = chunksDropped
		return r // a refusal or a local answer: it ends the request
	}
	hr := held.GetRequestHeaders().GetResponse()
	if hr == nil {
		hr = &extprocv3.CommonResponse{}
		held.GetRequestHeaders().Response = hr
	}
	hr.HeaderMutation = mergeMutations(hr.HeaderMutation, br.HeaderMutation)
	hr.ClearRouteCache = hr.ClearRouteCache || br.ClearRouteCache
	held.DynamicMetadata = mergeMetadata(held.DynamicMetadata, r.DynamicMetadata)
	j.queue = append(j.queue, held)
	m := br.BodyMutation
	if m == nil && len(body) <= quickBody {
		m = replaceBody(body)
	}
	if m != nil {
		// The body goes with the headers answer (CONTINUE_AND_REPLACE):
		// Envoy drops the chunks it holds and expects no answer for
		// them. It also drops content-length: HTTP/1.1 providers get
		// the body chunked.
		hr.Status, hr.BodyMutation = extprocv3.CommonResponse_CONTINUE_AND_REPLACE, m
		j.after = chunksDropped
		return nil
	}
	// A large body, unchanged: each chunk goes on as it came, rather
	// than all of it back over gRPC.
	j.after = chunksPass
	for range j.chunks {
		j.queue = append(j.queue, continueRequestBody(nil, nil, false))
	}
	return nil
}

func (j *joined) pending() []*extprocv3.ProcessingResponse {
	if len(j.queue) == 0 {
		return j.processor.pending()
	}
	q := append(j.queue, j.processor.pending()...)
	j.queue = nil
	return q
}

// mergeMutations is a's changes, then b's.
func mergeMutations(a, b *extprocv3.HeaderMutation) *extprocv3.HeaderMutation {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	a.SetHeaders = append(a.SetHeaders, b.SetHeaders...)
	a.RemoveHeaders = append(a.RemoveHeaders, b.RemoveHeaders...)
	return a
}

// mergeMetadata is a's namespaces with b's; b's win.
func mergeMetadata(a, b *structpb.Struct) *structpb.Struct {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	for k, v := range b.Fields {
		a.Fields[k] = v
	}
	return a
}
