package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polydev/polydev/internal/testkit"
)

// TestSoak runs mixed traffic against the real server for a while (POLYDEV_SOAK, default 2m) and
// checks that nothing grows without bound: goroutines, open descriptors and live heap (after a
// forced collection) are measured at rest after a warm-up round and again at rest after the rest
// of the run, and must stay within a small margin. The traffic: streamed and whole answers,
// streams the client abandons mid-way, malformed bodies, wrong tokens, wrong passwords, reports
// and model lists. Loopback only.
func TestSoak(t *testing.T) {
	t.Parallel()
	total := 2 * time.Minute
	if v := os.Getenv("POLYDEV_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("POLYDEV_SOAK: %v", err)
		}
		total = d
	}
	pprof := freeLoopbackAddr(t)
	env := []string{"POLYDEV_ALLOW_PRIVATE_UPSTREAMS=127.0.0.0/8", "POLYDEV_LOG_LEVEL=info", "POLYDEV_PPROF_ADDR=" + pprof}
	up := testkit.NewOpenAI(t, testkit.WithScript(testkit.Script{Text: strings.Repeat("soak ", 40), Chunks: 20,
		Usage: testkit.Usage{PromptTokens: 12, CompletionTokens: 40}}))
	dir := t.TempDir()
	p := startServe(t, dir, env...)
	c := client{t, p.base}
	token := setupGateway(t, c, dir+"/data", up, 0, env)

	var requests, failures atomic.Int64
	run := func(d time.Duration) {
		ctx, cancel := context.WithTimeout(t.Context(), d)
		defer cancel()
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
		defer hc.CloseIdleConnections()
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for i := w; ctx.Err() == nil; i += 8 {
					if err := soakStep(ctx, hc, p.base, token, i%9); err != nil && ctx.Err() == nil {
						failures.Add(1)
						t.Errorf("step %d: %v", i%9, err)
						return
					}
					requests.Add(1)
				}
			})
		}
		wg.Wait()
	}
	// At rest: abandoned streams finish on the server, idle connections settle. On a loaded machine
	// work can still be running 2 s after the traffic stopped (an argon2id hash of a wrong password
	// holds its tens of MiB until it ends), so each measure is the least of three samples 2 s apart:
	// what is still finishing shrinks between them, a leak stays in all three.
	rest := func() soakSample {
		var low soakSample
		for i := range 3 {
			time.Sleep(2 * time.Second)
			s := sampleServer(t, pprof, p.cmd.Process.Pid)
			if i == 0 {
				low = s
				continue
			}
			low.goroutines, low.fds, low.heapInuse = min(low.goroutines, s.goroutines), min(low.fds, s.fds), min(low.heapInuse, s.heapInuse)
		}
		return low
	}

	run(total / 4)
	base := rest()
	run(total - total/4)
	end := rest()
	t.Logf("soak %s: %d requests; at rest after warm-up %+v, at the end %+v", total, requests.Load(), base, end)
	if failures.Load() > 0 {
		return
	}
	// The margins hold what may differ at rest without a leak: idle keep-alive connections to the
	// upstream (one descriptor and two goroutines each, up to one per client worker and a few more).
	// A leak of one goroutine or descriptor per thousand requests shows as many times more.
	if end.goroutines > base.goroutines+40 {
		t.Errorf("goroutines grew from %d to %d", base.goroutines, end.goroutines)
	}
	if end.fds > base.fds+25 {
		t.Errorf("open descriptors grew from %d to %d", base.fds, end.fds)
	}
	if end.heapInuse > base.heapInuse*3/2+16<<20 {
		t.Errorf("live heap grew from %d to %d bytes", base.heapInuse, end.heapInuse)
	}
}

// soakStep is one request of the mix.
func soakStep(ctx context.Context, hc *http.Client, base, token string, kind int) error {
	chat := func(stream bool) string {
		return fmt.Sprintf(`{"model":"openai/acct-model","max_tokens":50,"stream":%v,"messages":[{"role":"user","content":"soak"}]}`, stream)
	}
	type step struct {
		method, path, body, auth string
		want                     int
		abandon                  bool // read a little of the answer, then hang up
	}
	bearer := "Bearer " + token
	steps := []step{
		{"POST", "/v1/chat/completions", chat(false), bearer, 200, false},
		{"POST", "/v1/chat/completions", chat(true), bearer, 200, false},
		{"POST", "/v1/chat/completions", chat(true), bearer, 200, true},
		{"POST", "/v1/chat/completions", `{"model":`, bearer, 400, false},
		{"POST", "/v1/chat/completions", chat(false), "Bearer pd_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 401, false},
		{"GET", "/api/dashboard/stats", "", bearer, 200, false},
		{"GET", "/v1/models", "", bearer, 200, false},
		{"POST", "/api/account/login", `{"email":"user@example.com","password":"wrong-password-1"}`, "", 0, false},
		{"GET", "/healthz", "", "", 200, false},
	}
	s := steps[kind]
	var body io.Reader
	if s.body != "" {
		body = strings.NewReader(s.body)
	}
	req, err := http.NewRequestWithContext(ctx, s.method, base+s.path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if s.auth != "" {
		req.Header.Set("Authorization", s.auth)
	}
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if s.want != 0 && res.StatusCode != s.want {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return fmt.Errorf("%s %s = %d, want %d: %s", s.method, s.path, res.StatusCode, s.want, b)
	}
	// A wrong password is refused (401), throttled (429), or, when every password-hash slot stayed
	// busy for the gate's wait on a loaded machine, turned away with 503 and Retry-After: the
	// admission rule that keeps hashing bounded. Anything else is a failure.
	busy := res.StatusCode == http.StatusServiceUnavailable && res.Header.Get("Retry-After") != ""
	if s.want == 0 && res.StatusCode != 401 && res.StatusCode != 429 && !busy {
		return fmt.Errorf("wrong password: status %d", res.StatusCode)
	}
	if s.abandon {
		_, err := bufio.NewReader(res.Body).ReadString('\n')
		return err // the deferred Close hangs up mid-stream
	}
	_, err = io.Copy(io.Discard, res.Body)
	return err
}

type soakSample struct {
	goroutines int
	fds        int
	heapInuse  int64
}

var heapInuseRe = regexp.MustCompile(`(?m)^# HeapInuse = (\d+)$`)

// sampleServer reads the server's goroutine count and live heap (after a collection) from its
// loopback pprof listener, and counts its open descriptors in /proc.
func sampleServer(t *testing.T, pprof string, pid int) soakSample {
	t.Helper()
	get := func(path string) string {
		res, err := http.Get("http://" + pprof + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	var s soakSample
	first, _, _ := strings.Cut(get("/debug/pprof/goroutine?debug=1"), "\n")
	if _, err := fmt.Sscanf(first, "goroutine profile: total %d", &s.goroutines); err != nil {
		t.Fatalf("goroutine profile header %q: %v", first, err)
	}
	m := heapInuseRe.FindStringSubmatch(get("/debug/pprof/heap?gc=1&debug=1"))
	if m == nil {
		t.Fatal("heap profile without HeapInuse")
	}
	s.heapInuse, _ = strconv.ParseInt(m[1], 10, 64)
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	s.fds = len(fds)
	return s
}

// freeLoopbackAddr returns a loopback address with a port nothing listens on just now.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
