package web

import (
	"sync"
	"time"
)

// limiter holds token buckets that throttle login and signup attempts, one per key (an account, an
// account from one client, a client address). Each check names its buckets with their own rates.
// It lives in process memory: each replica throttles on its own, which multiplies every bound by the
// number of replicas (written in docs/SECURITY.md).
type limiter struct {
	mu      sync.Mutex
	now     func() time.Time
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
	burst  float64
	refill time.Duration
}

// rate is one bucket to take from: burst attempts at once, then one more per refill.
type rate struct {
	key    string
	burst  int
	refill time.Duration
}

const maxBuckets = 100_000 // memory bound against key-spraying; full buckets are pruned first

func newLimiter(now func() time.Time) *limiter {
	return &limiter{now: now, buckets: map[string]*bucket{}}
}

// allow takes one attempt from every named bucket. When any is empty it takes nothing and returns
// how long until an attempt is available in all of them.
func (l *limiter) allow(rates ...rate) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.buckets) > maxBuckets {
		l.prune(now)
	}
	bs := make([]*bucket, len(rates))
	for i, r := range rates {
		b := l.buckets[r.key]
		if b == nil {
			b = &bucket{tokens: float64(r.burst), last: now}
			l.buckets[r.key] = b
		}
		b.burst, b.refill = float64(r.burst), r.refill
		b.tokens = min(b.burst, b.tokens+float64(now.Sub(b.last))/float64(b.refill))
		b.last = now
		if b.tokens < 1 {
			wait := time.Duration((1 - b.tokens) * float64(b.refill))
			retryAfter = max(retryAfter, wait)
		}
		bs[i] = b
	}
	if retryAfter > 0 {
		return false, retryAfter
	}
	for _, b := range bs {
		b.tokens--
	}
	return true, 0
}

// prune drops buckets that have refilled completely: forgetting them changes nothing.
func (l *limiter) prune(now time.Time) {
	for k, b := range l.buckets {
		if now.Sub(b.last) >= time.Duration(b.burst*float64(b.refill)) {
			delete(l.buckets, k)
		}
	}
}
