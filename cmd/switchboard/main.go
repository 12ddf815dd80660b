// Command switchboard runs the Switchboard LLM gateway's control plane and
// ext_proc server. It only wires packages together.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"reflect"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/envoy"
	"github.com/switchboard-gw/switchboard/extproc"
	"github.com/switchboard-gw/switchboard/internal/demo"
	"github.com/switchboard-gw/switchboard/middleware"
	"github.com/switchboard-gw/switchboard/mtls"
	"github.com/switchboard-gw/switchboard/telemetry"
	"github.com/switchboard-gw/switchboard/xds"
)

const usage = `switchboard: an LLM routing gateway on Envoy

Usage:
  switchboard serve     --config FILE [--port N]   control plane and ext_proc in one process
  switchboard xds       --config FILE [--port N] [--admin ADDR]   control plane only
  switchboard extproc   --config FILE              ext_proc server only
  switchboard validate  --config FILE [--envoy BIN] check a config as serve does, and with Envoy's --mode validate
  switchboard demo      [--listen ADDR]            keyless demo provider (OpenAI and Anthropic schemas)
  switchboard bootstrap [--xds ADDR] [--admin ADDR] [--max-heap-bytes N] print the Envoy bootstrap
  switchboard tenants create|list ... --config FILE  manage tenants in the config's store
  switchboard keys create|list|show|revoke|rotate ... --config FILE  manage gateway keys

The listener port defaults to the config's listener.port (8080); --port or
SWITCHBOARD_PORT override it.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "serve":
		err = runServer(ctx, args, true, true)
	case "xds":
		err = runServer(ctx, args, true, false)
	case "extproc":
		err = runServer(ctx, args, false, true)
	case "validate":
		err = runValidate(ctx, args)
	case "demo":
		err = runDemo(ctx, args)
	case "bootstrap":
		err = runBootstrap(args)
	case "tenants", "keys":
		err = runGovernance(ctx, cmd, args, os.Stdout)
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "switchboard: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "switchboard:", err)
		os.Exit(1)
	}
}

func newLogger(level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	c := zap.NewProductionConfig()
	c.Level = zap.NewAtomicLevelAt(lvl)
	c.Sampling = nil
	// Config rejections are errors with a reason, not bugs: no stack
	// traces (a panic log adds its own).
	c.DisableStacktrace = true
	return c.Build()
}

// portOverride reads --port, then SWITCHBOARD_PORT.
func portOverride(flagValue int) (int, error) {
	if flagValue != 0 {
		return flagValue, nil
	}
	if v := os.Getenv("SWITCHBOARD_PORT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 {
			return 0, fmt.Errorf("SWITCHBOARD_PORT %q: must be a port number", v)
		}
		return n, nil
	}
	return 0, nil
}

func runServer(ctx context.Context, args []string, withXDS, withExtProc bool) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	path := fs.String("config", "examples/switchboard.yaml", "config file")
	port := fs.Int("port", 0, "listener port (overrides listener.port; env SWITCHBOARD_PORT)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	adminAddr := fs.String("admin", "", "serve the admin endpoint on this address (xds: GET /xds, /metrics, /healthz; extproc and serve: instead of admin.address)")
	listen := fs.String("listen", "", "extproc: serve ext_proc on this address instead of extproc.address (a replica listed in extproc.replicas)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := newLogger(*level)
	if err != nil {
		return err
	}
	defer log.Sync() //nolint:errcheck
	override, err := portOverride(*port)
	if err != nil {
		return err
	}
	// load applies the overrides and runs the checks serve runs in every
	// mode: xds.Build gives the snapshot and the config version.
	load := func(l *config.Loaded) (*config.Loaded, *cache.Snapshot, error) {
		if override != 0 {
			l.Listener.Port = override
		}
		for _, w := range l.Warnings {
			log.Warn(w)
		}
		snap, version, err := xds.BuildVersioned(l)
		if err != nil {
			return nil, nil, err
		}
		l.Version = version
		return l, snap, nil
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	cfg, snap, err := load(cfg)
	if err != nil {
		return err
	}
	var store config.Store
	store.Keep(cfg)
	store.Set(cfg)

	var xsrv *xds.Server
	if withXDS {
		xsrv = xds.NewServer(ctx, log.Named("xds"))
		if err := xsrv.ApplySnapshot(ctx, snap, nil); err != nil {
			return err
		}
	}
	// chain is the middleware chain once built (extproc): a reload's
	// forced plugin blocks are checked against it.
	var chain atomic.Pointer[middleware.Chain]
	onChange := func(l *config.Loaded) {
		l, snap, err := load(l)
		if err == nil {
			if c := chain.Load(); c != nil {
				err = checkForced(*path, l, c)
			}
		}
		if err != nil {
			log.Error("config rejected; the running config keeps serving", zap.Error(err))
			return
		}
		if l.ExtProc.Address != store.Current().ExtProc.Address || l.XDS.Address != store.Current().XDS.Address {
			log.Warn("listen addresses changed in the config; restart switchboard to apply them")
		}
		if withExtProc && !reflect.DeepEqual(l.Plugins, store.Current().Plugins) {
			log.Warn("plugins changed in the config; restart switchboard to apply them")
		}
		if !reflect.DeepEqual(l.Telemetry, store.Current().Telemetry) {
			log.Warn("telemetry changed in the config; restart switchboard to apply it")
		}
		if l.ControlTLS.Enabled() != store.Current().ControlTLS.Enabled() {
			log.Warn("control_tls was turned on or off in the config; restart switchboard to apply it")
		}
		// Requests name the version of the routes Envoy matched them in,
		// and are served with that config (extproc.VersionedConfigs).
		store.Keep(l)
		if xsrv == nil {
			store.Set(l)
			log.Info("config loaded; each request uses it once Envoy runs its routes", zap.String("file", *path), zap.String("version", l.Version))
			return
		}
		// Both sides move together: ext_proc's current config changes
		// when Envoy has accepted the version.
		live := func() {
			store.Set(l)
			log.Info("config live: Envoy accepted it", zap.String("file", *path), zap.String("version", l.Version))
		}
		if err := xsrv.ApplySnapshot(ctx, snap, live); err != nil {
			log.Error("config rejected; the running config keeps serving", zap.Error(err))
			return
		}
		log.Info("config reloaded; pushed to Envoy", zap.String("file", *path), zap.String("version", l.Version))
	}
	onError := func(err error) {
		log.Error("config rejected; the running config keeps serving", zap.Error(err))
	}
	if err := config.Watch(ctx, *path, onChange, onError); err != nil {
		return err
	}

	errc := make(chan error, 2)
	var servers []*grpc.Server
	var creds []grpc.ServerOption
	if t := cfg.ControlTLS; t.Enabled() {
		c, err := mtls.ServerCredentials(mtls.Files{Cert: t.Cert, Key: t.Key, CA: t.CA})
		if err != nil {
			return err
		}
		creds = append(creds, grpc.Creds(c))
	}
	if withExtProc {
		ep, err := extproc.NewServer(log.Named("extproc"), &store)
		if err != nil {
			return err
		}
		gov, stopGov, err := extproc.OpenGov(ctx, cfg, log.Named("governance"))
		if err != nil {
			return err
		}
		defer stopGov()
		ep.SetGovernance(gov)
		built, webPlugin, err := buildPlugins(cfg, store.Current, log.Named("plugins"))
		if err != nil {
			return err
		}
		if built != nil {
			if err := checkForced(*path, cfg, built); err != nil {
				return err
			}
			ep.SetPlugins(built)
			chain.Store(built)
		}
		// Replicas (--listen) leave the loop to the main process: Envoy's
		// loop cluster has the one address.
		if webPlugin != nil && *listen == "" {
			stop, err := serveWebLoop(cfg, store.Current, webPlugin, log.Named("webloop"), errc)
			if err != nil {
				return err
			}
			defer stop()
			log.Info("web search loop serving", zap.String("address", cfg.Plugins.Web.LoopAddress))
		}
		responses, stopResponses, err := extproc.OpenResponseStore(ctx, gov, log.Named("responses"))
		if err != nil {
			return err
		}
		defer stopResponses()
		ep.SetResponseStore(responses)
		tracing, err := telemetry.NewTracing(ctx, cfg.Telemetry.Traces, log.Named("telemetry"))
		if err != nil {
			return err
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = tracing.Shutdown(sctx) // flush queued spans
		}()
		if t := cfg.Telemetry.Traces; t != nil {
			ep.SetTracing(tracing.Provider, t.CaptureContent)
			log.Info("traces exporting", zap.String("endpoint", t.OTLPEndpoint), zap.String("protocol", t.Protocol), zap.Float64("sample_ratio", t.Ratio()))
		}
		g := grpc.NewServer(append(append(extproc.ServerOptions(), creds...),
			grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}))...)
		if xsrv != nil {
			if err := ep.AddControlPlane(func() any { return xsrv.Status() }, xsrv.Collectors()...); err != nil {
				return err
			}
		}
		ep.Register(g)
		servers = append(servers, g)
		addr := cfg.ExtProc.Address
		if *listen != "" {
			addr = *listen
		}
		if err := serveGRPC(g, addr, errc); err != nil {
			return err
		}
		log.Info("extproc serving", zap.String("address", addr))
		if addr := cmp.Or(*adminAddr, cfg.Admin.Address); addr != "" {
			stop := serveAdmin(addr, ep.AdminHandler(), errc)
			defer stop()
			log.Info("admin serving", zap.String("address", addr))
		}
	}
	// xDS last: Envoy sends requests to ext_proc as soon as it has routes,
	// so ext_proc listens first (TestServeListensExtProcFirst).
	if withXDS {
		g := grpc.NewServer(append(creds, xds.ServerOptions()...)...)
		xsrv.Register(g)
		servers = append(servers, g)
		if err := serveGRPC(g, cfg.XDS.Address, errc); err != nil {
			return err
		}
		log.Info("xds serving", zap.String("address", cfg.XDS.Address))
		if *adminAddr != "" && !withExtProc {
			if h, _, err := net.SplitHostPort(*adminAddr); err != nil || !config.IsLoopback(h) && cfg.Admin.BearerToken() == "" {
				return fmt.Errorf("--admin %q: must be a loopback host:port, or the config must set admin.token", *adminAddr)
			}
			h := extproc.RequireToken(xsrv.AdminHandler(), func() string { return store.Current().Admin.BearerToken() })
			stop := serveAdmin(*adminAddr, h, errc)
			defer stop()
			log.Info("admin serving", zap.String("address", *adminAddr))
		}
	}
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	for _, g := range servers {
		stopGracefully(g)
	}
	return err
}

// serveAdmin serves an admin handler until the returned stop is called.
func serveAdmin(addr string, h http.Handler, errc chan<- error) (stop func()) {
	admin := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := admin.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("admin %s: %w", addr, err)
		}
	}()
	return func() { admin.Close() }
}

func serveGRPC(g *grpc.Server, addr string, errc chan<- error) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	go func() { errc <- g.Serve(lis) }()
	return nil
}

// stopGracefully lets in-flight streams finish briefly, then cuts them.
func stopGracefully(g *grpc.Server) {
	done := make(chan struct{})
	go func() { g.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		g.Stop()
	}
}

// runValidate runs the checks serve runs on a config (load, xds.Build),
// then Envoy's own validation of the built resources when an Envoy binary
// is at hand, so what passes is what Envoy accepts.
func runValidate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	path := fs.String("config", "examples/switchboard.yaml", "config file")
	envoyFlag := fs.String("envoy", "", "Envoy binary for `envoy --mode validate` (default: $ENVOY_BIN, then envoy on PATH)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	l, err := config.Load(*path)
	if err != nil {
		var errs config.Errors
		if errors.As(err, &errs) {
			fmt.Fprintln(os.Stderr, errs.Error())
			return fmt.Errorf("%s: %d problem(s)", *path, len(errs))
		}
		return err
	}
	snap, err := xds.Build(l)
	if err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	// The blocks tenants and keys force, as serve checks them.
	chain, _, err := buildPlugins(l, func() *config.Loaded { return l }, zap.NewNop())
	if err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	if err := checkForced(*path, l, chain); err != nil {
		fmt.Fprintln(os.Stderr, err.Error())
		return fmt.Errorf("%s: forced plugin blocks refused", *path)
	}
	for _, w := range l.Warnings {
		fmt.Println("warning:", w)
	}
	bin, err := xds.FindEnvoy(*envoyFlag)
	if err != nil {
		return err
	}
	if bin == "" {
		fmt.Println("warning: no Envoy binary (--envoy, ENVOY_BIN or envoy on PATH): Envoy's own checks were skipped")
	} else {
		if err := xds.ValidateInEnvoy(ctx, bin, snap); err != nil {
			return fmt.Errorf("%s: %w", *path, err)
		}
		fmt.Printf("%s: Envoy (%s) accepts the resources\n", *path, bin)
	}
	fmt.Printf("%s: ok (%d providers, %d models)\n", *path, len(l.Catalog.Providers(l.Config)), len(l.Catalog.ModelNames()))
	return nil
}

func runDemo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:9100", "address to serve the demo provider on")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := newLogger(*level)
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: *listen, Handler: demo.NewHandler(log.Named("demo")), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info("demo provider serving", zap.String("address", *listen))
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func runBootstrap(args []string) error {
	fs := flag.NewFlagSet("bootstrap", flag.ContinueOnError)
	o := envoy.DefaultOptions()
	fs.StringVar(&o.XDSAddress, "xds", o.XDSAddress, "control plane host:port")
	fs.StringVar(&o.AdminAddress, "admin", o.AdminAddress, "Envoy admin host:port (keep it on loopback)")
	fs.StringVar(&o.NodeID, "node", o.NodeID, "Envoy node id")
	path := fs.String("config", "", "take the xds address and control_tls from this config file")
	fs.Uint64Var(&o.MaxHeapBytes, "max-heap-bytes", envoy.DefaultMaxHeapBytes, "Envoy heap limit in bytes (overload manager: shrink at 95%, refuse new requests at 98%)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path != "" {
		l, err := config.Load(*path)
		if err != nil {
			return err
		}
		o.XDSAddress = l.XDS.Address
		if t := l.ControlTLS; t.Enabled() {
			o.TLS = envoy.TLS{Cert: t.EnvoyCert, Key: t.EnvoyKey, CA: t.CA, ServerName: t.ServerName}
		}
	}
	b, err := envoy.Bootstrap(o)
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(b)
	return err
}
