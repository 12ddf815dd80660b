package xds

import (
	"context"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/genproto/googleapis/rpc/status"
)

// fakeEnvoy speaks ADS as Envoy does: it subscribes to clusters,
// listeners and routes, and ACKs or NACKs each push.
type fakeEnvoy struct {
	t       *testing.T
	stream  discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesClient
	running map[string]string // type → version accepted
	resps   chan *discoveryv3.DiscoveryResponse
}

func newFakeEnvoy(t *testing.T, s *Server) *fakeEnvoy {
	e := &fakeEnvoy{t: t, stream: adsClient(t, s), running: map[string]string{}, resps: make(chan *discoveryv3.DiscoveryResponse, 100)}
	go func() {
		for {
			r, err := e.stream.Recv()
			if err != nil {
				close(e.resps)
				return
			}
			e.resps <- r
		}
	}()
	node := &corev3.Node{Id: "fake"}
	for _, typ := range pushedTypes {
		req := &discoveryv3.DiscoveryRequest{Node: node, TypeUrl: typ}
		if typ == resource.RouteType {
			req.ResourceNames = []string{RouteName}
		}
		if err := e.stream.Send(req); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// next waits for a push, or returns nil after d.
func (e *fakeEnvoy) next(d time.Duration) *discoveryv3.DiscoveryResponse {
	select {
	case r := <-e.resps:
		return r
	case <-time.After(d):
		return nil
	}
}

func (e *fakeEnvoy) answer(r *discoveryv3.DiscoveryResponse, nack string) {
	e.t.Helper()
	req := &discoveryv3.DiscoveryRequest{TypeUrl: r.GetTypeUrl(), ResponseNonce: r.GetNonce(), VersionInfo: r.GetVersionInfo()}
	if r.GetTypeUrl() == resource.RouteType {
		req.ResourceNames = []string{RouteName}
	}
	if nack != "" {
		req.VersionInfo = e.running[r.GetTypeUrl()]
		req.ErrorDetail = &status.Status{Code: 3, Message: nack}
	} else {
		e.running[r.GetTypeUrl()] = r.GetVersionInfo()
	}
	if err := e.stream.Send(req); err != nil {
		e.t.Fatal(err)
	}
}

// serve answers pushes for d: NACKs the listener of version bad, ACKs the
// rest. It returns the pushes seen, by version.
func (e *fakeEnvoy) serve(d time.Duration, bad string) map[string]int {
	seen := map[string]int{}
	deadline := time.Now().Add(d)
	for {
		r := e.next(time.Until(deadline))
		if r == nil {
			return seen
		}
		seen[r.GetVersionInfo()]++
		if r.GetVersionInfo() == bad && r.GetTypeUrl() == resource.ListenerType {
			e.answer(r, "Error adding/updating listener(s) switchboard_http: cannot bind '127.0.0.1:9091': Address already in use")
		} else {
			e.answer(r, "")
		}
	}
}

func withRetry(t *testing.T, base time.Duration) {
	old, oldMax := retryBase, retryMax
	retryBase, retryMax = base, 4*base
	t.Cleanup(func() { retryBase, retryMax = old, oldMax })
}

// TestServerRejection: a rejected push is logged once with its reason,
// Envoy goes back to the accepted version, the push is retried with
// backoff (not at once, as it used to be: thousands a second), and the
// caller's switch happens only once Envoy accepts.
func TestServerRejection(t *testing.T) {
	withRetry(t, 300*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	core, logs := observer.New(zap.DebugLevel)
	s := NewServer(ctx, zap.New(core))
	live := make(chan string, 4)
	apply := func(yaml, name string) string {
		t.Helper()
		if err := s.Apply(ctx, parse(t, yaml, testEnv), func() { live <- name }); err != nil {
			t.Fatal(err)
		}
		return s.Version()
	}
	v1 := apply(testYAML, "v1")
	e := newFakeEnvoy(t, s)
	e.serve(300*time.Millisecond, "")
	if got := <-live; got != "v1" || s.Status().Accepted != v1 {
		t.Fatalf("live %s, status %+v, want v1 %s accepted", got, s.Status(), v1)
	}

	v2 := apply(strings.Replace(testYAML, "port: 9090", "port: 9091", 1)+"  - {name: extra, providers: [{provider: local}]}\n", "v2")
	seen := e.serve(250*time.Millisecond, v2)
	st := s.Status()
	if st.Accepted != v1 || st.Rejected == nil || st.Rejected.Version != v2 || st.Rejected.Type != "listener" || !strings.Contains(st.Rejected.Error, "Address already in use") {
		t.Fatalf("status after the NACK = %+v", st)
	}
	// v2 once per type, then back to v1 for the two types Envoy took.
	if seen[v2] != 3 || seen[v1] != 2 {
		t.Errorf("pushes within the backoff = %v, want v2 ×3 then v1 ×2", seen)
	}
	select {
	case name := <-live:
		t.Fatalf("%s went live while Envoy rejects it", name)
	default:
	}
	if e.running[resource.RouteType] != v1 || e.running[resource.ClusterType] != v1 {
		t.Errorf("Envoy runs %v, want v1 for every type", e.running)
	}
	// Undoing the change is live at once: Envoy runs it.
	if got := apply(testYAML, "v1 again"); got != v1 {
		t.Fatalf("version %s, want v1 %s", got, v1)
	}
	if name := <-live; name != "v1 again" {
		t.Fatalf("live %s", name)
	}
	apply(strings.Replace(testYAML, "port: 9090", "port: 9091", 1)+"  - {name: extra, providers: [{provider: local}]}\n", "v2")
	e.serve(250*time.Millisecond, v2)

	// Retried after the backoff with only what Envoy refused (the types
	// it took do not flip back and forth), rejected again, then accepted.
	seen = e.serve(400*time.Millisecond, v2)
	if seen[v2] != 1 || seen[v1] != 0 {
		t.Errorf("pushes in the first retry = %v, want the v2 listener alone", seen)
	}
	if s.Status().Rejected.Count != 2 {
		t.Errorf("rejections = %d, want 2", s.Status().Rejected.Count)
	}
	seen = e.serve(1200*time.Millisecond, "")
	if seen[v2] != 3 {
		t.Errorf("pushes in the second retry = %v, want the v2 listener, then its clusters and routes", seen)
	}
	select {
	case name := <-live:
		if name != "v2" {
			t.Fatalf("live %s", name)
		}
	case <-time.After(time.Second):
		t.Fatalf("v2 not live after Envoy accepted it; status %+v", s.Status())
	}
	if st := s.Status(); st.Accepted != v2 || st.Rejected != nil {
		t.Errorf("status = %+v, want v2 accepted and no rejection", st)
	}
	nacks := logs.FilterMessage("envoy rejected config").All()
	if len(nacks) != 1 || nacks[0].ContextMap()["type"] != "listener" || !strings.Contains(nacks[0].ContextMap()["error"].(string), "Address already in use") {
		t.Fatalf("rejection logs = %v, want one, naming the listener and the reason", nacks)
	}
	if nacks[0].Stack != "" {
		t.Errorf("the rejection log carries a stack trace")
	}
}

// TestServerRejectionAtStart: with no accepted version to go back to, the
// push is retried after the backoff, and a new version cuts the wait.
func TestServerRejectionAtStart(t *testing.T) {
	withRetry(t, 400*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := NewServer(ctx, zap.NewNop())
	if err := s.Update(ctx, parse(t, testYAML, testEnv)); err != nil {
		t.Fatal(err)
	}
	v1 := s.Version()
	e := newFakeEnvoy(t, s)
	seen := e.serve(300*time.Millisecond, v1)
	if seen[v1] != 3 {
		t.Fatalf("pushes before the backoff ends = %v, want v1 once per type", seen)
	}
	start := time.Now()
	r := e.next(2 * time.Second)
	if r == nil || r.GetTypeUrl() != resource.ListenerType || r.GetVersionInfo() != v1 {
		t.Fatalf("retry = %v", r)
	}
	if took := time.Since(start) + 300*time.Millisecond; took < 350*time.Millisecond {
		t.Errorf("retried after %v, want the 400ms backoff", took)
	}
	e.answer(r, "still in use")

	// A new config goes out at once.
	if err := s.Update(ctx, parse(t, strings.Replace(testYAML, "port: 9090", "port: 9092", 1), testEnv)); err != nil {
		t.Fatal(err)
	}
	e.serve(300*time.Millisecond, "")
	if s.Status().Accepted != s.Version() {
		t.Fatalf("status %+v: the new version was not taken within 300ms", s.Status())
	}
}
