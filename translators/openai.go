package translators

import (
	"bytes"
	"encoding/json"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// openAIToOpenAI serves OpenAI and OpenAI-compatible hosts: the body passes
// through with the model replaced, and the stream is checked rather than
// rewritten, so usage is counted and a broken stream is reported.
type openAIToOpenAI struct{}

func (openAIToOpenAI) Request(body []byte, t Target) (Request, error) {
	if err := checkChatRequest(body); err != nil {
		return Request{}, err
	}
	out := Request{
		Path:    t.PathPrefix + "/chat/completions",
		Headers: []Header{{"content-type", "application/json"}},
		Stream:  gjson.GetBytes(body, "stream").Bool(),
	}
	if t.APIKey != "" {
		out.Headers = append(out.Headers, Header{"authorization", "Bearer " + t.APIKey})
	}
	// sjson copies: body itself is never modified.
	b, err := sjson.SetBytes(body, "model", t.Model)
	if err != nil {
		return Request{}, BadRequest("invalid_request", "cannot set model: "+err.Error())
	}
	if out.Stream {
		out.IncludeUsage = gjson.GetBytes(body, "stream_options.include_usage").Bool()
		// Always ask for usage so the gateway can count tokens; the usage
		// chunk is dropped again if the client did not ask for it.
		if b, err = sjson.SetBytes(b, "stream_options.include_usage", true); err != nil {
			return Request{}, BadRequest("invalid_request", "cannot set stream_options: "+err.Error())
		}
	}
	out.Body = b
	return out, nil
}

func (openAIToOpenAI) Response(body []byte) ([]byte, Usage, error) {
	if !gjson.ValidBytes(body) {
		return nil, Usage{}, &APIError{Status: 502, Type: TypeUpstream, Code: "bad_upstream_response", Message: "provider returned a body that is not JSON"}
	}
	return body, openAIUsage(gjson.GetBytes(body, "usage")), nil
}

func (openAIToOpenAI) Error(status int, retryAfter string, body []byte) *APIError {
	e := UpstreamError(status, retryAfter, upstreamMessage(body))
	if status == 400 {
		if c := gjson.GetBytes(body, "error.code").Str; c != "" {
			e.Code = c
		}
	}
	return e
}

func (openAIToOpenAI) NewStream(opts StreamOptions) StreamTranslator {
	return &openAIStream{opts: opts}
}

type openAIStream struct {
	opts     StreamOptions
	dec      SSEDecoder
	hdr      chunkHeader
	usage    Usage
	line     []byte // scratch for compacting multi-line events
	finished bool   // a finish_reason was seen
	complete bool   // upstream sent [DONE]; Finish ends the client stream
	done     bool   // [DONE] was sent
}

func (s *openAIStream) Usage() Usage { return s.usage }

func (s *openAIStream) Translate(dst, chunk []byte) []byte {
	if s.done || s.complete {
		return dst
	}
	if err := s.dec.Write(chunk); err != nil {
		return s.fail(dst, err.Error())
	}
	for {
		ev, ok := s.dec.Next()
		if !ok {
			return dst
		}
		if bytes.Equal(ev.Data, []byte("[DONE]")) {
			// Forwarded by Finish: the contract keeps [DONE] for the end of the body.
			s.complete = true
			return dst
		}
		if !gjson.ValidBytes(ev.Data) {
			return s.fail(dst, "provider sent a stream event that is not JSON")
		}
		data := ev.Data
		if bytes.ContainsAny(data, "\r\n") {
			// Re-emitted as one data: line, so newlines inside the JSON
			// (multi-line data fields) must go.
			s.line = s.line[:0]
			if w := bytes.NewBuffer(s.line); json.Compact(w, data) == nil {
				s.line = w.Bytes()
				data = s.line
			}
		}
		root := gjson.ParseBytes(data)
		if !root.IsObject() {
			return s.fail(dst, "provider sent a stream event that is not a JSON object")
		}
		if e := root.Get("error"); e.Exists() {
			msg := e.Get("message").Str
			if msg == "" {
				msg = "provider reported an error mid-stream"
			}
			return s.fail(dst, msg)
		}
		if s.hdr.ID == "" {
			s.hdr.ID, s.hdr.Model, s.hdr.Created = root.Get("id").Str, root.Get("model").Str, root.Get("created").Int()
		}
		if u := root.Get("usage"); u.IsObject() {
			s.usage = openAIUsage(u)
		}
		choices := root.Get("choices")
		for _, c := range choices.Array() {
			if c.Get("finish_reason").Type == gjson.String {
				s.finished = true
			}
		}
		if !s.opts.IncludeUsage && len(choices.Array()) == 0 && root.Get("usage").IsObject() {
			continue // the usage chunk the gateway asked for, not the client
		}
		if !s.opts.IncludeUsage && root.Get("usage").Exists() {
			// Some hosts attach usage to the last content chunk.
			if b, err := sjson.DeleteBytes(data, "usage"); err == nil {
				dst = appendSSEData(dst, b)
				continue
			}
		}
		dst = appendSSEData(dst, data)
	}
}

func (s *openAIStream) end(dst []byte) []byte {
	s.done = true
	return append(dst, sseDone...)
}

func (s *openAIStream) fail(dst []byte, msg string) []byte {
	s.done = true
	dst = appendErrorChunk(dst, &s.hdr, &APIError{Status: 502, Type: TypeUpstream, Code: "upstream_stream_error", Message: msg})
	return append(dst, sseDone...)
}

func (s *openAIStream) Finish(dst []byte) []byte {
	if s.done {
		return dst
	}
	if s.complete || s.finished && !s.dec.Pending() {
		// Some compatible hosts omit [DONE]; the answer itself is complete.
		return s.end(dst)
	}
	return s.fail(dst, "provider stream ended before the response was complete")
}

var _ Translator = openAIToOpenAI{}
var _ StreamTranslator = (*openAIStream)(nil)
