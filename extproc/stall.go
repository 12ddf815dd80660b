package extproc

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/switchboard-gw/switchboard/translators"
	"github.com/switchboard-gw/switchboard/xds"
)

// The stream hop (xds/stall.go) watches a successful SSE answer on its
// way to the client, after the router hop translated it. In Envoy's
// FULL_DUPLEX_STREAMED mode it echoes every chunk and may write on its
// own:
//   - after timeouts.stream_keepalive without a byte to the client, an SSE
//     comment (": keep-alive"), which clients ignore;
//   - after timeouts.stream_idle without a byte from the router hop, the
//     gateway's error chunk and [DONE] (Anthropic's error event on
//     /v1/messages) with end_of_stream: Envoy ends the client's stream
//     cleanly and resets the provider's.
//
// It cannot help once the provider's connection is cut: Envoy resets the
// client's stream in the same call (see docs/operations.md).

var keepAliveComment = []byte(": keep-alive\n\n")

// streamHop is one answer's state on the stream hop.
type streamHop struct {
	idle, keepalive time.Duration
	endpoint        string
	// tail is the last bytes sent to the client: an own write goes only
	// where an event ends.
	tail [2]byte
	sent bool
	// id and model of the stream's chunks, for the error chunk.
	id, model, provider string
	created             int64
	ended               bool // the terminator ([DONE], message_stop, error) went by
}

func (s *Server) processStreamHop(stream extprocv3.ExternalProcessor_ProcessServer) error {
	ctx := stream.Context()
	md, _ := metadata.FromIncomingContext(ctx)
	h := &streamHop{idle: metadataMillis(md, xds.StreamIdleMetadata), keepalive: metadataMillis(md, xds.StreamKeepaliveMetadata)}

	// Envoy's messages arrive on their own goroutine; this one also
	// answers the timers, and is the only one that sends.
	msgs := make(chan *extprocv3.ProcessingRequest)
	recvErr := make(chan error, 1)
	go func() {
		for {
			req, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			select {
			case msgs <- req:
			case <-ctx.Done():
				return
			}
		}
	}()

	var idleC, keepC <-chan time.Time
	var idleT, keepT *time.Timer
	defer func() {
		if idleT != nil {
			idleT.Stop()
		}
		if keepT != nil {
			keepT.Stop()
		}
	}()
	send := func(r *extprocv3.ProcessingResponse) error {
		if err := stream.Send(r); err != nil && ctx.Err() == nil {
			return status.Errorf(codes.Unknown, "extproc: send: %v", err)
		}
		return nil
	}
	duplex := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-recvErr:
			if errors.Is(err, io.EOF) || status.Code(err) == codes.Canceled || ctx.Err() != nil {
				return nil
			}
			return status.Errorf(codes.Unknown, "extproc: receive: %v", err)
		case <-idleC:
			// Nothing came for stream_idle: end the client's stream with
			// the error, which Envoy follows with a reset of the provider's.
			s.log.Info("stream stalled; ended with an error chunk", zap.Duration("idle", h.idle), zap.String("provider", h.provider))
			return send(streamedBody(h.stalled(), true))
		case <-keepC:
			if h.atBoundary() {
				h.note(keepAliveComment)
				if err := send(streamedBody(keepAliveComment, false)); err != nil {
					return err
				}
			}
			keepT.Reset(h.keepalive)
		case req := <-msgs:
			switch r := req.Request.(type) {
			case *extprocv3.ProcessingRequest_ResponseHeaders:
				resp := continueResponseHeaders(nil)
				if h.watch(r.ResponseHeaders, req.GetMetadataContext()) {
					duplex = true
					resp.ModeOverride = &filterv3.ProcessingMode{
						ResponseBodyMode:    filterv3.ProcessingMode_FULL_DUPLEX_STREAMED,
						ResponseTrailerMode: filterv3.ProcessingMode_SEND,
					}
				}
				if err := send(resp); err != nil || !duplex {
					return err // body mode NONE: Envoy closes the stream too
				}
			case *extprocv3.ProcessingRequest_ResponseBody:
				b := r.ResponseBody
				h.observe(b.GetBody())
				body := b.GetBody()
				if b.GetEndOfStream() && len(body) == 0 {
					// Envoy injects only a non-empty chunk, so an empty
					// end would never reach the client; a comment ends it.
					body = []byte(":\n\n")
				}
				h.note(body)
				if err := send(streamedBody(body, b.GetEndOfStream())); err != nil || b.GetEndOfStream() {
					return err
				}
				if h.idle > 0 && !h.ended {
					if idleT == nil {
						idleT = time.NewTimer(h.idle)
						idleC = idleT.C
					} else {
						idleT.Reset(h.idle)
					}
				}
				if h.keepalive > 0 {
					if keepT == nil {
						keepT = time.NewTimer(h.keepalive)
						keepC = keepT.C
					} else {
						keepT.Reset(h.keepalive)
					}
				}
				if h.ended && idleT != nil {
					idleT.Stop()
					idleC = nil
				}
			case *extprocv3.ProcessingRequest_ResponseTrailers:
				return send(&extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseTrailers{ResponseTrailers: &extprocv3.TrailersResponse{}}})
			default:
				// Request phases are not sent to this hop (SKIP).
				return status.Errorf(codes.InvalidArgument, "extproc: stream hop: unexpected request %T", r)
			}
		}
	}
}

