package governance

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Authentication failures; each is a 401 whose message says which. Match
// them with errors.Is; the error itself is an *AuthError.
var (
	ErrNoKey          = errors.New("no API key")
	ErrUnknownKey     = errors.New("unknown API key")
	ErrKeyRevoked     = errors.New("API key revoked")
	ErrKeyExpired     = errors.New("API key expired")
	ErrKeyDisabled    = errors.New("API key disabled")
	ErrTenantDisabled = errors.New("tenant disabled")
	ErrUnknownTenant  = errors.New("the key's tenant does not exist")
)

// AuthError is a refused key. It names the key by its id and display
// prefix, never by its secret.
type AuthError struct {
	Err    error // one of the Err* above
	KeyID  string
	Prefix string
	// At is when the key was revoked or expired, or its rotation overlap
	// ended.
	At time.Time
	// Rotated is set when the key expired because it was rotated.
	Rotated bool
}

func (e *AuthError) Error() string {
	s := "governance: " + e.Err.Error()
	if e.Prefix != "" {
		s += " (" + e.Prefix + "…, id " + e.KeyID + ")"
	}
	if e.Rotated {
		s += ": it was rotated and its overlap ended"
	}
	if !e.At.IsZero() {
		s += " at " + e.At.UTC().Format(time.RFC3339)
	}
	return s
}

func (e *AuthError) Unwrap() error { return e.Err }

// Authenticator finds the principal behind a presented key from an
// in-memory snapshot: the hot path takes no lock and touches no store. The
// snapshot is the store's tenants and keys overlaid with the ones the
// config declares (the config wins on a clash); Run keeps it fresh.
type Authenticator struct {
	store Store // nil: config only
	now   func() time.Time
	poll  time.Duration
	log   *zap.Logger

	snap atomic.Pointer[snapshot]

	mu       sync.Mutex // one rebuild at a time
	version  int64
	loaded   bool
	stored   []Tenant
	storedK  []Key
	declared []Tenant
	declKeys []Key
}

type snapshot struct {
	keys    map[[32]byte]*Key
	tenants map[string]*Tenant
}

// AuthOptions tune an Authenticator.
type AuthOptions struct {
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Poll is how often Run checks the store's change counter. Default
	// 250ms: a key created or revoked by the CLI takes effect well within
	// a second, for one indexed read per poll.
	Poll time.Duration
}

// NewAuthenticator loads the store's tenants and keys once; call Run to
// follow changes.
func NewAuthenticator(ctx context.Context, store Store, log *zap.Logger, o AuthOptions) (*Authenticator, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Poll <= 0 {
		o.Poll = 250 * time.Millisecond
	}
	a := &Authenticator{store: store, now: o.Now, poll: o.Poll, log: log}
	if err := a.Refresh(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

// SetDeclared replaces the tenants and keys declared in the config
// (FromConfig), on start and on every config reload.
func (a *Authenticator) SetDeclared(tenants []Tenant, keys []Key) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.declared, a.declKeys = tenants, keys
	a.rebuild()
}

// Refresh reloads the store when its change counter moved.
func (a *Authenticator) Refresh(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.store == nil {
		a.rebuild()
		return nil
	}
	v, err := a.store.Version(ctx)
	if err != nil {
		return err
	}
	if a.loaded && v == a.version {
		return nil
	}
	tenants, err := a.store.Tenants(ctx)
	if err != nil {
		return err
	}
	keys, err := a.store.Keys(ctx)
	if err != nil {
		return err
	}
	// A write between Version and the reads is picked up next poll: the
	// counter read first can only be older than the rows.
	a.version, a.loaded, a.stored, a.storedK = v, true, tenants, keys
	a.rebuild()
	return nil
}

// Run refreshes every Poll until ctx ends. A failing store keeps the last
// snapshot serving and is logged once per change of error.
func (a *Authenticator) Run(ctx context.Context) {
	t := time.NewTicker(a.poll)
	defer t.Stop()
	var last string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := a.Refresh(ctx)
		switch {
		case err != nil && err.Error() != last && ctx.Err() == nil:
			a.log.Error("governance store unreadable; keys as last loaded keep working", zap.Error(err))
			last = err.Error()
		case err == nil && last != "":
			a.log.Info("governance store readable again")
			last = ""
		}
	}
}

func (a *Authenticator) rebuild() {
	s := &snapshot{keys: map[[32]byte]*Key{}, tenants: map[string]*Tenant{}}
	for _, list := range [][]Tenant{a.stored, a.declared} {
		for i := range list {
			s.tenants[list[i].Name] = &list[i]
		}
	}
	for _, list := range [][]Key{a.storedK, a.declKeys} {
		for i := range list {
			s.keys[list[i].Hash] = &list[i]
		}
	}
	a.snap.Store(s)
}

// Required reports whether callers must present a key: whenever any key
// or tenant exists.
func (a *Authenticator) Required() bool {
	s := a.snap.Load()
	return len(s.keys) > 0 || len(s.tenants) > 0
}

// Authenticate resolves a presented key (the bearer token or x-api-key
// value) to its principal. Errors are *AuthError (401) or
// *ForbiddenError (403: the key's rules and its tenant's share no model,
// provider or region).
func (a *Authenticator) Authenticate(_ context.Context, presented string) (Principal, error) {
	if presented == "" {
		return Principal{}, &AuthError{Err: ErrNoKey}
	}
	// A malformed key costs no hash. The lookup is by SHA-256, so timing
	// says nothing about how close a guess was.
	if !wellFormed(presented) {
		return Principal{}, &AuthError{Err: ErrUnknownKey}
	}
	s := a.snap.Load()
	k := s.keys[HashKey(presented)]
	if k == nil {
		return Principal{}, &AuthError{Err: ErrUnknownKey}
	}
	now := a.now()
	refuse := func(err error, at time.Time) (Principal, error) {
		return Principal{}, &AuthError{Err: err, KeyID: k.ID, Prefix: k.Prefix, At: at}
	}
	switch {
	case !k.RevokedAt.IsZero():
		return refuse(ErrKeyRevoked, k.RevokedAt)
	case k.Disabled:
		return refuse(ErrKeyDisabled, time.Time{})
	case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
		return refuse(ErrKeyExpired, k.ExpiresAt)
	case k.RotatedTo != "" && !now.Before(k.OverlapUntil):
		return Principal{}, &AuthError{Err: ErrKeyExpired, KeyID: k.ID, Prefix: k.Prefix, At: k.OverlapUntil, Rotated: true}
	}
	t := s.tenants[k.Tenant]
	switch {
	case t == nil:
		return refuse(ErrUnknownTenant, time.Time{})
	case t.Disabled:
		return refuse(ErrTenantDisabled, time.Time{})
	}
	return principal(k, t)
}

// Snapshot lists the tenants and keys requests are checked against now,
// sorted by name and id (the admin view; no secrets: keys are hashes).
func (a *Authenticator) Snapshot() ([]Tenant, []Key) {
	s := a.snap.Load()
	ts := make([]Tenant, 0, len(s.tenants))
	for _, t := range s.tenants {
		ts = append(ts, *t)
	}
	ks := make([]Key, 0, len(s.keys))
	for _, k := range s.keys {
		ks = append(ks, *k)
	}
	slices.SortFunc(ts, func(a, b Tenant) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortFunc(ks, func(a, b Key) int { return cmp.Compare(a.ID, b.ID) })
	return ts, ks
}

// String is for logs: counts only.
func (a *Authenticator) String() string {
	s := a.snap.Load()
	return fmt.Sprintf("%d tenants, %d keys", len(s.tenants), len(s.keys))
}
