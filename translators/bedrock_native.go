package translators

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// Claude on Bedrock speaks Anthropic's Messages API through InvokeModel
// (https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-anthropic-claude-messages.html),
// so a /v1/messages client reaches it as it would reach Anthropic: its body
// as sent but for what Bedrock wants otherwise (no model, it is in the
// path; no stream, the operation says it; anthropic_version and the betas
// in the body), and the answer as the model wrote it. Bedrock's streamed
// answer is an AWS event stream whose chunk events each carry one
// Anthropic stream event, base64-encoded; the client gets them as the
// server-sent events Anthropic sends. This is what Anthropic's own
// Bedrock client (anthropic-sdk-go/bedrock) does.

// bedrockAnthropicVersion is the anthropic_version InvokeModel takes for
// the Messages API.
const bedrockAnthropicVersion = "bedrock-2023-05-31"

// bedrockClaude reports whether a Bedrock model id (a foundation model, a
// cross-region inference profile or an ARN of either) is a Claude model.
// An application inference profile's ARN names no model: such a target
// is served through Converse.
func bedrockClaude(model string) bool {
	return strings.Contains(strings.ToLower(model), "anthropic.claude")
}

// bedrockAnthropicNative is the pass-through request of a Messages body to
// Claude on Bedrock: InvokeModel, or InvokeModelWithResponseStream for a
// stream.
func bedrockAnthropicNative(body []byte, t Target) (Request, error) {
	if t.Model == "" {
		return Request{}, BadRequest("invalid_request", "no Bedrock model id is configured for this model")
	}
	out, root, err := passThroughBody(body, t.Model)
	if err != nil {
		return Request{}, err
	}
	stream := root.Get("stream").Type == gjson.True
	out, err = sjson.DeleteBytes(out, "model")
	if err == nil && root.Get("stream").Exists() {
		out, err = sjson.DeleteBytes(out, "stream")
	}
	if err == nil {
		out, err = sjson.SetBytes(out, "anthropic_version", bedrockAnthropicVersion)
	}
	if betas := bedrockBetas(root.Get("anthropic_beta"), t.AnthropicBeta); err == nil && betas != nil {
		out, err = sjson.SetBytes(out, "anthropic_beta", betas)
	}
	if err != nil {
		return Request{}, BadRequest("invalid_request", "cannot build the Bedrock request: "+err.Error())
	}
	req := Request{Body: out, Stream: stream}
	// The client's own Accept (application/json from the Anthropic SDKs)
	// would otherwise reach the operation.
	op := "/invoke"
	req.Headers = []Header{{"content-type", "application/json"}, {"accept", "application/json"}}
	if stream {
		op = "/invoke-with-response-stream"
		req.Headers = []Header{{"content-type", "application/json"}, {"accept", "application/vnd.amazon.eventstream"},
			{"x-amzn-bedrock-accept", "application/json"}}
	}
	req.Path = t.PathPrefix + "/model/" + bedrockEscapeModel(t.Model) + op
	return req, nil
}

