// Package sqlite opens Polydev's embedded SQLite store: a pure-Go driver (no cgo), WAL journal, a busy
// timeout, foreign keys on, one writer connection and a pool of readers. It owns the SQLite migrations;
// the queries themselves live in package store.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/polydev/polydev/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the embedded SQLite migrations.
func Migrations() fs.FS {
	sub, _ := fs.Sub(migrations, "migrations")
	return sub
}

// Open opens (creating if needed) the database file at path, applies pending migrations and returns
// the store.
func Open(ctx context.Context, path string) (*store.DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: create data dir: %w", err)
	}
	write, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return nil, err
	}
	// One writer: SQLite allows one at a time anyway, and queueing in the pool beats SQLITE_BUSY.
	write.SetMaxOpenConns(1)
	read, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		write.Close()
		return nil, err
	}
	read.SetMaxOpenConns(max(4, runtime.NumCPU()))
	db := store.New(read, write, dialect{})
	if err := db.Migrate(ctx, Migrations()); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func dsn(path string, writer bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	if writer {
		// Take the write lock at BEGIN so a transaction never fails half-way on an upgrade.
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	return "file:" + path + "?" + q.Encode()
}

type dialect struct{}

func (dialect) Name() string               { return "sqlite" }
func (dialect) NumberedPlaceholders() bool { return false }

func (dialect) IsUniqueViolation(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// LockMigrations is a no-op: the writer connection begins IMMEDIATE transactions, which already
// exclude other writers, including other processes.
func (dialect) LockMigrations(context.Context, *sql.Tx) error { return nil }
