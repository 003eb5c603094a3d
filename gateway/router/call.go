package router

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider"
	"github.com/polydev/polydev/netguard"
	"github.com/polydev/polydev/policy"
	"github.com/polydev/polydev/pricing"
)

// Call is one gateway request in flight. Build it with Start, admit and run it with Do or Stream,
// and end it with Finish, which writes its usage record and settles its reservation.
type Call struct {
	User      *polydev.User
	Surface   string // "openai", "anthropic", "responses" or "chat"
	Route     *Route
	Req       *llm.Request
	SessionID string
	BodyBytes int // size of the client's request body: the input-token reservation is derived from it
	// Set by admission. Ephemeral: store no content for this call (ephemeral mode, served with the
	// user's own key). EphemeralWaived: the user is in ephemeral mode but has no key of their own
	// for the provider, so the call runs on a platform key and is not ephemeral; the response says so.
	Ephemeral       bool
	EphemeralWaived bool

	// OnAdmit, when set, is called once admission succeeded (Ephemeral and EphemeralWaived are
	// final from then on), from the goroutine running the call: a handler waiting for the upstream
	// in another goroutine may then commit its response headers.
	OnAdmit func()

	// Usage and Cost are what the call's usage record holds, set when it is written (by a completed
	// Do or stream, or by Finish): the turn a chat stores is priced once, here.
	Usage llm.Usage
	Cost  polydev.Money

	start       time.Time
	upstream    time.Duration // time spent waiting on the provider (for the overhead figure)
	ttfb        time.Duration
	key         *polydev.ProviderKey
	reservation *polydev.Reservation
	router      *Router
	finished    bool
	unbilled    bool                  // a passthrough operation without usage (token counting): nothing reserved or recorded
	embed       *llm.EmbedRequest     // set by StartEmbed: no output to reserve
	dest        *netguard.Destination // where the current attempt went: a private host's error text is not echoed
}

// MaxCallDuration bounds one upstream call; a reservation outlives it, so the sweeper never settles
// a reservation whose call may still be running.
const (
	MaxCallDuration   = 55 * time.Minute
	reservationExpiry = time.Hour
)

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

// admit applies the user's tier (allowed models, requests per day and minute) and returns the keys
// to try.
func (c *Call) admit(ctx context.Context) ([]*polydev.ProviderKey, error) {
	r := c.router
	lim, err := r.Store.TierLimitsFor(ctx, c.User.Tier)
	if err != nil {
		return nil, err
	}
	if !lim.AllowsModel(c.Route.Model) {
		return nil, polydev.Errorf(polydev.EFORBIDDEN, "model %s is not available on the %s tier", c.Route.Model, c.User.Tier)
	}
	var eph policy.Ephemeral
	if r.Ephemeral != nil {
		if eph, err = r.Ephemeral(ctx, c.User, lim); err != nil {
			return nil, err
		}
	}
	cands, platform, err := r.candidates(ctx, c.User, lim, c.Route.Provider, eph)
	if err != nil {
		return nil, err
	}
	c.Ephemeral, c.EphemeralWaived = eph.On && !platform, eph.On && platform
	if err := r.Store.CountUserRequest(ctx, c.User.ID, lim.RequestsPerDay, lim.RequestsPerMinute, r.now()); err != nil {
		return nil, err
	}
	if c.OnAdmit != nil {
		c.OnAdmit()
	}
	return cands, nil
}

// reserveAmount is the most this call can cost: the input estimated generously from the body size
// (two bytes per token; real tokens average about four), and the output at its cap, clamped to what
// the model can produce (an absurd max_tokens reserves the model's limit, never less than a small
// one, and never overflows: pricing.Cost saturates).
func (c *Call) reserveAmount() polydev.Money {
	if c.unbilled {
		return 0
	}
	out := int64(c.Req.MaxTokens)
	if out <= 0 && c.embed == nil {
		out = DefaultReserveOutputTokens
	}
	if limit := c.Route.Price.OutputCap(); limit > 0 {
		out = min(out, limit)
	}
	out = min(out, pricing.MaxTokens)
	in := min(int64(max(c.BodyBytes, 0))/2+16, pricing.MaxTokens)
	return pricing.Cost(c.Route.Price, pricing.Usage{InputTokens: int(in), OutputTokens: int(out)})
}

// DefaultReserveOutputTokens is the output reserved for a request that sets no max_tokens. A longer
// answer can overshoot the key's budget by the difference: the documented bound.
const DefaultReserveOutputTokens = 4096

