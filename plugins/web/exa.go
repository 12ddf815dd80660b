package web

import (
	"context"
	"fmt"
	"net/http"
)

// Exa is a client of Exa's search API: POST /search with the key in
// x-api-key, asking for each page's text (contents.text) as the snippet.
type Exa struct {
	cfg HTTPConfig
	// textChars is contents.text.maxCharacters.
	textChars int
}

// NewExa returns an Exa client. Its default base URL is
// https://api.exa.ai.
func NewExa(cfg HTTPConfig) (*Exa, error) {
	if err := cfg.validate("exa", true); err != nil {
		return nil, err
	}
	return &Exa{cfg: cfg, textChars: 1000}, nil
}

// Name is "exa".
func (*Exa) Name() string { return "exa" }

type exaRequest struct {
	Query      string      `json:"query"`
	Type       string      `json:"type"`
	NumResults int         `json:"numResults"`
	Contents   exaContents `json:"contents"`
}

type exaContents struct {
	Text struct {
		MaxCharacters int `json:"maxCharacters"`
	} `json:"text"`
}

type exaAnswer struct {
	Results []struct {
		Title         string `json:"title"`
		URL           string `json:"url"`
		PublishedDate string `json:"publishedDate"`
		Text          string `json:"text"`
	} `json:"results"`
}

// Search runs one query.
func (e *Exa) Search(ctx context.Context, query string, n int) ([]Result, error) {
	body := exaRequest{Query: query, Type: "auto", NumResults: n}
	body.Contents.Text.MaxCharacters = e.textChars
	req, err := newJSONRequest(ctx, http.MethodPost, e.cfg.BaseURL+"/search", body)
	if err != nil {
		return nil, fmt.Errorf("exa: %w", err)
	}
	req.Header.Set("x-api-key", e.cfg.APIKey)
	var a exaAnswer
	if err := e.cfg.do("exa", req, &a); err != nil {
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
		out = append(out, Result{Title: r.Title, URL: r.URL, Snippet: r.Text, Published: date(r.PublishedDate)})
	}
	return out, nil
}

var _ Backend = (*Exa)(nil)
