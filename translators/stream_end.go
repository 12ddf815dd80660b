package translators

import "strconv"

// StreamEnder is a stream translator the gateway can end early, with an
// error the client sees in its own stream shape (a budget crossed while
// the answer streams): OpenAI's error chunk and [DONE], Anthropic's error
// event, the Responses API's response.failed. Nothing the provider sends
// afterwards belongs to the client.
type StreamEnder interface {
	End(dst []byte, e *APIError) []byte
}

// chatEnd is the gateway's error chunk and [DONE].
func chatEnd(dst []byte, model string, e *APIError) []byte {
	dst = appendErrorChunk(dst, &chunkHeader{Model: model}, e)
	return append(dst, sseDone...)
}

func (s *taggedStream) End(dst []byte, e *APIError) []byte {
	s.buf = chatEnd(s.buf[:0], s.x.Model, e)
	return tagProvider(dst, s.buf, s.field)
}

// An ingress turns the OpenAI error chunk into its own error event.
func (s *ingressStream) End(dst []byte, e *APIError) []byte {
	s.buf = chatEnd(s.buf[:0], "", e)
	dst = s.in.Translate(dst, s.buf)
	return s.in.Finish(dst)
}

func (s *nativeAnthropicStream) End(dst []byte, e *APIError) []byte {
	s.count.done = true
	dst = append(dst, "event: error\ndata: "...)
	dst = append(dst, AnthropicIngress{}.Error(e.Status, e.Body())...)
	return append(dst, "\n\n"...)
}

func (s *nativeResponsesStream) End(dst []byte, e *APIError) []byte {
	s.ended = true
	dst = append(dst, "event: response.failed\ndata: {\"type\":\"response.failed\",\"sequence_number\":"...)
	dst = strconv.AppendInt(dst, s.seq+1, 10)
	dst = append(dst, ",\"response\":{\"object\":\"response\",\"status\":\"failed\",\"error\":{\"code\":"...)
	dst = appendJSONString(dst, e.Code)
	dst = append(dst, ",\"message\":"...)
	dst = appendJSONString(dst, e.Message)
	return append(dst, "}}}\n\n"...)
}

var (
	_ StreamEnder = (*taggedStream)(nil)
	_ StreamEnder = (*ingressStream)(nil)
	_ StreamEnder = (*nativeAnthropicStream)(nil)
	_ StreamEnder = (*nativeResponsesStream)(nil)
)
