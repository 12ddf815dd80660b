package auth

import (
	"context"

	"github.com/switchboard-gw/switchboard/config"
)

// newSigV4 signs Bedrock requests with AWS SigV4. Placeholder until the
// Bedrock work lands: no signing yet.
func newSigV4(context.Context, *config.Provider) (Authorizer, error) { return nil, nil }
