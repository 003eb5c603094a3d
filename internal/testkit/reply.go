package testkit

import (
	"cmp"
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"time"
)

// reply is a script rendered for one provider: every byte the fake will
// write is prepared once, so serving a request only copies headers and
// writes slices.
type reply struct {
	// status, header and body answer a non-streaming request, and any
	// request when streams is nil (an HTTP error).
	status    int
	header    http.Header
	body      []byte
	abortBody bool // drop the connection after body (Malformed.Abort)
	deltas    int  // content deltas the non-streaming body stands for

	streamHeader [2]http.Header // per stream variant
	// streams holds the provider's stream variants: OpenAI without and with
	// stream_options.include_usage; Gemini with alt=sse and as a JSON array.
	streams [2][]frame

	firstByte, tokenDelay time.Duration   // script overrides; zero defers to the options
	holdLast              <-chan struct{} // Script.HoldLast
	stallAfter            int             // Script.StallAfterDeltas

	// count answers Gemini's countTokens (nil for an error script, which
	// answers with its error instead).
	count []byte

	// responses is the same script rendered for OpenAI's Responses API (nil for errors, which
	// look the same on both endpoints).
	responses *reply
}

// frame is one write to a streaming response.
type frame struct {
	data  []byte
	delta bool // carries generated content: the token delay precedes it and it counts as sent
	abort bool // drop the connection after writing it
}

// streamBuilder assembles frames and splices in a scripted interruption
// (an error event or malformed bytes) after a given number of deltas.
type streamBuilder struct {
	frames []frame
	deltas int
	cutAt  int // -1: no interruption
	cut    bool
	// cutBy renders the interruption; framesBefore lets a format that
	// needs separators (Gemini's JSON array) know whether one is due.
	cutBy func(framesBefore int) frame
}

// newStreamBuilder prepares a builder for s. streamErr and malformed render
// the provider's in-stream error and its default broken bytes.
func newStreamBuilder(s Script, streamErr func(e StreamError, framesBefore int) []byte, malformed func(framesBefore int) []byte) *streamBuilder {
	b := &streamBuilder{cutAt: -1}
	switch {
	case s.StreamError != nil:
		b.cutAt = max(0, s.StreamError.AfterDeltas)
		b.cutBy = func(n int) frame { return frame{data: streamErr(*s.StreamError, n)} }
	case s.Malformed != nil:
		m := s.Malformed
		b.cutAt = max(0, m.AfterDeltas)
		b.cutBy = func(n int) frame {
			if len(m.Bytes) > 0 {
				return frame{data: m.Bytes, abort: m.Abort}
			}
			return frame{data: malformed(n), abort: m.Abort}
		}
	}
	return b
}

// add appends a frame unless the stream was already interrupted; a delta
// that would exceed the interruption point is replaced by the interruption.
func (b *streamBuilder) add(data []byte, delta bool) {
	if b.cut {
		return
	}
	if delta && b.cutAt >= 0 && b.deltas == b.cutAt {
		b.interrupt()
		return
	}
	b.frames = append(b.frames, frame{data: data, delta: delta})
	if delta {
		b.deltas++
	}
}

// endContent marks the end of generated content: an interruption scheduled
// past the last delta happens here, before the provider's closing events.
func (b *streamBuilder) endContent() {
	if !b.cut && b.cutAt >= 0 {
		b.interrupt()
	}
}

func (b *streamBuilder) interrupt() {
	b.frames = append(b.frames, b.cutBy(len(b.frames)))
	b.cut = true
}

// truncated returns the first half of a body, for Malformed on a
// non-streaming request.
func truncated(m *Malformed, body []byte) []byte {
	if len(m.Bytes) > 0 {
		return m.Bytes
	}
	return body[:len(body)/2]
}

// errServerClosed ends a handler whose upstream is shutting down.
var errServerClosed = errors.New("testkit: upstream closed")

// serve writes rep to w, honouring the delays, and reports a client that
// goes away before the end through the disconnect hook.
func (u *Upstream) serve(w http.ResponseWriter, r *http.Request, rq *inbound, rep *reply, stream bool, variant int) {
	firstByte := cmp.Or(rep.firstByte, u.cfg.firstByte)
	if u.cfg.jitter > 0 {
		firstByte += rand.N(u.cfg.jitter)
	}
	tokenDelay := cmp.Or(rep.tokenDelay, u.cfg.tokenDelay)
	ctx := r.Context()
	var timer *time.Timer
	wait := func(d time.Duration) error {
		if d <= 0 {
			return ctx.Err()
		}
		if timer == nil {
			timer = time.NewTimer(d)
		} else {
			timer.Reset(d)
		}
		select {
		case <-timer.C:
			return nil
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-u.done:
			timer.Stop()
			return errServerClosed
		}
	}

	if rep.streams[0] == nil || !stream {
		if err := wait(firstByte + tokenDelay*time.Duration(rep.deltas)); err != nil {
			u.disconnected(rq, stream, 0, err)
			return
		}
		copyHeader(w.Header(), rep.header)
		w.WriteHeader(rep.status)
		_, _ = w.Write(rep.body)
		if rep.abortBody {
			_ = http.NewResponseController(w).Flush() // let the partial body out before the cut
			panic(http.ErrAbortHandler)
		}
		return
	}

	if err := wait(firstByte); err != nil {
		u.disconnected(rq, stream, 0, err)
		return
	}
	copyHeader(w.Header(), rep.streamHeader[variant])
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if err := rc.Flush(); err != nil {
		u.disconnected(rq, stream, 0, err)
		return
	}
	sent, last := 0, -1
	for i, f := range rep.streams[variant] {
		if f.delta {
			last = i
		}
	}
	for i, f := range rep.streams[variant] {
		if i == last && rep.holdLast != nil {
			u.holding.Add(1)
			err := hold(ctx, u.done, rep.holdLast)
			u.holding.Add(-1)
			if err != nil {
				u.disconnected(rq, stream, sent, err)
				return
			}
		}
		if f.delta && rep.stallAfter > 0 && sent == rep.stallAfter {
			select { // stalled: nothing more until the client goes away
			case <-ctx.Done():
				u.disconnected(rq, stream, sent, ctx.Err())
			case <-u.done:
			}
			return
		}
		if f.delta {
			if err := wait(tokenDelay); err != nil {
				u.disconnected(rq, stream, sent, err)
				return
			}
		}
		if _, err := w.Write(f.data); err != nil {
			u.disconnected(rq, stream, sent, err)
			return
		}
		if err := rc.Flush(); err != nil {
			u.disconnected(rq, stream, sent, err)
			return
		}
		if f.delta {
			sent++
		}
		if f.abort {
			panic(http.ErrAbortHandler)
		}
	}
}

// hold waits until release is closed, the client goes away or the upstream closes.
func hold(ctx context.Context, done <-chan struct{}, release <-chan struct{}) error {
	select {
	case <-release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-done:
		return errServerClosed
	}
}

// disconnected reports a response cut short by the client (not by Close).
func (u *Upstream) disconnected(rq *inbound, stream bool, sent int, err error) {
	if u.cfg.onDisconnect == nil || errors.Is(err, errServerClosed) || u.closed() {
		return
	}
	if ctxErr := context.Cause(rq.ctx); ctxErr != nil {
		err = ctxErr
	}
	u.cfg.onDisconnect(Disconnect{Seq: rq.seq, Path: rq.path, Stream: stream, DeltasSent: sent, Err: err})
}

func copyHeader(dst, src http.Header) {
	for k, v := range src {
		dst[k] = v // shared, never mutated: net/http only reads response headers
	}
}
