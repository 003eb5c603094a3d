package main

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// logOutput buffers log lines for at most logFlushDelay (or logBufferMax bytes) so that the access
// log does not cost a write(2) per request; a line at warning level or above is written at once,
// with everything before it. Flush at shutdown writes the rest. A crash of the process loses at
// most the last logFlushDelay of info lines.
type logOutput struct {
	w io.Writer

	mu        sync.Mutex
	buf       []byte
	scheduled bool
}

const (
	logFlushDelay = 50 * time.Millisecond
	logBufferMax  = 32 << 10
)

func newLogOutput(w io.Writer) *logOutput { return &logOutput{w: w} }

// Write implements io.Writer; slog's handlers write one whole line per call.
func (o *logOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf = append(o.buf, p...)
	if len(o.buf) >= logBufferMax {
		return len(p), o.flushLocked()
	}
	if !o.scheduled {
		o.scheduled = true
		time.AfterFunc(logFlushDelay, func() { _ = o.Flush() })
	}
	return len(p), nil
}

// Flush writes what is buffered.
func (o *logOutput) Flush() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.flushLocked()
}

func (o *logOutput) flushLocked() error {
	o.scheduled = false
	if len(o.buf) == 0 {
		return nil
	}
	_, err := o.w.Write(o.buf)
	if cap(o.buf) > 4*logBufferMax {
		o.buf = nil // a burst of long lines does not pin its memory
	} else {
		o.buf = o.buf[:0]
	}
	return err
}

// urgentHandler flushes the output after every record at warning level or above.
type urgentHandler struct {
	slog.Handler
	out *logOutput
}

func (h urgentHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		if ferr := h.out.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (h urgentHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return urgentHandler{h.Handler.WithAttrs(attrs), h.out}
}

func (h urgentHandler) WithGroup(name string) slog.Handler {
	return urgentHandler{h.Handler.WithGroup(name), h.out}
}
