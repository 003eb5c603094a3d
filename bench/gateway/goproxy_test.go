package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestFloorRatio(t *testing.T) {
	cases := []struct {
		name        string
		ours, floor time.Duration
		want        string
	}{
		{"three times the floor", 900 * time.Microsecond, 300 * time.Microsecond, "3.0x"},
		{"below the floor", 200 * time.Microsecond, 400 * time.Microsecond, "0.5x"},
		{"rounded", 10 * time.Millisecond, 3 * time.Millisecond, "3.3x"},
		{"floor within noise", time.Millisecond, 0, "n/m (goproxy added <= 0, within noise)"},
		{"floor negative", time.Millisecond, -time.Microsecond, "n/m (goproxy added <= 0, within noise)"},
		{"ours within noise", -time.Microsecond, time.Millisecond, "n/m (polydev added <= 0, within noise)"},
	}
	for _, c := range cases {
		if got := floorRatio(c.ours, c.floor); got != c.want {
			t.Errorf("%s: floorRatio(%v, %v) = %q, want %q", c.name, c.ours, c.floor, got, c.want)
		}
	}
}

func TestParseTargets(t *testing.T) {
	cases := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"direct,goproxy,polydev,portkey", []string{"direct", "goproxy", "polydev", "portkey"}, false},
		{"polydev, goproxy", []string{"direct", "goproxy", "polydev"}, false},
		{"", []string{"direct"}, false},
		{"direct,gproxy", nil, true},
	}
	for _, c := range cases {
		got, err := parseTargets(c.in)
		if (err != nil) != c.wantErr {
			t.Errorf("parseTargets(%q): error %v, want error %v", c.in, err, c.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if len(got) != len(c.want) {
			t.Errorf("parseTargets(%q) = %v, want %v", c.in, got, c.want)
		}
		for _, name := range c.want {
			if !got[name] {
				t.Errorf("parseTargets(%q) = %v, lacks %s", c.in, got, name)
			}
		}
	}
}

func TestServeGoproxyRefusesNonLoopback(t *testing.T) {
	for _, up := range []string{"http://10.0.0.1:80", "http://example.com", "https://127.0.0.1:1"} {
		if err := serveGoproxy(up, ""); err == nil {
			t.Errorf("serveGoproxy(%q) = nil, want an error", up)
		}
	}
}

// The reference proxy must hand each SSE event to the client as it comes, or its streaming TTFB
// would be meaningless: the upstream here sends one event and then waits until the client has
// read it through the proxy, so a proxy (or anything wrapped around it) that buffered would never
// deliver it. (httputil.ReverseProxy flushes text/event-stream and chunked answers at once even
// without FlushInterval -1; newGoproxy sets it anyway, so no answer waits for a timer.)
func TestGoproxyFlushesEachEvent(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" || r.Header.Get("Authorization") != "Bearer k" {
			http.Error(w, "bad request "+r.URL.Path, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"n\":1}\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "data: [DONE]\n\n")
	}))
	t.Cleanup(up.Close)
	u, err := url.Parse(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	rp := newGoproxy(u)
	t.Cleanup(rp.Transport.(*http.Transport).CloseIdleConnections)
	proxy := httptest.NewServer(rp)
	t.Cleanup(proxy.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a buffering proxy hangs; fail instead
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, proxy.URL+"/v1/chat/completions", strings.NewReader(`{"stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer k")
	resp, err := proxy.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("HTTP %d: %s", resp.StatusCode, b)
	}
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("first event not delivered before the upstream finished: %v", err)
	}
	if line != "data: {\"n\":1}\n" {
		t.Fatalf("first line %q", line)
	}
	close(release)
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rest), "data: [DONE]") {
		t.Errorf("rest of the stream %q lacks [DONE]", rest)
	}
}

// strictBody is an inbound request body that, like the HTTP/1 server's once it has been drained
// and closed, fails any read past its end; it records whether it was closed.
type strictBody struct {
	data   []byte
	off    int
	closed bool
}

func (b *strictBody) Read(p []byte) (int, error) {
	if b.off >= len(b.data) {
		return 0, errors.New("read past Content-Length")
	}
	n := copy(p, b.data[b.off:])
	b.off += n
	return n, nil
}

func (b *strictBody) Close() error { b.closed = true; return nil }

// The Transport copies Content-Length bytes of the outbound body and then reads it once more;
// that second read must end the body without touching the inbound one (golang/go#40747).
func TestGoproxyDirectorBoundsTheBody(t *testing.T) {
	rp := newGoproxy(&url.URL{Scheme: "http", Host: "127.0.0.1:1"})
	in := &strictBody{data: []byte(`{"model":"gpt-4o-mini"}`)}
	req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", in)
	req.ContentLength = int64(len(in.data))
	rp.Director(req)
	if req.URL.Host != "127.0.0.1:1" || req.URL.Path != "/v1/chat/completions" {
		t.Errorf("outbound URL %s, want http://127.0.0.1:1/v1/chat/completions", req.URL)
	}
	got, err := io.ReadAll(io.LimitReader(req.Body, req.ContentLength))
	if err != nil || string(got) != string(in.data) {
		t.Fatalf("body copy: %q, %v", got, err)
	}
	if n, err := io.Copy(io.Discard, req.Body); n != 0 || err != nil {
		t.Errorf("read after Content-Length: %d bytes, %v; want 0, nil", n, err)
	}
	if err := req.Body.Close(); err != nil || !in.closed {
		t.Errorf("Close: %v, inbound closed %v; want nil, true", err, in.closed)
	}
}

// With the peer and the floor both measured, the comparison section has both tables: peer /
// polydev as before, and polydev / goproxy from the same cells.
func TestReportFloorTable(t *testing.T) {
	agg := func(median time.Duration) *Agg {
		return &Agg{Lat: []time.Duration{median}, Sum: Summary{N: 1, Median: median, P99: 2 * median}}
	}
	r := &Report{
		Config: config{batches: 1},
		Concs:  []int{64},
		Targets: []*Target{
			{Name: "direct"}, {Name: "goproxy"}, {Name: "polydev"}, {Name: "portkey"},
		},
		Cells: []*Cell{{Conc: 64, N: 1, Rounds: 1, By: map[string]*Agg{
			"direct":  agg(100 * time.Microsecond),
			"goproxy": agg(400 * time.Microsecond), // adds 300 µs (p99 600 µs)
			"polydev": agg(700 * time.Microsecond), // adds 600 µs (p99 1200 µs)
			"portkey": agg(6100 * time.Microsecond),
		}}},
		Watch: &RSSWatch{peak: map[string]map[string]int64{}},
	}
	md := r.Markdown("#")
	for _, want := range []string{
		"## Added latency, Polydev against the peer",
		"| non-streaming | 64 | 600 µs | 6000 µs | 10.0x |",
		"| kind | conc | polydev added median | goproxy added median | polydev / goproxy |",
		"| non-streaming | 64 | 600 µs | 300 µs | 2.0x | 1200 µs | 600 µs | 2.0x |",
		"- **goproxy**: a bare Go `httputil.ReverseProxy` (reference floor",
		"| 64 | goproxy | 1 | 0 | 400 µs |",
		"; for reference, a bare Go reverse proxy (goproxy) adds median 300 µs, p99 600 µs here.",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}
