package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchboard-gw/switchboard/envoy"
	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
	"github.com/switchboard-gw/switchboard/internal/testcerts"
)

// TestControlTLS: with control_tls, Envoy reaches the control plane and
// ext_proc over mutual TLS and serves as usual, while a process that
// connects to the ext_proc port without Envoy's certificate, pretending
// to be its upstream hop, gets no answer, let alone the provider's key.
func TestControlTLS(t *testing.T) {
	f, err := testcerts.Write(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	fake := fakeprovider.New(t)
	fake.Handle("POST", "/v1/chat/completions", fakeprovider.Reply{Transcript: fakeprovider.MustLoad(t, transcript("openai", "chat"))})
	gw := startGatewayTLS(t, envoy.TLS{Cert: f.ClientCert, Key: f.ClientKey, CA: f.CA, ServerName: "127.0.0.1"}, fmt.Sprintf(`control_tls:
  cert: %s
  key: %s
  ca: %s
  envoy_cert: %s
  envoy_key: %s
providers:
  - {name: p, schema: openai, base_url: %s/v1, api_key: {env: E2E_OPENAI_KEY}}
models:
  - {name: m, providers: [{provider: p, model: gpt-4.1-mini}]}
`, f.ServerCert, f.ServerKey, f.CA, f.ClientCert, f.ClientKey, fake.URL()), "E2E_OPENAI_KEY="+openAIKey)

	resp, body := gw.post(t, "/v1/chat/completions", []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	if resp.StatusCode != 200 {
		t.Fatalf("through mTLS: status %d: %s", resp.StatusCode, body)
	}
	if got := lastRequest(t, fake).Header.Get("authorization"); got != "Bearer "+openAIKey {
		t.Fatalf("provider got authorization %q", got)
	}

	addr := fmt.Sprintf("127.0.0.1:%d", gw.extPort)
	pem, err := os.ReadFile(f.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	// The threat is real: a caller holding Envoy's certificate is
	// handed the key. Without it, nothing.
	envoyCert, err := tls.LoadX509KeyPair(f.ClientCert, f.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	withCert := credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1", Certificates: []tls.Certificate{envoyCert}})
	if key := impersonateUpstreamHop(t, addr, withCert); key != "Bearer "+openAIKey {
		t.Fatalf("with Envoy's certificate the hop answered %q; the impersonation below proves nothing", key)
	}
	for _, tc := range []struct {
		name  string
		creds credentials.TransportCredentials
	}{
		{"plain gRPC", insecure.NewCredentials()},
		{"TLS without a client certificate", credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if key := impersonateUpstreamHop(t, addr, tc.creds); key != "" {
				t.Fatalf("ext_proc answered an impostor with authorization %q", key)
			}
		})
	}
}

// impersonateUpstreamHop does what Envoy's upstream hop does and returns
// the authorization header ext_proc set, "" when it answered nothing.
func impersonateUpstreamHop(t *testing.T, addr string, creds credentials.TransportCredentials) string {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return ""
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "x-switchboard-hop", "upstream")
	stream, err := extprocv3.NewExternalProcessorClient(conn).Process(ctx)
	if err != nil {
		return ""
	}
	hdr := &extprocv3.HttpHeaders{Headers: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
		{Key: ":method", RawValue: []byte("POST")}, {Key: ":path", RawValue: []byte("/v1/chat/completions")},
		{Key: "x-envoy-attempt-count", RawValue: []byte("1")},
	}}}
	// What Envoy forwards: the cluster's provider, the router hop's plan.
	md := &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
		"switchboard":         {Fields: map[string]*structpb.Value{"provider": structpb.NewStringValue("p")}},
		"switchboard.request": {Fields: map[string]*structpb.Value{"model": structpb.NewStringValue("m"), "plan": structpb.NewStringValue("p|m")}},
	}}
	if err := stream.Send(&extprocv3.ProcessingRequest{MetadataContext: md, Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: hdr}}); err != nil {
		return ""
	}
	if _, err := stream.Recv(); err != nil {
		return ""
	}
	if err := stream.Send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{
		Body: []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`), EndOfStream: true}}}); err != nil {
		return ""
	}
	r, err := stream.Recv()
	if err != nil {
		return ""
	}
	for _, h := range r.GetRequestBody().GetResponse().GetHeaderMutation().GetSetHeaders() {
		if h.GetHeader().GetKey() == "authorization" {
			return string(h.GetHeader().GetRawValue())
		}
	}
	return "answered without a key"
}
