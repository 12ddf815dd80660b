package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// Brave is a client of the Brave Search API: GET /res/v1/web/search with
// the key in X-Subscription-Token. Brave returns at most 20 results a
// call.
type Brave struct{ cfg HTTPConfig }

// NewBrave returns a Brave client. Its default base URL is
// https://api.search.brave.com.
func NewBrave(cfg HTTPConfig) (*Brave, error) {
	if err := cfg.validate("brave", true); err != nil {
		return nil, err
	}
	return &Brave{cfg: cfg}, nil
}

// Name is "brave".
func (*Brave) Name() string { return "brave" }

type braveAnswer struct {
	Web struct {
		Results []struct {
			Title       string `json:"title"`
			URL         string `json:"url"`
			Description string `json:"description"`
			PageAge     string `json:"page_age"`
		} `json:"results"`
	} `json:"web"`
}

// Search runs one query.
func (b *Brave) Search(ctx context.Context, query string, n int) ([]Result, error) {
	q := url.Values{"q": {query}, "count": {strconv.Itoa(min(n, 20))}}
	req, err := newJSONRequest(ctx, http.MethodGet, b.cfg.BaseURL+"/res/v1/web/search?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("brave: %w", err)
	}
	req.Header.Set("X-Subscription-Token", b.cfg.APIKey)
	var a braveAnswer
	if err := b.cfg.do("brave", req, &a); err != nil {
		return nil, err
	}
	var out []Result
	for _, r := range a.Web.Results {
		if len(out) == n {
			break
		}
		if r.URL == "" {
			continue
		}
		// Brave marks query words with <strong>; the plugin strips tags.
		out = append(out, Result{Title: r.Title, URL: r.URL, Snippet: r.Description, Published: date(r.PageAge)})
	}
	return out, nil
}

var _ Backend = (*Brave)(nil)
