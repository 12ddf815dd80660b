package extproc

import (
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/structpb"
)

// decodeCases are the shapes Envoy sends, each of which the hand-written
// decoder must take itself rather than leave to proto.Unmarshal.
func decodeCases(t testing.TB) map[string]*extprocv3.ProcessingRequest {
	nested, err := structpb.NewStruct(map[string]any{"usage": map[string]any{"in": 12.0, "cached": nil, "list": []any{"a", 1.5, true, map[string]any{}}}, "ok": false, "": ""})
	if err != nil {
		t.Fatal(err)
	}
	hdrs := upstreamHeadersRequest(t)
	resp := &extprocv3.ProcessingRequest{
		Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: &extprocv3.HttpHeaders{Headers: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
			{Key: ":status", RawValue: []byte("200")}, {Key: "content-type", Value: "text/event-stream"}, {Key: "x-empty"}}}, EndOfStream: true}},
		MetadataContext:   &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{"switchboard.attempt": nested, "empty": {}}},
		ObservabilityMode: true,
	}
	return map[string]*extprocv3.ProcessingRequest{
		"upstream request headers": hdrs,
		"response headers":         resp,
		"headers, no metadata":     {Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{}}},
		"request body":             {Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{Body: []byte(`{"model":"m"}`), EndOfStream: true}}, MetadataContext: testMetadata(t)},
		"response body":            {Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: &extprocv3.HttpBody{Body: []byte("data: {}\n\n")}}},
		"empty body":               {Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: &extprocv3.HttpBody{EndOfStream: true}}},
	}
}

// TestDecodeRequest: every shape Envoy sends decodes by hand, to what
// proto.Unmarshal gives (metadata left out of bodies, as the codec does),
// and the decoded values do not share memory with the gRPC buffer.
func TestDecodeRequest(t *testing.T) {
	for name, in := range decodeCases(t) {
		t.Run(name, func(t *testing.T) {
			wire, err := proto.Marshal(in)
			if err != nil {
				t.Fatal(err)
			}
			got := new(extprocv3.ProcessingRequest)
			if err := decodeRequest(wire, got); err != nil {
				t.Fatalf("decodeRequest = %v, want it handled", err)
			}
			want := proto.Clone(in).(*extprocv3.ProcessingRequest)
			if want.GetRequestHeaders() == nil && want.GetResponseHeaders() == nil {
				want.MetadataContext = nil
			}
			if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
				t.Errorf("decoded (-want +got):\n%s", diff)
			}
			for i := range wire {
				wire[i] = 0xff // gRPC reuses its buffers
			}
			if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
				t.Errorf("after the buffer was reused (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecodeRequestLeaves: shapes the decoder leaves to proto.Unmarshal.
func TestDecodeRequestLeaves(t *testing.T) {
	hdrs := &extprocv3.HttpHeaders{Headers: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{{Key: "a", RawValue: []byte("b")}}}}
	one, _ := proto.Marshal(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: hdrs}})
	body, _ := proto.Marshal(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: &extprocv3.HttpBody{Body: []byte("x")}}})
	trailers, _ := proto.Marshal(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseTrailers{ResponseTrailers: &extprocv3.HttpTrailers{}}})
	badUTF8, _ := proto.Marshal(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{Headers: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{{Key: "ok"}}}}}})
	badUTF8[len(badUTF8)-1] = 0xff // the key's one byte
	for name, wire := range map[string][]byte{
		"a oneof twice":   append(append([]byte{}, one...), body...),
		"headers twice":   append(append([]byte{}, one...), one...),
		"trailers":        trailers,
		"key not UTF-8":   badUTF8,
		"truncated":       one[:len(one)-1],
		"unknown field 1": append([]byte{0x08, 0x01}, one...),
	} {
		if err := decodeRequest(wire, new(extprocv3.ProcessingRequest)); err != errUnhandled {
			t.Errorf("%s: decodeRequest = %v, want errUnhandled", name, err)
		}
	}
}

// FuzzDecodeRequest: whatever the hand-written decoder accepts, the
// reflective path accepts too and decodes to the same message (both
// skip the metadata of messages without headers unread).
func FuzzDecodeRequest(f *testing.F) {
	for _, in := range decodeCases(f) {
		wire, _ := proto.Marshal(in)
		f.Add(wire)
	}
	f.Fuzz(func(t *testing.T, wire []byte) {
		got := new(extprocv3.ProcessingRequest)
		if decodeRequest(wire, got) != nil {
			return
		}
		want := new(extprocv3.ProcessingRequest)
		if err := reflectRequest(wire, want); err != nil {
			t.Fatalf("decoded by hand, but reflectRequest: %v", err)
		}
		if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
			t.Fatalf("decoded (-proto +hand):\n%s", diff)
		}
	})
}
