package translators

import (
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// responsesAPI is OpenAI's Responses API (POST /v1/responses). OpenAI and
// Azure OpenAI serve it natively: the body passes through with the model
// swapped. Every other provider gets it as chat, translated both ways by
// ResponsesIngress.
var responsesAPI = &API{
	Endpoint: EndpointResponses, Path: "/v1/responses", ModelType: ModelTypeChat,
	Normalize: func(body []byte) (Normalized, error) {
		rr, err := ResponsesIngress{}.Request(body)
		if err != nil {
			return Normalized{}, err
		}
		echo := rr.Echo
		return Normalized{Body: rr.Body, Client: ClientContext{echo: &echo}}, ValidateChat(rr.Body)
	},
	begin: func(x *Exchange, body []byte, t Target) (Request, error) {
		if x.native() {
			return responsesNativeRequest(x.spec.Schema, body, t)
		}
		if x.ChatForm {
			// The router hop keeps the echo; it translates the answers.
			x.ExcludeReasoning = gjson.GetBytes(body, "reasoning.exclude").Bool()
			return x.tr.Request(body, t)
		}
		rr, err := ResponsesIngress{}.Request(body)
		if err != nil {
			return Request{}, err
		}
		echo := rr.Echo
		x.client.echo = &echo
		x.ExcludeReasoning = gjson.GetBytes(rr.Body, "reasoning.exclude").Bool()
		req, err := x.tr.Request(rr.Body, t)
		if err != nil {
			return Request{}, err
		}
		req.Dropped = append(rr.Dropped, req.Dropped...)
		return req, nil
	},
	answer: func(x *Exchange, body []byte) ([]byte, Usage, error) {
		if x.native() {
			return responsesNativeAnswer(body)
		}
		out, u, err := x.chatAnswer(body)
		if err != nil {
			return nil, u, err
		}
		out, err = ResponsesIngress{}.Response(out, x.echo())
		return out, u, err
	},
	stream: func(x *Exchange) StreamTranslator {
		if x.native() {
			return &nativeResponsesStream{}
		}
		return &ingressStream{up: x.chatStream(), in: ResponsesIngress{}.NewStream(x.echo())}
	},
}

func (x *Exchange) echo() ResponsesEcho {
	if x.client.echo == nil {
		return ResponsesEcho{}
	}
	return *x.client.echo
}

// responsesNativeRequest passes a Responses body to OpenAI or Azure with
// the model swapped, without the gateway's own fields, and without
// reasoning items another provider made (their encrypted_content is the
// gateway's envelope, which OpenAI cannot read).
func responsesNativeRequest(schema Schema, body []byte, t Target) (Request, error) {
	if !validJSON(body) || !gjson.ParseBytes(body).IsObject() {
		return Request{}, BadRequest("invalid_request", "request body must be a JSON object")
	}
	root := gjson.ParseBytes(body)
	out, err := sjson.SetBytes(body, "model", t.Model)
	for _, f := range GatewayFields {
		if err == nil && root.Get(f).Exists() {
			out, err = sjson.DeleteBytes(out, f)
		}
	}
	if in := root.Get("input"); err == nil && in.IsArray() {
		var keep []string
		foreign := false
		in.ForEach(func(_, item gjson.Result) bool {
			if item.Get("type").Str == "reasoning" && strings.HasPrefix(item.Get("encrypted_content").Str, ingressEnvelope) {
				foreign = true
			} else {
				keep = append(keep, item.Raw)
			}
			return true
		})
		if foreign {
			out, err = sjson.SetRawBytes(out, "input", []byte("["+strings.Join(keep, ",")+"]"))
		}
	}
	if err != nil {
		return Request{}, BadRequest("invalid_request", "cannot set the model: "+err.Error())
	}
	path := t.PathPrefix + "/responses"
	if schema == SchemaAzureOpenAI {
		// Azure's v1 API takes the model in the body, as OpenAI does.
		path = t.PathPrefix + "/openai/v1/responses"
	}
	return Request{Path: path, Headers: []Header{{"content-type", "application/json"}}, Body: out, Stream: root.Get("stream").Type == gjson.True}, nil
}

// responsesUsage reads a Responses usage object.
func responsesUsage(u gjson.Result) Usage {
	return Usage{
		PromptTokens:     u.Get("input_tokens").Int(),
		CompletionTokens: u.Get("output_tokens").Int(),
		CachedTokens:     u.Get("input_tokens_details.cached_tokens").Int(),
		ReasoningTokens:  u.Get("output_tokens_details.reasoning_tokens").Int(),
	}
}

// responsesNativeAnswer checks a whole Responses answer and reads its
// usage; the body goes back as sent.
func responsesNativeAnswer(body []byte) ([]byte, Usage, error) {
	if !validJSON(body) {
		return nil, Usage{}, &APIError{Status: 502, Type: TypeUpstream, Code: "bad_upstream_response", Message: "provider returned a body that is not JSON"}
	}
	root := gjson.ParseBytes(body)
	if root.Get("object").Str != "response" || !root.Get("output").IsArray() {
		return nil, Usage{}, &APIError{Status: 502, Type: TypeUpstream, Code: "bad_upstream_response", Message: "provider returned a body that is not a Responses answer"}
	}
	return body, responsesUsage(root.Get("usage")), nil
}

// nativeResponsesStream passes a Responses event stream through, reading
// usage from its terminal event. A stream cut before one gets a
// response.failed event, so a client never takes a cut answer for a
// whole one.
type nativeResponsesStream struct {
	dec   SSEDecoder
	usage Usage
	seq   int64
	ended bool
}

func (s *nativeResponsesStream) Translate(dst, chunk []byte) []byte {
	if err := s.dec.Write(chunk); err != nil {
		s.ended = true // an oversized event: pass on what came, claim nothing
		return append(dst, chunk...)
	}
	for {
		ev, ok := s.dec.Next()
		if !ok {
			break
		}
		s.seq = max(s.seq, gjson.GetBytes(ev.Data, "sequence_number").Int())
		switch gjson.GetBytes(ev.Data, "type").Str {
		case "response.completed", "response.incomplete", "response.failed":
			s.ended = true
			s.usage = responsesUsage(gjson.GetBytes(ev.Data, "response.usage"))
		case "error":
			s.ended = true
		}
	}
	return append(dst, chunk...)
}

func (s *nativeResponsesStream) Finish(dst []byte) []byte {
	if s.ended {
		return dst
	}
	s.ended = true
	dst = append(dst, "event: response.failed\ndata: {\"type\":\"response.failed\",\"sequence_number\":"...)
	dst = strconv.AppendInt(dst, s.seq+1, 10)
	return append(dst, ",\"response\":{\"object\":\"response\",\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"provider stream ended before the response was complete\"}}}\n\n"...)
}

func (s *nativeResponsesStream) Usage() Usage { return s.usage }
