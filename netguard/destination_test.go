package netguard

import (
	"net"
	"net/http"
	"net/url"
	"testing"
)

// TestTraceDestination: a request dialed to an allow-listed loopback host is private, also on a
// reused connection; through an egress proxy the destination's resolved addresses decide, not the
// proxy's (loopback) address.
func TestTraceDestination(t *testing.T) {
	t.Parallel()
	srv, _ := tlsUpstream(t, false)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	c := mustPolicy(t, "127.0.0.0/8", fakeResolver{"local.test": {"127.0.0.1"}}).Client(trusting(srv))
	for range 2 { // the second request reuses the connection
		ctx, d := TraceDestination(t.Context())
		req, _ := http.NewRequestWithContext(ctx, "GET", "https://local.test:"+port+"/v1", nil)
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if !d.Private() {
			t.Fatal("a loopback upstream is not reported private")
		}
	}

	proxy := newConnectProxy(t, srv.Listener.Addr().String())
	proxyURL, _ := url.Parse(proxy.URL)
	pr := fakeResolver{"up.test": {"93.184.215.14"}, "local.test": {"127.0.0.1"}}
	pc := mustPolicy(t, "127.0.0.0/8", pr).WithProxy(http.ProxyURL(proxyURL)).Client(trusting(srv))
	for host, want := range map[string]bool{"up.test": false, "local.test": true} {
		ctx, d := TraceDestination(t.Context())
		req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+host+":"+port+"/v1", nil)
		res, err := pc.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		res.Body.Close()
		if d.Private() != want {
			t.Errorf("%s through a proxy: private = %v, want %v", host, d.Private(), want)
		}
	}
}
