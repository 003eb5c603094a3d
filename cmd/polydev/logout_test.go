package main

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncSink is what the process's stderr is to logOutput.
type syncSink struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (l *syncSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	return l.b.Write(p)
}

func (l *syncSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestLogOutputBuffersInfoAndFlushesWarnings(t *testing.T) {
	dst := &syncSink{}
	out := newLogOutput(dst)
	log := slog.New(urgentHandler{slog.NewTextHandler(out, nil), out})
	for i := range 50 {
		log.Info("http", "i", i)
	}
	if got := dst.String(); got != "" {
		t.Fatalf("info lines were written at once: %q", got)
	}
	log.Warn("upstream slow")
	got := dst.String()
	if strings.Count(got, "msg=http") != 50 || !strings.HasSuffix(got, "msg=\"upstream slow\"\n") || dst.writes != 1 {
		t.Fatalf("after a warning: %d writes, %q; want the 50 info lines and the warning, in order, in one write", dst.writes, got)
	}
	// Info lines alone still go out within the flush delay.
	log.Info("later")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(dst.String(), "later") {
		if time.Now().After(deadline) {
			t.Fatal("a buffered info line was never written")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A full buffer is written without waiting.
	big := strings.Repeat("x", logBufferMax)
	log.Info(big)
	if !strings.Contains(dst.String(), big) {
		t.Fatal("a line filling the buffer waited for the timer")
	}
	log.With("service", "s").WithGroup("g").Error("boom", "k", 1)
	if !strings.Contains(dst.String(), "g.k=1") {
		t.Fatal("an error through With/WithGroup was not written at once")
	}
}
