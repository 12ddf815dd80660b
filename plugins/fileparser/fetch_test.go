package fileparser

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// fileServer is a fake file host on loopback that records the paths asked.
type fileServer struct {
	*httptest.Server
	mu    sync.Mutex
	paths []string
}

func newFileServer(t *testing.T, pdf []byte) *fileServer {
	fs := &fileServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("/report.pdf", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pdf")
		w.Write(pdf)
	})
	mux.HandleFunc("/big.pdf", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pdf")
		w.Write([]byte(strings.Repeat("x", 4096)))
	})
	mux.HandleFunc("/chunked.pdf", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pdf")
		for range 8 {
			w.Write([]byte(strings.Repeat("x", 1024)))
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/missing.pdf", http.NotFound)
	mux.HandleFunc("/slow.pdf", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // answers only when the client gives up
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		// localhost is the same server under a name not on the allow-list.
		u := "http://localhost:" + strings.Split(r.Host, ":")[1] + "/report.pdf"
		http.Redirect(w, r, u, http.StatusFound)
	})
	mux.HandleFunc("/same", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/report.pdf", http.StatusFound)
	})
	fs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.mu.Lock()
		fs.paths = append(fs.paths, r.URL.Path)
		fs.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(fs.Close)
	return fs
}

func (fs *fileServer) asked() []string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return append([]string(nil), fs.paths...)
}

func TestRewriteFetchesURLs(t *testing.T) {
	fs := newFileServer(t, textPDF(t, "fetched text"))
	u, _ := url.Parse(fs.URL)
	tests := []struct {
		name    string
		path    string
		fetch   FetchConfig
		lim     Limits
		want    string
		code    string
		status  int
		message string
		asked   []string
	}{
		{name: "allowed host", path: "/report.pdf", fetch: FetchConfig{AllowHosts: []string{u.Hostname()}, AllowHTTP: true},
			want: "<file name=\"r.pdf\">\nfetched text\n</file>", asked: []string{"/report.pdf"}},
		{name: "redirect on the same host", path: "/same", fetch: FetchConfig{AllowHosts: []string{u.Hostname()}, AllowHTTP: true},
			want: "<file name=\"r.pdf\">\nfetched text\n</file>", asked: []string{"/same", "/report.pdf"}},
		{name: "http refused by default", path: "/report.pdf", fetch: FetchConfig{AllowHosts: []string{u.Hostname()}},
			code: "file_url_not_allowed", status: 400, message: `scheme "http" is not allowed`},
		{name: "host not allowed", path: "/report.pdf", fetch: FetchConfig{AllowHosts: []string{"files.example.com"}, AllowHTTP: true},
			code: "file_url_not_allowed", status: 400, message: `host "127.0.0.1" is not on the allow-list`},
		{name: "redirect to a host not allowed", path: "/elsewhere", fetch: FetchConfig{AllowHosts: []string{u.Hostname()}, AllowHTTP: true},
			code: "file_url_not_allowed", status: 400, message: "redirected to a host that is not allowed", asked: []string{"/elsewhere"}},
		{name: "not found", path: "/missing.pdf", fetch: FetchConfig{AllowHosts: []string{u.Hostname()}, AllowHTTP: true},
			code: "file_fetch_failed", status: 502, message: "status 404"},
		{name: "over the size cap by length", path: "/big.pdf", fetch: FetchConfig{AllowHosts: []string{u.Hostname()}, AllowHTTP: true}, lim: Limits{MaxFileBytes: 1000},
			code: "file_too_large", status: 400, message: "over the 1000-byte limit"},
		{name: "over the size cap while reading", path: "/chunked.pdf", fetch: FetchConfig{AllowHosts: []string{u.Hostname()}, AllowHTTP: true}, lim: Limits{MaxFileBytes: 2000},
			code: "file_too_large", status: 400, message: "over the 2000-byte limit"},
		{name: "timeout", path: "/slow.pdf", fetch: FetchConfig{AllowHosts: []string{u.Hostname()}, AllowHTTP: true, Timeout: 50 * time.Millisecond},
			code: "file_fetch_failed", status: 502, message: "timed out"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs.mu.Lock()
			fs.paths = nil
			fs.mu.Unlock()
			p := New(Config{Limits: tc.lim, Fetch: &tc.fetch, CacheEntries: -1})
			res, err := p.Rewrite(context.Background(), chatWithFile("r.pdf", fs.URL+tc.path), Options{}, Model{})
			if tc.code != "" {
				ae := apiError(t, err)
				if ae.Code != tc.code || ae.Status != tc.status || !strings.Contains(ae.Message, tc.message) {
					t.Fatalf("error = %d %s %q, want %d %s %q", ae.Status, ae.Code, ae.Message, tc.status, tc.code, tc.message)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if got := gjson.GetBytes(res.Body, "messages.1.content.1.text").String(); got != tc.want {
					t.Errorf("text = %q, want %q", got, tc.want)
				}
			}
			if tc.asked != nil && strings.Join(fs.asked(), ",") != strings.Join(tc.asked, ",") {
				t.Errorf("server was asked %v, want %v", fs.asked(), tc.asked)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{name: "no fetch", cfg: Config{}},
		{name: "hosts", cfg: Config{Fetch: &FetchConfig{AllowHosts: []string{"files.example.com", "*.cdn.example.com"}}}},
		{name: "empty allow-list", cfg: Config{Fetch: &FetchConfig{}}, wantErr: "fileparser: fetch: allow_hosts: at least one host is required"},
		{name: "a URL, not a host", cfg: Config{Fetch: &FetchConfig{AllowHosts: []string{"https://files.example.com/"}}}, wantErr: `allow_hosts[0] "https://files.example.com/": want a host name or *.domain`},
		{name: "bare star", cfg: Config{Fetch: &FetchConfig{AllowHosts: []string{"ok.example.com", "*"}}}, wantErr: `allow_hosts[1] "*"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestWildcardHost(t *testing.T) {
	f := newFetcher(FetchConfig{AllowHosts: []string{"*.example.com"}})
	for host, ok := range map[string]bool{
		"cdn.example.com":  true,
		"a.b.example.com":  true,
		"example.com":      false,
		"evilexample.com":  false,
		"example.com.evil": false,
	} {
		if err := f.allowed(&url.URL{Scheme: "https", Host: host}); (err == nil) != ok {
			t.Errorf("%s: allowed = %v, want %v", host, err == nil, ok)
		}
	}
}
