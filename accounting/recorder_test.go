package accounting

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"runtime"
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

// gateStore holds every batch write until the test lets it go, and reports each one.
type gateStore struct {
	memStore
	calls   chan int // batch sizes, as writes begin
	release chan struct{}
	n       int
	onCall  func(call int) // before the write waits for release; call counts from 1
}

func (g *gateStore) InsertUsage(ctx context.Context, recs []*polydev.UsageRecord) error {
	g.n++ // writes never overlap
	if g.onCall != nil {
		g.onCall(g.n)
	}
	g.calls <- len(recs)
	<-g.release
	return g.memStore.InsertUsage(ctx, recs)
}

// TestRecorderGroupCommit: one write answers every RecordSync waiting when it starts; a caller whose
// record went out in a write does not also wait for the next one.
func TestRecorderGroupCommit(t *testing.T) {
	t.Parallel()
	g := &gateStore{memStore: memStore{recs: map[string]*polydev.UsageRecord{}}, calls: make(chan int, 8), release: make(chan struct{})}
	waiting := make(chan struct{}, 10)
	// The third write (a record that arrived during the second) must not begin before the ten
	// callers answered by the second are.
	answered := make(chan bool, 1)
	g.onCall = func(call int) {
		if call != 3 {
			return
		}
		for range 10 {
			select {
			case <-waiting:
			case <-time.After(5 * time.Second):
				answered <- false
				return
			}
		}
		answered <- true
	}
	r := &Recorder{Store: g, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), FlushEvery: time.Hour}
	r.Start()
	defer r.Stop(context.Background())
	defer close(g.release) // on failure, let every write through so that Stop returns
	sync := func(done chan<- struct{}) {
		if err := r.RecordSync(context.Background(), &polydev.UsageRecord{ID: polydev.NewID()}); err != nil {
			t.Error(err)
		}
		done <- struct{}{}
	}
	waitQueued := func(records, flushes int) {
		for len(r.queue) != records || len(r.flushes) < flushes {
			runtime.Gosched()
		}
	}
	first := make(chan struct{}, 1)
	go sync(first)
	<-g.calls // the first write is under way
	for range 10 {
		go sync(waiting)
	}
	waitQueued(10, 10)
	g.release <- struct{}{} // the first write ends
	<-first
	if n := <-g.calls; n != 10 {
		t.Fatalf("second write took %d records, want the 10 waiting", n)
	}
	late := make(chan struct{}, 1)
	go sync(late) // arrives while the second write is under way
	waitQueued(1, 1)
	g.release <- struct{}{}
	<-g.calls
	if !<-answered {
		t.Fatal("callers whose records were written still waited for the next write")
	}
	g.release <- struct{}{}
	<-late
}

// TestRecorderSmallBatchesWait: with MinBatch, a batch smaller than it is not written at a tick
// until it reaches MinBatch or its first record is MaxWait old; a Flush writes it at once.
func TestRecorderSmallBatchesWait(t *testing.T) {
	t.Parallel()
	st := &memStore{recs: map[string]*polydev.UsageRecord{}}
	ticks := make(chan struct{})
	r := &Recorder{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), FlushEvery: time.Millisecond,
		MinBatch: 3, MaxWait: time.Hour, ticked: ticks}
	r.Start()
	defer r.Stop(context.Background())
	// tick waits for n ticks after the queue is empty (the writer has taken every record).
	tick := func(n int) {
		for len(r.queue) > 0 {
			<-ticks
		}
		for range n {
			<-ticks
		}
	}
	r.Record(&polydev.UsageRecord{ID: "1"})
	r.Record(&polydev.UsageRecord{ID: "2"})
	tick(3)
	if n := st.count(); n != 0 {
		t.Fatalf("%d records written at a tick, with 2 waiting of MinBatch 3", n)
	}
	r.Record(&polydev.UsageRecord{ID: "3"})
	tick(2)
	if n := st.count(); n != 3 {
		t.Fatalf("%d records written once MinBatch was reached, want 3", n)
	}
	r.Record(&polydev.UsageRecord{ID: "4"})
	flushed := make(chan error)
	go func() { flushed <- r.Flush(context.Background()) }()
	for done := false; !done; {
		select {
		case err := <-flushed:
			if err != nil {
				t.Fatal(err)
			}
			done = true
		case <-ticks:
		}
	}
	if n := st.count(); n != 4 {
		t.Fatalf("%d records after Flush, want 4", n)
	}
}

// TestRecorderMaxWait: a small batch is written once its first record is MaxWait old.
func TestRecorderMaxWait(t *testing.T) {
	t.Parallel()
	st := &memStore{recs: map[string]*polydev.UsageRecord{}}
	ticks := make(chan struct{})
	r := &Recorder{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), FlushEvery: time.Millisecond,
		MinBatch: 100, MaxWait: time.Nanosecond, ticked: ticks}
	r.Start()
	defer r.Stop(context.Background())
	r.Record(&polydev.UsageRecord{ID: "1"})
	for st.count() == 0 {
		<-ticks
	}
}