func metadataMillis(md metadata.MD, key string) time.Duration {
	if v := md.Get(key); len(v) > 0 {
		if n, err := strconv.ParseInt(v[0], 10, 64); err == nil && n > 0 {
			return time.Duration(n) * time.Millisecond
		}
	}
	return 0
}

// watch reports whether the answer is one to watch: a successful SSE
// stream of an API the hop knows.
func (h *streamHop) watch(hd *extprocv3.HttpHeaders, md *corev3.Metadata) bool {
	h.endpoint = md.GetFilterMetadata()[xds.RequestNamespace].GetFields()["endpoint"].GetStringValue()
	if h.endpoint != xds.ChatPath && h.endpoint != xds.MessagesPath {
		return false
	}
	return statusOf(hd) == 200 && strings.HasPrefix(headerValue(hd, "content-type"), "text/event-stream") && !hd.GetEndOfStream()
}

// observe learns what the error chunk needs from the stream's first
// chunk, and whether the stream's own terminator has gone by.
func (h *streamHop) observe(b []byte) {
	if h.id == "" && h.endpoint == xds.ChatPath {
		if i := bytes.Index(b, []byte("data: {")); i >= 0 {
			line := b[i+len("data: "):]
			if j := bytes.IndexByte(line, '\n'); j >= 0 {
				line = line[:j]
			}
			r := gjson.ParseBytes(line)
			h.id, h.model, h.provider, h.created = r.Get("id").Str, r.Get("model").Str, r.Get("provider").Str, r.Get("created").Int()
		}
	}
	if h.endpoint == xds.MessagesPath {
		if bytes.Contains(b, []byte("event: message_stop")) || bytes.Contains(b, []byte("event: error")) {
			h.ended = true
		}
	} else if bytes.Contains(b, []byte("data: [DONE]")) {
		h.ended = true
	}
}

// note keeps the tail of what went to the client.
func (h *streamHop) note(b []byte) {
	switch {
	case len(b) >= 2:
		h.tail = [2]byte{b[len(b)-2], b[len(b)-1]}
	case len(b) == 1:
		h.tail = [2]byte{h.tail[1], b[0]}
	}
	if len(b) > 0 {
		h.sent = true
	}
}

// atBoundary: the client's stream is between two events.
func (h *streamHop) atBoundary() bool { return !h.sent || h.tail == [2]byte{'\n', '\n'} }

// stalled is the stream's last bytes after stream_idle of silence.
func (h *streamHop) stalled() []byte {
	var out []byte
	if !h.atBoundary() {
		out = append(out, "\n\n"...) // end the event the provider left open
	}
	msg := "the provider sent nothing for " + h.idle.String() + "; the gateway ended the stream"
	if h.endpoint == xds.MessagesPath {
		out = append(out, "event: error\ndata: "...)
		e := []byte(`{"type":"error","error":{"type":"timeout_error","message":""}}`)
		e, _ = sjson.SetBytes(e, "error.message", msg)
		out = append(out, e...)
		return append(out, "\n\n"...)
	}
	e := &translators.APIError{Status: 504, Type: translators.TypeUpstream, Code: "stream_idle_timeout", Message: msg}
	c := []byte(`{"id":"","object":"chat.completion.chunk","created":0,"model":"","choices":[{"index":0,"delta":{},"finish_reason":"error"}],"error":{}}`)
	c, _ = sjson.SetBytes(c, "id", h.id)
	c, _ = sjson.SetBytes(c, "created", h.created)
	c, _ = sjson.SetBytes(c, "model", h.model)
	if h.provider != "" {
		c, _ = sjson.SetBytes(c, "provider", h.provider)
	}
	c, _ = sjson.SetRawBytes(c, "error", []byte(gjson.GetBytes(e.Body(), "error").Raw))
	out = append(out, "data: "...)
	out = append(out, c...)
	return append(out, "\n\ndata: [DONE]\n\n"...)
}

func streamedBody(b []byte, eos bool) *extprocv3.ProcessingResponse {
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: &extprocv3.BodyResponse{
		Response: &extprocv3.CommonResponse{BodyMutation: &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_StreamedResponse{
			StreamedResponse: &extprocv3.StreamedBodyResponse{Body: b, EndOfStream: eos},
		}}},
	}}}
}
