package h1

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func dialer() func(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext
}

// countingServer is an httptest server that counts the connections it accepted.
type countingServer struct {
	*httptest.Server
	conns atomic.Int64
}

func newServer(t *testing.T, h http.HandlerFunc) *countingServer {
	t.Helper()
	s := &countingServer{}
	s.Server = httptest.NewUnstartedServer(h)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func client(tr *Transport) *http.Client { return &http.Client{Transport: tr} }

func post(t *testing.T, c *http.Client, url, body string) (int, string) {
	t.Helper()
	res, err := c.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

func echo(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	w.Header().Set("X-Method", r.Method)
	fmt.Fprintf(w, "%s %s len=%d body=%s", r.Method, r.URL.Path, r.ContentLength, b)
}

func TestReusesConnectionsAndSendsTheRequest(t *testing.T) {
	t.Parallel()
	s := newServer(t, echo)
	tr := &Transport{Dial: dialer()}
	c := client(tr)
	for i := range 20 {
		body := fmt.Sprintf(`{"n":%d}`, i)
		code, got := post(t, c, s.URL+"/v1/x", body)
		if want := fmt.Sprintf("POST /v1/x len=%d body=%s", len(body), body); code != 200 || got != want {
			t.Fatalf("got %d %q, want 200 %q", code, got, want)
		}
	}
	if n := s.conns.Load(); n != 1 {
		t.Fatalf("20 sequential requests used %d connections, want 1", n)
	}
}

func TestChunkedStreamingBodyArrivesAsSent(t *testing.T) {
	t.Parallel()
	step := make(chan struct{})
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		for i := range 3 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
			if r.URL.Path == "/slow" {
				<-step
			}
		}
	})
	c := client(&Transport{Dial: dialer()})
	res, err := c.Get(s.URL + "/slow")
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(res.Body)
	for i := range 3 {
		line, err := br.ReadString('\n')
		if err != nil || line != fmt.Sprintf("data: %d\n", i) {
			t.Fatalf("event %d: %q, %v (each flushed event must arrive before the next is sent)", i, line, err)
		}
		br.ReadString('\n')
		step <- struct{}{}
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("after the last event: %v, want EOF", err)
	}
	res.Body.Close()
	post(t, c, s.URL+"/fast", "")
	if n := s.conns.Load(); n != 1 {
		t.Fatalf("a chunked body read to its end did not leave its connection for the next request (%d connections)", n)
	}
}

func TestUnreadBodyOrConnectionCloseIsNotReused(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		io.WriteString(w, strings.Repeat("x", 100_000))
	})
	c := client(&Transport{Dial: dialer()})
	res, err := c.Get(s.URL + "/early")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Read(make([]byte, 10))
	res.Body.Close() // 99,990 bytes unread: the connection cannot carry another exchange
	if _, err := res.Body.Read(make([]byte, 1)); err == nil {
		t.Fatal("Read after Close succeeded")
	}
	post(t, c, s.URL+"/close", "")
	post(t, c, s.URL+"/after", "")
	if n := s.conns.Load(); n != 3 {
		t.Fatalf("%d connections, want 3 (an abandoned body and Connection: close each end theirs)", n)
	}
}

