// Package store implements polydev.Store once, in portable SQL over database/sql, for every SQL engine
// Polydev supports. Engine packages (store/sqlite, store/postgres) open the connections, embed their own
// migrations and supply a Dialect for the few places where engines differ. Every method is held to the
// shared suite in store/storetest. No SQL here is ever built by concatenating input.
package store

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/polydev/polydev"
)

// Dialect is what differs between SQL engines.
type Dialect interface {
	// Name is "sqlite" or "postgres".
	Name() string
	// Placeholders reports whether queries need $1, $2... instead of ?.
	NumberedPlaceholders() bool
	// IsUniqueViolation reports whether err is a unique-constraint violation.
	IsUniqueViolation(err error) bool
	// LockMigrations serialises migrations across processes inside tx (no-op where the engine
	// already serialises writers).
	LockMigrations(ctx context.Context, tx *sql.Tx) error
}

// DB is the portable implementation of polydev.Store.
type DB struct {
	read    *sql.DB // may equal write (PostgreSQL); SQLite uses a separate reader pool
	write   *sql.DB // SQLite: exactly one connection, so writers queue here instead of failing on locks
	dialect Dialect
	queries sync.Map // query text with ? -> text for the engine
	stmts   sync.Map // stmtKey -> *sql.Stmt: SQLite spends most of a small query parsing it
	wanted  sync.Map // queries first met inside a transaction, prepared once it ends
}

type stmtKey struct {
	pool  *sql.DB
	query string
}

var _ polydev.Store = (*DB)(nil)

// New wraps open connection pools. read and write may be the same pool.
func New(read, write *sql.DB, d Dialect) *DB {
	return &DB{read: read, write: write, dialect: d}
}

// Engine implements polydev.Store.
func (db *DB) Engine() string { return db.dialect.Name() }

// Ping checks that both pools answer.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.read.PingContext(ctx); err != nil {
		return err
	}
	return db.write.PingContext(ctx)
}

// Close closes the cached statements and both pools.
func (db *DB) Close() error {
	db.stmts.Range(func(k, v any) bool {
		v.(*sql.Stmt).Close()
		return true
	})
	err := db.write.Close()
	if db.read != db.write {
		err = errors.Join(err, db.read.Close())
	}
	return err
}

// Migrate applies the embedded migrations in fsys (files NNNN_name.sql, in order) that have not been
// applied yet, each in its own transaction, recording them in schema_migrations.
func (db *DB) Migrate(ctx context.Context, fsys fs.FS) error {
	return migrate(ctx, db, fsys)
}

// q returns query rewritten for the engine's placeholder style. Queries are constants, so the rewrite
// is cached.
func (db *DB) q(query string) string {
	if !db.dialect.NumberedPlaceholders() {
		return query
	}
	if v, ok := db.queries.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	db.queries.Store(query, b.String())
	return b.String()
}

// stmt returns query prepared on pool, preparing it once. Statements live as long as the store: the
// queries are constants, so the cache is bounded by the code.
func (db *DB) stmt(pool *sql.DB, query string) (*sql.Stmt, error) {
	key := stmtKey{pool, query}
	if s, ok := db.stmts.Load(key); ok {
		return s.(*sql.Stmt), nil
	}
	s, err := pool.PrepareContext(context.Background(), db.q(query))
	if err != nil {
		return nil, err
	}
	if prev, loaded := db.stmts.LoadOrStore(key, s); loaded {
		s.Close()
		return prev.(*sql.Stmt), nil
	}
	return s, nil
}

func (db *DB) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	s, err := db.stmt(db.write, query)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(ctx, args...)
}

func (db *DB) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	s, err := db.stmt(db.read, query)
	if err != nil {
		// A statement that does not prepare fails its query; let database/sql report it.
		return db.read.QueryRowContext(ctx, db.q(query), args...)
	}
	return s.QueryRowContext(ctx, args...)
}

func (db *DB) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	s, err := db.stmt(db.read, query)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, args...)
}

// txExec, txQueryRow and txQuery run a statement inside tx (a write transaction), cached when it has
// been prepared before. A statement cannot be prepared on the pool during a transaction (SQLite's
// writer pool has one connection, which the transaction holds), so a new one runs unprepared and is
// prepared when the transaction ends (see inTx).
func (db *DB) txStmt(ctx context.Context, tx *sql.Tx, query string) *sql.Stmt {
	if s, ok := db.stmts.Load(stmtKey{db.write, query}); ok {
		return tx.StmtContext(ctx, s.(*sql.Stmt))
	}
	db.wanted.Store(query, struct{}{})
	return nil
}

func (db *DB) txExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if s := db.txStmt(ctx, tx, query); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, db.q(query), args...)
}

func (db *DB) txQueryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	if s := db.txStmt(ctx, tx, query); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, db.q(query), args...)
}

func (db *DB) txQuery(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	if s := db.txStmt(ctx, tx, query); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return tx.QueryContext(ctx, db.q(query), args...)
}

// prepareWanted prepares the statements transactions met for the first time.
func (db *DB) prepareWanted() {
	db.wanted.Range(func(k, _ any) bool {
		db.wanted.Delete(k)
		_, _ = db.stmt(db.write, k.(string)) // on failure the query keeps running unprepared
		return true
	})
}

// inTx runs fn in a write transaction, rolling back on error.
func (db *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer db.prepareWanted()
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Timestamps are stored as BIGINT Unix milliseconds in every engine: portable, sortable, and free of
// driver time-zone surprises.
func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func msPtr(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

func fromNullMS(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMS(v.Int64)
	return &t
}

func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return polydev.Errorf(polydev.ENOTFOUND, "%s not found", what)
	}
	return err
}

// affectedOne turns "no row changed" into ENOTFOUND.
func affectedOne(res sql.Result, err error, what string) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return polydev.Errorf(polydev.ENOTFOUND, "%s not found", what)
	}
	return nil
}

// lookupable reports whether key can name a row at all. PostgreSQL rejects NUL bytes and invalid UTF-8
// in text with an error; a key like that cannot match anything, so lookups treat it as a plain miss.
func lookupable(keys ...string) bool {
	for _, k := range keys {
		if strings.IndexByte(k, 0) >= 0 || !utf8.ValidString(k) {
			return false
		}
	}
	return true
}
