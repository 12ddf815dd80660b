package governance

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Postgres is the store many gateway replicas share: the same schema and
// numbered migrations as SQLite (sqlite.go's migrations, portable SQL),
// the same change counter, row locks (FOR UPDATE) on every
// read-modify-write, and idempotent WriteGenerations. Concurrent
// migrations from replicas starting at once are serialised by an
// advisory lock.
type Postgres struct {
	pool *pgxpool.Pool
}

// migrationLock is the advisory lock key migrations hold ("sbmg").
const migrationLock = 0x73626d67

// OpenPostgres connects to dsn and brings the schema up to date. Errors
// never quote the DSN (it holds the password): pgx's connect errors name
// host, user and database only.
func OpenPostgres(ctx context.Context, dsn string) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors may quote the DSN: say only that it is bad.
		return nil, fmt.Errorf("governance: postgres dsn: not a valid connection string")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("governance: postgres %s: %w", cfg.ConnConfig.Host, err)
	}
	s := &Postgres{pool: pool}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("governance: postgres store at %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	return s, nil
}

func (s *Postgres) migrate(ctx context.Context) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL)`); err != nil {
			return fmt.Errorf("migrations table: %w", err)
		}
		var have int
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
			return fmt.Errorf("schema version: %w", err)
		}
		if have > len(migrations)-1 {
			return fmt.Errorf("schema version %d is newer than this switchboard knows (%d); upgrade switchboard", have, len(migrations)-1)
		}
		for v := have + 1; v < len(migrations); v++ {
			for _, stmt := range strings.Split(migrations[v], ";\n") {
				if _, err := tx.Exec(ctx, stmt); err != nil {
					return fmt.Errorf("migration %d: %w", v, err)
				}
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_ms) VALUES ($1, $2)`, v, time.Now().UnixMilli()); err != nil {
				return fmt.Errorf("migration %d: %w", v, err)
			}
		}
		return nil
	})
}

func (s *Postgres) tx(ctx context.Context, f func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, f)
}

func pgBump(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `UPDATE meta SET value = value + 1 WHERE name = 'version'`)
	return err
}

// pgInsertedOne turns "ON CONFLICT DO NOTHING changed nothing" into
// ErrExists.
func pgInsertedOne(tag pgconn.CommandTag, err error) error {
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrExists
	}
	return nil
}

// Version implements Store.
func (s *Postgres) Version(ctx context.Context) (int64, error) {
	var v int64
	if err := s.pool.QueryRow(ctx, `SELECT value FROM meta WHERE name = 'version'`).Scan(&v); err != nil {
		return 0, fmt.Errorf("governance: store version: %w", err)
	}
	return v, nil
}

// CreateTenant implements Store.
func (s *Postgres) CreateTenant(ctx context.Context, t Tenant) error {
	rules, err := encodeRules(t.Rules)
	if err != nil {
		return err
	}
	err = s.tx(ctx, func(tx pgx.Tx) error {
		if err := pgBump(ctx, tx); err != nil {
			return err
		}
		return pgInsertedOne(tx.Exec(ctx, `INSERT INTO tenants (name, rules, disabled, created_ms) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
			t.Name, rules, boolInt(t.Disabled), ms(t.Created)))
	})
	if err != nil {
		return fmt.Errorf("governance: create tenant %q: %w", t.Name, err)
	}
	return nil
}

const pgTenantColumns = `name, rules, disabled, created_ms`

// UpdateTenant implements Store.
func (s *Postgres) UpdateTenant(ctx context.Context, name string, change func(*Tenant) error) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		t, err := scanTenant(tx.QueryRow(ctx, `SELECT `+pgTenantColumns+` FROM tenants WHERE name = $1 FOR UPDATE`, name))
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
		if err := pgBump(ctx, tx); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE tenants SET rules = $1, disabled = $2 WHERE name = $3`, rules, boolInt(t.Disabled), name)
		return err
	})
	if err != nil {
		return fmt.Errorf("governance: update tenant %q: %w", name, err)
	}
	return nil
}

// Tenant implements Store.
func (s *Postgres) Tenant(ctx context.Context, name string) (Tenant, error) {
	t, err := scanTenant(s.pool.QueryRow(ctx, `SELECT `+pgTenantColumns+` FROM tenants WHERE name = $1`, name))
	if err != nil {
		return Tenant{}, fmt.Errorf("governance: tenant %q: %w", name, err)
	}
	return t, nil
}

// Tenants implements Store.
func (s *Postgres) Tenants(ctx context.Context) ([]Tenant, error) {
	out, err := pgList(ctx, s.pool, `SELECT `+pgTenantColumns+` FROM tenants ORDER BY name`, scanTenant)
	if err != nil {
		return nil, fmt.Errorf("governance: list tenants: %w", err)
	}
	return out, nil
}

func pgList[T any](ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, sql string, scan func(scanner) (T, error), args ...any) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// CreateKey implements Store.
func (s *Postgres) CreateKey(ctx context.Context, k Key) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := pgBump(ctx, tx); err != nil {
			return err
		}
		return pgInsertKey(ctx, tx, k)
	})
	if err != nil {
		return fmt.Errorf("governance: create key %s: %w", k.ID, err)
	}
	return nil
}

