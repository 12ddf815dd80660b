package web

import (
	"context"
	"fmt"
	"net/http"
)

// Tavily is a client of Tavily's search API: POST /search with the key as
// a bearer token (or, for older deployments, api_key in the body).
type Tavily struct {
	cfg HTTPConfig
	// keyInBody sends api_key in the JSON body instead of Authorization.
	keyInBody bool
}

// NewTavily returns a Tavily client. Its default base URL is
// https://api.tavily.com. keyInBody sends the key as the body's api_key,
// as Tavily's first API version wanted.
func NewTavily(cfg HTTPConfig, keyInBody bool) (*Tavily, error) {
	if err := cfg.validate("tavily", true); err != nil {
		return nil, err
	}
	return &Tavily{cfg: cfg, keyInBody: keyInBody}, nil
}

// Name is "tavily".
func (*Tavily) Name() string { return "tavily" }

type tavilyRequest struct {
	APIKey        string `json:"api_key,omitempty"`
	Query         string `json:"query"`
	MaxResults    int    `json:"max_results"`
	SearchDepth   string `json:"search_depth"`
	IncludeAnswer bool   `json:"include_answer"`
}

type tavilyAnswer struct {
	Results []struct {
		Title         string `json:"title"`
		URL           string `json:"url"`
		Content       string `json:"content"`
		PublishedDate string `json:"published_date"`
	} `json:"results"`
}

// Search runs one query.
func (t *Tavily) Search(ctx context.Context, query string, n int) ([]Result, error) {
	body := tavilyRequest{Query: query, MaxResults: n, SearchDepth: "basic"}
	if t.keyInBody {
		body.APIKey = t.cfg.APIKey
	}
	req, err := newJSONRequest(ctx, http.MethodPost, t.cfg.BaseURL+"/search", body)
	if err != nil {
		return nil, fmt.Errorf("tavily: %w", err)
	}
	if !t.keyInBody {
		req.Header.Set("Authorization", "Bearer "+t.cfg.APIKey)
	}
	var a tavilyAnswer
	if err := t.cfg.do("tavily", req, &a); err != nil {
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

var _ Backend = (*Tavily)(nil)
