package main

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// accessMessage is the message of the access log's line, one per request (web's observe).
const accessMessage = "http"

// textAccessHandler writes the access log's line itself, byte for byte as slog's TextHandler
// writes it, into the log output: the handler's general path (a pooled state, a key and a quoting
// check per attribute, its own lock) cost a tenth of Polydev's own CPU per request. Every other
// record, a line with a value this writer does not format exactly as the TextHandler does (an
// attribute of another kind, a string that is not plain ASCII), and any record below the top
// level (WithAttrs, WithGroup) go to the TextHandler. TestTextAccessHandlerMatchesSlog holds the
// two to the same bytes.
type textAccessHandler struct {
	slog.Handler // a TextHandler writing to out, without options but the level
	out          *logOutput
}

var accessLines = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func (h textAccessHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message != accessMessage {
		return h.Handler.Handle(ctx, r)
	}
	bp := accessLines.Get().(*[]byte)
	b, ok := appendAccessLine((*bp)[:0], r)
	var err error
	if ok {
		_, err = h.out.Write(b)
	} else {
		err = h.Handler.Handle(ctx, r)
	}
	*bp = b[:0]
	accessLines.Put(bp)
	return err
}

func (h textAccessHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return h.Handler.WithAttrs(attrs)
}

func (h textAccessHandler) WithGroup(name string) slog.Handler { return h.Handler.WithGroup(name) }

// appendAccessLine appends r as the TextHandler writes it, or reports false when it would not be
// written the same way here.
func appendAccessLine(b []byte, r slog.Record) ([]byte, bool) {
	if r.Time.IsZero() {
		return b, false
	}
	b = append(b, "time="...)
	b = appendMillis(b, r.Time.Round(0))
	b = append(b, " level="...)
	b = append(b, r.Level.String()...)
	b = append(b, " msg="...)
	b = append(b, accessMessage...)
	ok := true
	r.Attrs(func(a slog.Attr) bool {
		if !plain(a.Key) {
			ok = false
			return false
		}
		b = append(b, ' ')
		b = append(b, a.Key...)
		b = append(b, '=')
		switch v := a.Value; v.Kind() {
		case slog.KindString:
			s := v.String()
			switch {
			case plain(s):
				b = append(b, s...)
			case ascii(s):
				b = strconv.AppendQuote(b, s) // as the TextHandler quotes
			default:
				ok = false
			}
		case slog.KindInt64:
			b = strconv.AppendInt(b, v.Int64(), 10)
		case slog.KindDuration:
			b = append(b, v.Duration().String()...)
		default:
			ok = false
		}
		return ok
	})
	return append(b, '\n'), ok
}

// appendMillis is the TextHandler's time: RFC 3339 with exactly three digits of milliseconds.
func appendMillis(b []byte, t time.Time) []byte {
	const prefix = len("2006-01-02T15:04:05.000")
	n := len(b)
	// RFC3339Nano drops trailing zeros: a tenth of a millisecond more keeps four digits, and the
	// fourth is cut.
	b = t.Truncate(time.Millisecond).Add(time.Millisecond/10).AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefix], b[n+prefix+1:]...)
}

// plain reports whether the TextHandler writes s as it is: not empty, and printable ASCII other
// than space, '"' and '='.
func plain(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '=' {
			return false
		}
	}
	return true
}

// ascii reports whether s is ASCII without DEL: what is not plain in it, the TextHandler quotes
// with strconv.Quote.
func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x7f {
			return false
		}
	}
	return true
}
