package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Target is one way to reach the fake upstream's chat completions: directly, through Polydev,
// through the peer gateway, or through the reference proxy (goproxy).
type Target struct {
	Name   string
	URL    string      // full URL of the chat completions endpoint
	Header http.Header // sent with every request; read-only once the run starts
	Body   [2][]byte   // request bodies, non-streaming and streaming, built once
	// Msgs is how the target is sent the Messages kinds (nil: it is not; MsgsReason says why).
	Msgs       *MsgsReq
	MsgsReason string

	PID    int    // process to watch for RSS and CPU (0: none)
	Reason string // why the target is not measured ("" = available)

	client *http.Client
}

// MsgsReq is a target's Anthropic Messages endpoint: URL, headers and the two bodies.
type MsgsReq struct {
	URL    string
	Header http.Header
	Body   [2][]byte // non-streaming, streaming
}

// Available reports whether the target is measured.
func (t *Target) Available() bool { return t.Reason == "" }

// Does reports whether the target is measured for kind k.
func (t *Target) Does(k Kind) bool { return t.Available() && (!k.Anthropic() || t.Msgs != nil) }

// request returns what is sent for kind k.
func (t *Target) request(k Kind) (url string, h http.Header, body []byte) {
	switch k {
	case Messages, MessagesStream:
		return t.Msgs.URL, t.Msgs.Header, t.Msgs.Body[btoi(k.Stream())]
	}
	return t.URL, t.Header, t.Body[btoi(k.Stream())]
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// newClient returns a client tuned for the load generator: connections are kept and reused
// (MaxIdleConnsPerHost at least the concurrency), no compression, no HTTP/2, no proxy.
func newClient(maxConns int) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:               nil, // never a proxy: every target is on 127.0.0.1
		DialContext:         d.DialContext,
		MaxIdleConns:        0, // no global cap
		MaxIdleConnsPerHost: maxConns,
		MaxConnsPerHost:     0,
		// Below Node's default server keep-alive timeout (5 s): a round can leave a target's pooled
		// connections idle for longer than that, and reusing one the server is closing at that
		// moment fails a POST with "connection reset by peer". Closing them first on the client
		// side costs a loopback reconnect at the start of the next batch, alike for every target.
		IdleConnTimeout:       4 * time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
		ResponseHeaderTimeout: 60 * time.Second,
		WriteBufferSize:       8 << 10,
		ReadBufferSize:        16 << 10,
	}
	return &http.Client{Transport: tr}
}

// checkLoopback refuses any target URL that is not on 127.0.0.0/8: the benchmark talks to nothing else.
func checkLoopback(raw string) error {
	req, err := http.NewRequest(http.MethodGet, raw, nil)
	if err != nil {
		return err
	}
	ip := net.ParseIP(req.URL.Hostname())
	if ip == nil || !ip.IsLoopback() || ip.To4() == nil {
		return fmt.Errorf("%s is not an address in 127.0.0.0/8; the benchmark talks to loopback only", raw)
	}
	return nil
}

// Result is what one request gave.
type Result struct {
	Total    time.Duration // request start to the end of the body
	TTFB     time.Duration // request start to the first SSE data line (streams only)
	Overhead time.Duration // X-Polydev-Overhead-Us, when the response carried it (else -1)
	Err      string
	done     bool
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// dataFinder spots the first SSE data line in a byte stream fed in arbitrary pieces: "data:" at
// the start of a line. Comments (": ping") and other fields do not count.
type dataFinder struct {
	matched int // bytes of "data:" matched at the start of the current line; -1: not a data line
}

func (f *dataFinder) feed(p []byte) bool {
	const want = "data:"
	for _, c := range p {
		switch {
		case c == '\n' || c == '\r':
			f.matched = 0
		case f.matched < 0:
		case c == want[f.matched]:
			f.matched++
			if f.matched == len(want) {
				return true
			}
		default:
			f.matched = -1
		}
	}
	return false
}

// do sends one request and reads the whole response.
func (t *Target) do(ctx context.Context, k Kind) (r Result) {
	r.Overhead = -1
	stream := k.Stream()
	url, h, body := t.request(k)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		r.Err = err.Error()
		return r
	}
	req.Header = h
	start := time.Now()
	resp, err := t.client.Do(req)
	if err != nil {
		r.Err = shortErr(err)
		return r
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		r.Err = fmt.Sprintf("HTTP %d %s", resp.StatusCode, bytes.TrimSpace(snippet))
		return r
	}
	if v := resp.Header.Get("X-Polydev-Overhead-Us"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			r.Overhead = time.Duration(n) * time.Microsecond
		}
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	if stream {
		var f dataFinder
		found := false
		for !found {
			n, err := resp.Body.Read(buf)
			if n > 0 && f.feed(buf[:n]) {
				r.TTFB = time.Since(start)
				found = true
			}
			if err != nil {
				if !found {
					r.Err = "stream ended before any data line"
					if err != io.EOF {
						r.Err = shortErr(err)
					}
					return r
				}
				break
			}
		}
	}
	for {
		_, err := resp.Body.Read(buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			r.Err = shortErr(err)
			return r
		}
	}
	r.Total = time.Since(start)
	return r
}

func shortErr(err error) string {
	s := err.Error()
	if len(s) > 160 {
		s = s[:160] + "..."
	}
	return s
}

// Batch is the outcome of n requests at a given concurrency against one target.
type Batch struct {
	Results []Result // one per request completed (or failed), in start order
	Wall    time.Duration
}

// runBatch sends up to n requests from conc workers and returns when all finished; no new request
// starts after maxDur (the run stays bounded even when a target is very slow).
func runBatch(ctx context.Context, t *Target, k Kind, conc, n int, maxDur time.Duration) Batch {
	results := make([]Result, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(maxDur)
	for range min(conc, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || ctx.Err() != nil || time.Now().After(deadline) {
					return
				}
				results[i] = t.do(ctx, k)
				results[i].done = true
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	done := results[:0]
	for _, r := range results {
		if r.done {
			done = append(done, r)
		}
	}
	return Batch{Results: done, Wall: wall}
}

// runInterleaved sends n requests to each of ts one at a time, alternating the targets request by
// request (the first target of each turn rotating), and returns each target's batch. Its Wall is
// the sum of its requests' times. No new turn starts after maxDur.
func runInterleaved(ctx context.Context, ts []*Target, k Kind, n int, maxDur time.Duration) []Batch {
	out := make([]Batch, len(ts))
	deadline := time.Now().Add(maxDur)
	for i := 0; i < n && ctx.Err() == nil && time.Now().Before(deadline); i++ {
		for j := range ts {
			x := (i + j) % len(ts)
			start := time.Now()
			r := ts[x].do(ctx, k)
			r.done = true
			out[x].Results = append(out[x].Results, r)
			out[x].Wall += time.Since(start)
		}
	}
	return out
}
