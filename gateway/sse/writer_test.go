package sse

import (
	"bytes"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

type flushRecorder struct {
	bytes.Buffer
	flushes int
}

func (f *flushRecorder) Flush() { f.flushes++ }

func TestWriterRoundTrip(t *testing.T) {
	t.Parallel()
	var out flushRecorder
	w := NewWriter(&out)
	datas := []string{"plain", "two\nlines", "cr\rand\r\ncrlf", "", "trailing\n"}
	for _, d := range datas {
		if err := w.Event("msg", []byte(d)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Comment("keepalive"); err != nil {
		t.Fatal(err)
	}
	if out.flushes != len(datas)+1 {
		t.Errorf("%d flushes, want one per event", out.flushes)
	}
	got, err := readAll(t, strings.NewReader(out.String()), 0)
	if err != io.EOF || len(got) != len(datas) {
		t.Fatalf("%v %+v", err, got)
	}
	for i, d := range datas {
		want := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(d)
		if got[i].data != want || got[i].typ != "msg" {
			t.Errorf("event %d: %+v, want %q", i, got[i], want)
		}
	}
	if s := string(AppendEvent(nil, "a\nb", []byte("x"))); s != "event: ab\ndata: x\n\n" {
		t.Errorf("name newline: %q", s)
	}
}

func TestWriterResponseWriter(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	w := NewWriter(rec)
	if err := w.Send([]byte("data: x\n\n")); err != nil {
		t.Fatal(err)
	}
	if !rec.Flushed || rec.Body.String() != "data: x\n\n" {
		t.Errorf("flushed %v body %q", rec.Flushed, rec.Body.String())
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.Buffer.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.Buffer.String()
}

func TestHeartbeat(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
	w := NewWriter(&out)
	w.Heartbeat(5 * time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), ": ping\n\n") {
		if time.Now().After(deadline) {
			t.Fatal("no heartbeat")
		}
		time.Sleep(time.Millisecond)
	}
	w.Stop()
	n := len(out.String())
	time.Sleep(20 * time.Millisecond)
	if len(out.String()) != n {
		t.Error("wrote after Stop")
	}
	if err := w.Send([]byte("data: x\n\n")); err != io.ErrClosedPipe {
		t.Errorf("Send after Stop: %v", err)
	}
	w.Stop()
}

// TestWriterHold: after Hold, writes wait for Flush (one flush for several events, none when
// nothing was written); Stop ends flushing too.
func TestWriterHold(t *testing.T) {
	t.Parallel()
	var out flushRecorder
	w := NewWriter(&out)
	w.Hold()
	for _, s := range []string{"data: a\n\n", "data: b\n\n"} {
		if err := w.Send([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if out.flushes != 0 || out.String() != "data: a\n\ndata: b\n\n" {
		t.Fatalf("held: %d flushes, %q", out.flushes, out.String())
	}
	for range 2 {
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if out.flushes != 1 {
		t.Fatalf("%d flushes, want 1 (the second Flush had nothing to send)", out.flushes)
	}
	w.Send([]byte("data: c\n\n"))
	w.Stop()
	if err := w.Flush(); err != nil || out.flushes != 1 {
		t.Fatalf("Flush after Stop: %v, %d flushes", err, out.flushes)
	}
}

// lockedFlusher is a lockedBuffer that counts flushes.
type lockedFlusher struct {
	lockedBuffer
	flushes int
}

func (l *lockedFlusher) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushes++
}

func (l *lockedFlusher) flushed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.flushes
}

// TestHeartbeatHold: a heartbeat is flushed at once even when writes are held.
func TestHeartbeatHold(t *testing.T) {
	t.Parallel()
	var out lockedFlusher
	w := NewWriter(&out)
	w.Hold()
	w.Heartbeat(5 * time.Millisecond)
	defer w.Stop()
	deadline := time.Now().Add(5 * time.Second)
	for out.flushed() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no flushed heartbeat")
		}
		time.Sleep(time.Millisecond)
	}
	if !strings.Contains(out.String(), ": ping\n\n") {
		t.Fatalf("flushed %q", out.String())
	}
}
