package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/http/pprof"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The reference floor: a bare Go httputil.ReverseProxy in its own process, between the load
// generator and the fake upstream. No auth, no JSON, no database: what any Go HTTP proxy adds on
// this machine, to read the other gateways' added latency against.

const (
	// goproxyFlag, as the first argument, turns this program into the reference proxy (see
	// serveGoproxy). The benchmark passes it to itself, so it is not among the -h flags.
	goproxyFlag = "-serve-goproxy"
	// goproxyReady starts the line the proxy prints on stdout once it listens; its address follows.
	goproxyReady = "goproxy listening on "
	// goproxyIdleConns is the proxy's idle pool per upstream host: above the highest default
	// concurrency (512), so that it keeps its connections to the fake as the load generator does.
	goproxyIdleConns = 1024
)

// goproxyTransport is the reverse proxy's transport: connections to the upstream kept and reused,
// no proxy, HTTP/1.1; compression left at the defaults.
func goproxyTransport() *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:               nil, // the upstream is on 127.0.0.1
		DialContext:         d.DialContext,
		MaxIdleConns:        0, // no global cap
		MaxIdleConnsPerHost: goproxyIdleConns,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   false,
	}
}

// newGoproxy returns httputil.NewSingleHostReverseProxy to upstream with the tuned transport and
// FlushInterval -1, so that every SSE event is flushed to the client as soon as it arrives.
//
// One change to its Director: a request body of known length is ended at that length (see
// boundBody), which a bare ReverseProxy needs in front of a fast upstream.
func newGoproxy(upstream *url.URL) *httputil.ReverseProxy {
	rp := httputil.NewSingleHostReverseProxy(upstream)
	rp.Transport = goproxyTransport()
	rp.FlushInterval = -1
	director := rp.Director
	rp.Director = func(r *http.Request) {
		director(r)
		boundBody(r)
	}
	return rp
}

// boundBody makes the outbound request's body end (io.EOF) after its Content-Length bytes without
// reading the inbound body any further. Without it a bare ReverseProxy cut about one stream in
// twenty here ("unexpected EOF" at the client, "use of closed network connection" in the proxy's
// log; golang/go#40747): having copied Content-Length bytes, the Transport reads the body once
// more to check that it is not longer; the fake upstream has answered by then, the proxy has
// written the response header, and writing it made the HTTP/1 server drain and close the inbound
// body, so that read fails and the Transport drops the upstream connection mid-response.
func boundBody(r *http.Request) {
	if r.Body != nil && r.ContentLength > 0 {
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.LimitReader(r.Body, r.ContentLength), r.Body}
	}
}

