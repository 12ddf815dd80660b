package governance

import (
	"context"
	"sync"
	"time"
)

// StoredResponse is one Responses API answer the gateway keeps (the
// request said store: true), so a follow-up can name it in
// previous_response_id and GET /v1/responses/{id} can return it.
type StoredResponse struct {
	// ID is the response object's id (resp_...).
	ID string
	// KeyID is the gateway key that made it; only that key may read it.
	// Empty when the gateway has no keys: then only callers without a key
	// may.
	KeyID string
	// Provider served it; Native says the provider answered in the
	// Responses API itself (OpenAI, Azure OpenAI), so it keeps the
	// response under the same id too.
	Provider string
	Native   bool
	Created  time.Time
	// Expires is when retention ends: the store no longer returns it,
	// and a purge deletes it.
	Expires time.Time
	// Input is the conversation that led to the response, previous turns
	// expanded, as a JSON array of input items.
	Input []byte
	// Response is the response object as the client received it (a
	// stream's: its response.completed object).
	Response []byte
}

// ResponseStore keeps stored responses. It is apart from Store: a
// PostgreSQL governance store may keep them in a table of its own, or a
// deployment elsewhere. Every replica that serves a hop must see the same
// store: the router hop reads what the upstream hop of another request
// wrote.
type ResponseStore interface {
	// PutResponse stores r; an id already stored is left as it is and
	// the error is ErrExists (ids come from providers, and a record never
	// passes to another key).
	PutResponse(ctx context.Context, r StoredResponse) error
	// Response fails with ErrNotFound for an id not stored or expired at
	// now.
	Response(ctx context.Context, id string, now time.Time) (StoredResponse, error)
	// DeleteResponse deletes id when keyID made it; ErrNotFound otherwise.
	DeleteResponse(ctx context.Context, id, keyID string) error
	// PurgeResponses deletes what expired at now and says how many.
	PurgeResponses(ctx context.Context, now time.Time) (int64, error)
}

// MemoryResponses is a ResponseStore in memory, for tests and a single
// process that needs nothing to survive a restart.
type MemoryResponses struct {
	mu sync.Mutex
	m  map[string]StoredResponse
}

// NewMemoryResponses returns an empty MemoryResponses.
func NewMemoryResponses() *MemoryResponses {
	return &MemoryResponses{m: map[string]StoredResponse{}}
}

// PutResponse implements ResponseStore.
func (s *MemoryResponses) PutResponse(_ context.Context, r StoredResponse) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[r.ID]; ok {
		return ErrExists
	}
	r.Input, r.Response = append([]byte(nil), r.Input...), append([]byte(nil), r.Response...)
	s.m[r.ID] = r
	return nil
}

// Response implements ResponseStore.
func (s *MemoryResponses) Response(_ context.Context, id string, now time.Time) (StoredResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.m[id]
	if !ok || !now.Before(r.Expires) {
		return StoredResponse{}, ErrNotFound
	}
	return r, nil
}

// DeleteResponse implements ResponseStore.
func (s *MemoryResponses) DeleteResponse(_ context.Context, id, keyID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.m[id]; !ok || r.KeyID != keyID {
		return ErrNotFound
	}
	delete(s.m, id)
	return nil
}

// PurgeResponses implements ResponseStore.
func (s *MemoryResponses) PurgeResponses(_ context.Context, now time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for id, r := range s.m {
		if !now.Before(r.Expires) {
			delete(s.m, id)
			n++
		}
	}
	return n, nil
}

var _ ResponseStore = (*MemoryResponses)(nil)