// try runs attempt against each candidate key in turn: reserve the key's limits, attempt, and on an
// error that allows failover release the reservation and move on. Keys refused by their own limits
// are skipped; if all are, the last refusal is the answer.
func (c *Call) try(ctx context.Context, attempt func(context.Context, *http.Client, provider.Target) error) error {
	cands, err := c.admit(ctx)
	if err != nil {
		return err
	}
	r := c.router
	amount := c.reserveAmount()
	var last error
	for _, k := range cands {
		if c.Route.Unpriced && (k.UserID == "" || k.MonthlyBudget != nil) {
			last = errUnpriced(c.Route, k)
			continue
		}
		now := r.now()
		res := &polydev.Reservation{ID: polydev.NewID(), KeyID: k.ID, UserID: c.User.ID, Amount: amount, CreatedAt: now, ExpiresAt: now.Add(reservationExpiry)}
		if err := r.Store.Reserve(ctx, res, now); err != nil {
			if _, limited := errors.AsType[*polydev.LimitError](err); limited || polydev.ErrorCode(err) == polydev.ENOTFOUND {
				last = err
				continue
			}
			return err
		}
		client, err := r.clientFor(c.User, k)
		if err != nil {
			r.release(res)
			return err
		}
		t, err := r.target(ctx, k)
		if err != nil {
			r.release(res)
			if ctx.Err() != nil {
				return err
			}
			// A key that does not decrypt (a tampered or moved ciphertext, a retired master key) is
			// the operator's fault, not the client's: loud in the log with the key's id (listings
			// flag it as unreadable), and the next key is tried.
			r.Log.Error("provider key could not be decrypted; trying the next key", "provider", c.Route.Provider,
				"key_id", k.ID, "platform_key", k.UserID == "", "err", err)
			last = polydev.Errorf(polydev.EUNAVAILABLE, "a %s key could not be used (it could not be decrypted); the administrator can see it flagged under keys", c.Route.Provider)
			continue
		}
		c.key, c.reservation = k, res
		began := time.Now()
		actx, dest := netguard.TraceDestination(ctx)
		c.dest = dest
		err = c.hidePrivate(attempt(actx, client, t))
		c.upstream += time.Since(began)
		if err == nil {
			c.ttfb = time.Since(c.start)
			return nil
		}
		last = err
		c.key, c.reservation = nil, nil
		r.release(res)
		if !failover(err) {
			return err
		}
		// Only the kind and status: an upstream's message may quote the prompt, and in ephemeral mode
		// no content may reach a log.
		// For a network failure, what broke (refused, reset, TLS, timeout, DNS), never the
		// transport's text: it holds the URL.
		e, _ := llm.AsError(err)
		r.Log.Warn("upstream failed; trying the next key", "provider", c.Route.Provider, "key_id", k.ID, "kind", e.Kind, "status", e.Status,
			"net", llm.NetCause(e.Cause))
	}
	return last
}

func (r *Router) release(res *polydev.Reservation) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Store.Release(ctx, res.ID); err != nil {
		r.Log.Error("reservation release failed; the sweeper will settle it", "reservation", res.ID, "err", err)
	}
}

// Do runs a non-streamed call, failing over between keys. On success the usage record is stored
// before Do returns, so a response the client receives is never missing from accounting.
func (c *Call) Do(ctx context.Context) (*llm.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, MaxCallDuration)
	defer cancel()
	ad := c.router.adapter(c.Route.Provider)
	if err := c.check(ad); err != nil {
		return nil, err
	}
	var resp *llm.Response
	err := c.try(ctx, func(ctx context.Context, client *http.Client, t provider.Target) error {
		var err error
		resp, err = ad.Do(ctx, client, t, c.Req)
		return err
	})
	if err != nil {
		return nil, err
	}
	c.finish(resp.Usage, nil, 200, true)
	return resp, nil
}

// Stream opens a streamed call, failing over between keys until one answers with its headers. The
// usage record of a stream that completes is stored when its final event arrives, before that event
// reaches the client.
func (c *Call) Stream(ctx context.Context) (llm.Stream, error) {
	ctx, cancel := context.WithTimeout(ctx, MaxCallDuration)
	ad := c.router.adapter(c.Route.Provider)
	if err := c.check(ad); err != nil {
		cancel()
		return nil, err
	}
	var s llm.Stream
	err := c.try(ctx, func(ctx context.Context, client *http.Client, t provider.Target) error {
		var err error
		s, err = ad.Stream(ctx, client, t, c.Req)
		return err
	})
	if err != nil {
		cancel()
		return nil, err
	}
	return &callStream{Stream: s, call: c, cancel: cancel}, nil
}

