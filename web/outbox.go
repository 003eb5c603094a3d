package web

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// outbox runs mail work off the request path, one job at a time. Sign-up and "forgot password"
// hand it the account lookup and the mail, so that their answer and its timing are the same
// whether or not the address has an account, and a slow or unreachable SMTP server never holds a
// request. Jobs that fail are logged at ERROR; a full queue drops the job, loudly.
type outbox struct {
	log     *slog.Logger
	timeout time.Duration
	jobs    chan outboxJob
	done    chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	mu      sync.Mutex // guards closed and sends on jobs against close
	closed  bool
}

type outboxJob struct {
	name string
	run  func(ctx context.Context) error
}

// outboxSize bounds the jobs waiting: a flood of sign-ups or reset requests beyond the throttles
// cannot grow memory, only drop mail (each drop logged).
const outboxSize = 256

func newOutbox(log *slog.Logger, timeout time.Duration) *outbox {
	ctx, cancel := context.WithCancel(context.Background())
	o := &outbox{log: log, timeout: timeout, jobs: make(chan outboxJob, outboxSize), done: make(chan struct{}), ctx: ctx, cancel: cancel}
	go o.work()
	return o
}

func (o *outbox) work() {
	defer close(o.done)
	for j := range o.jobs {
		ctx, cancel := context.WithTimeout(o.ctx, o.timeout)
		if err := j.run(ctx); err != nil {
			o.log.Error("mail not sent", "service", "outbox", "job", j.name, "err", err)
		}
		cancel()
	}
}

// post queues a job without waiting; it reports false (and logs) when the queue is full or closed.
func (o *outbox) post(name string, run func(ctx context.Context) error) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.closed {
		select {
		case o.jobs <- outboxJob{name, run}:
			return true
		default:
		}
	}
	o.log.Error("mail dropped: the outbox is full or closed", "service", "outbox", "job", name)
	return false
}

// drain waits until every job posted before it has run (tests use it to know a mail was not sent).
func (o *outbox) drain(ctx context.Context) error {
	ran := make(chan struct{})
	if !o.post("drain", func(context.Context) error { close(ran); return nil }) {
		return context.Canceled
	}
	select {
	case <-ran:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close stops taking jobs and waits for the queued ones until ctx ends, then abandons the rest.
func (o *outbox) close(ctx context.Context) error {
	o.mu.Lock()
	if !o.closed {
		o.closed = true
		close(o.jobs)
	}
	o.mu.Unlock()
	select {
	case <-o.done:
		return nil
	case <-ctx.Done():
		o.cancel()
		<-o.done
		return ctx.Err()
	}
}
