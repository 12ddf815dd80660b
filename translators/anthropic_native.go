package translators

import "github.com/tidwall/gjson"

// A /v1/messages client served by an Anthropic-schema provider speaks the
// provider's own API: its body goes through as sent but for what the
// gateway must change (the model id, the gateway's own fields), and the
// answer comes back untouched, read only for usage. So every Claude
// feature the gateway does not know yet (betas, context_management,
// adaptive thinking, effort, server tools) works as it does direct. The
// client's anthropic-beta header passes with it (Spec.ForwardHeaders).

// GatewayFields are request members meant for the gateway (OpenRouter's
// routing, plugin and accounting directives), never for a provider that
// is sent the client's body as is.
var GatewayFields = []string{"provider", "models", "route", "transforms", "plugins", "session_id", "usage"}

// anthropicNativeRequest is the pass-through request of a Messages body.
func anthropicNativeRequest(body []byte, t Target) (Request, error) {
	out, root, err := passThroughBody(body, t.Model)
	if err != nil {
		return Request{}, err
	}
	return Request{
		Path: t.PathPrefix + "/v1/messages",
		// The only version there is; clients send the same.
		Headers: []Header{{"content-type", "application/json"}, {"anthropic-version", anthropicVersion}},
		Body:    out,
		Stream:  root.Get("stream").Type == gjson.True,
	}, nil
}

// anthropicNativeAnswer checks a whole Messages answer and reads its
// usage; the body goes back as the provider sent it.
func anthropicNativeAnswer(body []byte) ([]byte, Usage, error) {
	_, u, err := anthropicResponse(body, false)
	if err != nil {
		return nil, Usage{}, err
	}
	return body, u, nil
}

// nativeAnthropicStream passes a Messages event stream through as sent,
// counting usage as it goes. A stream that ends before message_stop
// (the provider cut it) gets an error event, as Anthropic ends a failed
// stream, so the client never takes a cut answer for a whole one.
type nativeAnthropicStream struct {
	count   anthropicStream
	scratch []byte
	// vertex: Claude on Vertex adds vertex_event events the Messages API
	// has not; the stream is re-framed event by event without them.
	vertex bool
	dec    SSEDecoder
}

func newNativeAnthropicStream() *nativeAnthropicStream {
	return &nativeAnthropicStream{count: anthropicStream{opts: StreamOptions{}}}
}

func (s *nativeAnthropicStream) Translate(dst, chunk []byte) []byte {
	s.scratch = s.count.Translate(s.scratch[:0], chunk)
	if !s.vertex {
		return append(dst, chunk...)
	}
	if err := s.dec.Write(chunk); err != nil {
		return append(dst, chunk...) // an oversized event: pass it on as is
	}
	for {
		ev, ok := s.dec.Next()
		if !ok {
			return dst
		}
		if string(ev.Event) == "vertex_event" || gjson.GetBytes(ev.Data, "type").Str == "vertex_event" {
			continue
		}
		if len(ev.Event) > 0 {
			dst = append(dst, "event: "...)
			dst = append(dst, ev.Event...)
			dst = append(dst, '\n')
		}
		dst = append(dst, "data: "...)
		dst = append(dst, ev.Data...)
		dst = append(dst, "\n\n"...)
	}
}

func (s *nativeAnthropicStream) Finish(dst []byte) []byte {
	if s.count.done || s.count.complete {
		// Whole, or already ended by the provider's own error event.
		return dst
	}
	s.count.done = true
	return append(dst, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"provider stream ended before the response was complete\"}}\n\n"...)
}

func (s *nativeAnthropicStream) Usage() Usage { return s.count.Usage() }
