// Package sse reads and writes server-sent events (text/event-stream, as the WHATWG HTML standard
// defines them) for the gateway: the reader parses provider streams, the writer sends events to
// clients and flushes each one. It owns framing only; it knows nothing of JSON or of any provider,
// and it must not buffer an event once its terminating blank line has arrived.
//
// The reader is built for the streaming hot path: it reuses one growing line buffer and one data
// buffer per stream, returns data as a slice valid until the next call, interns event names, and
// allocates nothing per event in the common case. Memory is bounded by a maximum event size; a
// longer line or event is an error (ErrEventTooLarge), never an unbounded allocation.
package sse

import (
	"bytes"
	"errors"
	"io"
	"time"
)

// DefaultMaxEventSize bounds a line and an event's joined data when NewReader is given no limit.
const DefaultMaxEventSize = 1 << 20

// ErrEventTooLarge is returned when a line, or the data of one event, exceeds the reader's limit.
// The reader is unusable afterwards: the stream cannot be resynchronised safely.
var ErrEventTooLarge = errors.New("sse: event exceeds the size limit")

// Event is one dispatched server-sent event.
type Event struct {
	// Type is the event field ("" when the event set none; the standard then calls it "message").
	Type string
	// Data is the event's data lines joined with "\n". It is only valid until the next call to
	// Next: copy it to keep it.
	Data []byte
	// ID is the last event ID: per the standard it persists across events until an id line
	// changes it.
	ID string
	// Retry is the reconnection time a retry line in this event's block set, or 0.
	Retry time.Duration
	// Raw is, after KeepRaw, the bytes the event was read from: every line since the previous
	// event (comments and blocks without data included) through the blank line that dispatched
	// it, terminators as they came. Relaying each event's Raw in turn reproduces the stream byte
	// for byte (a leading byte order mark and bytes after the last event aside). Valid until the
	// next call, like Data.
	Raw []byte
}

// Reader parses a text/event-stream. It is not safe for concurrent use.
type Reader struct {
	rd      io.Reader
	buf     []byte // bytes read but not yet consumed are buf[r:w]
	r, w    int
	max     int
	readErr error // sticky error of rd, returned once buffered bytes are used up
	err     error // sticky error of the reader itself

	data    []byte
	typ     string
	id      string
	retry   time.Duration
	hasData bool // a data line was seen since the last dispatch
	pending bool // any line was seen since the last dispatch
	skipLF  bool // the previous line ended in CR: a following LF belongs to it
	bomDone bool

	types [8]string // interned event names
	nextT int

	keepRaw bool
	raw     []byte
}

const initialBuffer = 4 << 10

// NewReader returns a Reader over rd. maxEventSize bounds a line and an event's data; zero or less
// means DefaultMaxEventSize.
func NewReader(rd io.Reader, maxEventSize int) *Reader {
	if maxEventSize <= 0 {
		maxEventSize = DefaultMaxEventSize
	}
	return &Reader{rd: rd, max: maxEventSize, buf: make([]byte, min(initialBuffer, maxEventSize+2))}
}

// KeepRaw makes Next fill Event.Raw, for relays that pass a stream on unchanged while reading it.
// It must be called before the first Next.
func (r *Reader) KeepRaw() { r.keepRaw = true }

// Trailing returns, after KeepRaw and once Next returned an error, the raw bytes read since the
// last event (a final comment, or the LF of a CRLF that ended it), so that a relay can pass on
// the stream's end too. Valid until the next call.
func (r *Reader) Trailing() []byte { return r.raw }

