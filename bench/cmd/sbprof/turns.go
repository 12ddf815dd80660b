package main

import (
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/switchboard-gw/switchboard/xds"
)

// turns counts, per hop, the ext_proc gRPC streams, the messages each
// way, and the turns: a turn is a run of answers that follows one or more
// requests, about one exchange Envoy waits for. GET /debug/turns serves
// the totals as JSON; the benchmark divides their deltas by requests.
type turns struct {
	mu   sync.Mutex
	hops map[string]*hopCount
}

type hopCount struct {
	Streams, Recv, Sent, Turns atomic.Int64
}

func (t *turns) hop(name string) *hopCount {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.hops == nil {
		t.hops = map[string]*hopCount{}
	}
	h := t.hops[name]
	if h == nil {
		h = &hopCount{}
		t.hops[name] = h
	}
	return h
}

func (t *turns) interceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	md, _ := metadata.FromIncomingContext(ss.Context())
	name := "unknown"
	if v := md.Get(xds.HopMetadata); len(v) > 0 {
		name = v[0]
	}
	h := t.hop(name)
	h.Streams.Add(1)
	return handler(srv, &countedStream{ServerStream: ss, h: h})
}

func (t *turns) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	t.mu.Lock()
	out := map[string]map[string]int64{}
	for name, h := range t.hops {
		out[name] = map[string]int64{"streams": h.Streams.Load(), "recv": h.Recv.Load(), "sent": h.Sent.Load(), "turns": h.Turns.Load()}
	}
	t.mu.Unlock()
	w.Header().Set("content-type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

type countedStream struct {
	grpc.ServerStream
	h       *hopCount
	unanswd bool // a request came since the last answer
}

func (s *countedStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err == nil {
		s.h.Recv.Add(1)
		s.unanswd = true
	}
	return err
}

func (s *countedStream) SendMsg(m any) error {
	s.h.Sent.Add(1)
	if s.unanswd {
		s.h.Turns.Add(1)
		s.unanswd = false
	}
	return s.ServerStream.SendMsg(m)
}
