package agents

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// seen is one request as a client sent it.
type seen struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   []byte
}

// tap is a reverse proxy in front of Polydev that records what the agents send: the bodies the
// same-provider tests compare with what reached the fake upstream, and the request counts the
// wrong-token tests bound. Answers stream through unbuffered.
type tap struct {
	URL  string
	mu   sync.Mutex
	reqs []seen
}

func newTap(t *testing.T, target string) *tap {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	tp := &tap{}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		tp.mu.Lock()
		tp.reqs = append(tp.reqs, seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
		tp.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	tp.URL = srv.URL
	return tp
}

// since returns the requests after the first n.
func (tp *tap) since(n int) []seen {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return append([]seen(nil), tp.reqs[n:]...)
}

func (tp *tap) count() int {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return len(tp.reqs)
}

// egress stands in for the outside world: the agents' HTTPS_PROXY and HTTP_PROXY point at it, so
// anything they try to reach beyond 127.0.0.1 (update checks, telemetry, plugin syncs) arrives here,
// is refused and recorded instead of leaving the machine.
type egress struct {
	URL  string
	mu   sync.Mutex
	hits []string
}

func newEgress(t *testing.T) *egress {
	t.Helper()
	e := &egress{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.hits = append(e.hits, r.Method+" "+r.Host+r.URL.Path)
		e.mu.Unlock()
		http.Error(w, "tests reach no address beyond 127.0.0.1", http.StatusForbidden)
	}))
	t.Cleanup(srv.Close)
	e.URL = srv.URL
	t.Cleanup(func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if len(e.hits) > 0 {
			t.Errorf("an agent tried to leave the machine (refused by the test proxy): %q", e.hits)
		}
	})
	return e
}

// describe lists requests as "METHOD path (user-agent)" lines, for failure messages that say what
// an agent actually sent.
func describe(reqs []seen) string {
	var b strings.Builder
	for _, r := range reqs {
		fmt.Fprintf(&b, "\n\t%s %s (%s) %d bytes", r.Method, r.Path, r.Header.Get("User-Agent"), len(r.Body))
		for k, v := range r.Header {
			fmt.Fprintf(&b, " %s=%q", k, v)
		}
	}
	return b.String()
}
