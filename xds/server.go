package xds

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/switchboard-gw/switchboard/config"
)

// allNodes serves one snapshot to every Envoy, whatever its node id, so a
// fleet of Envoys behind a load balancer shares one config.
type allNodes struct{}

func (allNodes) ID(*corev3.Node) string { return "all" }

// nodeID is the one cache key.
const nodeID = "all"

// pushedTypes are the resource types a snapshot holds; a version is
// accepted once an Envoy has ACKed it for each.
var pushedTypes = []string{resource.ClusterType, resource.RouteType, resource.ListenerType}

// Server is the ADS control plane. It knows which version Envoy accepted:
// a rejected (NACKed) push is logged once, put back to the last accepted
// version and retried with backoff, and the config of a version is handed
// to its caller only when every connected Envoy has accepted it.
type Server struct {
	log     *zap.Logger
	cache   cache.SnapshotCache
	srv     serverv3.Server
	metrics *serverMetrics

	mu       sync.Mutex
	version  string                     // the newest snapshot built (what Envoy should run)
	pushed   *cache.Snapshot            // the snapshot in the cache now
	probing  bool                       // pushed offers only the rejected types anew
	accepted string                     // the last version every Envoy ACKed for every type
	snaps    map[string]*cache.Snapshot // the newest and the accepted one
	live     func()                     // called once the newest version is accepted
	streams  map[int64]*stream
	reject   *Rejection      // the newest version's last rejection
	logged   map[string]bool // version/type rejections logged once
	retry    *time.Timer
	wake     chan struct{} // closed when a new version is set
}

// stream is one Envoy's ADS stream.
type stream struct {
	acked  map[string]string // type URL → version
	nonces map[string]string // nonce → version pushed with it
}

// NewServer makes a control plane with no snapshot yet; call Update.
func NewServer(ctx context.Context, log *zap.Logger) *Server {
	s := &Server{
		log: log, cache: cache.NewSnapshotCache(true, allNodes{}, nil), metrics: newServerMetrics(),
		snaps: map[string]*cache.Snapshot{}, streams: map[int64]*stream{}, wake: make(chan struct{}), logged: map[string]bool{},
	}
	cb := serverv3.CallbackFuncs{
		StreamOpenFunc: func(_ context.Context, id int64, _ string) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.streams[id] = &stream{acked: map[string]string{}, nonces: map[string]string{}}
			s.metrics.envoys.Set(float64(len(s.streams)))
			return nil
		},
		StreamClosedFunc: func(id int64, _ *corev3.Node) {
			s.mu.Lock()
			defer s.mu.Unlock()
			delete(s.streams, id)
			s.metrics.envoys.Set(float64(len(s.streams)))
			s.checkAcceptedLocked()
		},
		StreamResponseFunc: func(_ context.Context, id int64, _ *discoveryv3.DiscoveryRequest, resp *discoveryv3.DiscoveryResponse) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if st := s.streams[id]; st != nil {
				if len(st.nonces) > 64 {
					clear(st.nonces) // only the latest few can still be answered
				}
				st.nonces[resp.GetNonce()] = resp.GetVersionInfo()
			}
			s.metrics.pushes.WithLabelValues(typeName(resp.GetTypeUrl())).Inc()
		},
		StreamRequestFunc: func(id int64, req *discoveryv3.DiscoveryRequest) error {
			if req.GetErrorDetail() != nil {
				s.rejected(ctx, id, req)
				return nil
			}
			s.acked(id, req)
			return nil
		},
	}
	s.srv = serverv3.NewServer(ctx, s.cache, cb)
	return s
}

// Register adds the ADS service to a gRPC server.
func (s *Server) Register(g *grpc.Server) {
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(g, s.srv)
}

// Update builds and checks a snapshot from cfg and makes it current. On any
// error the running snapshot stays.
func (s *Server) Update(ctx context.Context, cfg *config.Loaded) error {
	return s.Apply(ctx, cfg, nil)
}

// Apply is Update, and calls live once every connected Envoy has accepted
// the new version (at once if it already has): the caller switches
// ext_proc then, so both sides move together or neither does. A later
// Apply replaces live. live runs under the server's lock, so switches
// happen in version order: it must not call the Server.
func (s *Server) Apply(ctx context.Context, cfg *config.Loaded, live func()) error {
	snap, err := Build(cfg)
	if err != nil {
		return err
	}
	return s.ApplySnapshot(ctx, snap, live)
}

