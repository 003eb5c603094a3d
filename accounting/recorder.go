// Package accounting writes the gateway's usage records off the request's latency path without losing
// them: records queue in memory and a background writer stores them in batches (one transaction each),
// retrying on failure, and Stop drains the queue before the process exits. A full queue makes Record
// wait rather than drop. With a Journal (in the server's data directory, on either engine), a record is durable once appended to
// it, and a request does not wait for the database at all. It knows nothing of HTTP or providers.
package accounting

import (
	"context"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/polydev/polydev"
)

// Recorder is the usage writer service.
type Recorder struct {
	Store      polydev.UsageStore
	Log        *slog.Logger
	FlushEvery time.Duration // how long a record may wait for company; default 50ms
	MaxBatch   int           // records per transaction; default 256
	QueueSize  int           // records held in memory before Record blocks; default 8192
	// At low rates a transaction per FlushEvery stores one or two records, and its fixed cost
	// (begin, commit, WAL frames) is most of the writer's work. With MinBatch set, a batch of fewer
	// records waits longer for company, until it is MaxWait old (default 1s). Only for records
	// already durable elsewhere (the journal): waiting holds their reservations and request counts
	// in memory that much longer. Flush (a caller waiting, a read of usage) writes at once.
	MinBatch int
	MaxWait  time.Duration
	// Journal, when set, makes RecordSync durable with one append instead of a transaction.
	Journal *Journal
	// OnJournaled, when set, is called with each record once it is in the journal (store.Local
	// frees the request's concurrency slot then, not when the record reaches the database).
	OnJournaled func(*polydev.UsageRecord)

	queue   chan entry
	full    chan struct{} // a Record found the queue full: the writer takes it now
	flushes chan chan struct{}
	quit    chan struct{} // closed by Stop
	done    chan struct{}
	once    sync.Once
	stop    sync.Once

	ticked chan<- struct{} // tests: told after a timer tick's decision, when listening

	written, failed, journalFailed prometheus.Counter
	journalFails                   atomic.Int64 // appends failed since the last log line about them
	journalLogged                  atomic.Int64 // when that line was written, Unix nanoseconds
}

// journalLogEvery bounds how often failed journal appends are logged (a full disk fails every
// request's append).
const journalLogEvery = 10 * time.Second

func (r *Recorder) init() {
	r.once.Do(func() {
		if r.FlushEvery <= 0 {
			r.FlushEvery = 50 * time.Millisecond
		}
		if r.MaxBatch <= 0 {
			r.MaxBatch = 256
		}
		if r.QueueSize <= 0 {
			r.QueueSize = 8192
		}
		if r.MaxWait <= 0 {
			r.MaxWait = time.Second
		}
		r.queue = make(chan entry, r.QueueSize)
		r.full = make(chan struct{}, 1)
		r.flushes = make(chan chan struct{}, 1024)
		r.quit = make(chan struct{})
		r.done = make(chan struct{})
		r.written = prometheus.NewCounter(prometheus.CounterOpts{Name: "polydev_usage_records_written_total", Help: "Usage records stored."})
		r.failed = prometheus.NewCounter(prometheus.CounterOpts{Name: "polydev_usage_write_failures_total", Help: "Failed usage batch writes (retried)."})
		r.journalFailed = prometheus.NewCounter(prometheus.CounterOpts{Name: "polydev_usage_journal_failures_total", Help: "Usage journal appends that failed (the record then waited for the database)."})
	})
}

// Collectors returns the recorder's metrics for registration.
func (r *Recorder) Collectors() []prometheus.Collector {
	r.init()
	return []prometheus.Collector{r.written, r.failed, r.journalFailed}
}

// entry is a queued record and the journal file holding it (-1: none).
type entry struct {
	rec *polydev.UsageRecord
	seg int
}

// Record queues rec (appending it to the journal first, if there is one). It returns at once unless
// the queue is full, in which case it waits: accounting is never dropped.
func (r *Recorder) Record(rec *polydev.UsageRecord) {
	r.init()
	r.enqueue(entry{rec, r.journal(rec)})
}

// enqueue puts e in the queue. The writer takes the queue at its ticks, so a record normally wakes
// nobody (a wake per request was a measurable share of a request's CPU at one at a time); a full
// queue calls the writer and waits for room.
func (r *Recorder) enqueue(e entry) {
	select {
	case r.queue <- e:
		return
	default:
	}
	select {
	case r.full <- struct{}{}:
	default: // the writer has been called already
	}
	r.queue <- e
}

// journal appends rec to the journal and returns its file, or -1 when there is no journal or the
// append failed (the record is then durable only once stored).
func (r *Recorder) journal(rec *polydev.UsageRecord) int {
	if r.Journal == nil {
		return -1
	}
	seg, err := r.Journal.Append(rec)
	if err != nil {
		r.journalFailed.Inc()
		n := r.journalFails.Add(1)
		now, last := time.Now().UnixNano(), r.journalLogged.Load()
		if (last == 0 || now-last >= int64(journalLogEvery)) && r.journalLogged.CompareAndSwap(last, now) {
			r.journalFails.Add(-n)
			r.Log.Error("usage journal appends failing; records wait for the database", "service", "accounting",
				"failed_since_last_report", n, "err", err)
		}
		return -1
	}
	if r.OnJournaled != nil {
		r.OnJournaled(rec)
	}
	return seg
}

