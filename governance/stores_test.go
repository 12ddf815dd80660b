package governance

import (
	"context"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
)

// forEachStore runs a store test against SQLite and PostgreSQL. open
// returns a new handle on the test's own database each call (reopen,
// second process).
func forEachStore(t *testing.T, f func(t *testing.T, open func(*testing.T) Store)) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "data", "governance.db")
		f(t, func(t *testing.T) Store { return openTestStore(t, path) })
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := freshDatabase(t)
		f(t, func(t *testing.T) Store {
			t.Helper()
			s, err := OpenPostgres(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
}

// freshDatabase creates a database of its own for t on the shared
// PostgreSQL and returns its DSN.
func freshDatabase(t *testing.T) string {
	t.Helper()
	dsn := shared.postgres(t).DSN()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	p := uniquePrefix(t)
	name := "t_" + p[:len(p)-1]
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}
