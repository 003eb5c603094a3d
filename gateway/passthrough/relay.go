package passthrough

import (
	"cmp"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider"
	"github.com/polydev/polydev/gateway/sse"
)

// Limits on what is relayed.
const (
	MaxResponseBody = 32 << 20 // a non-streamed answer is read whole before it is relayed
	MaxEventSize    = 8 << 20  // one SSE event
)

// Options say how Relay writes one answer in the client's (and upstream's) format.
type Options struct {
	// Provider names the upstream in errors.
	Provider string
	// Heartbeat, when > 0, sends HeartbeatFrame (an SSE comment when nil) whenever a stream is
	// idle that long. The frame must be something clients of the format ignore: Anthropic's
	// ping event, a comment.
	Heartbeat      time.Duration
	HeartbeatFrame []byte
	// ErrorFrame renders an error as one event of the format, sent when the upstream breaks off
	// mid-stream (nil: the stream just ends, and the client sees it cut).
	ErrorFrame func(error) []byte
	// WriteError answers with an error when nothing was written yet (a non-streamed body that
	// could not be read).
	WriteError func(http.ResponseWriter, error)
	// Complete is called once, when the meter says the answer is complete and before the bytes
	// that completed it are written: it makes the usage record durable.
	Complete func(llm.Usage)
	// CompleteWaits says Complete may wait (a database transaction, not an append to the usage
	// journal): a stream then sends what is ready before calling it, so that the client does not
	// wait on the record for bytes it could have had. Otherwise those bytes go out with the last
	// ones, in one write.
	CompleteWaits bool
	// ForwardHeaders are the upstream response headers passed to the client (e.g. Anthropic's
	// request-id). Never credentials or cookies: the caller's list is the whole list.
	ForwardHeaders []string
}

// Relay copies resp, an open 2xx upstream answer, to w unchanged while m (nil for an unbilled
// answer) reads its usage: an event stream event by event (each event's bytes as they came,
// flushed whenever the upstream is about to be waited for), anything else as one body read whole
// (so that its usage is durable before the client holds it). It returns the usage to bill,
// partial when the answer did not complete, and the error that ended it (nil when it completed;
// the upstream's in-stream error event, relayed to the client as it came; a cancellation when
// the client went away). The caller closes resp.Body.
func Relay(ctx context.Context, w http.ResponseWriter, resp *http.Response, m provider.Meter, o Options) (llm.Usage, error) {
	h := w.Header()
	for _, k := range o.ForwardHeaders {
		if v := resp.Header.Values(k); len(v) > 0 {
			h[http.CanonicalHeaderKey(k)] = v
		}
	}
	ct := resp.Header.Get("Content-Type")
	if m != nil && strings.HasPrefix(ct, "text/event-stream") {
		return relayStream(ctx, w, resp, m, o)
	}
	return relayBody(ctx, w, resp, m, o)
}

func usageOf(m provider.Meter) llm.Usage {
	if m == nil {
		return llm.Usage{}
	}
	return m.Usage()
}

func relayBody(ctx context.Context, w http.ResponseWriter, resp *http.Response, m provider.Meter, o Options) (llm.Usage, error) {
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBody+1))
	if err == nil && len(body) > MaxResponseBody {
		err = &llm.Error{Provider: o.Provider, Kind: llm.ErrMalformed, Message: "the provider's response is too large"}
	} else if err != nil {
		err = readError(ctx, o.Provider, err, false)
	}
	if err != nil {
		if o.WriteError != nil {
			o.WriteError(w, err)
		}
		return usageOf(m), err
	}
	if m != nil {
		_ = m.Body(body) // a body that is not the documented format is relayed all the same, billed by estimate
		if o.Complete != nil {
			o.Complete(m.Usage())
		}
	}
	h := w.Header()
	h.Set("Content-Type", cmp.Or(resp.Header.Get("Content-Type"), "application/json"))
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(resp.StatusCode)
	if _, err := w.Write(body); err != nil {
		return usageOf(m), llm.Canceled(ctx, o.Provider, false)
	}
	return usageOf(m), nil
}

func relayStream(ctx context.Context, w http.ResponseWriter, resp *http.Response, m provider.Meter, o Options) (llm.Usage, error) {
	h := w.Header()
	h.Set("Content-Type", resp.Header.Get("Content-Type"))
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx-style proxies must not hold events back
	h.Del("Content-Length")
	w.WriteHeader(resp.StatusCode)
	sw := sse.NewWriter(w)
	sw.Hold()
	defer sw.Stop()
	if o.Heartbeat > 0 {
		if o.HeartbeatFrame != nil {
			sw.SetHeartbeatFrame(o.HeartbeatFrame)
		}
		sw.Heartbeat(o.Heartbeat)
	}
	flush := func() { _ = sw.Flush() }
	rd := sse.NewReader(waitReader{body: resp.Body, onWait: flush}, MaxEventSize)
	rd.KeepRaw()
	for {
		ev, err := rd.Next()
		if err != nil {
			if m.Complete() {
				// The answer is whole; a read error after it does not matter.
				if err == io.EOF && len(rd.Trailing()) > 0 {
					_ = sw.Send(rd.Trailing())
				}
				return m.Usage(), nil
			}
			err = readError(ctx, o.Provider, err, true)
			if o.ErrorFrame != nil && ctx.Err() == nil {
				_ = sw.Send(o.ErrorFrame(err))
			}
			return m.Usage(), err
		}
		was := m.Complete()
		relay, upErr := m.Event(ev)
		if !was && m.Complete() && o.Complete != nil {
			if o.CompleteWaits {
				flush() // what is ready goes out while the record is written
			}
			o.Complete(m.Usage())
		}
		if relay {
			if err := sw.Send(ev.Raw); err != nil {
				return m.Usage(), llm.Canceled(ctx, o.Provider, true)
			}
		}
		if upErr != nil {
			return m.Usage(), upErr
		}
	}
}

// readError classifies a failure to read the upstream's answer.
func readError(ctx context.Context, prov string, err error, inStream bool) error {
	if ctx.Err() != nil {
		return llm.Canceled(ctx, prov, inStream)
	}
	e := &llm.Error{Provider: prov, Kind: llm.ErrNetwork, Message: "the provider's stream broke off", Retryable: false, InStream: inStream, Cause: err}
	wt, stalled := errors.AsType[*llm.WaitTimeout](err)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		e.Message = "the provider's stream ended before the response was complete"
	case errors.Is(err, sse.ErrEventTooLarge):
		e.Kind, e.Message = llm.ErrMalformed, "the provider sent an event that is too large"
	case stalled:
		e.Kind, e.Message = llm.ErrTimeout, wt.Error()
	case !inStream:
		e.Message = "the provider's response broke off"
	}
	return e
}

// waitReader calls onWait before a read that may wait for the network (see upstream.Stream's
// NotifyWait: a body that can tell says when its bytes are already there).
type waitReader struct {
	body   io.Reader
	onWait func()
}

type readier interface{ Ready() bool }

func (r waitReader) Read(p []byte) (int, error) {
	if rd, ok := r.body.(readier); !ok || !rd.Ready() {
		r.onWait()
	}
	return r.body.Read(p)
}
