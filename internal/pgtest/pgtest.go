// Package pgtest gives tests a fresh, empty PostgreSQL database on the throwaway server that `make test`
// starts (scripts/pg.sh). It creates one database per call and drops it when the test ends.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver
)

// EnvURL names the variable holding the admin URL of the test server.
const EnvURL = "POLYDEV_TEST_POSTGRES_URL"

// URL returns the URL of a new empty database. Without a test server it skips the test, or fails it
// when POLYDEV_REQUIRE_POSTGRES is set (as `make test` does), so CI can never silently skip PostgreSQL.
func URL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvURL)
	if admin == "" {
		if os.Getenv("POLYDEV_REQUIRE_POSTGRES") != "" {
			t.Fatalf("%s is not set but POLYDEV_REQUIRE_POSTGRES is", EnvURL)
		}
		t.Skipf("SKIP: %s not set; `make test` starts a throwaway PostgreSQL and sets it", EnvURL)
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "polydev_test_" + hex.EncodeToString(b[:])

	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The name is made of hex digits above, never of input, so building the statement is safe.
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		db.Close()
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	u.Path = "/" + name
	return u.String()
}