// RecordSync returns once rec is durable: appended to the journal, or else stored (group commit: it
// shares a transaction with whatever else is queued). The gateway uses it for completed requests, so
// that a response a client received always has its record, even if the process is killed right
// after.
func (r *Recorder) RecordSync(ctx context.Context, rec *polydev.UsageRecord) error {
	if r.queueJournaled(rec) {
		return nil
	}
	return r.Flush(ctx)
}

// RecordWithin is RecordSync waiting at most wait for the database. The bound is armed only when
// there is a wait (no journal, or its append failed): a journaled record, the usual case on every
// request, costs no context and no timer.
func (r *Recorder) RecordWithin(rec *polydev.UsageRecord, wait time.Duration) error {
	if r.queueJournaled(rec) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	return r.Flush(ctx)
}

// queueJournaled queues rec and reports whether the journal holds it (then it is durable).
func (r *Recorder) queueJournaled(rec *polydev.UsageRecord) bool {
	r.init()
	seg := r.journal(rec)
	r.enqueue(entry{rec, seg})
	return seg >= 0
}

// Flush waits until every record queued before the call is stored (tests and shutdown use it).
func (r *Recorder) Flush(ctx context.Context) error {
	r.init()
	ack := make(chan struct{})
	select {
	case r.flushes <- ack:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Start runs the writer until Stop.
func (r *Recorder) Start() {
	r.init()
	go r.loop()
}

// Stop stores everything queued, then ends the writer. Records must not be sent after Stop.
func (r *Recorder) Stop(ctx context.Context) error {
	r.init()
	var err error
	r.stop.Do(func() {
		err = r.Flush(ctx)
		close(r.quit)
		select {
		case <-r.done:
		case <-ctx.Done():
			err = ctx.Err()
		}
	})
	return err
}

// yieldRounds bounds how often a write waits for more callers to join it.
const yieldRounds = 4

func (r *Recorder) loop() {
	defer close(r.done)
	batch := make([]entry, 0, r.MaxBatch)
	var acks []chan struct{}
	var oldest time.Time // when the batch's first record was taken from the queue
	// take moves every queued record into the batch, writing each MaxBatch on the way.
	take := func() {
		for {
			select {
			case e := <-r.queue:
				if len(batch) == 0 {
					oldest = time.Now()
				}
				batch = append(batch, e)
				if len(batch) >= r.MaxBatch {
					batch = r.write(batch)
				}
			default:
				return
			}
		}
	}
	t := time.NewTimer(r.FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-r.quit:
			take()
			r.write(batch)
			return
		case <-r.full:
			take()
		case ack := <-r.flushes:
			// Group commit: every flush request waiting now is answered by the same write. Each
			// caller queued its records before asking, so taking the requests first and then the
			// whole queue covers all of them.
			acks = append(acks[:0], ack)
			for round := 0; ; round++ {
				had := len(acks)
				for more := true; more; {
					select {
					case ack := <-r.flushes:
						acks = append(acks, ack)
					default:
						more = false
					}
				}
				// When the CPUs are busy, requests about to ask are runnable: yielding lets
				// them join this write (a commit costs far more than a record). When idle,
				// Gosched returns at once.
				if round == yieldRounds || round > 0 && len(acks) == had {
					break
				}
				runtime.Gosched()
			}
			take()
			batch = r.write(batch)
			for _, ack := range acks {
				close(ack)
			}
			clear(acks)
		case <-t.C:
			take()
			if len(batch) >= r.MinBatch || time.Since(oldest) >= r.MaxWait {
				batch = r.write(batch)
			}
			select {
			case r.ticked <- struct{}{}:
			default:
			}
			t.Reset(r.FlushEvery)
		}
	}
}

// write stores batch, retrying with backoff until it succeeds: the database being briefly unavailable
// must delay accounting, not lose it. It returns the emptied batch for reuse.
func (r *Recorder) write(batch []entry) []entry {
	if len(batch) == 0 {
		return batch
	}
	recs := make([]*polydev.UsageRecord, len(batch))
	var perSeg [2]int
	for i, e := range batch {
		recs[i] = e.rec
		if e.seg >= 0 {
			perSeg[e.seg]++
		}
	}
	backoff := 50 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := r.Store.InsertUsage(ctx, recs)
		cancel()
		if err == nil {
			r.written.Add(float64(len(batch)))
			for seg, n := range perSeg {
				if n == 0 {
					continue
				}
				if err := r.Journal.Stored(seg, n); err != nil {
					// The file keeps records already stored; the next start stores them again,
					// and they are skipped by id.
					r.Log.Error("usage journal not emptied", "service", "accounting", "err", err)
				}
			}
			clear(batch)
			return batch[:0]
		}
		r.failed.Inc()
		r.Log.Error("usage write failed; retrying", "service", "accounting", "records", len(batch), "err", err)
		time.Sleep(backoff)
		backoff = min(backoff*2, 5*time.Second)
	}
}
