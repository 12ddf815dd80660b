// Command sbprof is a profiling build of `switchboard serve` for the
// benchmark: the same control plane and ext_proc server, wired the same
// way, plus net/http/pprof on --pprof. The product binary does not serve
// pprof; the benchmark measures that binary and uses this one only to take
// CPU and heap profiles. It does not watch the config for changes.
//
//	sbprof serve --config FILE --pprof 127.0.0.1:6060 [--log-level warn]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof" // the point of this binary
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/extproc"
	"github.com/switchboard-gw/switchboard/xds"
)

func main() {
	if len(os.Args) < 2 || os.Args[1] != "serve" {
		fmt.Fprintln(os.Stderr, "usage: sbprof serve --config FILE --pprof ADDR [--log-level LEVEL]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "sbprof:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	path := fs.String("config", "", "config file")
	pprofAddr := fs.String("pprof", "127.0.0.1:6060", "address for net/http/pprof")
	level := fs.String("log-level", "warn", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	lvl, err := zapcore.ParseLevel(*level)
	if err != nil {
		return err
	}
	zc := zap.NewProductionConfig()
	zc.Level = zap.NewAtomicLevelAt(lvl)
	log, err := zc.Build()
	if err != nil {
		return err
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	// As cmd/switchboard's serve: the config carries the version of the
	// snapshot Envoy gets, and the store keeps it, so the router hop knows
	// Envoy's routes are this config's and takes the direct clusters.
	// Without the version every request took the two hops.
	snap, version, err := xds.BuildVersioned(cfg)
	if err != nil {
		return err
	}
	cfg.Version = version
	var store config.Store
	store.Keep(cfg)
	store.Set(cfg)

	// The same servers and options as cmd/switchboard's runServer.
	xsrv := xds.NewServer(ctx, log.Named("xds"))
	if err := xsrv.ApplySnapshot(ctx, snap, nil); err != nil {
		return err
	}
	xg := grpc.NewServer(grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second}))
	xsrv.Register(xg)
	ep, err := extproc.NewServer(log.Named("extproc"), &store)
	if err != nil {
		return err
	}
	// The product's options (cmd/switchboard): its codec and stream
	// workers shape the profile.
	var counts turns
	http.Handle("/debug/turns", &counts)
	eg := grpc.NewServer(append(extproc.ServerOptions(),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.StreamInterceptor(counts.interceptor))...)
	ep.Register(eg)

	errc := make(chan error, 3)
	for addr, g := range map[string]*grpc.Server{cfg.XDS.Address: xg, cfg.ExtProc.Address: eg} {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listen %s: %w", addr, err)
		}
		go func() { errc <- g.Serve(l) }()
	}
	ps := &http.Server{Addr: *pprofAddr, ReadHeaderTimeout: 10 * time.Second} // DefaultServeMux: pprof
	go func() {
		if err := ps.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	_ = ps.Close()
	xg.Stop()
	eg.Stop()
	return err
}
