package web

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/middleware"
	"github.com/switchboard-gw/switchboard/translators"
)

const userBody = `{"model":"demo","messages":[{"role":"user","content":"  latest   go release  "}]}`

func TestParseOptions(t *testing.T) {
	p, _ := New(Config{Backends: []Backend{&stubBackend{name: "searxng"}, &stubBackend{name: "exa"}}})
	tests := []struct {
		name, block string
		wantN       int
		wantEngine  string
		wantErr     string
	}{
		{name: "defaults", block: `{"id":"web"}`, wantN: 5, wantEngine: "searxng"},
		{name: "all set", block: `{"id":"web","max_results":10,"engine":"exa","search_prompt":"Results:"}`, wantN: 10, wantEngine: "exa"},
		{name: "too many", block: `{"id":"web","max_results":11}`, wantErr: `plugin "web": 'max_results' 11: must be an integer from 1 to 10`},
		{name: "not an integer", block: `{"id":"web","max_results":2.5}`, wantErr: "'max_results' 2.5: must be an integer"},
		{name: "unknown engine", block: `{"id":"web","engine":"bing"}`, wantErr: `'engine' "bing": not configured on this gateway (configured: native, searxng, exa)`},
		{name: "native", block: `{"id":"web","engine":"native"}`, wantN: 5, wantEngine: "native"},
		{name: "long prompt", block: `{"id":"web","search_prompt":"` + strings.Repeat("x", 2001) + `"}`, wantErr: "'search_prompt' is 2001 bytes: at most 2000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := p.ParseOptions([]byte(tc.block))
			if tc.wantErr != "" {
				var ae *translators.APIError
				if !errors.As(err, &ae) || ae.Status != 400 || !strings.Contains(ae.Message, tc.wantErr) {
					t.Fatalf("error = %v, want 400 containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			engine := "native"
			if !o.Native {
				engine = o.Engine.Name()
			}
			if o.MaxResults != tc.wantN || engine != tc.wantEngine {
				t.Errorf("options = %d %s", o.MaxResults, engine)
			}
		})
	}
}

func TestStart(t *testing.T) {
	tests := []struct {
		name     string
		backend  *stubBackend
		mode     FailureMode
		body     string
		wantErr  string
		warnings []string
		usage    middleware.Usage
		injected bool
	}{
		{name: "results injected", backend: &stubBackend{name: "s", results: goResults}, body: userBody,
			usage: middleware.Usage{SearchCalls: 1, Results: 2, Cost: 0.008}, injected: true},
		{name: "failure continues", backend: &stubBackend{name: "s", err: errors.New("s: status 500: boom")}, body: userBody,
			usage: middleware.Usage{SearchCalls: 1}, warnings: []string{"search (s) failed; answered without web results"}},
		{name: "failure fails", backend: &stubBackend{name: "s", err: errors.New("s: status 500: boom")}, mode: Fail, body: userBody,
			wantErr: "web search (s) failed: web: s: status 500: boom"},
		{name: "no results", backend: &stubBackend{name: "s"}, body: userBody,
			usage: middleware.Usage{SearchCalls: 1}, warnings: []string{"search (s) found nothing"}},
		{name: "bad results dropped", backend: &stubBackend{name: "s", results: []Result{{URL: "javascript:alert(1)"}, {URL: "ftp://x"}, goResults[0], goResults[0]}}, body: userBody,
			usage: middleware.Usage{SearchCalls: 1, Results: 1, Cost: 0.004}, injected: true},
		{name: "no user text", backend: &stubBackend{name: "s"}, body: `{"messages":[{"role":"system","content":"x"}]}`,
			warnings: []string{"no user text to search for; answered without web results"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(Config{Backends: []Backend{tc.backend}, FailureMode: tc.mode, CostPerResult: 0.004, Now: fixedNow})
			if err != nil {
				t.Fatal(err)
			}
			st, err := p.Start(context.Background(), middleware.Input{Body: []byte(tc.body), Options: []byte(`{"id":"web"}`)})
			if tc.wantErr != "" {
				var ae *translators.APIError
				if !errors.As(err, &ae) || ae.Status != 502 || ae.Code != "web_search_failed" || ae.Message != tc.wantErr {
					t.Fatalf("error = %v, want 502 %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.warnings, st.Warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.usage, st.Usage); diff != "" {
				t.Errorf("usage (-want +got):\n%s", diff)
			}
			if got := st.Body != nil && st.After != nil; got != tc.injected {
				t.Errorf("injected = %v, want %v", got, tc.injected)
			}
			if tc.injected {
				if q := tc.backend.queries[0]; q != "latest go release" {
					t.Errorf("query = %q", q)
				}
				if n := tc.backend.ns[0]; n != 5 {
					t.Errorf("asked for %d results", n)
				}
				if role := gjson.GetBytes(st.Body, "messages.0.role").Str; role != "system" {
					t.Errorf("first message role %q, want the note", role)
				}
			}
		})
	}
}

func TestStartTimeout(t *testing.T) {
	f := newFakeBackend(t, "searxng.json")
	f.block = make(chan struct{})
	b, _ := NewSearXNG(HTTPConfig{BaseURL: f.srv.URL})
	p, _ := New(Config{Backends: []Backend{b}, Timeout: 50 * time.Millisecond, FailureMode: Fail})
	start := time.Now()
	_, err := p.Start(context.Background(), middleware.Input{Body: []byte(userBody), Options: []byte(`{"id":"web"}`)})
	var ae *translators.APIError
	if !errors.As(err, &ae) || ae.Code != "web_search_failed" || !strings.Contains(ae.Message, "deadline exceeded") {
		t.Fatalf("error = %v, want a web_search_failed deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s despite a 50ms timeout", d)
	}
}

func TestConfigValidate(t *testing.T) {
	s := &stubBackend{name: "s"}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{name: "no backend", cfg: Config{}, want: "web: at least one search backend is required"},
		{name: "twice", cfg: Config{Backends: []Backend{s, s}}, want: `web: backends[1] "s": name used twice or reserved`},
		{name: "default over max", cfg: Config{Backends: []Backend{s}, DefaultResults: 8, MaxResults: 3}, want: "web: default_results 8 exceeds max_results 3"},
		{name: "mode", cfg: Config{Backends: []Backend{s}, FailureMode: "ignore"}, want: `web: failure_mode "ignore": must be continue or fail`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestQuery(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{name: "last user message", body: `{"messages":[{"role":"user","content":"first"},{"role":"assistant","content":"a"},{"role":"user","content":"second\tone"}]}`, want: "second one"},
		{name: "text parts", body: `{"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url"},{"type":"text","text":"b"}]}]}`, want: "a b"},
		{name: "cut at a word", body: `{"messages":[{"role":"user","content":"aaaa bbbb cccc dddd eeee"}]}`, want: "aaaa bbbb cccc dddd"},
		{name: "none", body: `{"messages":[]}`, want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Query([]byte(tc.body), 20); got != tc.want {
				t.Errorf("Query = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCleanAndNote(t *testing.T) {
	if got := Clean("<strong>Go</strong>&amp;\x00 1.26\n\n is   out", 100); got != "Go& 1.26 is out" {
		t.Errorf("Clean = %q", got)
	}
	if got := Clean("héllo wörld", 8); got != "héll…" {
		t.Errorf("Clean cut = %q", got)
	}
	note, n := Note(NoteInput{Prompt: "Results of {todays_date}:", Date: fixedNow(), Results: goResults, MaxBytes: 150})
	if n != 1 || !strings.HasPrefix(note, "Results of 2026-12-14:\n\n[1] Go 1.26 Release Notes\nURL: https://go.dev/doc/go1.26") || strings.Contains(note, "[2]") {
		t.Errorf("note (%d results):\n%s", n, note)
	}
}

func TestInjectWithoutUser(t *testing.T) {
	out, err := Inject([]byte(`{"messages":[{"role":"system","content":"s"}]}`), "note")
	if err != nil {
		t.Fatal(err)
	}
	if got := gjson.GetBytes(out, "messages.#.content").Raw; got != `["s","note"]` {
		t.Errorf("messages = %s", got)
	}
	if _, err := Inject([]byte(`{}`), "note"); err == nil {
		t.Error("no error without messages")
	}
}

// TestNativeSearch: engine "native", or prefer_native when every provider
// searches itself, asks the provider (web_search_options) and searches
// nothing here; an engine the request names wins over prefer_native.
func TestNativeSearch(t *testing.T) {
	b := &stubBackend{name: "s", results: goResults}
	p, err := New(Config{Backends: []Backend{b}, PreferNative: true, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, block string
		native      bool
		wantNative  bool
	}{
		{"engine native", `{"id":"web","engine":"native"}`, false, true},
		{"prefer native", `{"id":"web"}`, true, true},
		{"a provider without search", `{"id":"web"}`, false, false},
		{"the request names an engine", `{"id":"web","engine":"s"}`, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := len(b.queries)
			st, err := p.Start(context.Background(), middleware.Input{Body: []byte(userBody), Options: []byte(tc.block), NativeSearch: tc.native})
			if err != nil {
				t.Fatal(err)
			}
			got := gjson.GetBytes(st.Body, "web_search_options").IsObject()
			if got != tc.wantNative || (len(b.queries) > n) == tc.wantNative {
				t.Errorf("web_search_options %v, searched %v; want native %v", got, len(b.queries) > n, tc.wantNative)
			}
		})
	}
}
