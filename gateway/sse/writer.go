package sse

import (
	"bytes"
	"io"
	"net/http"
	"sync"
	"time"
)

// Writer sends events and flushes after each one, so nothing waits in a buffer between the gateway
// and the client; after Hold, it flushes when told to (Flush) instead, which a relay does whenever
// it is about to wait (see llm.WaitNotifier). Methods are safe for concurrent use only with each
// other (a heartbeat may fire while an event is written); the underlying writer is used from one
// goroutine at a time.
type Writer struct {
	mu      sync.Mutex
	w       io.Writer
	flush   func() error
	scratch []byte
	last    time.Time // time of the last write, for heartbeats
	stopped bool      // no writes after StopHeartbeat's caller is done with w
	beat    *time.Timer
	every   time.Duration
	hold    bool   // Send leaves its bytes in w's buffer until Flush
	dirty   bool   // written since the last flush
	ping    []byte // the heartbeat frame; nil = the comment ": ping"
}

// NewWriter returns a Writer over w. An http.ResponseWriter is flushed through
// http.ResponseController (which sees through middleware wrappers that implement Unwrap); any other
// writer with a Flush() error or Flush() method is flushed with it; otherwise flushing is a no-op.
func NewWriter(w io.Writer) *Writer {
	sw := &Writer{w: w, flush: func() error { return nil }}
	switch f := w.(type) {
	case http.ResponseWriter:
		rc := http.NewResponseController(f)
		sw.flush = rc.Flush
	case interface{ Flush() error }:
		sw.flush = f.Flush
	case interface{ Flush() }:
		sw.flush = func() error { f.Flush(); return nil }
	}
	return sw
}

// Send writes one or more complete, already framed events (each ending in a blank line) in a single
// write, then flushes. It is the hot-path method: callers build frames in their own reused buffers.
func (w *Writer) Send(frame []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sendLocked(frame)
}

func (w *Writer) sendLocked(frame []byte) error {
	if w.stopped {
		return io.ErrClosedPipe
	}
	if _, err := w.w.Write(frame); err != nil {
		return err
	}
	if w.every > 0 {
		w.last = time.Now()
	}
	if w.hold {
		w.dirty = true
		return nil
	}
	return w.flush()
}

// Hold makes Send, Event and Comment leave what they write in the underlying writer's buffer
// (which still writes through when full) until Flush. Heartbeats are flushed at once.
func (w *Writer) Hold() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.hold = true
}

// Flush sends what Hold kept back, if anything.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked()
}

func (w *Writer) flushLocked() error {
	if !w.dirty || w.stopped {
		return nil
	}
	w.dirty = false
	return w.flush()
}

// Event frames and sends one event. name may be empty (an unnamed event); data may contain newlines,
// which become several data lines, so any bytes round-trip through a conforming reader.
func (w *Writer) Event(name string, data []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := AppendEvent(w.scratch[:0], name, data)
	w.scratch = b
	return w.sendLocked(b)
}

// Comment sends a comment line (ignored by readers), the usual heartbeat.
func (w *Writer) Comment(text string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := append(w.scratch[:0], ':')
	if text != "" {
		b = append(b, ' ')
		b = append(b, text...)
	}
	b = append(b, "\n\n"...)
	w.scratch = b
	return w.sendLocked(b)
}

// AppendEvent appends the framing of one event to dst. Newlines in name are dropped; CR, LF and
// CRLF in data split it into data lines.
func AppendEvent(dst []byte, name string, data []byte) []byte {
	if name != "" {
		dst = append(dst, "event: "...)
		for i := 0; i < len(name); i++ {
			if c := name[i]; c != '\n' && c != '\r' {
				dst = append(dst, c)
			}
		}
		dst = append(dst, '\n')
	}
	for {
		dst = append(dst, "data: "...)
		i := bytes.IndexAny(data, "\r\n")
		if i < 0 {
			dst = append(dst, data...)
			break
		}
		dst = append(dst, data[:i]...)
		dst = append(dst, '\n')
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	return append(dst, "\n\n"...)
}

// SetHeartbeatFrame makes the heartbeat send frame (one complete event, or a comment) instead of
// the comment ": ping": a stream whose clients expect the provider's own keep-alive event
// (Anthropic's ping) gets that. Call it before Heartbeat.
func (w *Writer) SetHeartbeatFrame(frame []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ping = frame
}

// Heartbeat sends a comment (": ping", or the SetHeartbeatFrame frame) whenever nothing was written for every, until Stop. It uses
// one timer, not a goroutine per event. Call Stop before the handler returns: after Stop returns,
// the Writer never touches the underlying writer again.
func (w *Writer) Heartbeat(every time.Duration) {
	if every <= 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.beat != nil || w.stopped {
		return
	}
	w.every, w.last = every, time.Now()
	w.beat = time.AfterFunc(every, w.tick)
}

func (w *Writer) tick() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	idle := time.Since(w.last)
	if idle >= w.every {
		frame := w.ping
		if frame == nil {
			frame = []byte(": ping\n\n")
		}
		if err := w.sendLocked(frame); err != nil || w.flushLocked() != nil {
			return // the client is gone; the stream's own write will notice
		}
		idle = 0
	}
	w.beat.Reset(w.every - idle)
}

// Stop ends the heartbeat and any later writes: Send, Event and Comment then return
// io.ErrClosedPipe. It is idempotent.
func (w *Writer) Stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	if w.beat != nil {
		w.beat.Stop()
	}
}
