package target

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/switchboard-gw/switchboard/bench/proc"
)

// NullProc is the process name of the floor's ext_proc server.
const NullProc = "nullproc"

// The ext_proc floor: plain Envoy plus an ext_proc filter set up as
// switchboard's router hop is (the same processing modes, body sent
// without waiting for the headers answer, an HTTP/2 cluster), in front of
// an ext_proc server that does no work (`bench nullproc`): it answers
// with the same messages switchboard sends for a whole answer (the
// request's headers once its body is in, the response's headers with
// its body) and changes nothing. What this target adds to plain Envoy is
// what any ext_proc gateway of this shape pays before it does anything.
// Its Envoy is the baseline's with ExtProc set (baselineTmpl).
var floorEnvoyTmpl = baselineTmpl

// StartFloor runs the null ext_proc server (env.Self nullproc) and an
// Envoy that sends every request through it to the fake.
func StartFloor(env Env, fakePort int) (*Stack, error) {
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	listen, admin, extProc := ports[0], ports[1], ports[2]
	var boot bytes.Buffer
	if err := floorEnvoyTmpl.Execute(&boot, map[string]int{"Port": listen, "Admin": admin, "ExtProc": extProc, "Upstream": fakePort}); err != nil {
		return nil, fmt.Errorf("floor: envoy config: %w", err)
	}
	bootPath := filepath.Join(env.Dir, "floor-envoy.yaml")
	if err := os.WriteFile(bootPath, boot.Bytes(), 0o644); err != nil {
		return nil, fmt.Errorf("floor: write envoy config: %w", err)
	}
	s := &Stack{Name: "floor", Port: listen}
	p, err := proc.Start(NullProc, filepath.Join(env.Dir, "nullproc.log"), env.Self, "nullproc", "-listen", fmt.Sprintf("127.0.0.1:%d", extProc))
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	s.Procs = append(s.Procs, p)
	if err := s.startEnvoy(env, bootPath, admin); err != nil {
		s.Stop()
		return nil, fmt.Errorf("floor: %w", err)
	}
	if err := s.waitHTTP("/healthz", 30*time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}
