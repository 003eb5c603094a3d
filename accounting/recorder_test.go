package accounting

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/polydev/polydev"
)

type memStore struct {
	mu       sync.Mutex
	recs     map[string]*polydev.UsageRecord
	batches  int
	failNext int
}

func (m *memStore) InsertUsage(_ context.Context, recs []*polydev.UsageRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failNext > 0 {
		m.failNext--
		return errors.New("database is down")
	}
	m.batches++
	for _, r := range recs {
		m.recs[r.ID] = r
	}
	return nil
}

func (m *memStore) ListUsage(context.Context, string, time.Time, int) ([]*polydev.UsageRecord, error) {
	return nil, nil
}

func (m *memStore) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.recs)
}

func newRecorder(st *memStore) *Recorder {
	return &Recorder{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), FlushEvery: time.Hour, MaxBatch: 10}
}

func TestRecorderBatchesAndDrains(t *testing.T) {
	t.Parallel()
	st := &memStore{recs: map[string]*polydev.UsageRecord{}}
	r := newRecorder(st)
	r.Start()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 25 {
				r.Record(&polydev.UsageRecord{ID: polydev.NewID()})
			}
		})
	}
	wg.Wait()
	if err := r.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := st.count(); got != 200 {
		t.Fatalf("stored %d records, want 200", got)
	}
	if st.batches < 20 {
		t.Fatalf("%d batches for 200 records at MaxBatch 10", st.batches)
	}
}

func TestRecorderRetriesFailures(t *testing.T) {
	t.Parallel()
	st := &memStore{recs: map[string]*polydev.UsageRecord{}, failNext: 2}
	r := newRecorder(st)
	r.Start()
	r.Record(&polydev.UsageRecord{ID: "a"})
	if err := r.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st.count() != 1 {
		t.Fatal("record lost after failed writes")
	}
	if err := r.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestRecorderFullQueueBlocksNotDrops(t *testing.T) {
	t.Parallel()
	st := &memStore{recs: map[string]*polydev.UsageRecord{}}
	r := newRecorder(st)
	r.QueueSize = 2
	// Not started: the queue fills, and a third Record must wait for the writer.
	r.Record(&polydev.UsageRecord{ID: "1"})
	r.Record(&polydev.UsageRecord{ID: "2"})
	sent := make(chan struct{})
	go func() { r.Record(&polydev.UsageRecord{ID: "3"}); close(sent) }()
	select {
	case <-sent:
		t.Fatal("Record returned with a full queue and no writer")
	case <-time.After(50 * time.Millisecond):
	}
	r.Start()
	<-sent
	if err := r.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st.count() != 3 {
		t.Fatalf("stored %d, want 3", st.count())
	}
}
