// Package periodic runs a background pass now and then every interval until stopped: the loop the
// session sweeper and the billing grace expirer share.
package periodic

import (
	"context"
	"sync"
	"time"
)

// Loop runs one function periodically. The zero value is ready; Start it once, Stop it once or more.
type Loop struct {
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// Start runs pass at once, then every interval, until ctx ends or Stop is called.
func (l *Loop) Start(ctx context.Context, interval time.Duration, pass func(context.Context)) {
	ctx, l.cancel = context.WithCancel(ctx)
	l.done = make(chan struct{})
	go func() {
		defer close(l.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			pass(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// Stop ends the loop and waits for a pass in progress to return.
func (l *Loop) Stop() {
	l.once.Do(func() {
		if l.cancel != nil {
			l.cancel()
			<-l.done
		}
	})
}
