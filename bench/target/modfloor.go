package target

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The in-process floor: plain Envoy plus a Go dynamic-module filter
// (bench/peers/modfloor) that holds the request until its body is in and
// copies both bodies into Go; for the translation target it also runs
// switchboard's translators on both sides. What it adds to plain Envoy is
// what an in-process Go data path pays before routing, auth and
// accounting (issue 12, direction 3), beside the ext_proc floor's gRPC
// round trips. Its Envoy is the baseline's with Module set.

// moduleName is the library's name as Envoy looks it up:
// lib<name>.so in ENVOY_DYNAMIC_MODULES_SEARCH_PATH.
const moduleName = "switchboard_floor"

// StartModuleFloor runs an Envoy that loads env.ModuleFloor and sends
// every request through it to the fake.
func StartModuleFloor(env Env, fakePort int) (*Stack, error) {
	if env.ModuleFloor == "" {
		return nil, errors.New("modfloor: no module: pass -module-floor (`make bench-peers` builds it)")
	}
	if base := filepath.Base(env.ModuleFloor); base != "lib"+moduleName+".so" {
		return nil, fmt.Errorf("modfloor: module %s: Envoy loads it by name, so it must be lib%s.so", env.ModuleFloor, moduleName)
	}
	if _, err := os.Stat(env.ModuleFloor); err != nil {
		return nil, fmt.Errorf("modfloor: %w", err)
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	listen, admin := ports[0], ports[1]
	var boot bytes.Buffer
	if err := baselineTmpl.Execute(&boot, map[string]int{"Port": listen, "Admin": admin, "Module": 1, "Upstream": fakePort}); err != nil {
		return nil, fmt.Errorf("modfloor: envoy config: %w", err)
	}
	bootPath := filepath.Join(env.Dir, "modfloor-envoy.yaml")
	if err := os.WriteFile(bootPath, boot.Bytes(), 0o644); err != nil {
		return nil, fmt.Errorf("modfloor: write envoy config: %w", err)
	}
	s := &Stack{Name: "modfloor", Port: listen}
	dir, err := filepath.Abs(filepath.Dir(env.ModuleFloor))
	if err != nil {
		return nil, fmt.Errorf("modfloor: %w", err)
	}
	if err := s.startEnvoy(env, bootPath, admin, "ENVOY_DYNAMIC_MODULES_SEARCH_PATH="+dir); err != nil {
		return nil, fmt.Errorf("modfloor: %w", err)
	}
	if err := s.waitHTTP("/healthz", 30*time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	if logs := s.Logs(); strings.Contains(logs, "ABI version") && strings.Contains(logs, "deprecated") {
		// Loaded, but built against another ABI version: say so.
		fmt.Printf("  peer modfloor: %s\n", strings.TrimSpace(logs))
	}
	return s, nil
}
