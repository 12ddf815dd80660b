package xds

import (
	"context"
	"fmt"
	"sync"

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

// Server is the ADS control plane.
type Server struct {
	log   *zap.Logger
	cache cache.SnapshotCache
	srv   serverv3.Server

	mu      sync.Mutex
	version string
}

// NewServer makes a control plane with no snapshot yet; call Update.
func NewServer(ctx context.Context, log *zap.Logger) *Server {
	s := &Server{log: log, cache: cache.NewSnapshotCache(true, allNodes{}, nil)}
	cb := serverv3.CallbackFuncs{
		StreamRequestFunc: func(id int64, req *discoveryv3.DiscoveryRequest) error {
			// A NACK: Envoy rejected a push and keeps its previous config.
			if req.GetErrorDetail() != nil {
				s.log.Error("envoy rejected config", zap.String("type", req.GetTypeUrl()),
					zap.String("version", req.GetVersionInfo()), zap.String("error", req.GetErrorDetail().GetMessage()))
			}
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
	snap, err := Build(cfg)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if snap.GetVersion(resource.ListenerType) == s.version {
		return nil
	}
	if err := s.cache.SetSnapshot(ctx, allNodes{}.ID(nil), snap); err != nil {
		return fmt.Errorf("xds: set snapshot: %w", err)
	}
	s.version = snap.GetVersion(resource.ListenerType)
	s.log.Info("pushed config", zap.String("version", s.version))
	return nil
}

// Version is the current snapshot version ("" before the first Update).
func (s *Server) Version() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version
}
