package extproc

import (
	"context"
	"sync"

	"github.com/switchboard-gw/switchboard/auth"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/translators"
)

// authCache keeps one authorizer per provider setting across requests and
// config reloads, so cached tokens and credentials survive both.
type authCache struct {
	mu sync.Mutex
	m  map[authKey]auth.Authorizer
}

// authKey is what an authorizer depends on; a changed setting builds anew.
type authKey struct {
	name, schema, region, project, credentials, key string
}

func (c *authCache) authorize(ctx context.Context, p *config.Provider, r *translators.Request) error {
	a, err := c.get(ctx, p)
	if err != nil || a == nil {
		return err
	}
	return a.Authorize(ctx, r, p.Authority())
}

func (c *authCache) get(ctx context.Context, p *config.Provider) (auth.Authorizer, error) {
	k := authKey{p.Name, p.Schema, p.Region, p.Project, p.CredentialsFile, p.APIKey()}
	c.mu.Lock()
	defer c.mu.Unlock()
	if a, ok := c.m[k]; ok {
		return a, nil
	}
	a, err := auth.For(ctx, p)
	if err != nil {
		return nil, err // not cached: a fixed credential file is picked up next time
	}
	if c.m == nil {
		c.m = map[authKey]auth.Authorizer{}
	}
	c.m[k] = a
	return a, nil
}
