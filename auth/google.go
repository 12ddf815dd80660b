package auth

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/translators"
)

const (
	// googleScope is the OAuth scope Vertex AI needs.
	googleScope = "https://www.googleapis.com/auth/cloud-platform"
	// googleEarlyRefresh renews a token this long before it expires, so a
	// request never leaves with a token about to lapse. Google tokens last
	// an hour.
	googleEarlyRefresh = 5 * time.Minute
	// googleTokenTimeout bounds one token request to Google.
	googleTokenTimeout = 30 * time.Second
)

// googleOAuth adds "authorization: Bearer <token>" with a Google OAuth2
// access token, cached and refreshed before it expires.
type googleOAuth struct {
	ts  oauth2.TokenSource
	tok atomic.Pointer[oauth2.Token] // the last token, for the fast path
}

// newGoogleOAuth builds the token source of a vertex-ai provider: its
// credentials_file (a service account key) when set, else Google's
// application default credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's
// file, the metadata server). ctx's values are kept but not its deadline:
// the source outlives the request that built it.
func newGoogleOAuth(ctx context.Context, p *config.Provider) (Authorizer, error) {
	base := context.WithoutCancel(ctx)
	if base.Value(oauth2.HTTPClient) == nil {
		base = context.WithValue(base, oauth2.HTTPClient, &http.Client{Timeout: googleTokenTimeout})
	}
	var src oauth2.TokenSource
	if p.CredentialsFile != "" {
		data, err := os.ReadFile(p.CredentialsFile)
		if err != nil {
			return nil, fmt.Errorf("google credentials_file: %w", err)
		}
		if err := checkServiceAccountKey(data); err != nil {
			return nil, fmt.Errorf("google credentials_file %s: %w", p.CredentialsFile, err)
		}
		cfg, err := google.JWTConfigFromJSON(data, googleScope)
		if err != nil {
			return nil, fmt.Errorf("google credentials_file %s: %w", p.CredentialsFile, err)
		}
		src = cfg.TokenSource(base)
	} else {
		creds, err := google.FindDefaultCredentials(base, googleScope)
		if err != nil {
			return nil, fmt.Errorf("google application default credentials (set credentials_file or GOOGLE_APPLICATION_CREDENTIALS): %w", err)
		}
		src = creds.TokenSource
	}
	return &googleOAuth{ts: oauth2.ReuseTokenSourceWithExpiry(nil, src, googleEarlyRefresh)}, nil
}

// checkServiceAccountKey reports a broken key file now, with the field at
// fault, rather than at the first request as an opaque signing error.
func checkServiceAccountKey(data []byte) error {
	var f struct {
		Type        string `json:"type"`
		ClientEmail string `json:"client_email"`
		PrivateKey  string `json:"private_key"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("not a service account key file: %w", err)
	}
	switch {
	case f.Type != "service_account":
		return fmt.Errorf("type is %q, want \"service_account\" (other credential types work through application default credentials: leave credentials_file empty and set GOOGLE_APPLICATION_CREDENTIALS)", f.Type)
	case f.ClientEmail == "":
		return errors.New("client_email is empty")
	}
	block, _ := pem.Decode([]byte(f.PrivateKey))
	if block == nil {
		return errors.New("private_key is not a PEM block")
	}
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		if _, err1 := x509.ParsePKCS1PrivateKey(block.Bytes); err1 != nil {
			return fmt.Errorf("private_key does not parse: %w", err)
		}
	}
	return nil
}

func (g *googleOAuth) Authorize(ctx context.Context, r *translators.Request, _ string) error {
	tok, err := g.token(ctx)
	if err != nil {
		return err
	}
	r.Headers = append(r.Headers, translators.Header{Key: "authorization", Value: "Bearer " + tok.AccessToken})
	return nil
}

// token returns a valid token. A cached one costs nothing; a refresh runs
// in its own goroutine so the caller can give up when ctx ends, while the
// refresh completes (bounded by googleTokenTimeout) for the next caller.
func (g *googleOAuth) token(ctx context.Context) (*oauth2.Token, error) {
	if t := g.tok.Load(); t.Valid() {
		return t, nil
	}
	type result struct {
		tok *oauth2.Token
		err error
	}
	ch := make(chan result, 1)
	go func() {
		t, err := g.ts.Token()
		ch <- result{t, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("google access token: %w", r.err)
		}
		if r.tok.AccessToken == "" {
			return nil, errors.New("google access token: token endpoint returned an empty token")
		}
		g.tok.Store(r.tok)
		return r.tok, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("google access token: %w", ctx.Err())
	}
}

var _ Authorizer = (*googleOAuth)(nil)
