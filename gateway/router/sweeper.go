package router

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/polydev/polydev"
)

// Sweeper is the background service that settles reservations whose request never settled them: the
// process serving it died (kill -9, crash, power loss). Each is billed at its reserved amount, the
// most the request could have cost — the provider may well have served it — in a usage record
// marked "interrupted", and its budget and concurrency slot are given back. Without it, a crashed
// request would hold its key's budget and slot forever.
type Sweeper struct {
	Store    polydev.Store
	Log      *slog.Logger
	Interval time.Duration // default 1 minute
	// SingleNode says no other process shares the database (SQLite): at start every reservation
	// already in it belongs to a dead process and is settled at once, without waiting for expiry.
	SingleNode bool
	Now        func() time.Time

	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

func (s *Sweeper) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Start settles what a previous process left (SingleNode), then sweeps every Interval.
func (s *Sweeper) Start(ctx context.Context) {
	if s.Interval <= 0 {
		s.Interval = time.Minute
	}
	if s.SingleNode {
		// Everything reserved before now expires before now + reservationExpiry.
		if n, err := s.SweepBefore(ctx, s.now().Add(reservationExpiry)); err != nil {
			s.Log.Error("start-up reservation sweep failed", "service", "reservation-sweeper", "err", err)
		} else if n > 0 {
			s.Log.Warn("settled reservations left by a previous process", "service", "reservation-sweeper", "count", n)
		}
	}
	ctx, s.cancel = context.WithCancel(ctx)
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.Interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if n, err := s.SweepBefore(ctx, s.now()); err != nil && ctx.Err() == nil {
				s.Log.Error("reservation sweep failed", "service", "reservation-sweeper", "err", err)
			} else if n > 0 {
				s.Log.Warn("settled expired reservations", "service", "reservation-sweeper", "count", n)
			}
		}
	}()
}

// SweepBefore settles every reservation expiring at or before cutoff and reports how many.
func (s *Sweeper) SweepBefore(ctx context.Context, cutoff time.Time) (int, error) {
	total := 0
	for {
		pass, cancel := context.WithTimeout(ctx, time.Minute)
		res, err := s.Store.ExpiredReservations(pass, cutoff, 100)
		cancel()
		if err != nil || len(res) == 0 {
			return total, err
		}
		recs := make([]*polydev.UsageRecord, len(res))
		for i, r := range res {
			now := s.now().UTC()
			recs[i] = &polydev.UsageRecord{
				ID: polydev.NewTimeID(now), UserID: r.UserID, KeyID: r.KeyID, Provider: "unknown", Model: "unknown", Surface: "unknown",
				Status: polydev.UsageInterrupted, HTTPStatus: 0, ErrorCode: "interrupted", Estimated: true, Cost: r.Amount,
				ReservationID: r.ID, CreatedAt: now,
			}
		}
		pass, cancel = context.WithTimeout(ctx, time.Minute)
		err = s.Store.InsertUsage(pass, recs)
		cancel()
		if err != nil {
			return total, err
		}
		total += len(res)
	}
}

// Stop ends the service.
func (s *Sweeper) Stop() {
	s.once.Do(func() {
		if s.cancel != nil {
			s.cancel()
			<-s.done
		}
	})
}
