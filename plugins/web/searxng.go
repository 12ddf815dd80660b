package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// SearXNG is a client of SearXNG's JSON API: GET /search?q=...&format=json.
// The instance must list json in search.formats (settings.yml). SearXNG
// has no result count parameter: the first page is read and cut to n.
type SearXNG struct{ cfg HTTPConfig }

// NewSearXNG returns a SearXNG client; cfg.APIKey is not used.
func NewSearXNG(cfg HTTPConfig) (*SearXNG, error) {
	if err := cfg.validate("searxng", false); err != nil {
		return nil, err
	}
	return &SearXNG{cfg: cfg}, nil
}

// Name is "searxng".
func (*SearXNG) Name() string { return "searxng" }

type searxngAnswer struct {
	Results []struct {
		Title         string `json:"title"`
		URL           string `json:"url"`
		Content       string `json:"content"`
		PublishedDate string `json:"publishedDate"`
	} `json:"results"`
}

// Search runs one query.
func (s *SearXNG) Search(ctx context.Context, query string, n int) ([]Result, error) {
	q := url.Values{"q": {query}, "format": {"json"}, "pageno": {"1"}}
	req, err := newJSONRequest(ctx, http.MethodGet, s.cfg.BaseURL+"/search?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("searxng: %w", err)
	}
	var a searxngAnswer
	if err := s.cfg.do("searxng", req, &a); err != nil {
		return nil, err
	}
	var out []Result
	for _, r := range a.Results {
		if len(out) == n {
			break
		}
		if r.URL == "" {
			continue
		}
		out = append(out, Result{Title: r.Title, URL: r.URL, Snippet: r.Content, Published: date(r.PublishedDate)})
	}
	return out, nil
}

var _ Backend = (*SearXNG)(nil)
