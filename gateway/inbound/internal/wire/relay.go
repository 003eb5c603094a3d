package wire

import (
	"io"
	"time"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/sse"
)

// StreamRenderer is an inbound shape's stream writer (OpenAI chunks, Anthropic events) as Relay
// drives it.
type StreamRenderer interface {
	Heartbeat(every time.Duration) error // commits the 200 and starts the heartbeat
	Stop()                               // ends the heartbeat; nothing is written afterwards
	Write(llm.Event) error
	Error(error) error
	Stopped() bool    // the stop frame was written: the response is complete
	SSE() *sse.Writer // the writer under it
}

// Relay copies s to the client through r until s ends, fails (rendered with r.Error) or the client
// goes away, with a heartbeat whenever the stream is idle for every (0 = none). It returns the
// usage to bill (partial when the stream did not finish) and the error that ended the stream, nil
// when it completed.
//
// The writer is held (see hold) before the heartbeat commits the 200, so the headers leave with the
// first events, or before the first read that may wait, rather than in a write of their own.
func Relay(r StreamRenderer, s llm.Stream, every time.Duration) (llm.Usage, error) {
	release := hold(r.SSE(), s)
	if every > 0 {
		if err := r.Heartbeat(every); err != nil {
			release()
			return s.Usage(), err
		}
		defer r.Stop()
	}
	defer release() // before Stop
	for {
		ev, err := s.Next()
		if err == io.EOF || err != nil && r.Stopped() {
			// After the stop frame the response is complete, whatever happens while the
			// upstream's last bytes are read.
			return s.Usage(), nil
		}
		if err != nil {
			_ = r.Error(err)
			return s.Usage(), err
		}
		if err := r.Write(ev); err != nil {
			return s.Usage(), err
		}
	}
}

// hold makes w flush only when s is about to wait (when s can tell: llm.WaitNotifier), so that
// events parsed from one upstream read reach the client in one write. The returned function
// forgets s; what is left in the buffer goes out with the response's end when the handler returns
// (one write with the chunked terminator), so a caller with more to do first flushes.
func hold(w *sse.Writer, s llm.Stream) func() {
	wn, ok := s.(llm.WaitNotifier)
	if !ok {
		return func() {}
	}
	w.Hold()
	wn.NotifyWait(func() { _ = w.Flush() })
	return func() { wn.NotifyWait(nil) }
}
