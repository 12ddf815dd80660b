package auth

import (
	"context"

	"github.com/switchboard-gw/switchboard/config"
)

// newGoogleOAuth adds a Google OAuth2 access token for Vertex AI.
// Placeholder until the Vertex work lands: no token yet.
func newGoogleOAuth(context.Context, *config.Provider) (Authorizer, error) { return nil, nil }
