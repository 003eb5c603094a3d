package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/polydev/polydev/web"
)

// TestAdmissionConfig: the admission settings reach web.Config (unset ones stay zero, web's
// defaults), sizes take KiB/MiB/GiB, per-surface caps name real surfaces, and bad values are
// refused with the variable's name.
func TestAdmissionConfig(t *testing.T) {
	load := func(env map[string]string) (*Config, error) {
		return loadConfig(flag.NewFlagSet("serve", flag.ContinueOnError), nil, func(k string) string { return env[k] })
	}
	c, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	var w web.Config
	c.Admission.apply(&w)
	if !reflect.DeepEqual(w, web.Config{}) {
		t.Fatalf("unset admission settings changed web's defaults: %+v", w)
	}
	c, err = load(map[string]string{
		"POLYDEV_MAX_GATEWAY_BODY_BYTES": "16MiB, embeddings=2MiB,web_chat=1048576",
		"POLYDEV_GATEWAY_BODY_TIMEOUT":   "90s", "POLYDEV_BODY_TIMEOUT": "10s",
		"POLYDEV_USER_REQUESTS_IN_FLIGHT": "8", "POLYDEV_USER_BODY_BYTES_IN_FLIGHT": "48MiB",
		"POLYDEV_BODY_BYTES_IN_FLIGHT": "1GiB", "POLYDEV_MAX_CONNS": "500",
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Admission.apply(&w)
	want := web.Config{
		MaxGatewayBodyBytes: 16 << 20, GatewayBodyLimits: map[string]int64{web.LimitEmbeddings: 2 << 20, web.LimitWebChat: 1 << 20},
		GatewayBodyTimeout: 90 * time.Second, BodyReadTimeout: 10 * time.Second, UserRequests: 8, UserBodyBytes: 48 << 20,
		BodyBytesInFlight: 1 << 30, MaxConns: 500,
	}
	if !reflect.DeepEqual(w, want) {
		t.Fatalf("got %+v\nwant %+v", w, want)
	}
	for name, val := range map[string]string{
		"POLYDEV_MAX_GATEWAY_BODY_BYTES":    "chat=1MiB",
		"POLYDEV_GATEWAY_BODY_TIMEOUT":      "0s",
		"POLYDEV_BODY_TIMEOUT":              "soon",
		"POLYDEV_USER_REQUESTS_IN_FLIGHT":   "0",
		"POLYDEV_USER_BODY_BYTES_IN_FLIGHT": "12KiB",
		"POLYDEV_BODY_BYTES_IN_FLIGHT":      "lots",
		"POLYDEV_MAX_CONNS":                 "8",
	} {
		if _, err := load(map[string]string{name: val}); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: %v, want an error naming the variable", name, val, err)
		}
	}
	if _, err := load(map[string]string{"POLYDEV_MAX_GATEWAY_BODY_BYTES": "1TiB"}); err == nil {
		t.Error("a unit that is not KiB, MiB or GiB was accepted")
	}
}

// TestServeConnectionCap: the real server holds at most POLYDEV_MAX_CONNS client connections
// however many slow ones arrive (its own descriptor count stays within the cap plus what it held
// before), still answers /healthz, and refuses an unauthenticated gateway request announcing
// 30 MB without waiting for the body.
func TestServeConnectionCap(t *testing.T) {
	t.Parallel()
	const maxConns = 16
	p := startServe(t, t.TempDir(), "POLYDEV_MAX_CONNS="+strconv.Itoa(maxConns))
	addr := strings.TrimPrefix(p.base, "http://")
	pid := p.cmd.Process.Pid
	before := socketCount(t, pid)
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for range 60 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow") // headers never finished
	}
	res, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Get(p.base + "/healthz")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("/healthz under 60 slow connections: %v %v", res, err)
	}
	res.Body.Close()
	// /healthz was accepted after the 60 (the backlog is first in, first out), so all of them
	// have met the cap by now. Displaced sockets are released once the server's reader of each
	// wakes up: a few may linger for a moment (without the cap all 60 would be open, until the
	// 10 s header timeout).
	if n := socketCount(t, pid); n > before+maxConns+8 {
		t.Fatalf("serve holds %d sockets (%d before the flood, cap %d)", n, before, maxConns)
	}
	deadline := time.Now().Add(time.Minute)
	for n := socketCount(t, pid); n > before+maxConns; n = socketCount(t, pid) {
		if time.Now().After(deadline) {
			t.Fatalf("serve holds %d sockets (%d before the flood, cap %d)", n, before, maxConns)
		}
		time.Sleep(10 * time.Millisecond)
	}

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 31457280\r\n\r\n")
	_ = c.SetReadDeadline(time.Now().Add(time.Minute)) // a hang fails the test rather than blocking it
	ans, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer before the body: %v", err)
	}
	ans.Body.Close()
	if ans.StatusCode != http.StatusUnauthorized || !ans.Close {
		t.Fatalf("unauthenticated 30 MB announcement: %d, close %v", ans.StatusCode, ans.Close)
	}
}

// socketCount is the number of sockets among a process's descriptors.
func socketCount(t *testing.T, pid int) int {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		t.Skipf("cannot read %s: %v", dir, err)
	}
	n := 0
	for _, fd := range fds {
		if l, err := os.Readlink(dir + "/" + fd.Name()); err == nil && strings.HasPrefix(l, "socket:") {
			n++
		}
	}
	return n
}
