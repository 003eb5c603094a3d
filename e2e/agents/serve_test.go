package agents

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polydev/polydev/internal/testkit"
)

// lockedBuffer collects a process's output for the test to read while it runs.
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

// cli runs a polydev subcommand against the data directory, with password on its stdin.
func cli(t *testing.T, dataDir, password string, args ...string) {
	t.Helper()
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "POLYDEV_DATA_DIR="+dataDir)
	cmd.Stdin = strings.NewReader(password + "\n") // the CLI never takes a password in argv
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("polydev %v: %v\n%s", args, err, out)
	}
}

// startServe runs the real binary on 127.0.0.1:0 with its data in dataDir, waits for its
// "listening" log line and returns its base URL and its log.
func startServe(t *testing.T, dataDir string, env ...string) (string, *lockedBuffer) {
	t.Helper()
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve")
	cmd.Dir = filepath.Dir(dataDir)
	cmd.Env = append(os.Environ(), append([]string{"POLYDEV_ADDR=127.0.0.1:0", "POLYDEV_DATA_DIR=" + dataDir,
		"POLYDEV_LOG_FORMAT=json", "POLYDEV_LOG_LEVEL=debug", "POLYDEV_VM_DRIVER=off"}, env...)...)
	pr, pw := io.Pipe()
	logs := &lockedBuffer{}
	cmd.Stderr = io.MultiWriter(logs, pw)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); pw.Close() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("polydev serve log (last 8 KiB):\n%s", tail(logs.String(), 8<<10))
		}
	})
	addr := testkit.ListenAddr(pr)
	select {
	case a := <-addr:
		return "http://" + a, logs
	case err := <-done:
		t.Fatalf("polydev serve exited early: %v\n%s", err, logs)
	case <-time.After(60 * time.Second):
		t.Fatalf("polydev serve did not listen within 60s:\n%s", logs)
	}
	return "", nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// api calls Polydev's own API and fails the test on an unexpected status.
func api(t *testing.T, base string, want int, method, path, body string, headers ...string) (http.Header, string) {
	t.Helper()
	var rdr io.Reader
	if body != "" {
		rdr = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rdr)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("%s %s = %d, want %d: %s", method, path, res.StatusCode, want, b)
	}
	return res.Header, string(b)
}

func sessionCookie(t *testing.T, h http.Header) string {
	t.Helper()
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == "__Host-polydev_session" {
			return c.Name + "=" + c.Value
		}
	}
	t.Fatal("no session cookie")
	return ""
}
