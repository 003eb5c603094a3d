package web

import (
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/polydev/polydev"
)

// refusals remembers, per account, a tier limit (requests per day or per minute) that refused a
// gateway request, until its window resets: within that window every request would be refused
// again (the counts only grow), so admission refuses it before its body is read rather than after
// reading and decoding megabytes. The memory is short (refusalMemory), so an administrator who
// raises a limit is obeyed within a minute; it lives in this process, as a shortcut to what the
// limit store would answer anyway.
type refusals struct {
	mu sync.Mutex
	m  map[string]refusal
}

// refusal is a remembered limit error, trusted until until (its reset, or refusalMemory at most).
type refusal struct {
	err   polydev.LimitError
	until time.Time
}

const (
	refusalMemory = time.Minute
	maxRefusals   = 100_000 // bound on the map; expired entries go first
)

// note remembers err if it is a tier limit of user.
func (f *refusals) note(userID string, err error, now time.Time) {
	le, ok := errors.AsType[*polydev.LimitError](err)
	if !ok || userID == "" || !strings.HasPrefix(le.Limit, "tier_") || le.ResetAt.IsZero() {
		return
	}
	kept := refusal{err: *le, until: minTime(le.ResetAt, now.Add(refusalMemory))}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[string]refusal{}
	}
	if len(f.m) >= maxRefusals {
		for id, e := range f.m {
			if !now.Before(e.until) {
				delete(f.m, id)
			}
		}
		if len(f.m) >= maxRefusals {
			return
		}
	}
	f.m[userID] = kept
}

// check returns the remembered refusal of user, with the wait from now, or nil.
func (f *refusals) check(userID string, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.m[userID]
	if !ok {
		return nil
	}
	if !now.Before(e.until) {
		delete(f.m, userID)
		return nil
	}
	le := e.err
	le.RetryAfter = le.RetryAfterAt(now)
	return &polydev.Error{Code: le.Code(), Message: le.Error(), Cause: &le}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
