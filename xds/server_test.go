package xds

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
)

func TestServerUpdate(t *testing.T) {
	ctx := context.Background()
	s := NewServer(ctx, zap.NewNop())
	if s.Version() != "" {
		t.Fatalf("Version() before Update = %q, want empty", s.Version())
	}

	cfg := parse(t, testYAML, testEnv)
	if err := s.Update(ctx, cfg); err != nil {
		t.Fatalf("Update: %v", err)
	}
	v1 := s.Version()
	if v1 == "" {
		t.Fatal("Version() after Update is empty")
	}
	snap1, err := s.cache.GetSnapshot("all")
	if err != nil {
		t.Fatalf("no snapshot in the cache: %v", err)
	}
	if got := snap1.GetVersion(resource.ListenerType); got != v1 {
		t.Errorf("cached snapshot version = %q, want %q", got, v1)
	}

	t.Run("same config keeps the version", func(t *testing.T) {
		if err := s.Update(ctx, parse(t, testYAML, testEnv)); err != nil {
			t.Fatalf("Update: %v", err)
		}
		if s.Version() != v1 {
			t.Errorf("Version() = %q, want %q", s.Version(), v1)
		}
		snap, _ := s.cache.GetSnapshot("all")
		if snap != snap1 {
			t.Errorf("an unchanged config replaced the cached snapshot")
		}
	})

	var v2 string
	t.Run("changed config changes the version", func(t *testing.T) {
		if err := s.Update(ctx, parse(t, strings.Replace(testYAML, "port: 9090", "port: 9091", 1), testEnv)); err != nil {
			t.Fatalf("Update: %v", err)
		}
		v2 = s.Version()
		if v2 == v1 || v2 == "" {
			t.Errorf("Version() = %q after a change, want a new one (was %q)", v2, v1)
		}
		snap, _ := s.cache.GetSnapshot("all")
		if got := snap.GetVersion(resource.ListenerType); got != v2 {
			t.Errorf("cached snapshot version = %q, want %q", got, v2)
		}
	})

	t.Run("failed build keeps the running snapshot", func(t *testing.T) {
		bad := parse(t, testYAML, testEnv)
		bad.Listener.Port = 70000
		before, _ := s.cache.GetSnapshot("all")
		if err := s.Update(ctx, bad); err == nil {
			t.Fatal("Update of an invalid config succeeded")
		}
		if s.Version() != v2 {
			t.Errorf("Version() = %q, want %q kept", s.Version(), v2)
		}
		if after, _ := s.cache.GetSnapshot("all"); after != before {
			t.Errorf("a failed Update replaced the cached snapshot")
		}
	})
}

// adsClient starts the server's ADS service on an in-memory listener.
func adsClient(t *testing.T, s *Server) discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesClient {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	g := grpc.NewServer()
	s.Register(g)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)

	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return stream
}

// TestServerADS checks an Envoy of any node id gets the snapshot, and gets
// a new one pushed after a change; a NACK is logged.
func TestServerADS(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	core, logs := observer.New(zap.InfoLevel)
	s := NewServer(ctx, zap.New(core))
	if err := s.Update(ctx, parse(t, testYAML, testEnv)); err != nil {
		t.Fatal(err)
	}
	stream := adsClient(t, s)
	node := &corev3.Node{Id: "some-envoy-7f9c", Cluster: "switchboard"}

	if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: resource.ListenerType}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	if resp.GetVersionInfo() != s.Version() || resp.GetTypeUrl() != resource.ListenerType || len(resp.GetResources()) != 1 {
		t.Fatalf("response = version %q type %q with %d resources; want version %q, 1 listener",
			resp.GetVersionInfo(), resp.GetTypeUrl(), len(resp.GetResources()), s.Version())
	}

	// Envoy accepts it (ACK); a changed config is pushed.
	ack := &discoveryv3.DiscoveryRequest{Node: node, TypeUrl: resource.ListenerType, VersionInfo: resp.GetVersionInfo(), ResponseNonce: resp.GetNonce()}
	if err := stream.Send(ack); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, parse(t, strings.Replace(testYAML, "port: 9090", "port: 9091", 1), testEnv)); err != nil {
		t.Fatal(err)
	}
	resp2, err := stream.Recv()
	if err != nil {
		t.Fatalf("Recv after Update: %v", err)
	}
	if resp2.GetVersionInfo() != s.Version() || resp2.GetVersionInfo() == resp.GetVersionInfo() {
		t.Errorf("pushed version %q, want the new %q", resp2.GetVersionInfo(), s.Version())
	}

	// Envoy rejects that one (NACK): it keeps the previous version and
	// says why.
	nack := &discoveryv3.DiscoveryRequest{
		Node: node, TypeUrl: resource.ListenerType, VersionInfo: resp.GetVersionInfo(), ResponseNonce: resp2.GetNonce(),
		ErrorDetail: &status.Status{Code: 3, Message: "bad listener"},
	}
	if err := stream.Send(nack); err != nil {
		t.Fatal(err)
	}
	// Whatever comes next answers a watch opened by the NACK, so the NACK
	// callback has run by then. Another change guarantees there is a push.
	if err := s.Update(ctx, parse(t, strings.Replace(testYAML, "port: 9090", "port: 9092", 1), testEnv)); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("Recv after NACK: %v", err)
	}
	nacks := logs.FilterMessage("envoy rejected config").All()
	if len(nacks) != 1 {
		t.Fatalf("logged %d NACKs, want 1: %v", len(nacks), logs.All())
	}
	if got := nacks[0].ContextMap()["error"]; got != "bad listener" {
		t.Errorf("NACK log error = %v, want %q", got, "bad listener")
	}
}