// serveGoproxy runs the reference proxy to upstream (a URL on 127.0.0.0/8; request paths are
// joined to its path, as NewSingleHostReverseProxy does) on 127.0.0.1:0, prints goproxyReady and
// its base URL on stdout, and serves until the process is killed. With anthUpstream, requests to
// /v1/messages go there instead (one process, so its CPU is measured as one target's).
func serveGoproxy(upstream, anthUpstream string) error {
	u, err := goproxyUpstream(upstream)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/", newGoproxy(u))
	if anthUpstream != "" {
		a, err := goproxyUpstream(anthUpstream)
		if err != nil {
			return err
		}
		mux.Handle("/v1/messages", newGoproxy(a))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	// GOPROXY_PPROF_ADDR (a loopback host:port) serves net/http/pprof beside the proxy, to compare
	// its profile with Polydev's (POLYDEV_PPROF_ADDR).
	if a := os.Getenv("GOPROXY_PPROF_ADDR"); a != "" {
		pl, err := net.Listen("tcp", a)
		if err != nil {
			return err
		}
		if !pl.Addr().(*net.TCPAddr).IP.IsLoopback() {
			return fmt.Errorf("GOPROXY_PPROF_ADDR %s is not a loopback address", a)
		}
		pm := http.NewServeMux()
		pm.HandleFunc("/debug/pprof/", pprof.Index) // heap, allocs, goroutine, ...
		pm.HandleFunc("/debug/pprof/profile", pprof.Profile)
		pm.HandleFunc("/debug/pprof/trace", pprof.Trace)
		go http.Serve(pl, pm)
	}
	fmt.Printf("%shttp://%s\n", goproxyReady, ln.Addr())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return srv.Serve(ln)
}

func goproxyUpstream(raw string) (*url.URL, error) {
	if err := checkLoopback(raw); err != nil {
		return nil, err
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("%s: only http:// upstreams", raw)
	}
	return u, nil
}

// startGoproxy runs this program again as the reference proxy to the fake's origin, reads its
// address from its output and checks that it listens on 127.0.0.1 only. Requests to it are
// direct's (same path, key, model and bodies). As with startPolydev, proc may be non-nil even
// when the target has Reason set.
func startGoproxy(ctx context.Context, f *Fake, direct *Target, tmp string) (*Target, *Proc) {
	t := &Target{Name: "goproxy"}
	self, err := os.Executable()
	if err != nil {
		t.Reason = "cannot find this program to run it again: " + err.Error()
		return t, nil
	}
	du, err := url.Parse(direct.URL)
	if err != nil {
		t.Reason = err.Error()
		return t, nil
	}
	p, err := startProc("goproxy", []string{self, goproxyFlag, f.Up.URL, f.Anth.URL}, childEnv(tmp), filepath.Join(tmp, "goproxy.log"))
	if err != nil {
		t.Reason = err.Error()
		return t, nil
	}
	t.PID = p.Cmd.Process.Pid
	base, err := waitLogLine(ctx, p, goproxyReady, 30*time.Second)
	if err != nil {
		t.Reason = err.Error()
		return t, p
	}
	port, err := urlPort(base)
	if err != nil {
		t.Reason = fmt.Sprintf("unexpected address %q: %v", base, err)
		return t, p
	}
	if addrs := listenAddrs(t.PID, port); len(addrs) != 1 || addrs[0] != "127.0.0.1" {
		t.Reason = fmt.Sprintf("listens on %v, not on 127.0.0.1 only; refusing to benchmark it", addrs)
		return t, p
	}
	t.URL, t.Header, t.Body = base+du.Path, direct.Header.Clone(), direct.Body
	if direct.Msgs != nil {
		mu, err := url.Parse(direct.Msgs.URL)
		if err != nil {
			t.Reason = err.Error()
			return t, p
		}
		t.Msgs = &MsgsReq{URL: base + mu.Path, Header: direct.Msgs.Header.Clone(), Body: direct.Msgs.Body}
	}
	return t, p
}

// urlPort returns the port of an http://host:port URL.
func urlPort(raw string) (int, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(u.Port())
}

// childEnv is the environment of a Go gateway the benchmark starts: nothing inherited but PATH,
// HOME (the run's temporary directory) and the Go runtime knobs, when set, so that a run can tune
// or look inside every Go process alike.
func childEnv(home string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}
	for _, k := range []string{"GOGC", "GOMEMLIMIT", "GOMAXPROCS", "GODEBUG", "GOPROXY_PPROF_ADDR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// floorRatio formats how many times the reference floor's added latency ours is ("3.2x"), or why
// there is no meaningful ratio: an added latency at or below zero is within the noise.
func floorRatio(ours, floor time.Duration) string {
	switch {
	case floor <= 0:
		return "n/m (goproxy added <= 0, within noise)"
	case ours <= 0:
		return "n/m (polydev added <= 0, within noise)"
	}
	return fmt.Sprintf("%.1fx", float64(ours)/float64(floor))
}

// knownTargets are the names -targets accepts.
var knownTargets = []string{"direct", "goproxy", "polydev", "portkey"}

// parseTargets returns the set of targets to measure; direct is always in it.
func parseTargets(s string) (map[string]bool, error) {
	want := map[string]bool{"direct": true}
	for _, name := range splitList(s) {
		if !slices.Contains(knownTargets, name) {
			return nil, fmt.Errorf("unknown target %q (known: %s)", name, strings.Join(knownTargets, ", "))
		}
		want[name] = true
	}
	return want, nil
}
