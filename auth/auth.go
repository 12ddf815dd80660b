// Package auth adds dynamic provider credentials (AWS SigV4 signatures,
// Google OAuth access tokens) to a translated upstream request. Static API
// keys need none of this: translators send them in their schema's header.
package auth

import (
	"context"
	"fmt"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/translators"
)

// Authorizer adds credentials to one upstream request.
type Authorizer interface {
	// Authorize signs or authorizes r, which is sent to host with POST.
	// It is called once per attempt, after translation, with the final body.
	Authorize(ctx context.Context, r *translators.Request, host string) error
}

// For returns the authorizer a provider needs, or nil when its static key
// (or no credential) is enough. It may read credential files; callers
// build it once per provider and reuse it, so tokens are cached.
func For(ctx context.Context, p *config.Provider) (Authorizer, error) {
	spec, ok := translators.SpecFor(translators.Schema(p.Schema))
	if !ok {
		return nil, fmt.Errorf("auth: provider %s: unknown schema %q", p.Name, p.Schema)
	}
	switch spec.Auth {
	case translators.AuthSigV4:
		if p.APIKey() != "" {
			return nil, nil // a Bedrock API key is a bearer token (the spec's credential)
		}
		a, err := newSigV4(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("auth: provider %s: %w", p.Name, err)
		}
		return a, nil
	case translators.AuthGoogleOAuth:
		a, err := newGoogleOAuth(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("auth: provider %s: %w", p.Name, err)
		}
		return a, nil
	}
	return nil, nil
}
