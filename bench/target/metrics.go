package target

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// Go runtime series of the Prometheus Go collector that the harness reads
// from switchboard's GET /metrics.
const (
	MetricGoroutines = "go_goroutines"
	MetricHeapInuse  = "go_memstats_heap_inuse_bytes"
)

// ErrNoMetrics means switchboard's admin server does not serve /metrics.
var ErrNoMetrics = errors.New("switchboard admin serves no GET /metrics")

// Metrics reads switchboard's Prometheus metrics from its admin address.
// Series are keyed as written, labels included (`name{a="b"}`).
func (s *Stack) Metrics(ctx context.Context) (map[string]float64, error) {
	if s.SwitchboardAdmin == 0 {
		return nil, fmt.Errorf("%s: no switchboard admin address", s.Name)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", s.SwitchboardAdmin)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	// Ask for the classic text format, not OpenMetrics or protobuf.
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("GET %s: %s: %w", url, resp.Status, ErrNoMetrics)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, b)
	}
	return ParseMetrics(resp.Body)
}

// RuntimeMetrics reads the goroutine count and heap in use (bytes) from
// switchboard's /metrics; both series must be present.
func (s *Stack) RuntimeMetrics(ctx context.Context) (goroutines, heapInuse float64, err error) {
	m, err := s.Metrics(ctx)
	if err != nil {
		return 0, 0, err
	}
	g, ok1 := m[MetricGoroutines]
	h, ok2 := m[MetricHeapInuse]
	if !ok1 || !ok2 {
		return 0, 0, fmt.Errorf("switchboard /metrics lacks %s or %s (the Go collector's series): %w", MetricGoroutines, MetricHeapInuse, ErrNoMetrics)
	}
	return g, h, nil
}

// ParseMetrics reads the Prometheus text exposition format: one sample a
// line, `name value` or `name{labels} value`, optionally followed by a
// timestamp; `#` lines (HELP, TYPE) and blank lines are skipped. A series
// is keyed by everything before its value, labels as written.
func ParseMetrics(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest := line, ""
		if i := strings.LastIndexByte(line, '}'); i >= 0 && strings.IndexByte(line, '{') >= 0 {
			// Label values may hold spaces: the name ends at the closing brace.
			name, rest = line[:i+1], line[i+1:]
		} else if i := strings.IndexAny(line, " \t"); i >= 0 {
			name, rest = line[:i], line[i:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 || len(fields) > 2 {
			return nil, fmt.Errorf("metrics line %d: want `name value [timestamp]`: %q", n, line)
		}
		v, err := parseValue(fields[0])
		if err != nil {
			return nil, fmt.Errorf("metrics line %d: %q: %w", n, line, err)
		}
		out[name] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// parseValue reads a sample value: a Go float, or NaN, +Inf or -Inf.
func parseValue(s string) (float64, error) {
	switch s {
	case "NaN":
		return math.NaN(), nil
	case "+Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	}
	return strconv.ParseFloat(s, 64)
}