// rawServer answers each connection with script(request line) written verbatim.
func rawServer(t *testing.T, script func(conn net.Conn, br *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				script(conn, bufio.NewReader(conn))
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// readRequest consumes one request from br.
func readRequest(br *bufio.Reader) error {
	req, err := http.ReadRequest(br)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, req.Body)
	return err
}

func TestCloseDelimitedBodyAndInformationalResponses(t *testing.T) {
	t.Parallel()
	url := rawServer(t, func(conn net.Conn, br *bufio.Reader) {
		if readRequest(br) != nil {
			return
		}
		io.WriteString(conn, "HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it until close")
	})
	c := client(&Transport{Dial: dialer()})
	for range 2 {
		code, got := post(t, c, url, "{}")
		if code != 200 || got != "all of it until close" {
			t.Fatalf("got %d %q", code, got)
		}
	}
}

func TestServerClosedIdleConnectionIsNotUsed(t *testing.T) {
	t.Parallel()
	var conns atomic.Int64
	url := rawServer(t, func(conn net.Conn, br *bufio.Reader) {
		conns.Add(1)
		if readRequest(br) != nil {
			return
		}
		// Keep-alive framing, then the server closes the idle connection at once.
		io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	tr := &Transport{Dial: dialer()}
	c := client(tr)
	// Before each request, wait until the pooled connection has seen the server's FIN: a request
	// racing the FIN itself fails as it would with any client (the server reset it), which is not
	// what this test is about.
	waitClosed := func() {
		deadline := time.Now().Add(10 * time.Second)
		for {
			tr.mu.Lock()
			var pooled *conn
			for _, l := range tr.idle {
				if len(l) > 0 {
					pooled = l[len(l)-1]
				}
			}
			tr.mu.Unlock()
			if pooled == nil {
				t.Fatal("the connection was not pooled")
			}
			if !pooled.alive() {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("a connection the server closed still looks alive")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	post(t, c, url, "{}")
	for i := range 3 {
		waitClosed()
		if code, got := post(t, c, url, "{}"); code != 200 || got != "ok" {
			t.Fatalf("request %d after the server closed the idle connection: %d %q", i, code, got)
		}
	}
	if n := conns.Load(); n != 4 {
		t.Fatalf("%d connections, want 4 (each closed by the server)", n)
	}
}

func TestContextEndsTheExchange(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // then the server notices the client leave
		if r.URL.Path == "/body" {
			io.WriteString(w, "first")
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) }) // runs before the server's Close
	c := client(&Transport{Dial: dialer()})

	// While waiting for the headers.
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, "POST", s.URL+"/headers", strings.NewReader("{}"))
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := c.Do(req); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled while waiting for headers: %v, want context.Canceled", err)
	}

	// While reading the body.
	ctx, cancel = context.WithCancel(t.Context())
	req, _ = http.NewRequestWithContext(ctx, "GET", s.URL+"/body", nil)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(res.Body, buf); err != nil || string(buf) != "first" {
		t.Fatalf("%q, %v", buf, err)
	}
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := res.Body.Read(buf); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled while reading the body: %v, want context.Canceled", err)
	}
	res.Body.Close()
}

func TestResponseHeaderTimeoutAndLimit(t *testing.T) {
	t.Parallel()
	url := rawServer(t, func(conn net.Conn, br *bufio.Reader) {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		switch req.URL.Path {
		case "/silent":
			io.Copy(io.Discard, br) // until the client gives up
		case "/huge":
			io.WriteString(conn, "HTTP/1.1 200 OK\r\n")
			line := "X-Filler: " + strings.Repeat("a", 1000) + "\r\n"
			for range 3000 {
				if _, err := io.WriteString(conn, line); err != nil {
					return
				}
			}
		}
	})
	c := client(&Transport{Dial: dialer(), ResponseHeaderTimeout: 100 * time.Millisecond, MaxResponseHeaderBytes: 64 << 10})
	_, err := c.Get(url + "/silent")
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("silent upstream: %v, want a timeout", err)
	}
	if _, err := c.Get(url + "/huge"); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("3 MB of headers: %v, want the header limit", err)
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s over %s", r.Proto, map[bool]string{true: "tls", false: "plain"}[r.TLS != nil])
	}))
	var conns atomic.Int64
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	s.EnableHTTP2 = true // offered; the transport asks for HTTP/1.1
	s.StartTLS()
	t.Cleanup(s.Close)
	roots := s.Client().Transport.(*http.Transport).TLSClientConfig
	c := client(&Transport{Dial: dialer(), TLSConfig: &tls.Config{RootCAs: roots.RootCAs}})
	for range 3 {
		if code, got := post(t, c, s.URL, ""); code != 200 || got != "HTTP/1.1 over tls" {
			t.Fatalf("%d %q", code, got)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d TLS connections for 3 requests, want 1", n)
	}
	// A server certificate the roots do not vouch for is refused.
	bad := client(&Transport{Dial: dialer()})
	if _, err := bad.Get(s.URL); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("unknown certificate: %v, want a certificate error", err)
	}
}

