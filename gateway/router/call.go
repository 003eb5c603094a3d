package router

import (
	"context"
	"errors"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/pricing"
)

// Call is one gateway request in flight. Build it with Start, run it with Do or Stream, and end it
// with Finish, which writes its usage record.
type Call struct {
	User      *polydev.User
	Surface   string // "openai", "anthropic" or "chat"
	Route     *Route
	Req       *llm.Request
	SessionID string

	start    time.Time
	upstream time.Duration // time spent waiting on the provider (for the overhead figure)
	ttfb     time.Duration
	key      *polydev.ProviderKey
	router   *Router
	finished bool
}

// Start begins a call for route; arrival is when the client's request arrived.
func (r *Router) Start(u *polydev.User, surface string, route *Route, req *llm.Request, arrival time.Time) *Call {
	req.Model = route.Upstream
	return &Call{User: u, Surface: surface, Route: route, Req: req, start: arrival, router: r}
}

// Overhead is the time Polydev itself has spent on the call so far: wall time minus time waiting for
// the provider.
func (c *Call) Overhead() time.Duration {
	return max(0, time.Since(c.start)-c.upstream)
}

// Do runs a non-streamed call, failing over between keys.
func (c *Call) Do(ctx context.Context) (*llm.Response, error) {
	r := c.router
	cands, err := r.candidates(ctx, c.User, c.Route.Provider)
	if err != nil {
		return nil, err
	}
	ad := r.adapter(c.Route.Provider)
	var last error
	for _, cand := range cands {
		t, err := r.target(ctx, cand.key)
		if err != nil {
			return nil, err
		}
		c.key = cand.key
		began := time.Now()
		resp, err := ad.Do(ctx, r.Client, t, c.Req)
		c.upstream += time.Since(began)
		if err == nil {
			c.ttfb = time.Since(c.start)
			return resp, nil
		}
		last = err
		if !failover(err) {
			return nil, err
		}
		r.Log.Warn("upstream failed; trying the next key", "provider", c.Route.Provider, "key_id", cand.key.ID, "err", err)
	}
	return nil, last
}

// Stream opens a streamed call, failing over between keys until one answers with its headers.
func (c *Call) Stream(ctx context.Context) (llm.Stream, error) {
	r := c.router
	cands, err := r.candidates(ctx, c.User, c.Route.Provider)
	if err != nil {
		return nil, err
	}
	ad := r.adapter(c.Route.Provider)
	var last error
	for _, cand := range cands {
		t, err := r.target(ctx, cand.key)
		if err != nil {
			return nil, err
		}
		c.key = cand.key
		began := time.Now()
		s, err := ad.Stream(ctx, r.Client, t, c.Req)
		c.upstream += time.Since(began)
		if err == nil {
			c.ttfb = time.Since(c.start)
			return &timedStream{Stream: s, call: c}, nil
		}
		last = err
		if !failover(err) {
			return nil, err
		}
		r.Log.Warn("upstream failed; trying the next key", "provider", c.Route.Provider, "key_id", cand.key.ID, "err", err)
	}
	return nil, last
}

// failover reports whether err allows trying the next key (rate limit, overload, server and network
// errors before any byte reached the client).
func failover(err error) bool {
	e, ok := llm.AsError(err)
	return ok && e.Failover()
}

// timedStream counts the time spent waiting in Next as upstream time.
type timedStream struct {
	llm.Stream
	call *Call
}

func (s *timedStream) Next() (llm.Event, error) {
	began := time.Now()
	ev, err := s.Stream.Next()
	s.call.upstream += time.Since(began)
	return ev, err
}

// Finish writes the call's usage record (off the latency path) and returns it. u is the usage to
// bill (partial for a cancelled stream); err is what ended the call, nil on success.
func (c *Call) Finish(u llm.Usage, err error, httpStatus int) *polydev.UsageRecord {
	if c.finished {
		return nil
	}
	c.finished = true
	r := c.router
	rec := &polydev.UsageRecord{
		ID: polydev.NewID(), UserID: c.User.ID, Provider: c.Route.Provider, Model: c.Route.Model, Surface: c.Surface,
		Stream: c.Req.Stream, Status: polydev.UsageOK, HTTPStatus: httpStatus,
		InputTokens: int64(u.InputTokens), OutputTokens: int64(u.OutputTokens), CacheReadTokens: int64(u.CacheReadTokens),
		CacheWriteTokens: int64(u.CacheWriteTokens), ReasoningTokens: int64(u.ReasoningTokens), Estimated: u.Estimated(),
		DurationMS: time.Since(c.start).Milliseconds(), TTFBMS: c.ttfb.Milliseconds(), OverheadUS: c.Overhead().Microseconds(),
		SessionID: c.SessionID, CreatedAt: r.now().UTC(),
	}
	if c.key != nil {
		rec.KeyID, rec.PlatformKey = c.key.ID, c.key.UserID == ""
	}
	rec.Cost = pricing.Cost(c.Route.Price, pricing.Usage{InputTokens: u.InputTokens, OutputTokens: u.OutputTokens,
		CacheReadTokens: u.CacheReadTokens, CacheWriteTokens: u.CacheWriteTokens})
	if err != nil {
		rec.Status, rec.ErrorCode = polydev.UsageError, polydev.ErrorCode(err)
		if e, ok := llm.AsError(err); ok {
			rec.ErrorCode = string(e.Kind)
			if e.Kind == llm.ErrCanceled {
				rec.Status = polydev.UsageCancelled
			}
		} else if errors.Is(err, context.Canceled) {
			rec.Status = polydev.UsageCancelled
		}
	}
	r.Usage.Record(rec)
	return rec
}
