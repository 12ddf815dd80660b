package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Result is one search result, as every backend's answer is read.
type Result struct {
	Title   string `json:"title"`
	URL     string `json:"url"`
	Snippet string `json:"snippet"`
	// Published is the page's date, YYYY-MM-DD when the backend gave one
	// that parses, else as given; empty when unknown.
	Published string `json:"published,omitempty"`
}

// Backend is a search engine client.
type Backend interface {
	// Name is the engine's name in requests ("engine": "exa") and errors.
	Name() string
	// Search returns at most n results for query. It honours ctx's
	// deadline. Errors never carry the backend's credential.
	Search(ctx context.Context, query string, n int) ([]Result, error)
}

// HTTPConfig is what every backend client needs.
type HTTPConfig struct {
	// BaseURL is the backend's base URL without a trailing slash: the
	// public API (https://api.exa.ai) or, once wired, the Envoy listener
	// that routes to the backend's cluster (see the package doc).
	BaseURL string
	// APIKey is the backend's credential (none for SearXNG).
	APIKey string
	// Client sends the requests; nil uses one with a 10s timeout. The
	// plugin's own deadline (Config.Timeout) applies on top.
	Client *http.Client
}

// maxResponseBytes bounds what one backend answer may weigh.
const maxResponseBytes = 2 << 20

var defaultClient = &http.Client{Timeout: 10 * time.Second}

func (c HTTPConfig) client() *http.Client {
	if c.Client != nil {
		return c.Client
	}
	return defaultClient
}

func (c HTTPConfig) validate(name string, needKey bool) error {
	if c.BaseURL == "" {
		return fmt.Errorf("web: %s: base URL is required", name)
	}
	if !strings.HasPrefix(c.BaseURL, "http://") && !strings.HasPrefix(c.BaseURL, "https://") {
		return fmt.Errorf("web: %s: base URL %q must start with http:// or https://", name, c.BaseURL)
	}
	if needKey && c.APIKey == "" {
		return fmt.Errorf("web: %s: an API key is required", name)
	}
	return nil
}

// do sends req and decodes a 2xx JSON answer into out. Errors name the
// backend and the status, and quote at most 200 bytes of the answer with
// the credential blanked.
func (c HTTPConfig) do(name string, req *http.Request, out any) error {
	resp, err := c.client().Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", name, redactErr(err, c.APIKey))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return fmt.Errorf("%s: read answer: %w", name, redactErr(err, c.APIKey))
	}
	if len(body) > maxResponseBytes {
		return fmt.Errorf("%s: answer exceeds %d bytes", name, maxResponseBytes)
	}
	if resp.StatusCode/100 != 2 {
		return &StatusError{Backend: name, Status: resp.StatusCode, Body: redact(snippet(body), c.APIKey)}
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s: decode answer: %w", name, err)
	}
	return nil
}

// StatusError is a backend's non-2xx answer.
type StatusError struct {
	Backend string
	Status  int
	Body    string // at most 200 bytes, credential blanked
}

func (e *StatusError) Error() string {
	return e.Backend + ": status " + strconv.Itoa(e.Status) + ": " + e.Body
}

func snippet(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 200 {
		b = b[:200]
	}
	return strings.ToValidUTF8(string(b), "")
}

func redact(s, key string) string {
	if key == "" {
		return s
	}
	return strings.ReplaceAll(s, key, "[redacted]")
}

// redactErr blanks the key in a transport error (a URL error quotes the
// URL, which carries no key in any of our clients, but be sure).
func redactErr(err error, key string) error {
	if key == "" || !strings.Contains(err.Error(), key) {
		return err
	}
	wrapped := errors.New(redact(err.Error(), key))
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", context.DeadlineExceeded, wrapped)
	}
	return wrapped
}

func newJSONRequest(ctx context.Context, method, url string, body any) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// date normalizes a backend's date to YYYY-MM-DD where it parses.
func date(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05", "2006-01-02", time.RFC1123, time.RFC1123Z} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Format("2006-01-02")
		}
	}
	if len(s) > 40 {
		s = s[:40]
	}
	return strings.ToValidUTF8(s, "")
}
