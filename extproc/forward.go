package extproc

import (
	"unicode/utf8"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchboard-gw/switchboard/xds"
)

// A small request body travels from the router hop to each attempt's
// upstream hop as dynamic metadata, so the upstream hop translates it
// with the request headers and answers them with CONTINUE_AND_REPLACE:
// one exchange and two messages fewer per attempt, and nothing shared
// between processes (any replica serves either hop). Envoy drains the
// original body as it reaches the upstream filter, so what goes to the
// provider is the translation of exactly the bytes the router hop
// checked. Larger bodies keep the body exchange.

// maxForwardedBody is the largest body sent as metadata. Envoy forwards
// the namespace with every message of the upstream hop, so it stays
// small; chat requests mostly are.
const maxForwardedBody = 32 << 10

// forwardBody adds the body the upstream hop will see (the router hop's
// replacement, if it made one, else the client's) to resp's metadata
// when it qualifies.
func forwardBody(resp *extprocv3.ProcessingResponse, original []byte) {
	body := original
	if bm := resp.GetRequestBody().GetResponse().GetBodyMutation(); bm != nil {
		body = bm.GetBody() // nil when cleared
	}
	// Metadata strings must be UTF-8; JSON requests are, multipart forms
	// with files are not.
	if len(body) == 0 || len(body) > maxForwardedBody || resp.DynamicMetadata == nil || !utf8.Valid(body) {
		return
	}
	resp.DynamicMetadata.Fields[xds.BodyNamespace] = structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
		"body": structpb.NewStringValue(string(body)),
	}})
}

// forwardedBody is the body the router hop sent with the metadata, if any.
func forwardedBody(md *corev3.Metadata) ([]byte, bool) {
	v, ok := md.GetFilterMetadata()[xds.BodyNamespace].GetFields()["body"]
	if !ok {
		return nil, false
	}
	s, ok := v.GetKind().(*structpb.Value_StringValue)
	if !ok || s.StringValue == "" {
		return nil, false
	}
	return []byte(s.StringValue), true
}

// replaceRequest answers request headers with the translated request:
// the header changes and the whole new body (Envoy removes
// content-length and drops the original body).
func replaceRequest(m *extprocv3.HeaderMutation, body []byte) *extprocv3.ProcessingResponse {
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestHeaders{RequestHeaders: &extprocv3.HeadersResponse{
		Response: &extprocv3.CommonResponse{Status: extprocv3.CommonResponse_CONTINUE_AND_REPLACE, HeaderMutation: m, BodyMutation: replaceBody(body)},
	}}}
}
