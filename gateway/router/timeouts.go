package router

import (
	"cmp"
	"context"
	"io"
	"net/http"
	"time"

	"github.com/polydev/polydev/gateway/llm"
)

// Timeouts bound the waits of every upstream exchange (translated and passthrough, streamed or
// not), so that a hanging or stalled upstream cannot hold a client, a connection and a concurrency
// slot for the whole call limit (MaxCallDuration).
type Timeouts struct {
	// FirstByte bounds the wait for the upstream's response headers (POLYDEV_UPSTREAM_FIRST_BYTE_TIMEOUT).
	// A non-streamed answer's headers come when the whole answer is ready, so it must cover the
	// longest non-streamed generation. Exceeded before any byte reached the client, the call fails
	// over to the next key. Zero: DefaultFirstByteTimeout.
	FirstByte time.Duration
	// Idle bounds each wait for more of the answer's body once its headers arrived
	// (POLYDEV_UPSTREAM_IDLE_TIMEOUT): a stream that sends nothing, not even the provider's own
	// keep-alive, for this long is cut, and billed as a broken stream. Zero: DefaultIdleTimeout.
	Idle time.Duration
}

// Default upstream wait bounds.
const (
	DefaultFirstByteTimeout = 5 * time.Minute // a slow model may think a long time before a non-streamed answer
	DefaultIdleTimeout      = 5 * time.Minute // reasoning models may send nothing while they think, mid-stream
)

// withTimeouts returns c with its transport bounded by t. Redirect policy and jar are kept.
func withTimeouts(c *http.Client, t Timeouts) *http.Client {
	if c == nil {
		return nil
	}
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	out := *c
	out.Transport = &boundedTransport{base: base, firstByte: cmp.Or(t.FirstByte, DefaultFirstByteTimeout), idle: cmp.Or(t.Idle, DefaultIdleTimeout)}
	return &out
}

// boundedTransport is an http.RoundTripper that ends a request whose headers do not arrive within
// firstByte, and a body read that waits longer than idle, with an *llm.WaitTimeout. Each request
// gets its own context (a child of the caller's), cancelled when a bound is exceeded and when the
// body is closed.
type boundedTransport struct {
	base            http.RoundTripper
	firstByte, idle time.Duration
}

func (t *boundedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	late := &llm.WaitTimeout{FirstByte: true, After: t.firstByte}
	timer := time.AfterFunc(t.firstByte, func() { cancel(late) })
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if !timer.Stop() {
		// The bound fired: whatever came back is too late (or the error its cancellation caused).
		if err == nil {
			resp.Body.Close()
		}
		cancel(late)
		return nil, late
	}
	if err != nil {
		cancel(nil)
		return nil, err
	}
	b := &idleBody{ReadCloser: resp.Body, cancel: cancel, stall: &llm.WaitTimeout{After: t.idle}, idle: t.idle}
	b.timer = time.AfterFunc(time.Hour, func() { cancel(b.stall) })
	b.timer.Stop() // armed by each Read
	resp.Body = b
	return resp, nil
}

// idleBody bounds each Read by idle. The timer runs only while a Read waits, so a client that is
// slow to take the answer (back-pressure on the relay) never counts as a stalled upstream.
type idleBody struct {
	io.ReadCloser
	cancel context.CancelCauseFunc
	stall  *llm.WaitTimeout
	idle   time.Duration
	timer  *time.Timer
}

func (b *idleBody) Read(p []byte) (int, error) {
	b.timer.Reset(b.idle)
	n, err := b.ReadCloser.Read(p)
	if !b.timer.Stop() {
		return n, b.stall
	}
	return n, err
}

// Ready reports whether the next Read returns without waiting, when the transport's body can tell
// (the passthrough relay flushes before reads that wait).
func (b *idleBody) Ready() bool {
	r, ok := b.ReadCloser.(interface{ Ready() bool })
	return ok && r.Ready()
}

func (b *idleBody) Close() error {
	b.timer.Stop()
	err := b.ReadCloser.Close()
	b.cancel(nil)
	return err
}
