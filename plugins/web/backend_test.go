package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var goResults = []Result{
	{Title: "Go 1.26 Release Notes", URL: "https://go.dev/doc/go1.26", Snippet: "Go 1.26 is a major release of Go.", Published: "2026-02-10"},
	{Title: "Go 1.26 is released", URL: "https://go.dev/blog/go1.26", Snippet: "Today the Go team is happy to release Go 1.26."},
}

const testKey = "sk-test-SECRET-123"

func TestBackends(t *testing.T) {
	tests := []struct {
		name    string
		fixture string
		build   func(HTTPConfig) (Backend, error)
		check   func(t *testing.T, r received)
		want    []Result
	}{
		{name: "searxng", fixture: "searxng.json",
			build: func(c HTTPConfig) (Backend, error) { c.APIKey = ""; return NewSearXNG(c) },
			check: func(t *testing.T, r received) {
				q, _ := url.ParseQuery(r.RawQuery)
				if r.Method != "GET" || r.Path != "/search" || q.Get("q") != "go 1.26 release" || q.Get("format") != "json" {
					t.Errorf("request = %s %s?%s", r.Method, r.Path, r.RawQuery)
				}
			},
			// SearXNG's own HTML (<b>) stays in Result; the plugin cleans it.
			want: []Result{goResults[0], {Title: "Go 1.26 is released", URL: "https://go.dev/blog/go1.26", Snippet: "Today the Go team is happy to <b>release</b> Go 1.26."}}},
		{name: "exa", fixture: "exa.json",
			build: func(c HTTPConfig) (Backend, error) { return NewExa(c) },
			check: func(t *testing.T, r received) {
				if r.Method != "POST" || r.Path != "/search" || r.Header.Get("x-api-key") != testKey || r.Header.Get("Content-Type") != "application/json" {
					t.Errorf("request = %s %s %v", r.Method, r.Path, r.Header)
				}
				wantJSON(t, r.Body, `{"query":"go 1.26 release","type":"auto","numResults":2,"contents":{"text":{"maxCharacters":1000}}}`)
			},
			want: goResults},
		{name: "tavily bearer", fixture: "tavily.json",
			build: func(c HTTPConfig) (Backend, error) { return NewTavily(c, false) },
			check: func(t *testing.T, r received) {
				if r.Method != "POST" || r.Path != "/search" || r.Header.Get("Authorization") != "Bearer "+testKey {
					t.Errorf("request = %s %s %v", r.Method, r.Path, r.Header)
				}
				wantJSON(t, r.Body, `{"query":"go 1.26 release","max_results":2,"search_depth":"basic","include_answer":false}`)
			},
			want: goResults},
		{name: "tavily key in body", fixture: "tavily.json",
			build: func(c HTTPConfig) (Backend, error) { return NewTavily(c, true) },
			check: func(t *testing.T, r received) {
				if r.Header.Get("Authorization") != "" {
					t.Errorf("Authorization sent with the key in the body")
				}
				wantJSON(t, r.Body, `{"api_key":"`+testKey+`","query":"go 1.26 release","max_results":2,"search_depth":"basic","include_answer":false}`)
			},
			want: goResults},
		{name: "brave", fixture: "brave.json",
			build: func(c HTTPConfig) (Backend, error) { return NewBrave(c) },
			check: func(t *testing.T, r received) {
				q, _ := url.ParseQuery(r.RawQuery)
				if r.Method != "GET" || r.Path != "/res/v1/web/search" || q.Get("q") != "go 1.26 release" || q.Get("count") != "2" ||
					r.Header.Get("X-Subscription-Token") != testKey || r.Header.Get("Accept") != "application/json" {
					t.Errorf("request = %s %s?%s %v", r.Method, r.Path, r.RawQuery, r.Header)
				}
			},
			want: []Result{{Title: "Go 1.26 Release Notes", URL: "https://go.dev/doc/go1.26", Snippet: "<strong>Go</strong> <strong>1.26</strong> is a major release of Go.", Published: "2026-02-10"},
				{Title: "Go 1.26 is released", URL: "https://go.dev/blog/go1.26", Snippet: "Today the Go team is happy to release <strong>Go 1.26</strong>."}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeBackend(t, tc.fixture)
			b, err := tc.build(HTTPConfig{BaseURL: f.srv.URL, APIKey: testKey})
			if err != nil {
				t.Fatal(err)
			}
			got, err := b.Search(context.Background(), "go 1.26 release", 2)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("results (-want +got):\n%s", diff)
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("backend got %d requests", len(reqs))
			}
			tc.check(t, reqs[0])
		})
	}
}

func TestBackendErrors(t *testing.T) {
	t.Run("status error quotes the body without the key", func(t *testing.T) {
		f := newFakeBackend(t, "")
		f.status, f.body = 401, []byte(`{"error":"invalid key `+testKey+`"}`)
		b, _ := NewExa(HTTPConfig{BaseURL: f.srv.URL, APIKey: testKey})
		_, err := b.Search(context.Background(), "q", 1)
		var se *StatusError
		if !errors.As(err, &se) || se.Status != 401 {
			t.Fatalf("error = %v, want StatusError 401", err)
		}
		if want := `exa: status 401: {"error":"invalid key [redacted]"}`; err.Error() != want {
			t.Errorf("error = %q, want %q", err, want)
		}
	})
	t.Run("garbled answer", func(t *testing.T) {
		f := newFakeBackend(t, "")
		f.body = []byte(`<html>`)
		b, _ := NewSearXNG(HTTPConfig{BaseURL: f.srv.URL})
		_, err := b.Search(context.Background(), "q", 1)
		if err == nil || !strings.HasPrefix(err.Error(), "searxng: decode answer: ") {
			t.Fatalf("error = %v", err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		f := newFakeBackend(t, "brave.json")
		f.block = make(chan struct{})
		b, _ := NewBrave(HTTPConfig{BaseURL: f.srv.URL, APIKey: testKey})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := b.Search(ctx, "q", 1)
		if !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), testKey) {
			t.Fatalf("error = %v, want a deadline error without the key", err)
		}
	})
	t.Run("config", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			err  error
			want string
		}{
			{"no base url", func() error { _, e := NewSearXNG(HTTPConfig{}); return e }(), "web: searxng: base URL is required"},
			{"bad scheme", func() error { _, e := NewBrave(HTTPConfig{BaseURL: "api.search.brave.com", APIKey: "k"}); return e }(), `web: brave: base URL "api.search.brave.com" must start with http:// or https://`},
			{"no key", func() error { _, e := NewTavily(HTTPConfig{BaseURL: "https://api.tavily.com"}, false); return e }(), "web: tavily: an API key is required"},
		} {
			if tc.err == nil || tc.err.Error() != tc.want {
				t.Errorf("%s: error = %v, want %q", tc.name, tc.err, tc.want)
			}
		}
	})
}

func wantJSON(t *testing.T, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("body %q: %v", got, err)
	}
	json.Unmarshal([]byte(want), &w)
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
}
