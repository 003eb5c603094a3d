// Package accounting writes the gateway's usage records off the request's latency path without losing
// them: records queue in memory and a background writer stores them in batches (one transaction each),
// retrying on failure, and Stop drains the queue before the process exits. A full queue makes Record
// wait rather than drop. It knows nothing of HTTP or providers.
package accounting

import (
	"context"
	"log/slog"
	"sync"
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

	queue   chan *polydev.UsageRecord
	flushes chan chan struct{}
	done    chan struct{}
	once    sync.Once
	stop    sync.Once

	written, failed prometheus.Counter
}

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
		r.queue = make(chan *polydev.UsageRecord, r.QueueSize)
		r.flushes = make(chan chan struct{})
		r.done = make(chan struct{})
		r.written = prometheus.NewCounter(prometheus.CounterOpts{Name: "polydev_usage_records_written_total", Help: "Usage records stored."})
		r.failed = prometheus.NewCounter(prometheus.CounterOpts{Name: "polydev_usage_write_failures_total", Help: "Failed usage batch writes (retried)."})
	})
}

// Collectors returns the recorder's metrics for registration.
func (r *Recorder) Collectors() []prometheus.Collector {
	r.init()
	return []prometheus.Collector{r.written, r.failed}
}

// Record queues rec. It returns at once unless the queue is full, in which case it waits: accounting
// is never dropped.
func (r *Recorder) Record(rec *polydev.UsageRecord) {
	r.init()
	r.queue <- rec
}

// RecordSync queues rec and waits until it is stored (group commit: it shares a transaction with
// whatever else is queued). The gateway uses it for completed requests, so that a response a client
// received always has its record, even if the process is killed right after.
func (r *Recorder) RecordSync(ctx context.Context, rec *polydev.UsageRecord) error {
	r.Record(rec)
	return r.Flush(ctx)
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
		close(r.queue)
		select {
		case <-r.done:
		case <-ctx.Done():
			err = ctx.Err()
		}
	})
	return err
}

func (r *Recorder) loop() {
	defer close(r.done)
	batch := make([]*polydev.UsageRecord, 0, r.MaxBatch)
	t := time.NewTimer(r.FlushEvery)
	defer t.Stop()
	for {
		select {
		case rec, ok := <-r.queue:
			if !ok {
				r.write(batch)
				return
			}
			batch = append(batch, rec)
			if len(batch) >= r.MaxBatch {
				batch = r.write(batch)
			}
		case ack := <-r.flushes:
			// Everything sent before the flush request is in the queue or the batch: take it all.
			for drained := false; !drained; {
				select {
				case rec := <-r.queue:
					batch = append(batch, rec)
					if len(batch) >= r.MaxBatch {
						batch = r.write(batch)
					}
				default:
					drained = true
				}
			}
			batch = r.write(batch)
			close(ack)
		case <-t.C:
			batch = r.write(batch)
			t.Reset(r.FlushEvery)
		}
	}
}

// write stores batch, retrying with backoff until it succeeds: the database being briefly unavailable
// must delay accounting, not lose it. It returns the emptied batch for reuse.
func (r *Recorder) write(batch []*polydev.UsageRecord) []*polydev.UsageRecord {
	if len(batch) == 0 {
		return batch
	}
	backoff := 50 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := r.Store.InsertUsage(ctx, batch)
		cancel()
		if err == nil {
			r.written.Add(float64(len(batch)))
			clear(batch)
			return batch[:0]
		}
		r.failed.Inc()
		r.Log.Error("usage write failed; retrying", "service", "accounting", "records", len(batch), "err", err)
		time.Sleep(backoff)
		backoff = min(backoff*2, 5*time.Second)
	}
}
