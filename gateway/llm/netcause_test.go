package llm

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestNetCause: real failures of an HTTP client against loopback servers, as a transport reports
// them (wrapped in *url.Error), are named by what broke.
func TestNetCause(t *testing.T) {
	t.Parallel()
	// refused: a port that was just freed.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedAddr := ln.Addr().String()
	ln.Close()

	// reset: a server that accepts and aborts the connection (RST, no answer).
	reset := listen(t, func(c net.Conn) {
		_, _ = c.Read(make([]byte, 1024))
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	})
	// closed: a server that reads the request and closes without answering.
	closed := listen(t, func(c net.Conn) {
		_, _ = c.Read(make([]byte, 1024))
		c.Close()
	})
	// timeout: a server that never answers.
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold) })
	silent := listen(t, func(c net.Conn) { <-hold; c.Close() })
	// tls: a TLS server whose certificate the client does not trust, and TLS spoken to a plain server.
	untrusted := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	untrusted.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake failure is the point
	untrusted.StartTLS()
	t.Cleanup(untrusted.Close)
	plain := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(plain.Close)

	cases := []struct {
		name, url string
		timeout   time.Duration
		want      string
	}{
		{"refused", "http://" + refusedAddr + "/v1/x?key=secret", 0, NetRefused},
		{"reset", "http://" + reset + "/", 0, NetReset},
		{"closed", "http://" + closed + "/", 0, NetReset},
		{"timeout", "http://" + silent + "/", 200 * time.Millisecond, NetTimeout},
		{"untrusted certificate", untrusted.URL, 0, NetTLS},
		{"tls to a plain server", "https://" + plain.Listener.Addr().String() + "/", 0, NetTLS},
	}
	// The same, below net/http (a transport that dials TLS itself).
	raw, err := net.Dial("tcp", plain.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := tls.Client(raw, &tls.Config{ServerName: "127.0.0.1"}).Handshake(); NetCause(err) != NetTLS {
		t.Errorf("handshake with a plain server: NetCause(%v) = %q", err, NetCause(err))
	}
	for _, c := range cases {
		client := &http.Client{Timeout: c.timeout, Transport: &http.Transport{DisableKeepAlives: true}}
		_, err := client.Get(c.url)
		if err == nil {
			t.Fatalf("%s: no error", c.name)
		}
		if got := NetCause(err); got != c.want {
			t.Errorf("%s: NetCause(%v) = %q, want %q", c.name, err, got, c.want)
		}
	}

	// dns: no test resolves a real name; the resolver's error type is what a failed lookup returns.
	dns := fmt.Errorf("dial: %w", &net.DNSError{Err: "no such host", Name: "api.invalid", IsNotFound: true})
	others := []struct {
		err  error
		want string
	}{
		{dns, NetDNS},
		{&net.DNSError{Err: "i/o timeout", Name: "api.invalid", IsTimeout: true}, NetTimeout},
		{context.DeadlineExceeded, NetTimeout},
		{io.ErrUnexpectedEOF, NetReset},
		{errors.New("something else"), NetOther},
		{nil, ""},
	}
	for _, c := range others {
		if got := NetCause(c.err); got != c.want {
			t.Errorf("NetCause(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

// listen serves each connection with handle on a loopback port and returns its address.
func listen(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
	return ln.Addr().String()
}
