package web

import (
	"context"
	"testing"

	"github.com/polydev/polydev/accounting"
)

// journaled makes e's usage recorder what `polydev serve` runs on SQLite (cmd/polydev/serve.go): a
// completed request's record is durable once appended to a usage journal, and stored in a later
// batch. newEnv's recorder waits for the database instead, as on PostgreSQL. Call it before the
// first gateway request.
func (e *env) journaled(tb testing.TB) {
	tb.Helper()
	if e.local == nil {
		tb.Fatal("the usage journal is for SQLite")
	}
	j, recs, _, err := accounting.OpenJournal(tb.TempDir())
	if err != nil || len(recs) > 0 {
		tb.Fatalf("opening a fresh journal: %v (%d records)", err, len(recs))
	}
	if err := j.Recovered(); err != nil {
		tb.Fatal(err)
	}
	if err := e.recorder.Stop(context.Background()); err != nil {
		tb.Fatal(err)
	}
	r := &accounting.Recorder{Store: e.store, Log: e.srv.log, Journal: j, OnJournaled: e.local.Journaled, MinBatch: 64}
	e.local.Barrier = r.Flush
	r.Start()
	tb.Cleanup(func() {
		_ = r.Stop(context.Background())
		_ = j.Close()
	})
	e.recorder, e.srv.router.Usage = r, r
}
