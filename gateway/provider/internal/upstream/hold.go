package upstream

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/sse"
)

// HoldLimit is how many bytes of a passthrough stream HoldUntilContent holds at most while it waits
// for the first content event; past it the stream is handed on as it is (a provider that sends that
// much before any content is not failing).
const HoldLimit = 64 << 10

// holdEventSize bounds one event while holding, as the relay bounds it (passthrough.MaxEventSize):
// an event the relay would take must not fail here.
const holdEventSize = 8 << 20

// Classify tells HoldUntilContent what one upstream event is: content (the answer has begun: stop
// holding), an in-stream error (the answer failed before any content), or neither (held: a start
// event, a ping).
type Classify func(ev sse.Event) (content bool, err error)

// HoldUntilContent reads the start of a passthrough event stream until classify reports its first
// content event, so that a provider failing between its 200 and its first content (Anthropic's
// overloaded_error right after message_start) fails like an error status: nothing has reached the
// client, and the router can try the next key or provider. On content (or after HoldLimit bytes),
// it returns resp with a body that replays every byte read so far, then the rest, unchanged. On an
// error event or a stream that breaks off before content, it closes resp and returns the error
// (InStream, retryable as the provider's error says; a cut stream is a retryable network error).
// Answers that are not event streams are returned untouched.
func HoldUntilContent(ctx context.Context, prov string, resp *http.Response, classify Classify) (*http.Response, error) {
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return resp, nil
	}
	rec := &recorder{r: resp.Body}
	rd := sse.NewReader(rec, holdEventSize)
	for {
		ev, err := rd.Next()
		if errors.Is(err, errHoldFull) {
			break // a long start (pings, comments): handed on as it is
		}
		if err != nil {
			resp.Body.Close()
			if ctx.Err() != nil {
				return nil, llm.Canceled(ctx, prov, true)
			}
			msg := "the provider's stream broke off before any content"
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				msg = "the provider's stream ended before any content"
			}
			return nil, &llm.Error{Provider: prov, Kind: llm.ErrNetwork, Message: msg, Retryable: true, InStream: true, Cause: err}
		}
		content, upErr := classify(ev)
		if upErr != nil {
			resp.Body.Close()
			return nil, upErr
		}
		if content {
			break
		}
	}
	resp.Body = &heldBody{held: rec.buf, ReadCloser: resp.Body}
	return resp, nil
}

// recorder keeps every byte read through it, up to HoldLimit.
type recorder struct {
	r   io.Reader
	buf []byte
}

// errHoldFull ends the hold after HoldLimit bytes.
var errHoldFull = errors.New("upstream: hold limit reached")

func (r *recorder) Read(p []byte) (int, error) {
	if len(r.buf) >= HoldLimit {
		return 0, errHoldFull
	}
	n, err := r.r.Read(p)
	r.buf = append(r.buf, p[:n]...)
	return n, err
}

// heldBody replays the bytes HoldUntilContent read, then reads on from the upstream.
type heldBody struct {
	held []byte
	io.ReadCloser
}

func (b *heldBody) Read(p []byte) (int, error) {
	if len(b.held) > 0 {
		n := copy(p, b.held)
		b.held = b.held[n:]
		return n, nil
	}
	return b.ReadCloser.Read(p)
}

// Ready reports whether the next Read returns without waiting: held bytes are there; otherwise the
// transport's body says, when it can tell.
func (b *heldBody) Ready() bool {
	if len(b.held) > 0 {
		return true
	}
	r, ok := b.ReadCloser.(interface{ Ready() bool })
	return ok && r.Ready()
}
