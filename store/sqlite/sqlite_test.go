package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/store/sqlite"
	"github.com/polydev/polydev/store/storetest"
)

func TestStoreSuite(t *testing.T) {
	t.Logf("store suite engine=sqlite")
	storetest.Run(t, func(t *testing.T) polydev.Store {
		db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "polydev.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

func TestMigrateTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "polydev.db")
	for range 2 {
		db, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		v, err := db.SchemaVersion(t.Context())
		if err != nil || v < 1 {
			t.Fatalf("SchemaVersion = %d, %v", v, err)
		}
		db.Close()
	}
}
