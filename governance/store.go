package governance

import (
	"context"
	"errors"
	"time"
)

// Store holds tenants, keys, spend and generation records. The embedded
// SQLite store (OpenSQLite) implements it; a PostgreSQL one is meant to
// implement it the same way: the SQL in sqlite.go is portable (BIGINT,
// TEXT, INSERT ... ON CONFLICT) and migrations are numbered.
//
// Every write to tenants or keys bumps Version in the same transaction, so
// a reader polling Version sees a change made by any process.
type Store interface {
	// CreateTenant fails with ErrExists when the name is taken.
	CreateTenant(ctx context.Context, t Tenant) error
	// UpdateTenant reads, changes and writes a tenant in one transaction.
	UpdateTenant(ctx context.Context, name string, change func(*Tenant) error) error
	// Tenant fails with ErrNotFound.
	Tenant(ctx context.Context, name string) (Tenant, error)
	Tenants(ctx context.Context) ([]Tenant, error)

	// CreateKey fails with ErrExists when the id or hash is taken.
	CreateKey(ctx context.Context, k Key) error
	// UpdateKey reads, changes and writes a key in one transaction, so
	// two revokes or rotations cannot lose each other's change.
	UpdateKey(ctx context.Context, id string, change func(*Key) error) error
	// RotateKey creates next and marks key id rotated to it, working until
	// overlapUntil, in one transaction.
	RotateKey(ctx context.Context, id string, next Key, overlapUntil time.Time) error
	// Key fails with ErrNotFound.
	Key(ctx context.Context, id string) (Key, error)
	Keys(ctx context.Context) ([]Key, error)

	// Version changes whenever a tenant or key does.
	Version(ctx context.Context) (int64, error)

	// WriteGenerations stores records and adds each one's cost to the
	// spend of its key and tenant for its day, month and lifetime, in one
	// transaction. A record whose ID is already stored is skipped, spend
	// included, so a batch may be written again after an error.
	WriteGenerations(ctx context.Context, gs []Generation) error
	// Generation fails with ErrNotFound.
	Generation(ctx context.Context, id string) (Generation, error)
	// Spend is the stored spend in the given periods (typically the
	// current day, month and lifetime), to seed counters at start.
	Spend(ctx context.Context, periods []Period) ([]SpendRow, error)
	// PurgeCaptures removes the captured prompt and answer from records
	// created before the time (retention); the records stay.
	PurgeCaptures(ctx context.Context, before time.Time) (int64, error)

	Close() error
}

var (
	// ErrNotFound is a tenant, key or generation the store does not hold.
	ErrNotFound = errors.New("not found")
	// ErrExists is a tenant name, key id or key hash already taken.
	ErrExists = errors.New("already exists")
)

// Scope is a counter's owner: "key:<id>" or "tenant:<name>".
type Scope string

// KeyScope and TenantScope name the two kinds of scope.
func KeyScope(id string) Scope      { return Scope("key:" + id) }
func TenantScope(name string) Scope { return Scope("tenant:" + name) }

// SpendRow is the spend of one scope in one period.
type SpendRow struct {
	Scope  Scope
	Period Period
	Spent  NanoUSD
}

// Tokens are a generation's token counts, OpenRouter's split.
type Tokens struct {
	Prompt     int64 `json:"prompt"`
	Completion int64 `json:"completion"`
	Cached     int64 `json:"cached,omitempty"`
	CacheWrite int64 `json:"cache_write,omitempty"`
	Reasoning  int64 `json:"reasoning,omitempty"`
}

// Attempt is one upstream try of a generation.
type Attempt struct {
	Provider string  `json:"provider"`
	Model    string  `json:"model"`
	Status   int     `json:"status"`
	Error    string  `json:"error,omitempty"`
	Tokens   Tokens  `json:"tokens"`
	Cost     NanoUSD `json:"cost_nano_usd"`
}

// Generation is the usage record of one response, what
// GET /api/v1/generation returns. ID is the response body's id.
type Generation struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	KeyID   string    `json:"key_id"`
	Tenant  string    `json:"tenant"`
	// Model is the public model, Provider and UpstreamModel who served.
	Model         string `json:"model"`
	Provider      string `json:"provider"`
	UpstreamModel string `json:"upstream_model,omitempty"`
	UpstreamID    string `json:"upstream_id,omitempty"`
	Streamed      bool   `json:"streamed"`
	Cancelled     bool   `json:"cancelled"`
	FinishReason  string `json:"finish_reason,omitempty"`
	// NativeFinishReason and NativeTokens are the provider's own.
	NativeFinishReason string `json:"native_finish_reason,omitempty"`
	Tokens             Tokens `json:"tokens"`
	NativeTokens       Tokens `json:"native_tokens"`
	// Cost is every billed attempt's cost; CacheDiscount what cached
	// prompt tokens saved.
	Cost           NanoUSD       `json:"cost_nano_usd"`
	CacheDiscount  NanoUSD       `json:"cache_discount_nano_usd,omitempty"`
	Latency        time.Duration `json:"latency_ns"`
	TimeToFirst    time.Duration `json:"ttft_ns,omitempty"`
	GenerationTime time.Duration `json:"generation_time_ns,omitempty"`
	Attempts       []Attempt     `json:"attempts,omitempty"`
	// WebSearches and SearchResults are the searches plugins ran for the
	// request (the web plugin, or the web search loop before this round)
	// and the results they used; their cost is in Cost.
	WebSearches   int `json:"web_searches,omitempty"`
	SearchResults int `json:"search_results,omitempty"`
	// Capture is the request's prompt and answer, for tenants whose
	// requests are captured (governance.capture); removed after the
	// retention period.
	Capture *Capture `json:"capture,omitempty"`
}

// Capture is a captured prompt and answer, each cut at the configured
// size.
type Capture struct {
	Prompt    string `json:"prompt"`
	Answer    string `json:"answer"`
	Truncated bool   `json:"truncated,omitempty"`
}
