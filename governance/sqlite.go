package governance

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	// The pure-Go SQLite: no cgo, so the binary stays static.
	_ "modernc.org/sqlite"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/middleware"
)

// migrations are applied in order, each once, in its own transaction; the
// number applied is kept in schema_migrations. Append, never edit: a
// shipped migration has run on someone's data. The SQL sticks to what
// SQLite and PostgreSQL both accept (BIGINT, TEXT, ON CONFLICT), times are
// Unix milliseconds (0 is unset), and JSON columns hold what no query
// filters on.
var migrations = []string{
	1: `CREATE TABLE meta (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
INSERT INTO meta (name, value) VALUES ('version', 0);
CREATE TABLE tenants (
  name TEXT PRIMARY KEY,
  rules TEXT NOT NULL,
  disabled BIGINT NOT NULL DEFAULT 0,
  created_ms BIGINT NOT NULL
);
CREATE TABLE keys (
  id TEXT PRIMARY KEY,
  hash TEXT NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  label TEXT NOT NULL,
  tenant TEXT NOT NULL,
  rules TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  expires_ms BIGINT NOT NULL DEFAULT 0,
  disabled BIGINT NOT NULL DEFAULT 0,
  revoked_ms BIGINT NOT NULL DEFAULT 0,
  rotated_to TEXT NOT NULL DEFAULT '',
  overlap_until_ms BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX keys_tenant ON keys (tenant);
CREATE TABLE spend (
  scope TEXT NOT NULL,
  period TEXT NOT NULL,
  nano_usd BIGINT NOT NULL,
  PRIMARY KEY (scope, period)
);
CREATE TABLE generations (
  id TEXT PRIMARY KEY,
  created_ms BIGINT NOT NULL,
  key_id TEXT NOT NULL,
  tenant TEXT NOT NULL,
  cost_nano_usd BIGINT NOT NULL,
  record TEXT NOT NULL
);
CREATE INDEX generations_key ON generations (key_id, created_ms);`,
}

// SQLite is the embedded store: one file in a data directory, no server.
// WAL mode lets the CLI write while a gateway reads.
type SQLite struct {
	db *sql.DB
}

// OpenSQLite opens (creating if needed) the store at path and brings its
// schema up to date.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("governance: store directory: %w", err)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	// FULL: a committed spend or key survives a power cut, not just a
	// crash of the process.
	q.Add("_pragma", "synchronous(FULL)")
	// Write transactions take the lock up front: a deferred one that
	// read first could fail with SQLITE_BUSY instead of waiting.
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("governance: open store %s: %w", path, err)
	}
	s := &SQLite{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("governance: store %s: %w", path, err)
	}
	return s, nil
}

func (s *SQLite) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("migrations table: %w", err)
	}
	var have int
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("schema version: %w", err)
	}
	if have > len(migrations)-1 {
		return fmt.Errorf("schema version %d is newer than this switchboard knows (%d); upgrade switchboard", have, len(migrations)-1)
	}
	for v := have + 1; v < len(migrations); v++ {
		err := s.tx(ctx, func(tx *sql.Tx) error {
			for _, stmt := range strings.Split(migrations[v], ";\n") {
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return err
				}
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_ms) VALUES (?, ?)`, v, time.Now().UnixMilli())
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %d: %w", v, err)
		}
	}
	return nil
}

func (s *SQLite) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback() //nolint:errcheck // the error that matters is f's
		return err
	}
	return tx.Commit()
}

// bump is the change counter readers poll; it runs inside every write to
// tenants or keys.
func bump(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `UPDATE meta SET value = value + 1 WHERE name = 'version'`)
	return err
}

// Version implements Store.
func (s *SQLite) Version(ctx context.Context) (int64, error) {
	var v int64
	if err := s.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = 'version'`).Scan(&v); err != nil {
		return 0, fmt.Errorf("governance: store version: %w", err)
	}
	return v, nil
}