// Next returns the next event. At the end of the stream it returns io.EOF, or io.ErrUnexpectedEOF
// when the stream ended inside an event (which, per the standard, is discarded). Errors from the
// underlying reader (for example a cancelled request's context error) are returned as they are.
func (r *Reader) Next() (Event, error) {
	if r.err != nil {
		return Event{}, r.err
	}
	r.data = r.data[:0]
	r.raw = r.raw[:0]
	for {
		line, err := r.readLine()
		if err != nil {
			if err == io.EOF && r.pending {
				err = io.ErrUnexpectedEOF
			}
			r.err = err
			return Event{}, err
		}
		if len(line) == 0 {
			if r.hasData {
				ev := Event{Type: r.typ, Data: r.data, ID: r.id, Retry: r.retry}
				if r.keepRaw {
					ev.Raw = r.raw
				}
				r.typ, r.retry, r.hasData, r.pending = "", 0, false, false
				return ev, nil
			}
			// A block without data is not dispatched; its event name is forgotten.
			r.typ, r.retry, r.pending = "", 0, false
			continue
		}
		r.pending = true
		if line[0] == ':' {
			continue // comment (heartbeats)
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "data":
			if len(r.data)+len(value)+1 > r.max {
				r.err = ErrEventTooLarge
				return Event{}, r.err
			}
			if r.hasData {
				r.data = append(r.data, '\n')
			}
			r.data = append(r.data, value...)
			r.hasData = true
		case "event":
			r.typ = r.intern(value)
		case "id":
			if bytes.IndexByte(value, 0) < 0 && string(value) != r.id {
				r.id = string(value)
			}
		case "retry":
			if ms, ok := digits(value); ok {
				r.retry = time.Duration(ms) * time.Millisecond
			}
		}
	}
}

// digits parses a retry value: ASCII digits only, as the standard requires.
func digits(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 12 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// intern returns a string equal to b, reusing one of the last few event names so that a stream of
// repeated names ("content_block_delta") allocates nothing.
func (r *Reader) intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	for _, s := range r.types {
		if s == string(b) {
			return s
		}
	}
	s := string(b)
	r.types[r.nextT] = s
	r.nextT = (r.nextT + 1) % len(r.types)
	return s
}

// readLine returns the next line without its terminator (LF, CRLF or CR). The slice aliases the
// buffer and is valid until the next call. A final line without terminator is returned with
// r.pending semantics left to the caller: it is reported as part of an unterminated event.
func (r *Reader) readLine() ([]byte, error) {
	for {
		if !r.bomDone && (r.w-r.r >= 3 || r.readErr != nil) {
			r.bomDone = true
			if bytes.HasPrefix(r.buf[r.r:r.w], []byte("\xEF\xBB\xBF")) {
				r.r += 3
			}
		}
		if r.bomDone {
			if r.skipLF && r.r < r.w {
				if r.buf[r.r] == '\n' {
					r.r++
					if r.keepRaw {
						r.raw = append(r.raw, '\n')
					}
				}
				r.skipLF = false
			}
			if b := r.buf[r.r:r.w]; len(b) > 0 {
				end := len(b)
				if i := bytes.IndexByte(b, '\n'); i >= 0 {
					end = i
				}
				if i := bytes.IndexByte(b[:end], '\r'); i >= 0 {
					end = i
				}
				if end < len(b) {
					line := b[:end]
					n := end + 1
					if b[end] == '\r' {
						if end+1 < len(b) {
							// CRLF in one buffer: take both now, so that an event's raw bytes end
							// with its whole terminator.
							if b[end+1] == '\n' {
								n++
							}
						} else {
							r.skipLF = true
						}
					}
					if r.keepRaw {
						if len(r.raw)+n > 2*r.max {
							return nil, ErrEventTooLarge
						}
						r.raw = append(r.raw, b[:n]...)
					}
					r.r += n
					return line, nil
				}
			}
			if r.readErr != nil {
				if r.r < r.w {
					// The stream ended inside a line: that event can never complete.
					r.r = r.w
					r.pending = true
				}
				return nil, r.readErr
			}
		}
		if err := r.fill(); err != nil {
			return nil, err
		}
	}
}

// fill reads more bytes, compacting and growing the buffer up to the limit.
func (r *Reader) fill() error {
	if r.r > 0 {
		r.w = copy(r.buf, r.buf[r.r:r.w])
		r.r = 0
	}
	if r.w == len(r.buf) {
		limit := r.max + 2 // a maximal line plus its CRLF
		if len(r.buf) >= limit {
			return ErrEventTooLarge
		}
		nb := make([]byte, min(2*len(r.buf), limit))
		copy(nb, r.buf[:r.w])
		r.buf = nb
	}
	for range 100 {
		n, err := r.rd.Read(r.buf[r.w:])
		r.w += n
		if err != nil {
			r.readErr = err
			return nil
		}
		if n > 0 {
			return nil
		}
	}
	r.readErr = io.ErrNoProgress
	return nil
}