func pgInsertKey(ctx context.Context, tx pgx.Tx, k Key) error {
	rules, err := encodeRules(k.Rules)
	if err != nil {
		return err
	}
	// ON CONFLICT DO NOTHING with no target covers the id and the hash.
	return pgInsertedOne(tx.Exec(ctx, `INSERT INTO keys (`+keyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING`,
		k.ID, hex.EncodeToString(k.Hash[:]), k.Prefix, k.Label, k.Tenant, rules, ms(k.Created), ms(k.ExpiresAt),
		boolInt(k.Disabled), ms(k.RevokedAt), k.RotatedTo, ms(k.OverlapUntil)))
}

// UpdateKey implements Store. The id, hash and tenant do not change.
func (s *Postgres) UpdateKey(ctx context.Context, id string, change func(*Key) error) error {
	err := s.tx(ctx, func(tx pgx.Tx) error { return pgUpdateKey(ctx, tx, id, change) })
	if err != nil {
		return fmt.Errorf("governance: update key %s: %w", id, err)
	}
	return nil
}

func pgUpdateKey(ctx context.Context, tx pgx.Tx, id string, change func(*Key) error) error {
	k, err := scanKey(tx.QueryRow(ctx, `SELECT `+keyColumns+` FROM keys WHERE id = $1 FOR UPDATE`, id))
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
	if err := pgBump(ctx, tx); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE keys SET label = $1, rules = $2, expires_ms = $3, disabled = $4, revoked_ms = $5, rotated_to = $6, overlap_until_ms = $7 WHERE id = $8`,
		k.Label, rules, ms(k.ExpiresAt), boolInt(k.Disabled), ms(k.RevokedAt), k.RotatedTo, ms(k.OverlapUntil), id)
	return err
}

// RotateKey implements Store.
func (s *Postgres) RotateKey(ctx context.Context, id string, next Key, overlapUntil time.Time) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		err := pgUpdateKey(ctx, tx, id, func(k *Key) error {
			if st := k.Status(time.Now()); st != "active" {
				return fmt.Errorf("key is %s", st)
			}
			k.RotatedTo, k.OverlapUntil = next.ID, overlapUntil
			return nil
		})
		if err != nil {
			return err
		}
		return pgInsertKey(ctx, tx, next)
	})
	if err != nil {
		return fmt.Errorf("governance: rotate key %s: %w", id, err)
	}
	return nil
}

// Key implements Store.
func (s *Postgres) Key(ctx context.Context, id string) (Key, error) {
	k, err := scanKey(s.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM keys WHERE id = $1`, id))
	if err != nil {
		return Key{}, fmt.Errorf("governance: key %s: %w", id, err)
	}
	return k, nil
}

// Keys implements Store.
func (s *Postgres) Keys(ctx context.Context) ([]Key, error) {
	out, err := pgList(ctx, s.pool, `SELECT `+keyColumns+` FROM keys ORDER BY tenant, created_ms, id`, scanKey)
	if err != nil {
		return nil, fmt.Errorf("governance: list keys: %w", err)
	}
	return out, nil
}

// WriteGenerations implements Store. Two replicas writing the same record
// at once serialise on its primary key: the second inserts nothing and
// adds no spend.
func (s *Postgres) WriteGenerations(ctx context.Context, gs []Generation) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		for i := range gs {
			g := &gs[i]
			rec, err := json.Marshal(g)
			if err != nil {
				return fmt.Errorf("record %s: %w", g.ID, err)
			}
			tag, err := tx.Exec(ctx, `INSERT INTO generations (id, created_ms, key_id, tenant, cost_nano_usd, record) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
				g.ID, ms(g.Created), g.KeyID, g.Tenant, int64(g.Cost), string(rec))
			if err != nil {
				return fmt.Errorf("record %s: %w", g.ID, err)
			}
			if tag.RowsAffected() == 0 || g.Cost == 0 {
				continue // stored before (a replayed batch): spend counted then
			}
			for _, scope := range spendScopes(g) {
				for _, pk := range PeriodKinds {
					if _, err := tx.Exec(ctx, `INSERT INTO spend (scope, period, nano_usd) VALUES ($1, $2, $3)
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

// Generation implements Store.
func (s *Postgres) Generation(ctx context.Context, id string) (Generation, error) {
	var rec string
	if err := s.pool.QueryRow(ctx, `SELECT record FROM generations WHERE id = $1`, id).Scan(&rec); err != nil {
		return Generation{}, fmt.Errorf("governance: generation %q: %w", id, notFound(err))
	}
	var g Generation
	if err := json.Unmarshal([]byte(rec), &g); err != nil {
		return Generation{}, fmt.Errorf("governance: generation %q: %w", id, err)
	}
	return g, nil
}

// PurgeCaptures implements Store.
func (s *Postgres) PurgeCaptures(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE generations SET record = (record::jsonb - 'capture')::text
		WHERE created_ms < $1 AND record::jsonb ? 'capture'`, before.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("governance: purge captures: %w", err)
	}
	return tag.RowsAffected(), nil
}

// Spend implements Store.
func (s *Postgres) Spend(ctx context.Context, periods []Period) ([]SpendRow, error) {
	if len(periods) == 0 {
		return nil, nil
	}
	ps := make([]string, len(periods))
	for i, p := range periods {
		ps[i] = string(p)
	}
	out, err := pgList(ctx, s.pool, `SELECT scope, period, nano_usd FROM spend WHERE period = ANY($1) ORDER BY scope, period`,
		func(r scanner) (SpendRow, error) {
			var row SpendRow
			return row, r.Scan(&row.Scope, &row.Period, &row.Spent)
		}, ps)
	if err != nil {
		return nil, fmt.Errorf("governance: read spend: %w", err)
	}
	return out, nil
}

// Ping checks the connection (for readiness).
func (s *Postgres) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("governance: postgres: %w", err)
	}
	return nil
}

// Close implements Store.
func (s *Postgres) Close() error {
	s.pool.Close()
	return nil
}

var _ Store = (*Postgres)(nil)
