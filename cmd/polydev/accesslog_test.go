package main

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"
)

// TestTextAccessHandlerMatchesSlog: the access log's line comes out byte for byte as slog's
// TextHandler writes it, whatever its values (quoted, plain, not ASCII, other kinds), and every
// other record is the TextHandler's.
func TestTextAccessHandlerMatchesSlog(t *testing.T) {
	at := time.Date(2026, 12, 7, 1, 55, 8, 120_456_789, time.UTC)
	base := []slog.Attr{
		slog.String("request_id", "4f1c2a"), slog.String("method", "POST"), slog.String("path", "/v1/messages"),
		slog.String("route", "POST /v1/messages"), slog.Int("status", 200), slog.Int64("bytes", 1234),
		slog.Duration("duration", 1234567*time.Nanosecond), slog.String("remote", "127.0.0.1"),
	}
	cases := [][]slog.Attr{
		base,
		append(base[:len(base):len(base)], slog.String("user_id", "71d702d7-2042-4ce4-a0dc-e4b0d19bfee9")),
		{slog.String("path", "/a b"), slog.String("q", `say "hi"`), slog.String("eq", "a=b"), slog.String("empty", "")},
		{slog.String("bs", `C:\dir`), slog.String("ctl", "a\tb\x01"), slog.String("del", "a\x7f"), slog.String("utf", "café")},
		{slog.String("nbsp", "a\u00a0b"), slog.String("bad", "a\xffb"), slog.Int64("neg", -42), slog.Duration("d", 3*time.Microsecond)},
		{slog.Bool("ok", true), slog.Float64("f", 1.5)},
		{slog.Any("err", nil), slog.Time("at", at)},
		{slog.String("key with space", "v")},
		{},
	}
	for _, at := range []time.Time{at, at.Truncate(time.Second), at.In(time.FixedZone("x", 3600)), {}} {
		for _, msg := range []string{accessMessage, "other"} {
			for _, attrs := range cases {
				var want, got bytes.Buffer
				r := slog.NewRecord(at, slog.LevelInfo, msg, 0)
				r.AddAttrs(attrs...)
				if err := slog.NewTextHandler(&want, nil).Handle(context.Background(), r.Clone()); err != nil {
					t.Fatal(err)
				}
				out := newLogOutput(&got)
				h := textAccessHandler{slog.NewTextHandler(out, nil), out}
				if err := h.Handle(context.Background(), r.Clone()); err != nil {
					t.Fatal(err)
				}
				if err := out.Flush(); err != nil {
					t.Fatal(err)
				}
				if got.String() != want.String() {
					t.Errorf("msg %q, attrs %v:\n got %q\nwant %q", msg, attrs, got.String(), want.String())
				}
			}
		}
	}
	// Below the top level the TextHandler writes everything, the access line included.
	var want, got bytes.Buffer
	r := slog.NewRecord(at, slog.LevelInfo, accessMessage, 0)
	r.AddAttrs(base...)
	_ = slog.NewTextHandler(&want, nil).WithAttrs([]slog.Attr{slog.String("svc", "web")}).Handle(context.Background(), r.Clone())
	out := newLogOutput(&got)
	_ = textAccessHandler{slog.NewTextHandler(out, nil), out}.WithAttrs([]slog.Attr{slog.String("svc", "web")}).Handle(context.Background(), r.Clone())
	_ = out.Flush()
	if got.String() != want.String() {
		t.Errorf("with attrs:\n got %q\nwant %q", got.String(), want.String())
	}
}

func BenchmarkAccessLine(b *testing.B) {
	r := slog.NewRecord(time.Now(), slog.LevelInfo, accessMessage, 0)
	r.AddAttrs(slog.String("request_id", "4f1c2a0b9e8d7c6b5a493827"), slog.String("method", "POST"), slog.String("path", "/v1/messages"),
		slog.String("route", "POST /v1/messages"), slog.Int("status", 200), slog.Int64("bytes", 1234),
		slog.Duration("duration", 1234567*time.Nanosecond), slog.String("remote", "127.0.0.1"), slog.String("user_id", "71d702d7-2042-4ce4-a0dc-e4b0d19bfee9"))
	for _, c := range []struct {
		name string
		h    func(*logOutput) slog.Handler
	}{
		{"slog", func(o *logOutput) slog.Handler { return slog.NewTextHandler(o, nil) }},
		{"direct", func(o *logOutput) slog.Handler { return textAccessHandler{slog.NewTextHandler(o, nil), o} }},
	} {
		b.Run(c.name, func(b *testing.B) {
			var sink bytes.Buffer
			out := newLogOutput(&sink)
			h := c.h(out)
			for b.Loop() {
				_ = h.Handle(context.Background(), r)
				if sink.Len() > 1<<20 {
					sink.Reset()
				}
			}
			_ = out.Flush()
		})
	}
}
