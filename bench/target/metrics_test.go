package target

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// sample is what client_golang's Go and process collectors write, trimmed.
const sample = `# HELP go_gc_duration_seconds A summary of the wall-time pause (stop-the-world) duration in garbage collection cycles.
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0"} 2.3641e-05
go_gc_duration_seconds{quantile="0.5"} 6.1519e-05
go_gc_duration_seconds_sum 0.000877309
go_gc_duration_seconds_count 11
# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 27
# HELP go_memstats_heap_inuse_bytes Number of heap bytes that are in use.
# TYPE go_memstats_heap_inuse_bytes gauge
go_memstats_heap_inuse_bytes 1.1001856e+07
# HELP go_info Information about the Go environment.
# TYPE go_info gauge
go_info{version="go1.26.8"} 1
# HELP switchboard_attempts_total Provider attempts.
# TYPE switchboard_attempts_total counter
switchboard_attempts_total{model="bench openai",provider="fake-openai",status="200"} 5012 1764068817000
process_max_fds +Inf
process_odd NaN

`

func TestParseMetrics(t *testing.T) {
	m, err := ParseMetrics(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		want float64
	}{
		{MetricGoroutines, 27},
		{MetricHeapInuse, 11001856},
		{`go_gc_duration_seconds{quantile="0.5"}`, 6.1519e-05},
		{"go_gc_duration_seconds_count", 11},
		{`switchboard_attempts_total{model="bench openai",provider="fake-openai",status="200"}`, 5012},
		{"process_max_fds", math.Inf(1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := m[tc.name]
			if !ok || got != tc.want {
				t.Errorf("%s = %v (present %v), want %v", tc.name, got, ok, tc.want)
			}
		})
	}
	if v := m["process_odd"]; !math.IsNaN(v) {
		t.Errorf("process_odd = %v, want NaN", v)
	}
}

func TestParseMetricsErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"no value", "go_goroutines\n", "line 1: want `name value [timestamp]`"},
		{"not a number", "# TYPE x gauge\ngo_goroutines many\n", `line 2: "go_goroutines many"`},
		{"too many fields", "go_goroutines 1 2 3\n", "line 1: want"},
		{"html page", "<html><body>404 page not found</body></html>\n", "line 1:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseMetrics(strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestRuntimeMetrics(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		noMetr  bool   // want ErrNoMetrics
		wantErr string // else want this error text, or success if empty
	}{
		{name: "served", handler: func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, sample) }},
		{name: "404", handler: http.NotFound, noMetr: true, wantErr: "404"},
		{name: "no go collector", handler: func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "switchboard_up 1\n") },
			noMetr: true, wantErr: "lacks go_goroutines"},
		{name: "500", handler: func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", 500) }, wantErr: "500 Internal Server Error: boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
			s := &Stack{Name: "gateway"}
			fmt.Sscan(port, &s.SwitchboardAdmin)
			g, h, err := s.RuntimeMetrics(context.Background())
			if tc.wantErr == "" {
				if err != nil || g != 27 || h != 11001856 {
					t.Fatalf("got %v, %v, %v; want 27, 11001856, nil", g, h, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want it to contain %q", err, tc.wantErr)
			}
			if errors.Is(err, ErrNoMetrics) != tc.noMetr {
				t.Errorf("errors.Is(err, ErrNoMetrics) = %v, want %v", !tc.noMetr, tc.noMetr)
			}
		})
	}
}
