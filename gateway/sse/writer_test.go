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
