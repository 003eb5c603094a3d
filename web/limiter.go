package web

import (
	"sync"
	"time"
)

// limiter is a token bucket per key (client IP, account email) that throttles login and signup
// attempts. It lives in process memory: each replica throttles on its own, which bounds guessing to
// (replicas x burst) per refill period. That is enough against online guessing given argon2id's cost;
// the bound is written in docs/SECURITY.md.
type limiter struct {
	mu      sync.Mutex
	burst   float64
	refill  time.Duration // time to regain one attempt
	now     func() time.Time
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

const maxBuckets = 100_000 // memory bound against key-spraying; full buckets are pruned first

func newLimiter(burst int, refill time.Duration, now func() time.Time) *limiter {
	return &limiter{burst: float64(burst), refill: refill, now: now, buckets: map[string]*bucket{}}
}

// allow takes one attempt from every key's bucket. When any is empty it takes nothing and returns how
// long until an attempt is available.
func (l *limiter) allow(keys ...string) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.buckets) > maxBuckets {
		l.prune(now)
	}
	bs := make([]*bucket, len(keys))
	for i, k := range keys {
		b := l.buckets[k]
		if b == nil {
			b = &bucket{tokens: l.burst, last: now}
			l.buckets[k] = b
		}
		b.tokens = min(l.burst, b.tokens+float64(now.Sub(b.last))/float64(l.refill))
		b.last = now
		if b.tokens < 1 {
			wait := time.Duration((1 - b.tokens) * float64(l.refill))
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

func (l *limiter) prune(now time.Time) {
	full := time.Duration(l.burst * float64(l.refill))
	for k, b := range l.buckets {
		if now.Sub(b.last) >= full {
			delete(l.buckets, k)
		}
	}
}
