package extproc

import (
	"bytes"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchboard-gw/switchboard/xds"
)

func TestRouterForwardsSmallBodies(t *testing.T) {
	h := newHarness(t, mustLoad(t, testYAML))
	small := chatBody("gpt-4o", false)
	r := h.route(t, small)
	got := r.metadata.GetFields()[xds.BodyNamespace].GetStructValue().GetFields()["body"].GetStringValue()
	if got != string(small) {
		t.Errorf("forwarded body = %q, want the client's %q", got, small)
	}
	// Over maxForwardedBody: the upstream hop gets the body exchange.
	large := []byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"` + strings.Repeat("a", maxForwardedBody) + `"}]}`)
	if r := h.route(t, large); r.metadata.GetFields()[xds.BodyNamespace] != nil {
		t.Errorf("a %d-byte body was forwarded as metadata", len(large))
	}
}

func TestForwardBody(t *testing.T) {
	withMutation := func(m *extprocv3.BodyMutation) *extprocv3.ProcessingResponse {
		r := continueRequestBody(nil, m, false)
		r.DynamicMetadata = &structpb.Struct{Fields: map[string]*structpb.Value{}}
		return r
	}
	client := []byte(`{"model":"m","messages":[]}`)
	tests := []struct {
		name string
		resp *extprocv3.ProcessingResponse
		body []byte
		want []byte // nil: not forwarded
	}{
		{name: "the client's body", resp: withMutation(nil), body: client, want: client},
		{name: "the router hop's replacement", resp: withMutation(replaceBody([]byte(`{"model":"m","x":1}`))), body: client, want: []byte(`{"model":"m","x":1}`)},
		{name: "a cleared body", resp: withMutation(replaceBody(nil)), body: client},
		{name: "not UTF-8", resp: withMutation(nil), body: []byte("{\"model\":\"\xff\"}")},
		{name: "at the limit", resp: withMutation(nil), body: bytes.Repeat([]byte("a"), maxForwardedBody), want: bytes.Repeat([]byte("a"), maxForwardedBody)},
		{name: "over the limit", resp: withMutation(nil), body: bytes.Repeat([]byte("a"), maxForwardedBody+1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			forwardBody(tc.resp, tc.body)
			md := withBodyMetadata(tc.resp.DynamicMetadata)
			got, ok := forwardedBody(md)
			if tc.want == nil {
				if ok {
					t.Fatalf("forwarded %q, want nothing", got)
				}
				return
			}
			if !ok || !bytes.Equal(got, tc.want) {
				t.Fatalf("forwarded %q (%v), want %q", got, ok, tc.want)
			}
		})
	}
}

// withBodyMetadata is the metadata the upstream hop gets for what the
// router hop set.
func withBodyMetadata(s *structpb.Struct) *corev3.Metadata {
	md := &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{}}
	for k, v := range s.GetFields() {
		md.FilterMetadata[k] = v.GetStructValue()
	}
	return md
}
