// Package postgres opens Polydev's PostgreSQL store through pgx. It is the production engine and the
// one that makes several `polydev serve` replicas correct. It owns the PostgreSQL migrations; the
// queries themselves live in package store.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"github.com/polydev/polydev/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the embedded PostgreSQL migrations.
func Migrations() fs.FS {
	sub, _ := fs.Sub(migrations, "migrations")
	return sub
}

// Open connects to the database at url (postgres://...), applies pending migrations and returns the
// store.
func Open(ctx context.Context, url string) (*store.DB, error) {
	pool, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pool.SetMaxOpenConns(32)
	pool.SetMaxIdleConns(16)
	if err := pool.PingContext(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", redact(err))
	}
	db := store.New(pool, pool, dialect{})
	if err := db.Migrate(ctx, Migrations()); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return db, nil
}

// redact drops pgconn's connection details, which may include the password from the URL.
func redact(err error) error {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return errors.Unwrap(ce)
	}
	return err
}

type dialect struct{}

func (dialect) Name() string               { return "postgres" }
func (dialect) NumberedPlaceholders() bool { return true }

func (dialect) IsUniqueViolation(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505"
}

// migrationLockKey is an arbitrary constant naming Polydev's migration advisory lock.
const migrationLockKey = 0x706f6c7964657631 // "polydev1"

// LockMigrations takes a transaction-scoped advisory lock so that replicas starting together apply
// each migration once.
func (dialect) LockMigrations(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLockKey))
	return err
}
