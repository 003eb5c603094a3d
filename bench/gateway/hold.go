package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Hold is the outcome of holding many slow streams open through one target.
type Hold struct {
	Target      string
	Skipped     string
	Streams     int
	Established int           // streams that delivered their first data line
	Failed      int           // streams that never did
	FirstErr    string        // the first failure
	Ramp        time.Duration // until every stream was established or had failed
	HeldOpen    int           // streams still open when the hold ended
	HeldFor     time.Duration
	TokenDelay  time.Duration
	RSSBefore   int64 // before the streams were opened
	RSSHeld     int64 // at the end of the hold
	RSSPeak     int64 // highest sample while opening and holding
	RSSAfter    int64 // a second after the clients went away
	Cancelled   int64 // upstream requests the fake saw cancelled after the clients went away
	CancelWait  time.Duration
}

// holdStreams opens n streams through t against a fake that sends one delta per delay (so they
// stay open), waits until all are established, holds them for holdFor while sampling t's RSS,
// then cancels every client and counts how many upstream requests the gateway cancelled in turn.
func holdStreams(ctx context.Context, t *Target, f *Fake, watch *RSSWatch, n int, holdFor, delay time.Duration, chunks int) *Hold {
	h := &Hold{Target: t.Name, Streams: n, HeldFor: holdFor, TokenDelay: delay}
	const rampLimit = 60 * time.Second
	words := int((rampLimit+holdFor+30*time.Second)/delay) + 1
	f.Up.SetScript(slowScript(words, delay))
	defer f.Up.SetScript(fastScript(chunks))
	f.disconnects.Store(0)

	time.Sleep(500 * time.Millisecond)
	h.RSSBefore = procStatus(t.PID, "VmRSS")
	phase := "hold-" + t.Name
	watch.Phase(phase)

	client := newClient(n + 64)
	defer client.CloseIdleConnections()
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		established, failed, endedEarly atomic.Int64
		errOnce                         sync.Once
		wg                              sync.WaitGroup
	)
	events := make(chan struct{}, n)
	fail := func(msg string) {
		failed.Add(1)
		errOnce.Do(func() { h.FirstErr = msg })
		events <- struct{}{}
	}
	start := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequestWithContext(hctx, http.MethodPost, t.URL, bytes.NewReader(t.Body[1]))
			if err != nil {
				fail(err.Error())
				return
			}
			req.Header = t.Header
			resp, err := client.Do(req)
			if err != nil {
				fail(shortErr(err))
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
				fail("HTTP " + resp.Status + " " + string(bytes.TrimSpace(b)))
				return
			}
			buf := make([]byte, 4096)
			var df dataFinder
			up := false
			for {
				k, err := resp.Body.Read(buf)
				if !up && k > 0 && df.feed(buf[:k]) {
					up = true
					established.Add(1)
					events <- struct{}{}
				}
				if err != nil {
					if !up {
						fail("stream ended before its first data line: " + shortErr(err))
					} else if hctx.Err() == nil {
						endedEarly.Add(1)
					}
					return
				}
			}
		}()
	}
	timeout := time.NewTimer(rampLimit)
	defer timeout.Stop()
wait:
	for got := 0; got < n; got++ {
		select {
		case <-events:
		case <-timeout.C:
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	h.Ramp = time.Since(start)
	select {
	case <-time.After(holdFor):
	case <-ctx.Done():
	}
	watch.Sample()
	h.RSSHeld = procStatus(t.PID, "VmRSS")
	h.RSSPeak = watch.Peak(phase, t.Name)
	h.Established, h.Failed = int(established.Load()), int(failed.Load())
	h.HeldOpen = h.Established - int(endedEarly.Load())

	cancel()
	wg.Wait()
	cstart := time.Now()
	for time.Since(cstart) < 10*time.Second && f.disconnects.Load() < int64(h.HeldOpen) {
		time.Sleep(20 * time.Millisecond)
	}
	h.Cancelled, h.CancelWait = f.disconnects.Load(), time.Since(cstart)
	watch.Phase("after-" + phase)
	time.Sleep(time.Second)
	h.RSSAfter = procStatus(t.PID, "VmRSS")
	return h
}
