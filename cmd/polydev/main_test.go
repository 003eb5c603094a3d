package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/polydev/polydev/internal/pgtest"
	"github.com/polydev/polydev/internal/testkit"
)

// binary builds polydev once per test run.
var binary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "polydev-bin")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "polydev")
	out, err := exec.Command("go", "build", "-o", path, ".").CombinedOutput()
	if err != nil {
		return "", &buildError{string(out)}
	}
	return path, nil
})

type buildError struct{ out string }

func (e *buildError) Error() string { return "go build: " + e.out }

func TestMain(m *testing.M) {
	code := m.Run()
	if p, err := binary(); err == nil {
		os.RemoveAll(filepath.Dir(p))
	}
	os.Exit(code)
}

// proc is a running `polydev serve`.
type proc struct {
	cmd  *exec.Cmd
	base string
	logs *lockedBuffer
	done chan struct{} // closed when the process has exited; err is then set
	err  error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startServe runs the real binary on 127.0.0.1:0 in dir and waits for its "listening" log line.
func startServe(t *testing.T, dir string, env ...string) *proc {
	t.Helper()
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve")
	cmd.Dir = dir
	// VM support is off unless the test asks for it: make test exports POLYDEV_VM_IMAGE, and every
	// other test's server would otherwise boot a golden VM that its SIGKILL at cleanup orphans.
	// (exec keeps the last value of a repeated variable, so the test's env wins.)
	cmd.Env = append(os.Environ(), append([]string{"POLYDEV_ADDR=127.0.0.1:0", "POLYDEV_DATA_DIR=" + filepath.Join(dir, "data"),
		"POLYDEV_LOG_FORMAT=json", "POLYDEV_LOG_LEVEL=debug", "POLYDEV_VM_DRIVER=off"}, env...)...)
	pr, pw := io.Pipe()
	logs := &lockedBuffer{}
	cmd.Stderr = io.MultiWriter(logs, pw) // logs first: a test may read them once the pipe shows "listening"
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, logs: logs, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); pw.Close(); close(p.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	addr := testkit.ListenAddr(pr)
	select {
	case a := <-addr:
		p.base = "http://" + a
	case <-p.done:
		t.Fatalf("polydev serve exited early: %v\n%s", p.err, logs)
	case <-time.After(60 * time.Second):
		t.Fatalf("polydev serve did not listen within 60s:\n%s", logs)
	}
	return p
}

type client struct {
	t    *testing.T
	base string
}

func (c client) do(method, path, body string, headers ...string) (int, http.Header, string) {
	c.t.Helper()
	var rdr io.Reader
	if body != "" {
		rdr = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rdr)
	if err != nil {
		c.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

func (c client) want(status int, method, path, body string, headers ...string) (http.Header, string) {
	c.t.Helper()
	got, h, b := c.do(method, path, body, headers...)
	if got != status {
		c.t.Fatalf("%s %s = %d, want %d: %s", method, path, got, status, b)
	}
	return h, b
}

func cookieOf(t *testing.T, h http.Header) string {
	t.Helper()
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == "__Host-polydev_session" {
			return c.Name + "=" + c.Value
		}
	}
	t.Fatal("no session cookie")
	return ""
}

// TestWholeProgram walks the account lifecycle against the real binary, on SQLite and on PostgreSQL,
// then stops it with SIGTERM and checks it drained and exited cleanly with no secret in its logs.
func TestWholeProgram(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			var env []string
			if engine == "postgres" {
				env = append(env, "POLYDEV_DATABASE_URL="+pgtest.URL(t))
			}
			p := startServe(t, dir, env...)
			c := client{t, p.base}
			const password = "whole-Program-canary-91"

			c.want(200, "GET", "/healthz", "")
			c.want(200, "GET", "/readyz", "")
			c.want(201, "POST", "/api/account/signup", `{"email":"walk@example.com","password":"`+password+`"}`)
			h, _ := c.want(200, "POST", "/api/account/login", `{"email":"walk@example.com","password":"`+password+`"}`)
			cookie := cookieOf(t, h)
			_, me := c.want(200, "GET", "/api/account/me", "", "Cookie", cookie)
			if !strings.Contains(me, `"walk@example.com"`) {
				t.Fatalf("me = %s", me)
			}
			_, body := c.want(201, "POST", "/api/account/tokens", `{"name":"cli"}`, "Cookie", cookie)
			var tok struct{ ID, Token string }
			if err := json.Unmarshal([]byte(body), &tok); err != nil {
				t.Fatal(err)
			}
			bearer := []string{"Authorization", "Bearer " + tok.Token}
			c.want(200, "GET", "/api/account/me", "", bearer...)
			c.want(204, "DELETE", "/api/account/tokens/"+tok.ID, "", bearer...)
			c.want(401, "GET", "/api/account/me", "", bearer...)
			c.want(204, "POST", "/api/account/logout", "", "Cookie", cookie)
			c.want(401, "GET", "/api/account/me", "", "Cookie", cookie)
			_, metrics := c.want(200, "GET", "/metrics", "")
			if !strings.Contains(metrics, `polydev_http_requests_total{method="POST",route="POST /api/account/login",status="200"} 1`) {
				t.Fatalf("metrics lack the login request:\n%s", metrics)
			}
			if os.Getenv("GOGC") == "" {
				// gctune.go: 200, raised (up to maxGCPercent) while the live heap is small so that
				// the goal stays at the floor.
				pct, goal := metricValue(metrics, "go_gc_gogc_percent"), metricValue(metrics, "go_memstats_next_gc_bytes")
				if pct < gcPercent || pct > maxGCPercent {
					t.Fatalf("serve without GOGC collects at GOGC=%v, want %d to %d:\n%s", pct, gcPercent, maxGCPercent, metrics)
				}
				if pct > gcPercent && goal < heapGoalFloor*9/10 {
					t.Fatalf("GOGC=%v but the heap goal is %v bytes, under the floor %d", pct, goal, heapGoalFloor)
				}
			}

			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case <-p.done:
				if p.err != nil {
					t.Fatalf("exit after SIGTERM: %v\n%s", p.err, p.logs)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("no exit within 30s of SIGTERM")
			}
			logs := p.logs.String()
			if !strings.Contains(logs, `"msg":"stopped"`) {
				t.Fatalf("no clean shutdown in logs:\n%s", logs)
			}
			for _, secret := range []string{password, tok.Token, strings.SplitN(cookie, "=", 2)[1]} {
				if strings.Contains(logs, secret) {
					t.Fatalf("log contains a secret (%.6s...)", secret)
				}
			}
			if engine == "sqlite" {
				if fi, err := os.Stat(filepath.Join(dir, "data", "polydev.db")); err != nil || fi.Mode().Perm() != 0o600 {
					t.Fatalf("database file: %v %v", fi, err)
				}
			}
		})
	}
}

