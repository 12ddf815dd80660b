package fileparser

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/translators"
)

// FetchConfig allows file parts given as URLs.
//
// The fetch is an outbound call the gateway makes for the client, so it
// is narrow by default: https only, hosts on the allow-list only
// (redirects are checked against it too), a size cap and a timeout. The
// allow-list is by host name: an allowed host that resolves to an
// internal address is the operator's choice. Client lets the wiring
// send fetches through an Envoy cluster like provider calls.
type FetchConfig struct {
	// AllowHosts lists the host names fetched from: "files.example.com",
	// or "*.example.com" for its subdomains. Required.
	AllowHosts []string
	// AllowHTTP allows plain http URLs. Default false.
	AllowHTTP bool
	// Timeout bounds one fetch. Default 10s.
	Timeout time.Duration
	// Client makes the requests. Default: a client with no proxy
	// settings from the environment.
	Client *http.Client
}

// Validate checks the allow-list.
func (c FetchConfig) Validate() error {
	if len(c.AllowHosts) == 0 {
		return errors.New("allow_hosts: at least one host is required to fetch file URLs")
	}
	for i, h := range c.AllowHosts {
		bare := strings.TrimPrefix(h, "*.")
		if bare == "" || strings.ContainsAny(bare, "/:*@ ") {
			return fmt.Errorf("allow_hosts[%d] %q: want a host name or *.domain", i, h)
		}
	}
	return nil
}

type fetcher struct {
	cfg    FetchConfig
	client *http.Client
}

const maxRedirects = 3

func newFetcher(cfg FetchConfig) *fetcher {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	f := &fetcher{cfg: cfg}
	base := cfg.Client
	if base == nil {
		base = &http.Client{Transport: &http.Transport{Proxy: nil, ResponseHeaderTimeout: cfg.Timeout}}
	}
	c := *base
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return errors.New("too many redirects")
		}
		return f.allowed(req.URL)
	}
	f.client = &c
	return f
}

func (f *fetcher) allowed(u *url.URL) error {
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && f.cfg.AllowHTTP:
	default:
		return fmt.Errorf("scheme %q is not allowed", u.Scheme)
	}
	host := strings.ToLower(u.Hostname())
	for _, h := range f.cfg.AllowHosts {
		h = strings.ToLower(h)
		if host == h || strings.HasPrefix(h, "*.") && strings.HasSuffix(host, h[1:]) {
			return nil
		}
	}
	return fmt.Errorf("host %q is not on the allow-list", host)
}

// get fetches a file of at most max bytes.
func (f *fetcher) get(ctx context.Context, raw string, max int) (string, []byte, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", nil, badRequest("invalid_file", "", "file_data is neither a data URL nor an absolute URL")
	}
	if err := f.allowed(u); err != nil {
		return "", nil, badRequest("file_url_not_allowed", "", "file URL refused: "+err.Error())
	}
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", nil, badRequest("invalid_file", "", "file URL: "+err.Error())
	}
	resp, err := f.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) && strings.Contains(ue.Err.Error(), "allow-list") || strings.Contains(err.Error(), "is not allowed") {
			return "", nil, badRequest("file_url_not_allowed", "", "file URL redirected to a host that is not allowed")
		}
		var ne net.Error
		if ctx.Err() != nil || errors.As(err, &ne) && ne.Timeout() {
			return "", nil, fetchFailed("timed out")
		}
		return "", nil, fetchFailed("request failed")
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", nil, fetchFailed("status " + strconv.Itoa(resp.StatusCode))
	}
	if resp.ContentLength > int64(max) {
		return "", nil, badRequest("file_too_large", "", fmt.Sprintf("the file is over the %d-byte limit", max))
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, int64(max)+1))
	if err != nil {
		if ctx.Err() != nil {
			return "", nil, fetchFailed("timed out")
		}
		return "", nil, fetchFailed("reading the body failed")
	}
	if len(data) > max {
		return "", nil, badRequest("file_too_large", "", fmt.Sprintf("the file is over the %d-byte limit", max))
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return strings.ToLower(mt), data, nil
}

func fetchFailed(why string) *translators.APIError {
	return &translators.APIError{Status: 502, Type: translators.TypeUpstream, Code: "file_fetch_failed", Message: "fetching the file failed: " + why}
}