// ApplySnapshot is Apply with a snapshot from Build.
func (s *Server) ApplySnapshot(ctx context.Context, snap *cache.Snapshot, live func()) error {
	v := snap.GetVersion(resource.ListenerType)
	s.mu.Lock()
	if v == s.version {
		if v == s.accepted {
			s.mu.Unlock()
			if live != nil {
				live()
			}
			return nil
		}
		s.live = live
		s.mu.Unlock()
		return nil
	}
	defer s.mu.Unlock()
	if err := s.setLocked(ctx, snap); err != nil {
		return err
	}
	for k := range s.snaps {
		if k != s.accepted {
			delete(s.snaps, k)
		}
	}
	s.snaps[v] = snap
	s.version, s.live, s.reject = v, live, nil
	s.metrics.rejected.Set(0)
	if s.retry != nil {
		s.retry.Stop()
	}
	close(s.wake) // a new version cuts a backoff short
	s.wake = make(chan struct{})
	s.log.Info("pushed config", zap.String("version", v))
	if v == s.accepted && live != nil {
		// Back to what Envoy runs (a rejected change undone).
		s.live = nil
		live()
	}
	if len(s.streams) == 0 && s.accepted == "" {
		s.log.Info("no Envoy connected yet; the config goes live when one accepts it")
	}
	return nil
}

func (s *Server) setLocked(ctx context.Context, snap *cache.Snapshot) error {
	if err := s.cache.SetSnapshot(ctx, nodeID, snap); err != nil {
		return fmt.Errorf("xds: set snapshot: %w", err)
	}
	s.pushed, s.probing = snap, false
	return nil
}

// acked records a request that is not a NACK: an ACK, a first request, or
// one made after a reconnect. Each says which version Envoy runs.
func (s *Server) acked(id int64, req *discoveryv3.DiscoveryRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.streams[id]
	if st == nil || req.GetVersionInfo() == "" {
		return
	}
	st.acked[req.GetTypeUrl()] = req.GetVersionInfo()
	if s.probing && s.reject != nil && req.GetVersionInfo() == s.version && s.reject.types[req.GetTypeUrl()] {
		took := true
		for t := range s.reject.types {
			took = took && st.acked[t] == s.version
		}
		if took {
			if err := s.setLocked(context.Background(), s.snaps[s.version]); err != nil {
				s.log.Error("xds: push after a retry failed", zap.Error(err))
			}
		}
	}
	s.checkAcceptedLocked()
}

// checkAcceptedLocked moves the accepted version when every stream runs
// one version for every type, and hands over the newest config when it is
// that version.
func (s *Server) checkAcceptedLocked() {
	common := ""
	for _, st := range s.streams {
		for _, t := range pushedTypes {
			v := st.acked[t]
			if v == "" || common != "" && v != common {
				return
			}
			common = v
		}
	}
	if common == "" || common == s.accepted {
		return
	}
	s.accepted = common
	s.metrics.accepted.Set(float64(time.Now().Unix()))
	if common != s.version {
		return // an older version, after a revert
	}
	s.reject = nil
	s.metrics.rejected.Set(0)
	s.log.Info("envoy accepted config", zap.String("version", common))
	if live := s.live; live != nil {
		s.live = nil
		live() // under the lock: switches happen in version order
	}
}

// Version is the newest snapshot version ("" before the first Update).
func (s *Server) Version() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version
}

// Status is what the control plane knows of Envoy's state.
type Status struct {
	// Version is the newest config version built; Accepted is the one
	// every connected Envoy runs. They differ while a push is in flight
	// or rejected.
	Version  string `json:"version"`
	Accepted string `json:"accepted"`
	Envoys   int    `json:"envoys"`
	// Rejected is the newest version's last rejection, if any.
	Rejected *Rejection `json:"rejected,omitempty"`
}

// Status reports the versions and the last rejection.
func (s *Server) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Version: s.version, Accepted: s.accepted, Envoys: len(s.streams)}
	if s.reject != nil {
		r := *s.reject
		r.types = nil
		st.Rejected = &r
	}
	return st
}