// TestUserCreateAndMigrate uses the CLI to migrate and create an admin, who can then use admin routes.
func TestUserCreateAndMigrate(t *testing.T) {
	t.Parallel()
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	stdin := ""
	run := func(args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "POLYDEV_DATA_DIR="+filepath.Join(dir, "data"))
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("migrate"); err != nil || !strings.Contains(out, "sqlite schema at version") {
		t.Fatalf("migrate: %v %s", err, out)
	}
	stdin = "admin-password-1\n"
	if out, err := run("user", "create", "--email", "root@example.com", "--admin", "--tier", "pro"); err != nil {
		t.Fatalf("user create: %v %s", err, out)
	}
	if out, err := run("user", "create", "--email", "root@example.com"); err == nil || !strings.Contains(out, "already exists") {
		t.Fatalf("duplicate user create: %v %s", err, out)
	}
	if out, err := run("user", "create", "--email", "x@example.com", "--password", "admin-password-1"); err == nil || !strings.Contains(out, "not accepted") {
		t.Fatalf("a password in argv was accepted: %v %s", err, out)
	}
	stdin = "short\n"
	if out, err := run("user", "create", "--email", "x@example.com"); err == nil || !strings.Contains(out, "at least") {
		t.Fatalf("short password accepted: %v %s", err, out)
	}
	stdin = ""
	if out, err := run("user", "create", "--email", "x@example.com"); err == nil || !strings.Contains(out, "no password on stdin") {
		t.Fatalf("empty stdin accepted: %v %s", err, out)
	}
	// Accounts through the CLI: another user, set tier and role, disable, enable, reset the password.
	stdin = "user-password-01\n"
	if out, err := run("user", "create", "--email", "Bob@Example.com"); err != nil || !strings.Contains(out, "bob@example.com") {
		t.Fatalf("user create bob: %v %s", err, out)
	}
	stdin = ""
	for _, step := range []struct {
		args []string
		want string
	}{
		{[]string{"user", "set", "--email", "bob@example.com", "--tier", "plus", "--role", "admin"}, "admin user bob@example.com"},
		{[]string{"user", "set", "--email", "bob@example.com", "--role", "user"}, "tier plus"},
		{[]string{"user", "disable", "--email", "bob@example.com"}, "disabled)"},
		{[]string{"user", "list", "--search", "bob"}, "disabled"},
		{[]string{"user", "enable", "--email", "bob@example.com"}, "enabled)"},
	} {
		if out, err := run(step.args...); err != nil || !strings.Contains(out, step.want) {
			t.Fatalf("%v: %v %s (want %q)", step.args, err, out, step.want)
		}
	}
	for _, bad := range [][]string{
		{"user", "set", "--email", "bob@example.com", "--tier", "gold"},
		{"user", "set", "--email", "bob@example.com"},
		{"user", "disable", "--email", "nobody@example.com"},
		{"user", "frobnicate"},
	} {
		if out, err := run(bad...); err == nil {
			t.Fatalf("%v accepted: %s", bad, out)
		}
	}
	stdin = "bob-new-password-2\n"
	if out, err := run("user", "reset-password", "--email", "bob@example.com"); err != nil {
		t.Fatalf("reset-password: %v %s", err, out)
	}
	stdin = ""
	if out, err := run("user", "list"); err != nil || !strings.Contains(out, "root@example.com") || !strings.Contains(out, "bob@example.com") || strings.Contains(out, "argon2") {
		t.Fatalf("user list: %v %s", err, out)
	}
	if out, err := run("version"); err != nil || !strings.HasPrefix(out, "polydev ") {
		t.Fatalf("version: %v %s", err, out)
	}
	if _, err := run("bogus"); err == nil {
		t.Fatal("unknown command accepted")
	}

	p := startServe(t, dir)
	c := client{t, p.base}
	h, body := c.want(200, "POST", "/api/account/login", `{"email":"root@example.com","password":"admin-password-1"}`)
	if !strings.Contains(body, `"role":"admin"`) || !strings.Contains(body, `"tier":"pro"`) {
		t.Fatalf("login body = %s", body)
	}
	c.want(200, "GET", "/api/admin/tier-limits", "", "Cookie", cookieOf(t, h))
	c.want(200, "POST", "/api/account/login", `{"email":"bob@example.com","password":"bob-new-password-2"}`)
	c.want(401, "POST", "/api/account/login", `{"email":"bob@example.com","password":"user-password-01"}`)
}

// metricValue returns the value of an unlabelled series in a Prometheus text exposition (-1: absent).
func metricValue(exposition, name string) float64 {
	for _, line := range strings.Split(exposition, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}
