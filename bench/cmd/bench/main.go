// Command bench measures what switchboard adds to plain Envoy. It starts,
// on loopback ports chosen at run time, a fake provider, a baseline Envoy
// routing straight to it, and Envoy + `switchboard serve` (OpenAI
// pass-through and OpenAI-to-Anthropic translation; with -governed, the
// default, also a gateway with a key, limits and a budget in a Redis it
// starts, for what governance adds), then drives load at
// fixed concurrencies and at a fixed rate, holds thousands of streams open
// to measure ext_proc memory, soaks the gateway with 100,000 requests to
// look for goroutine or memory growth, sends 20 MiB request bodies to
// check that memory stays bounded, and writes a table and a JSON report.
//
//	go run ./bench/cmd/bench            # the full run (`make bench`)
//	go run ./bench/cmd/bench -quick     # a smoke test of the harness
//	make bench-peers                    # the latency phase with peers beside ours (-peers)
//
// `bench fake` serves the fake provider; the harness runs itself that way.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/switchboard-gw/switchboard/bench/fake"
	"github.com/switchboard-gw/switchboard/bench/proc"
)

// settings are the run's knobs; report.write puts them in the JSON.
type settings struct {
	Duration      time.Duration
	Warmup        time.Duration
	Repeats       int
	Levels        []int
	StreamLevels  []int
	RPS           float64
	Streams       []int
	Chunks        int
	ChunkText     string
	ChunkInterval time.Duration
	HoldInterval  time.Duration
	EnvoyThreads  int
	Profile       time.Duration
	ProfileAll    string
	LogLevel      string
	QuietWait     time.Duration
	// Phases are the phases to run, in the order of allPhases.
	Phases []string
	// Soak is how many requests the soak phase sends (0 skips it), from
	// SoakConcurrency workers.
	Soak            int
	SoakConcurrency int
	// BigBody is the request body size of the large-body phase (0 skips
	// it); BigBodyRequests are sent per target.
	BigBody         byteSize
	BigBodyRequests int
	// Governed adds the "governed (Redis)" target to the latency phase:
	// pass-through through a gateway with a key, limits and a budget
	// counted in a Redis the harness starts (redisBin).
	Governed bool
	// Peers are other gateways measured beside ours in the latency
	// phase (of allPeers), from the binaries at aigwBin and litellmDir.
	Peers []string

	out, envoyBin, switchboardBin, redisBin, aigwBin, litellmDir, moduleFloor string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "nullproc" {
		if err := runNullProc(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench nullproc:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "fake" {
		if err := runFake(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench fake:", err)
			os.Exit(1)
		}
		return
	}
	s, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runBench(ctx, s); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (settings, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	s := settings{}
	quick := fs.Bool("quick", false, "smoke-test the harness: 1 s runs, 1 repeat, levels 1,16, 200 streams, no profile, a 5,000-request soak, 3 large bodies (explicit flags win)")
	fs.DurationVar(&s.Duration, "duration", 5*time.Second, "length of each measured run")
	fs.DurationVar(&s.Warmup, "warmup", 500*time.Millisecond, "unmeasured load before each run")
	fs.IntVar(&s.Repeats, "repeats", 3, "runs per measurement (open-stream memory included); the report gives medians")
	levels := fs.String("c", "1,16,64,256", "closed-loop concurrency levels (non-streamed)")
	streamLevels := fs.String("stream-c", "1,16", "closed-loop concurrency levels for streamed requests")
	fs.Float64Var(&s.RPS, "rps", 500, "open-loop request rate (0 skips the open-loop run)")
	streams := fs.String("streams", "1000,10000", "open streams held to measure ext_proc memory (empty skips)")
	fs.IntVar(&s.Chunks, "chunks", 20, "content chunks per streamed response")
	fs.StringVar(&s.ChunkText, "chunk-text", "hello ", "text of one chunk")
	fs.DurationVar(&s.ChunkInterval, "chunk-interval", 5*time.Millisecond, "pause before each chunk in streamed runs")
	fs.DurationVar(&s.HoldInterval, "hold-interval", 5*time.Second, "pause between chunks of held streams")
	fs.IntVar(&s.EnvoyThreads, "envoy-concurrency", runtime.NumCPU(), "Envoy --concurrency, the same for every target")
	fs.StringVar(&s.LogLevel, "log-level", "info", "switchboard --log-level (info, the default, logs one line per completion)")
	fs.DurationVar(&s.QuietWait, "quiet-wait", time.Minute, "before each run, wait up to this long for other programs to go idle")
	fs.DurationVar(&s.Profile, "profile", 10*time.Second, "CPU-profile a pprof build of switchboard this long (0 skips)")
	fs.StringVar(&s.ProfileAll, "profile-all", "", "also profile (CPU and allocations) whole answers and streams at 1 and 16 concurrent, keeping the files in this directory")
	phases := fs.String("phases", strings.Join(allPhases, ","), "phases to run, of "+strings.Join(allPhases, ","))
	fs.IntVar(&s.Soak, "soak", 100000, "requests the soak phase sends to look for goroutine and memory growth (0 skips)")
	fs.IntVar(&s.SoakConcurrency, "soak-c", 16, "concurrent workers in the soak phase")
	s.BigBody = 20 << 20
	fs.Var(&s.BigBody, "big-body", "request body size of the large-body phase, e.g. 20MiB, 5MB, 1048576 (0 skips)")
	fs.IntVar(&s.BigBodyRequests, "big-body-n", 10, "large-body requests per target")
	fs.StringVar(&s.out, "out", "bench/results/latest.json", "JSON report path")
	fs.StringVar(&s.envoyBin, "envoy", "", "Envoy binary (default: $ENVOY_BIN, PATH, then .tools)")
	fs.StringVar(&s.switchboardBin, "switchboard", "", "switchboard binary (default: go build ./cmd/switchboard)")
	fs.BoolVar(&s.Governed, "governed", true, "also measure a governed gateway (key, limits and budget in Redis) in the latency phase")
	fs.StringVar(&s.redisBin, "redis", "", "redis-server binary for -governed (default: $REDIS_SERVER_BIN, then .tools)")
	peers := fs.String("peers", "", "also measure these other gateways in the latency phase, of "+strings.Join(allPeers, ",")+" (`make bench-peers`)")
	fs.StringVar(&s.aigwBin, "aigw-extproc", "", "Envoy AI Gateway extproc binary for -peers aigw")
	fs.StringVar(&s.moduleFloor, "module-floor", "", "the in-process floor's libswitchboard_floor.so for -peers modfloor")
	fs.StringVar(&s.litellmDir, "litellm", "", "folder LiteLLM was pip-installed into (--target) for -peers litellm")
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	if *peers != "" && !*quick && !flagSet(fs, "out") {
		s.out = "bench/results/peers.json" // latest.json stays `make bench`'s
	}
	if *quick {
		// Quick values for every flag not given explicitly.
		quickValues := map[string]string{"duration": "1s", "warmup": "200ms", "repeats": "1", "c": "1,16",
			"stream-c": "16", "streams": "200", "rps": "200", "profile": "0", "quiet-wait": "5s", "out": "bench/results/quick.json",
			"soak": "5000", "big-body-n": "3"}
		for name, v := range quickValues {
			if !flagSet(fs, name) {
				if err := fs.Set(name, v); err != nil {
					return s, err
				}
			}
		}
	}
	var err error
	if s.Levels, err = ints(*levels); err != nil {
		return s, fmt.Errorf("-c: %w", err)
	}
	if s.StreamLevels, err = ints(*streamLevels); err != nil {
		return s, fmt.Errorf("-stream-c: %w", err)
	}
	if s.Streams, err = ints(*streams); err != nil {
		return s, fmt.Errorf("-streams: %w", err)
	}
	if s.Repeats < 1 || s.Duration <= 0 || s.Chunks < 1 {
		return s, errors.New("-repeats, -duration and -chunks must be positive")
	}
	if s.Phases, err = phaseList(*phases); err != nil {
		return s, fmt.Errorf("-phases: %w", err)
	}
	if s.Peers, err = peerList(*peers); err != nil {
		return s, fmt.Errorf("-peers: %w", err)
	}
	if len(s.Peers) > 0 && !s.runs(phaseLatency) {
		return s, errors.New("-peers needs the latency phase")
	}
	if s.Soak < 0 || s.SoakConcurrency < 1 || s.BigBody < 0 || s.BigBodyRequests < 1 {
		return s, errors.New("-soak and -big-body must not be negative, -soak-c and -big-body-n must be positive")
	}
	return s, nil
}

// Phase names for -phases.
const (
	phaseLatency = "latency"
	phaseMemory  = "memory"
	phaseProfile = "profile"
	phaseSoak    = "soak"
	phaseBigBody = "bigbody"
)

var allPhases = []string{phaseLatency, phaseMemory, phaseProfile, phaseSoak, phaseBigBody}

// phaseList checks a comma-separated list of phase names and returns them
// in run order.
func phaseList(list string) ([]string, error) {
	want := map[string]bool{}
	for _, f := range strings.Split(list, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if !slices.Contains(allPhases, f) {
			return nil, fmt.Errorf("unknown phase %q (known: %s)", f, strings.Join(allPhases, ", "))
		}
		want[f] = true
	}
	var out []string
	for _, p := range allPhases {
		if want[p] {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no phase to run")
	}
	return out, nil
}

func (s settings) runs(phase string) bool { return slices.Contains(s.Phases, phase) }

// byteSize is a flag value in bytes, written as a plain number or with a
// unit: B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024).
type byteSize int64

func (b *byteSize) String() string { return formatBytes(int64(*b)) }

func (b *byteSize) Set(v string) error {
	n, err := parseBytes(v)
	if err != nil {
		return err
	}
	*b = byteSize(n)
	return nil
}

func parseBytes(v string) (int64, error) {
	s := strings.TrimSpace(v)
	num := strings.TrimRight(s, "KMGiBkb")
	unit := strings.TrimSpace(s[len(num):])
	num = strings.TrimSpace(num)
	mult := map[string]int64{"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[unit]
	n, err := strconv.ParseFloat(num, 64)
	if mult == 0 || err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size (e.g. 20MiB, 5MB, 1048576)", v)
	}
	return int64(n * float64(mult)), nil
}

// formatBytes writes n in the largest binary unit that divides it.
func formatBytes(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.size == 0 {
			return fmt.Sprintf("%d%s", n/u.size, u.name)
		}
	}
	return strconv.FormatInt(n, 10)
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func ints(list string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(list, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func runFake(args []string) error {
	fs := flag.NewFlagSet("fake", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:9200", "address to serve on")
	var o fake.Options
	fs.IntVar(&o.Chunks, "chunks", 20, "content chunks per stream")
	fs.StringVar(&o.ChunkText, "chunk-text", "hello ", "text of one chunk")
	fs.DurationVar(&o.Interval, "interval", 0, "pause before each content chunk")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	return fake.Serve(ctx, l, o)
}

func runBench(ctx context.Context, s settings) error {
	limit, err := proc.RaiseFileLimit()
	if err != nil {
		return fmt.Errorf("raise RLIMIT_NOFILE: %w", err)
	}
	dir, err := os.MkdirTemp("", "switchboard-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if s.envoyBin == "" {
		if s.envoyBin, err = findEnvoy(); err != nil {
			return err
		}
	}
	if s.Governed && s.runs(phaseLatency) && s.redisBin == "" {
		if s.redisBin, err = findRedis(); err != nil {
			return err
		}
	}
	if s.switchboardBin == "" {
		s.switchboardBin = filepath.Join(dir, "switchboard")
		if err := goBuild(s.switchboardBin, "./cmd/switchboard"); err != nil {
			return err
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	h := &harness{s: s, dir: dir, self: self, rep: &report{
		Date:     time.Now().UTC().Format(time.RFC3339),
		Machine:  proc.Describe(s.envoyBin),
		Settings: s,
	}}
	fmt.Printf("switchboard bench: %d CPUs (%s), Envoy %s, %s, RLIMIT_NOFILE %d\n",
		h.rep.Machine.NProc, h.rep.Machine.CPUModel, h.rep.Machine.Envoy, h.rep.Machine.GoVersion, limit)
	if s.runs(phaseLatency) {
		if err := h.latencyPhase(ctx); err != nil {
			return err
		}
	}
	if s.runs(phaseMemory) && len(s.Streams) > 0 {
		if err := h.memoryPhase(ctx); err != nil {
			return err
		}
	}
	if s.runs(phaseProfile) && s.Profile > 0 {
		if err := h.profilePhase(ctx); err != nil {
			return err
		}
	}
	// The soak and large-body phases record a failure in the report and
	// let the run finish, so the figures already taken are kept.
	var failed []string
	if s.runs(phaseSoak) && s.Soak > 0 {
		if err := h.soakPhase(ctx); err != nil {
			failed = append(failed, phaseSoak)
			fmt.Printf("  soak phase FAILED: %v\n", err)
		}
	}
	if s.runs(phaseBigBody) && s.BigBody > 0 {
		if err := h.bigBodyPhase(ctx); err != nil {
			failed = append(failed, phaseBigBody)
			fmt.Printf("  large-body phase FAILED: %v\n", err)
		}
	}
	h.rep.judge()
	h.rep.print(os.Stdout)
	if err := h.rep.write(s.out); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if len(failed) > 0 {
		return fmt.Errorf("phases failed: %s (see above and the report)", strings.Join(failed, ", "))
	}
	return nil
}

// findEnvoy takes ENVOY_BIN (set by the Makefile), then PATH, then the
// Makefile's install folder, as the e2e suite does.
func findEnvoy() (string, error) {
	if p := os.Getenv("ENVOY_BIN"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("envoy"); err == nil {
		return p, nil
	}
	if _, err := os.Stat(".tools/envoy-1.40.0/envoy"); err == nil {
		return filepath.Abs(".tools/envoy-1.40.0/envoy")
	}
	return "", errors.New("no envoy binary: run `make envoy` or pass -envoy")
}

// findRedis takes REDIS_SERVER_BIN (set by the Makefile), then the
// Makefile's install folder, as the test suite does.
func findRedis() (string, error) {
	p := os.Getenv("REDIS_SERVER_BIN")
	if p == "" {
		p = ".tools/redis-6.2.14/redis-server"
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("no redis-server for the governed target (%v): run `make redis`, pass -redis, or -governed=false", err)
	}
	return filepath.Abs(p)
}

// goBuild builds pkg (relative to the module root, the working directory
// of `make bench` and `go run ./bench/cmd/bench`) into out.
func goBuild(out, pkg string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w", pkg, err)
	}
	return nil
}