func TestConcurrentExchanges(t *testing.T) {
	t.Parallel()
	s := newServer(t, echo)
	tr := &Transport{Dial: dialer(), MaxIdlePerHost: 8}
	c := client(tr)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for g := range 32 {
		wg.Go(func() {
			for i := range 25 {
				body := fmt.Sprintf("%d-%d", g, i)
				res, err := c.Post(s.URL+"/c", "text/plain", strings.NewReader(body))
				if err != nil {
					errs <- err
					return
				}
				b, err := io.ReadAll(res.Body)
				res.Body.Close()
				if want := fmt.Sprintf("POST /c len=%d body=%s", len(body), body); err != nil || string(b) != want {
					errs <- fmt.Errorf("got %q, %v; want %q", b, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	tr.mu.Lock()
	pooled := len(tr.idle[poolKey(httptest.NewRequest("GET", s.URL, nil))])
	tr.mu.Unlock()
	if pooled > 8 {
		t.Fatalf("%d idle connections kept, want at most MaxIdlePerHost 8", pooled)
	}
}

func TestIdleConnectionsExpire(t *testing.T) {
	t.Parallel()
	s := newServer(t, echo)
	tr := &Transport{Dial: dialer(), IdleTimeout: time.Hour}
	c := client(tr)
	post(t, c, s.URL, "")
	tr.mu.Lock()
	for _, l := range tr.idle {
		for _, pc := range l {
			pc.idleAt = time.Now().Add(-2 * time.Hour)
		}
	}
	tr.mu.Unlock()
	tr.sweep()
	tr.mu.Lock()
	n := len(tr.idle)
	tr.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d hosts still pooled after their connections expired", n)
	}
	post(t, c, s.URL, "")
	if got := s.conns.Load(); got != 2 {
		t.Fatalf("%d connections, want 2 (the expired one was closed)", got)
	}
}

func TestRefusesWhatItCannotDo(t *testing.T) {
	t.Parallel()
	c := client(&Transport{Dial: dialer()})
	for _, u := range []string{"ftp://example.invalid/x", "unix:///tmp/sock"} {
		if _, err := c.Get(u); err == nil {
			t.Errorf("%s: no error", u)
		}
	}
	if _, err := client(&Transport{}).Get("http://127.0.0.1:1/"); err == nil || !strings.Contains(err.Error(), "Dial") {
		t.Fatalf("no Dial: %v", err)
	}
	dialErr := errors.New("blocked by policy")
	blocked := client(&Transport{Dial: func(context.Context, string, string) (net.Conn, error) { return nil, dialErr }})
	if _, err := blocked.Get("http://127.0.0.1:1/"); !errors.Is(err, dialErr) {
		t.Fatalf("dial refusal: %v, want it passed through (netguard's BlockedError)", err)
	}
}

// TestEarlyAnswerToALargeBody: a server that answers before reading the whole request and then
// closes breaks the write; its answer is what the caller gets, not the broken pipe.
func TestEarlyAnswerToALargeBody(t *testing.T) {
	t.Parallel()
	url := rawServer(t, func(conn net.Conn, br *bufio.Reader) {
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		io.WriteString(conn, "HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 9\r\nConnection: close\r\n\r\ntoo large")
		conn.(*net.TCPConn).CloseWrite()
		io.CopyN(io.Discard, br, 1<<20) // then stop reading and close with the rest unread
	})
	c := client(&Transport{Dial: dialer()})
	res, err := c.Post(url, "application/json", strings.NewReader(strings.Repeat("x", 64<<20)))
	if err != nil {
		t.Fatalf("the server's early answer was lost: %v", err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge || string(b) != "too large" {
		t.Fatalf("got %d %q", res.StatusCode, b)
	}
}
