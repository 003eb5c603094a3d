package router

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider"
)

// Passthrough reports whether requests for p can be forwarded in p's own wire format.
func (r *Router) Passthrough(p polydev.Provider) bool {
	_, ok := r.adapter(p).(provider.Passthrough)
	return ok
}

// RawAnswer is an upstream's open 2xx answer to a passthrough call. Relay it (package
// gateway/passthrough) with Complete as the completion hook, then Close it and Finish the call.
type RawAnswer struct {
	Response *http.Response
	// Meter reads the answer's usage; nil for an unbilled operation (token counting).
	Meter  provider.Meter
	call   *Call
	cancel context.CancelFunc
}

// Raw opens a passthrough call: r goes to the route's provider as it is (r.Model is set to the
// route's upstream id; a body that carries the model must carry that one already), with the same
// admission, key choice, reservation and failover as Do and Stream. The reservation covers the
// request's MaxTokens (set it from the body's own cap) and the body's size; an operation without
// a meter reserves and bills nothing, but still counts toward request limits and holds a
// concurrency slot while it runs.
func (c *Call) Raw(ctx context.Context, r *provider.RawRequest) (*RawAnswer, error) {
	ad, ok := c.router.adapter(c.Route.Provider).(provider.Passthrough)
	if !ok {
		return nil, polydev.Errorf(polydev.EINVALID, "%s requests cannot be forwarded as written", c.Route.Provider)
	}
	r.Model = c.Route.Upstream
	c.Req.Stream = r.Stream
	m := ad.Meter(r)
	c.unbilled = m == nil
	ctx, cancel := context.WithTimeout(ctx, MaxCallDuration)
	var resp *http.Response
	err := c.try(ctx, func(ctx context.Context, client *http.Client, t provider.Target) error {
		var err error
		resp, err = ad.SendRaw(ctx, client, t, r)
		return err
	})
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &timedBody{ReadCloser: resp.Body, call: c}
	return &RawAnswer{Response: resp, Meter: m, call: c, cancel: cancel}, nil
}

// Admit applies the call's admission (tier, allowed models, ephemeral mode, a key available,
// the tier's request limits) without calling the provider: for answers the gateway gives itself,
// such as a token count estimated locally. Nothing is reserved and nothing recorded.
func (c *Call) Admit(ctx context.Context) error {
	c.finished = true // no usage record: nothing was generated
	_, err := c.admit(ctx)
	return err
}

// Complete stores the usage record durably: the relay calls it when the meter says the answer
// is complete, before the bytes that completed it reach the client.
func (a *RawAnswer) Complete(u llm.Usage) { a.call.finish(u, nil, http.StatusOK, true) }

// CompleteWaits reports whether Complete may wait for the database: the router's recorder has no
// usage journal, so the record is a transaction (see accounting.Recorder.RecordWithin).
func (a *RawAnswer) CompleteWaits() bool {
	return a.call.router.Usage == nil || a.call.router.Usage.Journal == nil
}

// Close closes the upstream body (aborting it if unread) and ends the call's context.
func (a *RawAnswer) Close() error {
	err := a.Response.Body.Close()
	a.cancel()
	return err
}

// timedBody counts the time spent reading the upstream's answer as upstream time (the overhead
// figure is wall time minus it), and keeps the transport's Ready for the relay's flushing.
type timedBody struct {
	io.ReadCloser
	call *Call
}

func (b *timedBody) Read(p []byte) (int, error) {
	began := time.Now()
	n, err := b.ReadCloser.Read(p)
	b.call.upstream += time.Since(began)
	return n, err
}

// Ready reports whether the next Read returns without waiting, when the transport's body can tell.
func (b *timedBody) Ready() bool {
	r, ok := b.ReadCloser.(interface{ Ready() bool })
	return ok && r.Ready()
}
