package extproc

import (
	"bytes"
	"context"
	"time"

	gmd "google.golang.org/grpc/metadata"

	"github.com/switchboard-gw/switchboard/xds"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"

	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"

	"github.com/switchboard-gw/switchboard/translators"

	"github.com/google/go-cmp/cmp"
)

func testMetadata(t testing.TB) *corev3.Metadata {
	t.Helper()
	req, err := structpb.NewStruct(map[string]any{"model": "demo-claude", "plan": "demo-anthropic|demo-claude", "endpoint": "/v1/chat/completions"})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := structpb.NewStruct(map[string]any{"provider": "demo-anthropic"})
	if err != nil {
		t.Fatal(err)
	}
	return &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{"switchboard.request": req, "switchboard": cl}}
}

func testCodec() codec { return codec{base: encoding.GetCodecV2("proto")} }

// TestCodecUnmarshal: metadata reaches the processors with request headers and is
// left out of every other message; the rest decodes as gRPC's codec does.
func TestCodecUnmarshal(t *testing.T) {
	md := testMetadata(t)
	hdrs := &extprocv3.HttpHeaders{Headers: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{{Key: ":status", RawValue: []byte("200")}}}}
	body := &extprocv3.HttpBody{Body: []byte(`data: {"x":1}` + "\n\n"), EndOfStream: true}
	attrs := map[string]*structpb.Struct{"envoy.filters.http.ext_proc": {Fields: map[string]*structpb.Value{"a": structpb.NewStringValue("b")}}}
	cases := []struct {
		name   string
		in     *extprocv3.ProcessingRequest
		keepMD bool
	}{
		{"request headers", &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: hdrs}, MetadataContext: md}, true},
		{"response headers", &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: hdrs}, MetadataContext: md}, true},
		{"request body", &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: body}, MetadataContext: md, Attributes: attrs}, false},
		{"response body", &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: body}, MetadataContext: md, ObservabilityMode: true}, false},
		{"response trailers", &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseTrailers{ResponseTrailers: &extprocv3.HttpTrailers{}}, MetadataContext: md}, false},
		{"body without metadata", &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: body}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data, err := proto.Marshal(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			// Metadata first, as a sender may order fields freely.
			mdOnly, _ := proto.Marshal(&extprocv3.ProcessingRequest{MetadataContext: tc.in.MetadataContext})
			for _, wire := range [][]byte{data, append(mdOnly, data...)} {
				got := new(extprocv3.ProcessingRequest)
				if err := testCodec().Unmarshal(mem.BufferSlice{mem.SliceBuffer(wire)}, got); err != nil {
					t.Fatal(err)
				}
				want := proto.Clone(tc.in).(*extprocv3.ProcessingRequest)
				if !tc.keepMD {
					want.MetadataContext = nil
				}
				if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
					t.Errorf("decoded (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestCodecUnmarshalMalformed(t *testing.T) {
	for _, wire := range [][]byte{{0x2a, 0x10, 0x01}, {0xff}, {0x42, 0x05, 0x0a}} {
		if err := testCodec().Unmarshal(mem.BufferSlice{mem.SliceBuffer(wire)}, new(extprocv3.ProcessingRequest)); err == nil {
			t.Errorf("Unmarshal(% x) = nil, want an error", wire)
		}
	}
}

// TestCodecMarshal: responses and other messages encode as with gRPC's
// codec.
func TestCodecMarshal(t *testing.T) {
	md, _ := structpb.NewStruct(map[string]any{"switchboard.request": map[string]any{"model": "m", "plan": "p|m"}})
	in := continueRequestBody(&extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{header(":path", "/v1/messages")}, RemoveHeaders: removeUpstream},
		replaceBody([]byte("{}")), true)
	in.DynamicMetadata = md
	held := continueResponseHeaders(&extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{header("x-switchboard-provider", "p")}})
	held.OverrideMessageTimeout = durationpb.New(3 * time.Second)
	held.ModeOverride = &filterv3.ProcessingMode{ResponseBodyMode: filterv3.ProcessingMode_STREAMED}
	big := continueRequestBody(nil, replaceBody(bytes.Repeat([]byte("x"), 64<<10)), false) // pooled buffer
	refused := immediate(&translators.APIError{Status: 400, Type: "invalid_request_error", Code: "duplicate_key", Message: "key \"model\" repeated"})
	for _, msg := range []proto.Message{in, held, big, refused, &extprocv3.ProcessingResponse{}, testMetadata(t)} {
		data, err := testCodec().Marshal(msg)
		if err != nil {
			t.Fatal(err)
		}
		got := msg.ProtoReflect().New().Interface()
		if err := proto.Unmarshal(data.Materialize(), got); err != nil {
			t.Fatal(err)
		}
		data.Free()
		if diff := cmp.Diff(msg, got, protocmp.Transform()); diff != "" {
			t.Errorf("%T decoded (-want +got):\n%s", msg, diff)
		}
	}
}

