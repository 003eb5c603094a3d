package testkit

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// wordScript streams n words, one delta each.
func wordScript(n int) Script {
	words := make([]string, n)
	for i := range words {
		words[i] = fmt.Sprintf("w%d", i)
	}
	return Script{Text: strings.Join(words, " "), Usage: DefaultUsage}
}

// TestDisconnectHook cancels a slow stream after a few deltas and checks the
// hook reports it with a plausible count.
func TestDisconnectHook(t *testing.T) {
	t.Parallel()
	for _, c := range constructors {
		t.Run(string(c.p), func(t *testing.T) {
			t.Parallel()
			gone := make(chan Disconnect, 1)
			u := c.new(t, WithScript(wordScript(50)), WithTokenDelay(5*time.Millisecond),
				WithOnDisconnect(func(d Disconnect) { gone <- d }))
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			resp, err := u.Client().Do(generation(c.p, true).request(t, ctx, u))
			if err != nil {
				t.Fatal(err)
			}
			// Read until the third word has arrived, then hang up.
			r := bufio.NewReader(resp.Body)
			var seen bytes.Buffer
			for !bytes.Contains(seen.Bytes(), []byte("w2 ")) {
				line, err := r.ReadBytes('\n')
				if err != nil {
					t.Fatalf("stream ended early: %v\n%s", err, seen.Bytes())
				}
				seen.Write(line)
			}
			cancel()
			resp.Body.Close()
			d := <-gone
			if !d.Stream || d.DeltasSent < 3 || d.DeltasSent >= 50 || d.Err == nil || d.Seq != 1 {
				t.Errorf("disconnect = %+v", d)
			}
			if d.Path != u.LastRequest().Path {
				t.Errorf("path %q", d.Path)
			}
		})
	}
}

// TestDisconnectBeforeFirstByte cancels while the fake is still "thinking".
func TestDisconnectBeforeFirstByte(t *testing.T) {
	t.Parallel()
	gone := make(chan Disconnect, 1)
	arrived := make(chan struct{})
	u := NewAnthropic(t, WithFirstByteLatency(time.Hour),
		WithOnRequest(func(Request) { close(arrived) }),
		WithOnDisconnect(func(d Disconnect) { gone <- d }))
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		resp, err := u.Client().Do(generation(Anthropic, false).request(t, ctx, u))
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-arrived
	cancel()
	if err := <-errc; err == nil {
		t.Error("request succeeded despite cancellation")
	}
	if d := <-gone; d.Stream || d.DeltasSent != 0 {
		t.Errorf("disconnect = %+v", d)
	}
}

// TestCloseCutsStreams checks Close returns with a stream in flight and does
// not report it as a client disconnect.
func TestCloseCutsStreams(t *testing.T) {
	t.Parallel()
	fired := make(chan Disconnect, 1)
	u := NewOpenAI(t, WithScript(wordScript(10)), WithTokenDelay(time.Hour), WithOnDisconnect(func(d Disconnect) { fired <- d }))
	resp, err := u.Client().Do(generation(OpenAI, true).request(t, t.Context(), u))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	u.Close()
	_, _ = io.ReadAll(resp.Body)
	select {
	case d := <-fired:
		t.Errorf("hook fired on Close: %+v", d)
	default:
	}
	u.Close() // idempotent
}
