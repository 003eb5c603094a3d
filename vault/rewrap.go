package vault

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Rewrapper is the background service that moves data keys wrapped by older master keys to the active
// one. Each key is moved with a compare-and-set, so the job is safe to run on several replicas at once,
// to stop at any point (cancel, crash, kill -9) and to run again: it resumes with what is left. Values
// sealed with a DEK are never touched: the DEK itself does not change.
type Rewrapper struct {
	Vault    *Vault
	Log      *slog.Logger
	Interval time.Duration // between passes; default 1 minute
	Batch    int           // keys per page; default 100
	// OnMoved, when set, is called after each key is moved (tests use it to stop mid-way).
	OnMoved func(owner string)

	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// RunOnce reloads the key file (picking up a rotation made on disk) and moves every key older than the
// active version. It returns how many keys it moved.
func (r *Rewrapper) RunOnce(ctx context.Context) (int, error) {
	if _, err := r.Vault.Reload(); err != nil {
		return 0, err
	}
	batch := r.Batch
	if batch <= 0 {
		batch = 100
	}
	kr, store := r.Vault.kr, r.Vault.store
	active := kr.Active()
	moved, after := 0, ""
	for {
		rows, err := store.DataKeysBefore(ctx, active, after, batch)
		if err != nil {
			return moved, err
		}
		if len(rows) == 0 {
			return moved, nil
		}
		for _, row := range rows {
			after = row.OwnerID
			wrapped, kek, err := kr.Rewrap(row.OwnerID, row.Wrapped)
			if err != nil {
				return moved, err
			}
			ok, err := store.SwapDataKey(ctx, row.OwnerID, row.KEKVersion, wrapped, kek, r.Vault.now())
			if err != nil {
				return moved, err
			}
			if ok {
				moved++
				if r.OnMoved != nil {
					r.OnMoved(row.OwnerID)
				}
			}
			if err := ctx.Err(); err != nil {
				return moved, err
			}
		}
	}
}

// Start runs passes every Interval until Stop or ctx ends.
func (r *Rewrapper) Start(ctx context.Context) {
	if r.Interval <= 0 {
		r.Interval = time.Minute
	}
	ctx, r.cancel = context.WithCancel(ctx)
	r.done = make(chan struct{})
	go func() {
		defer close(r.done)
		t := time.NewTicker(r.Interval)
		defer t.Stop()
		for {
			pass, cancel := context.WithTimeout(ctx, 10*time.Minute)
			n, err := r.RunOnce(pass)
			cancel()
			if err != nil && ctx.Err() == nil {
				r.Log.Error("rewrap pass failed", "service", "rewrap", "err", err)
			} else if n > 0 {
				r.Log.Info("data keys rewrapped", "service", "rewrap", "count", n, "active_kek", r.Vault.kr.Active())
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// Stop ends the service and waits for the current pass.
func (r *Rewrapper) Stop() {
	r.once.Do(func() {
		if r.cancel != nil {
			r.cancel()
			<-r.done
		}
	})
}