// CreateTenant implements Store.
func (s *SQLite) CreateTenant(ctx context.Context, t Tenant) error {
	rules, err := encodeRules(t.Rules)
	if err != nil {
		return err
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if err := bump(ctx, tx); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO tenants (name, rules, disabled, created_ms) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			t.Name, rules, boolInt(t.Disabled), ms(t.Created))
		return insertedOne(res, err)
	})
	if err != nil {
		return fmt.Errorf("governance: create tenant %q: %w", t.Name, err)
	}
	return nil
}

// UpdateTenant implements Store.
func (s *SQLite) UpdateTenant(ctx context.Context, name string, change func(*Tenant) error) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		t, err := scanTenant(tx.QueryRowContext(ctx, `SELECT name, rules, disabled, created_ms FROM tenants WHERE name = ?`, name))
		if err != nil {
			return err
		}
		if err := change(&t); err != nil {
			return err
		}
		rules, err := encodeRules(t.Rules)
		if err != nil {
			return err
		}
		if err := bump(ctx, tx); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE tenants SET rules = ?, disabled = ? WHERE name = ?`, rules, boolInt(t.Disabled), name)
		return err
	})
	if err != nil {
		return fmt.Errorf("governance: update tenant %q: %w", name, err)
	}
	return nil
}

// Tenant implements Store.
func (s *SQLite) Tenant(ctx context.Context, name string) (Tenant, error) {
	t, err := scanTenant(s.db.QueryRowContext(ctx, `SELECT name, rules, disabled, created_ms FROM tenants WHERE name = ?`, name))
	if err != nil {
		return Tenant{}, fmt.Errorf("governance: tenant %q: %w", name, err)
	}
	return t, nil
}

// Tenants implements Store.
func (s *SQLite) Tenants(ctx context.Context) ([]Tenant, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, rules, disabled, created_ms FROM tenants ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("governance: list tenants: %w", err)
	}
	defer rows.Close()
	var out []Tenant
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, fmt.Errorf("governance: list tenants: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("governance: list tenants: %w", err)
	}
	return out, nil
}

const keyColumns = `id, hash, prefix, label, tenant, rules, created_ms, expires_ms, disabled, revoked_ms, rotated_to, overlap_until_ms`

// CreateKey implements Store.
func (s *SQLite) CreateKey(ctx context.Context, k Key) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := bump(ctx, tx); err != nil {
			return err
		}
		return insertKey(ctx, tx, k)
	})
	if err != nil {
		return fmt.Errorf("governance: create key %s: %w", k.ID, err)
	}
	return nil
}

func insertKey(ctx context.Context, tx *sql.Tx, k Key) error {
	rules, err := encodeRules(k.Rules)
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO keys (`+keyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		k.ID, hex.EncodeToString(k.Hash[:]), k.Prefix, k.Label, k.Tenant, rules, ms(k.Created), ms(k.ExpiresAt),
		boolInt(k.Disabled), ms(k.RevokedAt), k.RotatedTo, ms(k.OverlapUntil))
	return insertedOne(res, err)
}

// UpdateKey implements Store. The id, hash and tenant do not change.
func (s *SQLite) UpdateKey(ctx context.Context, id string, change func(*Key) error) error {
	err := s.tx(ctx, func(tx *sql.Tx) error { return updateKey(ctx, tx, id, change) })
	if err != nil {
		return fmt.Errorf("governance: update key %s: %w", id, err)
	}
	return nil
}

func updateKey(ctx context.Context, tx *sql.Tx, id string, change func(*Key) error) error {
	k, err := scanKey(tx.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM keys WHERE id = ?`, id))
	if err != nil {
		return err
	}
	if err := change(&k); err != nil {
		return err
	}
	rules, err := encodeRules(k.Rules)
	if err != nil {
		return err
	}
	if err := bump(ctx, tx); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE keys SET label = ?, rules = ?, expires_ms = ?, disabled = ?, revoked_ms = ?, rotated_to = ?, overlap_until_ms = ? WHERE id = ?`,
		k.Label, rules, ms(k.ExpiresAt), boolInt(k.Disabled), ms(k.RevokedAt), k.RotatedTo, ms(k.OverlapUntil), id)
	return err
}

