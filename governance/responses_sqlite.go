package governance

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// responseMigrations are the stored responses' own schema, numbered apart
// from the governance store's (response_migrations): the tables share the
// file, not the history. Append, never edit.
var responseMigrations = []string{
	1: `CREATE TABLE stored_responses (
  id TEXT PRIMARY KEY,
  key_id TEXT NOT NULL,
  provider TEXT NOT NULL,
  native BIGINT NOT NULL,
  created_ms BIGINT NOT NULL,
  expires_ms BIGINT NOT NULL,
  input TEXT NOT NULL,
  response TEXT NOT NULL
);
CREATE INDEX stored_responses_expires ON stored_responses (expires_ms)`,
}

// SQLiteResponses keeps stored responses in the governance store's file.
type SQLiteResponses struct {
	db *sql.DB
}

// Responses returns the store of Responses API answers in the same file,
// bringing its table up to date.
func (s *SQLite) Responses(ctx context.Context) (*SQLiteResponses, error) {
	r := &SQLiteResponses{db: s.db}
	if err := r.migrate(ctx); err != nil {
		return nil, fmt.Errorf("governance: stored responses: %w", err)
	}
	return r, nil
}

func (s *SQLiteResponses) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS response_migrations (version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("migrations table: %w", err)
	}
	var have int
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM response_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("schema version: %w", err)
	}
	if have > len(responseMigrations)-1 {
		return fmt.Errorf("schema version %d is newer than this switchboard knows (%d); upgrade switchboard", have, len(responseMigrations)-1)
	}
	for v := have + 1; v < len(responseMigrations); v++ {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migration %d: %w", v, err)
		}
		for _, stmt := range strings.Split(responseMigrations[v], ";\n") {
			if _, err = tx.ExecContext(ctx, stmt); err != nil {
				break
			}
		}
		if err == nil {
			_, err = tx.ExecContext(ctx, `INSERT INTO response_migrations (version, applied_ms) VALUES (?, ?)`, v, time.Now().UnixMilli())
		}
		if err == nil {
			err = tx.Commit()
		} else {
			tx.Rollback() //nolint:errcheck // the error that matters is the statement's
		}
		if err != nil {
			return fmt.Errorf("migration %d: %w", v, err)
		}
	}
	return nil
}

// PutResponse implements ResponseStore.
func (s *SQLiteResponses) PutResponse(ctx context.Context, r StoredResponse) error {
	res, err := s.db.ExecContext(ctx, `INSERT INTO stored_responses (id, key_id, provider, native, created_ms, expires_ms, input, response)
VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		r.ID, r.KeyID, r.Provider, boolInt(r.Native), ms(r.Created), ms(r.Expires), string(r.Input), string(r.Response))
	if err := insertedOne(res, err); err != nil {
		return fmt.Errorf("governance: store response %q: %w", r.ID, err)
	}
	return nil
}

// Response implements ResponseStore.
func (s *SQLiteResponses) Response(ctx context.Context, id string, now time.Time) (StoredResponse, error) {
	var (
		r                StoredResponse
		native           int64
		created, expires int64
		input, response  string
	)
	err := s.db.QueryRowContext(ctx, `SELECT id, key_id, provider, native, created_ms, expires_ms, input, response
FROM stored_responses WHERE id = ? AND expires_ms > ?`, id, now.UnixMilli()).
		Scan(&r.ID, &r.KeyID, &r.Provider, &native, &created, &expires, &input, &response)
	if err != nil {
		return StoredResponse{}, fmt.Errorf("governance: stored response %q: %w", id, notFound(err))
	}
	r.Native, r.Created, r.Expires = native != 0, fromMS(created), fromMS(expires)
	r.Input, r.Response = []byte(input), []byte(response)
	return r, nil
}

// DeleteResponse implements ResponseStore.
func (s *SQLiteResponses) DeleteResponse(ctx context.Context, id, keyID string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM stored_responses WHERE id = ? AND key_id = ?`, id, keyID)
	if err := insertedOne(res, err); err != nil {
		if err == ErrExists {
			err = ErrNotFound // nothing deleted
		}
		return fmt.Errorf("governance: delete stored response %q: %w", id, err)
	}
	return nil
}

// PurgeResponses implements ResponseStore.
func (s *SQLiteResponses) PurgeResponses(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM stored_responses WHERE expires_ms <= ?`, now.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("governance: purge stored responses: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("governance: purge stored responses: %w", err)
	}
	return n, nil
}

var _ ResponseStore = (*SQLiteResponses)(nil)