// check refuses, before anything is counted or reserved, a translated request that asks for what
// the upstream cannot honour: fields only the client's own wire format carries, and what the
// adapter says its provider lacks.
func (c *Call) check(ad provider.Provider) error {
	if err := c.Req.Native.Refuse(ad.Name(), provider.WireFormat(ad.Name())); err != nil {
		return err
	}
	if ch, ok := ad.(provider.Checker); ok {
		return ch.Check(c.Req)
	}
	return nil
}

// failover reports whether err allows trying the next key (rate limit, overload, server and network
// errors before any byte reached the client).
func failover(err error) bool {
	e, ok := llm.AsError(err)
	return ok && e.Failover()
}

// callStream counts the time spent waiting in Next as upstream time, and stores the usage record
// when the final event arrives.
type callStream struct {
	llm.Stream
	call     *Call
	cancel   context.CancelFunc
	onWait   func()
	notifies bool // the adapter's stream calls onWait itself before reading upstream
}

func (s *callStream) Next() (llm.Event, error) {
	if s.onWait != nil && !s.notifies {
		s.onWait() // the adapter's stream cannot tell when it waits: any Next may
	}
	began := time.Now()
	ev, err := s.Stream.Next()
	s.call.upstream += time.Since(began)
	if err != nil {
		err = s.call.hidePrivate(err)
	}
	if err == nil && ev.Kind == llm.EventStop {
		if s.onWait != nil {
			s.onWait() // the record is stored before the stop event is returned
		}
		s.call.finish(ev.Usage, nil, 200, true)
	}
	return ev, err
}

// NotifyWait implements llm.WaitNotifier: before upstream reads (when the adapter's stream tells)
// and before the usage record is stored.
func (s *callStream) NotifyWait(f func()) {
	s.onWait = f
	if wn, ok := s.Stream.(llm.WaitNotifier); ok {
		wn.NotifyWait(f)
		s.notifies = true
	}
}

func (s *callStream) Close() error {
	err := s.Stream.Close()
	s.cancel()
	return err
}

// Finish writes the call's usage record unless the call already did (a completed call stores it
// durably as it completes). u is the usage to bill (partial for a cancelled stream); err is what
// ended the call, nil on success.
func (c *Call) Finish(u llm.Usage, err error, httpStatus int) {
	c.finish(u, err, httpStatus, false)
}

func (c *Call) finish(u llm.Usage, err error, httpStatus int, durable bool) {
	if c.finished {
		return
	}
	c.finished = true
	r := c.router
	if c.unbilled {
		// Nothing was generated: no usage record; the request still counted toward the limits.
		if c.reservation != nil {
			r.release(c.reservation)
		}
		return
	}
	u = r.boundUsage(c.Route, u)
	now := r.now().UTC()
	rec := &polydev.UsageRecord{
		ID: polydev.NewTimeID(now), UserID: c.User.ID, Provider: c.Route.Provider, Model: c.Route.Model, Surface: c.Surface,
		Stream: c.Req.Stream, Status: polydev.UsageOK, HTTPStatus: httpStatus,
		InputTokens: int64(u.InputTokens), OutputTokens: int64(u.OutputTokens), CacheReadTokens: int64(u.CacheReadTokens),
		CacheWriteTokens: int64(u.CacheWriteTokens), ReasoningTokens: int64(u.ReasoningTokens), WebSearches: int64(u.WebSearches), Estimated: u.Estimated(),
		DurationMS: time.Since(c.start).Milliseconds(), TTFBMS: c.ttfb.Milliseconds(), OverheadUS: c.Overhead().Microseconds(),
		SessionID: c.SessionID, CreatedAt: now,
	}
	if c.key != nil {
		// Unpriced only when a key served it: a refused request cost nothing, known or not.
		rec.KeyID, rec.PlatformKey, rec.Unpriced = c.key.ID, c.key.UserID == "", c.Route.Unpriced
	}
	if c.reservation != nil {
		rec.ReservationID = c.reservation.ID
	}
	rec.Cost = pricing.Cost(c.Route.Price, pricing.Usage{InputTokens: u.InputTokens, OutputTokens: u.OutputTokens,
		CacheReadTokens: u.CacheReadTokens, CacheWriteTokens: u.CacheWriteTokens, WebSearches: u.WebSearches})
	c.Usage, c.Cost = u, rec.Cost
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
	if durable {
		if werr := r.Usage.RecordWithin(rec, 30*time.Second); werr == nil {
			return
		}
		// The database is slow or down: the record stays queued and is retried; the client is not
		// failed for it.
		r.Log.Error("usage record not yet durable; queued for retry", "record", rec.ID)
		return
	}
	r.Usage.Record(rec)
}