// bedrockBetas is the anthropic_beta list of the request: the body's own,
// then the flags of the client's anthropic-beta header, each once; nil
// when the header adds nothing (the body is left as sent).
func bedrockBetas(inBody gjson.Result, header string) []string {
	if strings.TrimSpace(header) == "" {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	add := func(f string) {
		if f = strings.TrimSpace(f); f != "" && !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	if inBody.IsArray() {
		for _, f := range inBody.Array() {
			add(f.String())
		}
	}
	for _, f := range strings.Split(header, ",") {
		add(f)
	}
	return out
}

// bedrockNativeStream turns an InvokeModelWithResponseStream event stream
// into Anthropic's server-sent events: each chunk's event as
// "event: <type>\ndata: <json>\n\n", counted for usage as
// nativeAnthropicStream counts. A Bedrock exception or a corrupt stream
// ends the client's stream with Anthropic's error event, as does a stream
// cut before message_stop.
type bedrockNativeStream struct {
	dec     eventStreamDecoder
	count   anthropicStream
	scratch []byte
	raw     []byte // the decoded chunk
	compact bytes.Buffer
	ended   bool // the gateway's error event was sent; nothing more is
}

func newBedrockNativeStream() *bedrockNativeStream {
	return &bedrockNativeStream{count: anthropicStream{opts: StreamOptions{}}}
}

func (s *bedrockNativeStream) Translate(dst, chunk []byte) []byte {
	if s.ended {
		return dst
	}
	s.dec.Write(chunk)
	for !s.ended {
		m, ok, err := s.dec.Next()
		if err != nil {
			return s.fail(dst, bedrockStreamError("provider sent a corrupt event stream: "+err.Error()))
		}
		if !ok {
			return dst
		}
		dst = s.message(dst, m)
	}
	return dst
}

func (s *bedrockNativeStream) message(dst []byte, m eventStreamMessage) []byte {
	switch string(m.messageType) {
	case "exception":
		return s.fail(dst, bedrockExceptionError(m))
	case "error":
		msg := string(m.errorMessage)
		if msg == "" {
			msg = "provider reported error " + string(m.errorCode) + " mid-stream"
		}
		return s.fail(dst, bedrockAPIError(0, "", string(m.errorCode), msg))
	case "event", "":
	default:
		return dst // a message type this gateway does not know
	}
	if string(m.eventType) != "chunk" {
		return dst // the stream's union has only chunk events; others are to be ignored
	}
	b64 := gjson.GetBytes(m.payload, "bytes")
	if b64.Type != gjson.String {
		return s.fail(dst, bedrockStreamError("provider sent a chunk without bytes"))
	}
	n := base64.StdEncoding.DecodedLen(len(b64.Str))
	if cap(s.raw) < n {
		s.raw = make([]byte, n)
	}
	n, err := base64.StdEncoding.Decode(s.raw[:n], []byte(b64.Str))
	if err != nil {
		return s.fail(dst, bedrockStreamError("provider sent a chunk that is not base64: "+err.Error()))
	}
	ev := s.raw[:n]
	if !validJSON(ev) {
		return s.fail(dst, bedrockStreamError("provider sent a stream event that is not JSON"))
	}
	typ := gjson.GetBytes(ev, "type")
	if typ.Type != gjson.String || typ.Str == "" || strings.ContainsAny(typ.Str, "\r\n") {
		return s.fail(dst, bedrockStreamError("provider sent a stream event without a type"))
	}
	if bytes.ContainsAny(ev, "\r\n") {
		// One data line per event: JSON's own whitespace goes.
		s.compact.Reset()
		if json.Compact(&s.compact, ev) == nil {
			ev = s.compact.Bytes()
		}
	}
	start := len(dst)
	dst = append(dst, "event: "...)
	dst = append(dst, typ.Str...)
	dst = append(dst, "\ndata: "...)
	dst = append(dst, ev...)
	dst = append(dst, "\n\n"...)
	s.scratch = s.count.Translate(s.scratch[:0], dst[start:])
	if typ.Str == "error" {
		s.ended = true // Claude's own error event ends the stream
	}
	return dst
}

// bedrockExceptionError is the error of an exception message. A model's
// own overload or rate limit, relayed as a stream error, is told as what
// it was.
func bedrockExceptionError(m eventStreamMessage) *APIError {
	typ := string(m.exceptionType)
	msg := gjson.GetBytes(m.payload, "message").Str
	if msg == "" {
		msg = "provider reported " + typ + " mid-stream"
	}
	if st := gjson.GetBytes(m.payload, "originalStatusCode").Int(); strings.EqualFold(typ, "modelStreamErrorException") && (st == 429 || st == 503 || st == 529) {
		return bedrockAPIError(int(st), "", "", msg)
	}
	return bedrockAPIError(0, "", typ, msg)
}

// Finish ends a stream cut before message_stop with the error event
// nativeAnthropicStream sends.
func (s *bedrockNativeStream) Finish(dst []byte) []byte {
	if s.ended || s.count.done || s.count.complete {
		// Whole, or already ended by an error event.
		return dst
	}
	return s.fail(dst, bedrockStreamError("provider stream ended before the response was complete"))
}

func (s *bedrockNativeStream) Usage() Usage { return s.count.Usage() }

// End is StreamEnder: the gateway's own error event ends the stream.
func (s *bedrockNativeStream) End(dst []byte, e *APIError) []byte { return s.fail(dst, e) }

func (s *bedrockNativeStream) fail(dst []byte, e *APIError) []byte {
	s.ended, s.count.done = true, true
	dst = append(dst, "event: error\ndata: "...)
	dst = append(dst, AnthropicIngress{}.Error(e.Status, e.Body())...)
	return append(dst, "\n\n"...)
}

var (
	_ StreamTranslator = (*bedrockNativeStream)(nil)
	_ StreamEnder      = (*bedrockNativeStream)(nil)
)
