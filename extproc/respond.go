package extproc

import (
	"strconv"
	"time"
	"unsafe"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/switchboard-gw/switchboard/translators"
)

// All responses are built here, so error mapping lives in one place.

func continueRequestHeaders(m *extprocv3.HeaderMutation, clearRoute bool) *extprocv3.ProcessingResponse {
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestHeaders{RequestHeaders: &extprocv3.HeadersResponse{
		Response: &extprocv3.CommonResponse{HeaderMutation: m, ClearRouteCache: clearRoute},
	}}}
}

func continueRequestBody(m *extprocv3.HeaderMutation, body *extprocv3.BodyMutation, clearRoute bool) *extprocv3.ProcessingResponse {
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{RequestBody: &extprocv3.BodyResponse{
		Response: &extprocv3.CommonResponse{HeaderMutation: m, BodyMutation: body, ClearRouteCache: clearRoute},
	}}}
}

// waitLonger answers nothing yet: it asks Envoy to wait up to d for the
// answer to the message it sent (override_message_timeout).
func waitLonger(d time.Duration) *extprocv3.ProcessingResponse {
	return &extprocv3.ProcessingResponse{OverrideMessageTimeout: durationpb.New(d)}
}

func continueResponseHeaders(m *extprocv3.HeaderMutation) *extprocv3.ProcessingResponse {
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: &extprocv3.HeadersResponse{
		Response: &extprocv3.CommonResponse{HeaderMutation: m},
	}}}
}

func continueResponseBody(body *extprocv3.BodyMutation) *extprocv3.ProcessingResponse {
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: &extprocv3.BodyResponse{
		Response: &extprocv3.CommonResponse{BodyMutation: body},
	}}}
}

// replaceBody replaces a body or chunk; an empty replacement clears it.
func replaceBody(b []byte) *extprocv3.BodyMutation {
	if len(b) == 0 {
		return &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_ClearBody{ClearBody: true}}
	}
	return &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_Body{Body: b}}
}

// detailsPrefix marks replies the gateway made itself, so Envoy's local
// reply mapping leaves their OpenAI-shaped bodies alone.
const detailsPrefix = "switchboard_"

// immediate answers the client with an OpenAI-shaped error.
func immediate(e *translators.APIError) *extprocv3.ProcessingResponse {
	set := []*corev3.HeaderValueOption{header("content-type", "application/json")}
	if e.RetryAfter != "" {
		set = append(set, header("retry-after", e.RetryAfter))
	}
	code := e.Code
	if code == "" {
		code = e.Type
	}
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ImmediateResponse{ImmediateResponse: &extprocv3.ImmediateResponse{
		Status:  &typev3.HttpStatus{Code: typev3.StatusCode(e.Status)},
		Headers: &extprocv3.HeaderMutation{SetHeaders: set},
		Body:    e.Body(),
		Details: detailsPrefix + code,
	}}}
}

// localAnswer is a 200 the gateway makes itself.
func localAnswer(body []byte, hs []translators.Header) *extprocv3.ProcessingResponse {
	set := []*corev3.HeaderValueOption{header("content-type", "application/json")}
	for _, h := range hs {
		set = append(set, header(h.Key, h.Value))
	}
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ImmediateResponse{ImmediateResponse: &extprocv3.ImmediateResponse{
		Status:  &typev3.HttpStatus{Code: typev3.StatusCode_OK},
		Headers: &extprocv3.HeaderMutation{SetHeaders: set},
		Body:    body,
		Details: "switchboard_local_answer",
	}}}
}

// immediateFor answers at once in the error shape of the client's API
// (Anthropic's on /v1/messages); OpenAI's when the API is not known yet.
func immediateFor(api *translators.API, e *translators.APIError) *extprocv3.ProcessingResponse {
	r := immediate(e)
	if api != nil {
		r.GetImmediateResponse().Body = api.ErrorBody(e)
	}
	return r
}

// header is a header to set. It costs one allocation, not three (a
// header mutation is made for most headers of every answer): the option
// and its value share one, and the raw value views v's bytes, which are
// only ever marshalled.
func header(k, v string) *corev3.HeaderValueOption {
	h := new(headerOption)
	h.value.Key, h.value.RawValue = k, unsafe.Slice(unsafe.StringData(v), len(v))
	h.option.Header, h.option.AppendAction = &h.value, corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
	return &h.option
}

type headerOption struct {
	option corev3.HeaderValueOption
	value  corev3.HeaderValue
}

// headerValue reads a header from an ext_proc header map (Envoy sends
// raw_value; value is kept for older senders).
func headerValue(h *extprocv3.HttpHeaders, name string) string {
	for _, kv := range h.GetHeaders().GetHeaders() {
		if kv.GetKey() == name {
			if kv.GetRawValue() != nil {
				return string(kv.GetRawValue())
			}
			return kv.GetValue()
		}
	}
	return ""
}

// headerString reads one header value (raw_value or value).
func headerString(kv *corev3.HeaderValue) string {
	if kv.GetRawValue() != nil {
		return string(kv.GetRawValue())
	}
	return kv.GetValue()
}

func statusOf(h *extprocv3.HttpHeaders) int {
	n, _ := strconv.Atoi(headerValue(h, ":status"))
	return n
}