// RotateKey implements Store.
func (s *SQLite) RotateKey(ctx context.Context, id string, next Key, overlapUntil time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		err := updateKey(ctx, tx, id, func(k *Key) error {
			if st := k.Status(time.Now()); st != "active" {
				return fmt.Errorf("key is %s", st)
			}
			k.RotatedTo, k.OverlapUntil = next.ID, overlapUntil
			return nil
		})
		if err != nil {
			return err
		}
		return insertKey(ctx, tx, next)
	})
	if err != nil {
		return fmt.Errorf("governance: rotate key %s: %w", id, err)
	}
	return nil
}

// Key implements Store.
func (s *SQLite) Key(ctx context.Context, id string) (Key, error) {
	k, err := scanKey(s.db.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM keys WHERE id = ?`, id))
	if err != nil {
		return Key{}, fmt.Errorf("governance: key %s: %w", id, err)
	}
	return k, nil
}

// Keys implements Store.
func (s *SQLite) Keys(ctx context.Context) ([]Key, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+keyColumns+` FROM keys ORDER BY tenant, created_ms, id`)
	if err != nil {
		return nil, fmt.Errorf("governance: list keys: %w", err)
	}
	defer rows.Close()
	var out []Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("governance: list keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("governance: list keys: %w", err)
	}
	return out, nil
}

// WriteGenerations implements Store.
func (s *SQLite) WriteGenerations(ctx context.Context, gs []Generation) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for i := range gs {
			g := &gs[i]
			rec, err := json.Marshal(g)
			if err != nil {
				return fmt.Errorf("record %s: %w", g.ID, err)
			}
			res, err := tx.ExecContext(ctx, `INSERT INTO generations (id, created_ms, key_id, tenant, cost_nano_usd, record) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
				g.ID, ms(g.Created), g.KeyID, g.Tenant, int64(g.Cost), string(rec))
			if err != nil {
				return fmt.Errorf("record %s: %w", g.ID, err)
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 || g.Cost == 0 {
				continue // stored before (a replayed batch): spend counted then
			}
			for _, scope := range spendScopes(g) {
				for _, pk := range PeriodKinds {
					if _, err := tx.ExecContext(ctx, `INSERT INTO spend (scope, period, nano_usd) VALUES (?, ?, ?)
ON CONFLICT (scope, period) DO UPDATE SET nano_usd = spend.nano_usd + excluded.nano_usd`, string(scope), string(PeriodOf(pk, g.Created)), int64(g.Cost)); err != nil {
						return fmt.Errorf("spend of %s: %w", g.ID, err)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("governance: write %d generations: %w", len(gs), err)
	}
	return nil
}

// spendScopes are the scopes a generation's cost counts against: its key
// and its tenant (a request with no key spends for nobody).
func spendScopes(g *Generation) []Scope {
	var out []Scope
	if g.KeyID != "" {
		out = append(out, KeyScope(g.KeyID))
	}
	if g.Tenant != "" {
		out = append(out, TenantScope(g.Tenant))
	}
	return out
}

// Generation implements Store.
func (s *SQLite) Generation(ctx context.Context, id string) (Generation, error) {
	var rec string
	if err := s.db.QueryRowContext(ctx, `SELECT record FROM generations WHERE id = ?`, id).Scan(&rec); err != nil {
		return Generation{}, fmt.Errorf("governance: generation %q: %w", id, notFound(err))
	}
	var g Generation
	if err := json.Unmarshal([]byte(rec), &g); err != nil {
		return Generation{}, fmt.Errorf("governance: generation %q: %w", id, err)
	}
	return g, nil
}

// PurgeCaptures implements Store.
func (s *SQLite) PurgeCaptures(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE generations SET record = json_remove(record, '$.capture')
		WHERE created_ms < ? AND json_extract(record, '$.capture') IS NOT NULL`, before.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("governance: purge captures: %w", err)
	}
	return res.RowsAffected()
}

// Spend implements Store.
func (s *SQLite) Spend(ctx context.Context, periods []Period) ([]SpendRow, error) {
	if len(periods) == 0 {
		return nil, nil
	}
	args := make([]any, len(periods))
	for i, p := range periods {
		args[i] = string(p)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT scope, period, nano_usd FROM spend WHERE period IN (?`+strings.Repeat(", ?", len(periods)-1)+`) ORDER BY scope, period`, args...)
	if err != nil {
		return nil, fmt.Errorf("governance: read spend: %w", err)
	}
	defer rows.Close()
	var out []SpendRow
	for rows.Next() {
		var r SpendRow
		if err := rows.Scan(&r.Scope, &r.Period, &r.Spent); err != nil {
			return nil, fmt.Errorf("governance: read spend: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("governance: read spend: %w", err)
	}
	return out, nil
}

// Close implements Store.
func (s *SQLite) Close() error { return s.db.Close() }

type scanner interface{ Scan(...any) error }

func scanTenant(r scanner) (Tenant, error) {
	var (
		t        Tenant
		rules    string
		disabled int64
		created  int64
	)
	if err := r.Scan(&t.Name, &rules, &disabled, &created); err != nil {
		return Tenant{}, notFound(err)
	}
	var err error
	if t.Rules, err = decodeRules(rules); err != nil {
		return Tenant{}, fmt.Errorf("tenant %q: %w", t.Name, err)
	}
	t.Disabled, t.Created, t.Source = disabled != 0, fromMS(created), CreatedInStore
	return t, nil
}

func scanKey(r scanner) (Key, error) {
	var (
		k                                    Key
		hash, rules                          string
		created, expires, revoked, overlapMS int64
		disabled                             int64
	)
	if err := r.Scan(&k.ID, &hash, &k.Prefix, &k.Label, &k.Tenant, &rules, &created, &expires, &disabled, &revoked, &k.RotatedTo, &overlapMS); err != nil {
		return Key{}, notFound(err)
	}
	b, err := hex.DecodeString(hash)
	if err != nil || len(b) != 32 {
		return Key{}, fmt.Errorf("key %s: stored hash is not 32 hex bytes", k.ID)
	}
	copy(k.Hash[:], b)
	if k.Rules, err = decodeRules(rules); err != nil {
		return Key{}, fmt.Errorf("key %s: %w", k.ID, err)
	}
	k.Created, k.ExpiresAt, k.RevokedAt, k.OverlapUntil = fromMS(created), fromMS(expires), fromMS(revoked), fromMS(overlapMS)
	k.Disabled, k.Source = disabled != 0, CreatedInStore
	return k, nil
}

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// insertedOne turns "ON CONFLICT DO NOTHING changed nothing" into ErrExists.
func insertedOne(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return ErrExists
	}
	return nil
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// rulesJSON is the stored form of Rules, with names of its own: renaming a
// Go field must not change what is on disk.
type rulesJSON struct {
	Models     []string    `json:"models,omitempty"`
	Policy     policyJSON  `json:"policy,omitzero"`
	RPM        int64       `json:"rpm,omitempty"`
	TPM        int64       `json:"tpm,omitempty"`
	Concurrent int64       `json:"concurrent,omitempty"`
	Budgets    budgetsJSON `json:"budgets,omitzero"`
	// Plugins was added after the first release: rules stored before
	// it have none, which is the zero policy (nothing changes).
	Plugins pluginsJSON `json:"plugins,omitzero"`
}

type pluginsJSON struct {
	Allow []string     `json:"allow,omitempty"`
	Deny  []string     `json:"deny,omitempty"`
	Force []forcedJSON `json:"force,omitempty"`
}

type forcedJSON struct {
	ID string `json:"id"`
	// Options is the plugin block, a JSON object (absent: {"id": ID}).
	Options json.RawMessage `json:"options,omitempty"`
}

type policyJSON struct {
	ZDR                bool     `json:"zdr,omitempty"`
	DenyDataCollection bool     `json:"deny_data_collection,omitempty"`
	Providers          []string `json:"providers,omitempty"`
	Regions            []string `json:"regions,omitempty"`
	MaxPrompt          float64  `json:"max_price_prompt,omitempty"`
	MaxCompletion      float64  `json:"max_price_completion,omitempty"`
	MaxCachedPrompt    float64  `json:"max_price_cached_prompt,omitempty"`
	MaxRequest         float64  `json:"max_price_request,omitempty"`
}

type budgetJSON struct {
	NanoUSD int64 `json:"nano_usd"`
	Soft    bool  `json:"soft,omitempty"`
}

type budgetsJSON struct {
	Daily    *budgetJSON `json:"daily,omitempty"`
	Monthly  *budgetJSON `json:"monthly,omitempty"`
	Lifetime *budgetJSON `json:"lifetime,omitempty"`
}

func encodeRules(r Rules) (string, error) {
	p := r.Policy
	j := rulesJSON{Models: r.Models, RPM: r.RPM, TPM: r.TPM, Concurrent: r.Concurrent,
		Policy: policyJSON{ZDR: p.ZDR, DenyDataCollection: p.DenyDataCollection, Providers: p.Providers, Regions: p.Regions,
			MaxPrompt: p.MaxPrice.Prompt, MaxCompletion: p.MaxPrice.Completion, MaxCachedPrompt: p.MaxPrice.CachedPrompt, MaxRequest: p.MaxPrice.Request}}
	enc := func(b Budget) *budgetJSON {
		if !b.Set() {
			return nil
		}
		return &budgetJSON{NanoUSD: int64(b.USD), Soft: b.Soft}
	}
	j.Budgets = budgetsJSON{Daily: enc(r.Budgets.Daily), Monthly: enc(r.Budgets.Monthly), Lifetime: enc(r.Budgets.Lifetime)}
	j.Plugins = pluginsJSON{Allow: r.Plugins.Allow, Deny: r.Plugins.Deny}
	for _, f := range r.Plugins.Force {
		j.Plugins.Force = append(j.Plugins.Force, forcedJSON{ID: f.ID, Options: f.Options})
	}
	b, err := json.Marshal(j)
	if err != nil {
		return "", fmt.Errorf("encode rules: %w", err)
	}
	return string(b), nil
}

func decodeRules(s string) (Rules, error) {
	var j rulesJSON
	if err := json.Unmarshal([]byte(s), &j); err != nil {
		return Rules{}, fmt.Errorf("decode rules: %w", err)
	}
	dec := func(b *budgetJSON) Budget {
		if b == nil {
			return Budget{}
		}
		return Budget{USD: NanoUSD(b.NanoUSD), Soft: b.Soft}
	}
	plugins := middleware.Policy{Allow: j.Plugins.Allow, Deny: j.Plugins.Deny}
	for _, f := range j.Plugins.Force {
		plugins.Force = append(plugins.Force, middleware.Forced{ID: f.ID, Options: []byte(f.Options)})
	}
	p := j.Policy
	return Rules{Plugins: plugins, Models: j.Models, RPM: j.RPM, TPM: j.TPM, Concurrent: j.Concurrent,
		Policy: config.Policy{ZDR: p.ZDR, DenyDataCollection: p.DenyDataCollection, Providers: p.Providers, Regions: p.Regions,
			MaxPrice: config.Price{Prompt: p.MaxPrompt, Completion: p.MaxCompletion, CachedPrompt: p.MaxCachedPrompt, Request: p.MaxRequest}},
		Budgets: Budgets{Daily: dec(j.Budgets.Daily), Monthly: dec(j.Budgets.Monthly), Lifetime: dec(j.Budgets.Lifetime)}}, nil
}

var _ Store = (*SQLite)(nil)
