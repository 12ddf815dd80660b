// Command modfloor is the in-process floor for `bench -peers modfloor`:
// an Envoy dynamic-module HTTP filter, in Go, that measures what an
// in-process data path (issue 12, direction 3) costs before switchboard's
// routing, auth and accounting, beside the ext_proc floor's gRPC round
// trips.
//
//   - Pass-through (bench-openai): it holds the request until its body is
//     in and copies that body into Go, then copies each response chunk
//     into Go as it passes, changing nothing, as the null ext_proc server
//     does.
//   - Translation (bench-anthropic): it runs switchboard's translators on
//     both sides, in Envoy's worker thread: the chat request becomes an
//     Anthropic Messages request (path, headers, body), and the answer,
//     whole or streamed event by event, comes back as a chat completion.
//
// The Go SDK for dynamic modules cannot be fetched here, so the few ABI
// functions it needs are declared by hand from Envoy 1.40's abi.h (abi.go;
// the signatures were checked against the 1.40 binary). Build:
//
//	go build -buildmode=c-shared -o libswitchboard_floor.so ./bench/peers/modfloor
package main

import (
	"runtime/cgo"

	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/translators"
)

// Models of the bench's gateway config (bench/target): the first passes
// through, the second is translated for the fake's Anthropic endpoint.
const (
	modelTranslated = "bench-anthropic"
	upstreamModel   = "claude-bench-1"
)

var (
	chatAPI, _       = translators.APIByEndpoint(translators.EndpointChat)
	anthropicSpec, _ = translators.SpecFor(translators.SchemaAnthropic)
)

// filter is one request's state, reached from Envoy through a cgo.Handle.
type filter struct {
	env    uintptr // Envoy's filter object, for callbacks
	x      *translators.Exchange
	stream translators.StreamTranslator
	body   []byte
	out    []byte
}

func (f *filter) requestHeaders(eos bool) int {
	if eos {
		return headersContinue
	}
	return headersStopIteration // routing waits for the body, as switchboard's does
}

func (f *filter) requestBody(eos bool) int {
	if !eos {
		return bodyStopAndBuffer
	}
	f.body = readBody(f.env, f.body[:0], bufferedRequest, receivedRequest)
	if gjson.GetBytes(f.body, "model").Str != modelTranslated {
		return bodyContinue
	}
	x, err := translators.Begin(chatAPI, anthropicSpec, f.body, translators.Target{Model: upstreamModel}, "bench-key",
		translators.Facts{Provider: "fake-anthropic"})
	if err != nil {
		return bodyContinue // the fake answers whatever it gets
	}
	f.x = x
	setHeader(f.env, requestHeader, ":path", x.Upstream.Path)
	for _, h := range x.Upstream.Headers {
		setHeader(f.env, requestHeader, h.Key, h.Value)
	}
	setHeader(f.env, requestHeader, "content-length", itoa(len(x.Upstream.Body)))
	replaceBody(f.env, x.Upstream.Body, bufferedRequest, receivedRequest)
	return bodyContinue
}

func (f *filter) responseHeaders(eos bool) int {
	if f.x == nil || eos {
		return headersContinue
	}
	removeHeader(f.env, responseHeader, "content-length")
	if f.x.Stream {
		f.stream = f.x.NewStream()
		return headersContinue
	}
	return headersStopIteration // the status waits for the whole answer
}

func (f *filter) responseBody(eos bool) int {
	switch {
	case f.x == nil:
		f.body = readBody(f.env, f.body[:0], receivedResponse)
		return bodyContinue
	case f.stream != nil:
		f.body = readBody(f.env, f.body[:0], receivedResponse)
		f.out = f.stream.Translate(f.out[:0], f.body)
		if eos {
			f.out = f.stream.Finish(f.out)
		}
		replaceBody(f.env, f.out, receivedResponse)
		return bodyContinue
	case !eos:
		return bodyStopAndBuffer
	}
	f.body = readBody(f.env, f.body[:0], bufferedResponse, receivedResponse)
	out, _, err := f.x.Answer(f.body)
	if err != nil {
		out = f.x.ErrorBody(&translators.APIError{Status: 502, Type: translators.TypeServer, Code: "bad_upstream_response", Message: err.Error()})
	}
	replaceBody(f.env, out, bufferedResponse, receivedResponse)
	return bodyContinue
}

func lookup(module uintptr) *filter { return cgo.Handle(module).Value().(*filter) }

func main() {}
