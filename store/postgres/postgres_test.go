package postgres_test

import (
	"sync"
	"testing"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/internal/pgtest"
	"github.com/polydev/polydev/store/postgres"
	"github.com/polydev/polydev/store/storetest"
)

func TestStoreSuite(t *testing.T) {
	t.Logf("store suite engine=postgres")
	storetest.Run(t, func(t *testing.T) polydev.Store {
		db, err := postgres.Open(t.Context(), pgtest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

// TestConcurrentMigrate starts several "replicas" on one empty database at once: the advisory lock
// must make each migration apply exactly once.
func TestConcurrentMigrate(t *testing.T) {
	url := pgtest.URL(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			db, err := postgres.Open(t.Context(), url)
			if err == nil {
				db.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}