// BenchmarkCodecMarshal is the router hop's answer to a request body:
// the translated body, headers and the plan's metadata.
func BenchmarkCodecMarshal(b *testing.B) {
	md, _ := structpb.NewStruct(map[string]any{
		"switchboard.request": map[string]any{"model": "bench-claude", "plan": "fake-anthropic|claude-bench-1", "endpoint": "/v1/chat/completions", "stream": false, "chat_form": true},
		"switchboard.attempt": map[string]any{"provider": "fake-anthropic", "model": "bench-claude", "attempt": 1, "sent_unix_us": 1.7e15},
	})
	in := continueRequestBody(&extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{header(":path", "/v1/messages"), header("x-api-key", "k"), header("content-length", "312")}, RemoveHeaders: removeUpstream},
		replaceBody(bytes.Repeat([]byte("x"), 312)), true)
	in.DynamicMetadata = md
	for _, c := range []struct {
		name  string
		codec encoding.CodecV2
	}{{"grpc", encoding.GetCodecV2("proto")}, {"switchboard", testCodec()}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				data, err := c.codec.Marshal(in)
				if err != nil {
					b.Fatal(err)
				}
				data.Free()
			}
		})
	}
}

// BenchmarkCodecUnmarshalChunk is one stream chunk's message as Envoy
// sends it to the upstream hop, forwarded metadata included.
func BenchmarkCodecUnmarshalChunk(b *testing.B) {
	req := &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: &extprocv3.HttpBody{Body: make([]byte, 120)}}, MetadataContext: testMetadata(b)}
	data, _ := proto.Marshal(req)
	for _, c := range []struct {
		name  string
		codec encoding.CodecV2
	}{{"grpc", encoding.GetCodecV2("proto")}, {"switchboard", testCodec()}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var r extprocv3.ProcessingRequest
				if err := c.codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(data)}, &r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkStreamMetadata is what every ext_proc stream reads of its
// gRPC metadata: the hop and the config version.
func BenchmarkStreamMetadata(b *testing.B) {
	md := gmd.Pairs(xds.HopMetadata, xds.HopUpstream, xds.ConfigVersionMetadata, "v42",
		"content-type", "application/grpc", "user-agent", "envoy/1.40.0", "x-envoy-internal", "true",
		"x-forwarded-proto", "http", ":authority", "extproc", "te", "trailers")
	ctx := gmd.NewIncomingContext(context.Background(), md)
	b.ReportAllocs()
	for b.Loop() {
		if hop(ctx) != xds.HopUpstream || streamVersion(ctx) != "v42" {
			b.Fatal("wrong metadata")
		}
	}
}

// upstreamHeadersRequest is the request headers message of an upstream
// hop as Envoy sends it for an openai-go client: the SDK's headers,
// Envoy's own, the router hop's, and the forwarded plan.
func upstreamHeadersRequest(t testing.TB) *extprocv3.ProcessingRequest {
	pairs := []string{
		":authority", "127.0.0.1:8080", ":path", "/v1/chat/completions", ":method", "POST", ":scheme", "http",
		"accept", "application/json", "authorization", "Bearer sk-client-0123456789abcdef", "content-type", "application/json",
		"user-agent", "OpenAI/Go 3.8.0", "x-stainless-arch", "x64", "x-stainless-lang", "go", "x-stainless-os", "Linux",
		"x-stainless-package-version", "3.8.0", "x-stainless-retry-count", "0", "x-stainless-runtime", "go",
		"x-stainless-runtime-version", "go1.26.8", "content-length", "118", "x-forwarded-proto", "http",
		"x-request-id", "6f1c2b9e-7a4d-4c1e-9b2f-3d8e5a7c1f00", "x-switchboard-model", "bench-openai",
		"x-switchboard-attempts", "1", "x-envoy-expected-rq-timeout-ms", "600000", "x-envoy-attempt-count", "1",
	}
	var hv []*corev3.HeaderValue
	for i := 0; i < len(pairs); i += 2 {
		hv = append(hv, &corev3.HeaderValue{Key: pairs[i], RawValue: []byte(pairs[i+1])})
	}
	return &extprocv3.ProcessingRequest{
		Request:         &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{Headers: &corev3.HeaderMap{Headers: hv}}},
		MetadataContext: testMetadata(t),
		ProtocolConfig:  &extprocv3.ProtocolConfiguration{RequestBodyMode: 1, ResponseBodyMode: 2},
	}
}

// BenchmarkCodecUnmarshalHeaders is the message every hop decodes once
// per request, and the one whose decoding showed in the profile.
func BenchmarkCodecUnmarshalHeaders(b *testing.B) {
	data, _ := proto.Marshal(upstreamHeadersRequest(b))
	for _, c := range []struct {
		name  string
		codec encoding.CodecV2
	}{{"grpc", encoding.GetCodecV2("proto")}, {"switchboard", testCodec()}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var r extprocv3.ProcessingRequest
				if err := c.codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(data)}, &r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
