package web

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/polydev/polydev/internal/rfb/rfbtest"
)

// TestNoVNCViewerInChromium opens the ticket's viewer URL in headless Chromium: the host's real
// noVNC (Debian's novnc package) must load under our CSP without a violation, read the WebSocket
// path and ticket from the fragment and connect through the proxy to a real websockify, x11vnc and
// Xvfb. It drives the browser over the DevTools protocol.
func TestNoVNCViewerInChromium(t *testing.T) {
	t.Parallel()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("SKIP: chromium is not installed (apt-get install chromium)")
	}
	if _, err := os.Stat(filepath.Join(DefaultNoVNCDir, "vnc.html")); err != nil {
		t.Skip("SKIP: noVNC is not installed (apt-get install novnc)")
	}
	d := rfbtest.Start(t, rfbtest.Options{})
	v := newVNCEnv(t)
	v.ctl.addr = d.WSAddr
	v.srv.cfg.NoVNCDir = ""
	// A browser keeps no __Host- cookie over plain http, so the session is added on the way in, as
	// the browser would send it over https.
	h := v.srv.Handler()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("Cookie", v.cookie)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	tk := v.ticket(t, v.vm.ID, "Cookie", v.cookie)

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute) // a bound for a hung browser, not a measure
	defer cancel()
	page := startChromium(ctx, t, chromium)
	if _, err := page.call(ctx, "Log.enable", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := page.call(ctx, "Runtime.enable", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := page.call(ctx, "Page.navigate", map[string]any{"url": ts.URL + tk.URL}); err != nil {
		t.Fatal(err)
	}
	const connected = `document.documentElement.classList.contains("noVNC_connected")`
	for {
		res, err := page.call(ctx, "Runtime.evaluate", map[string]any{"expression": connected, "returnByValue": true})
		if err != nil {
			t.Fatalf("noVNC did not connect: %v\nbrowser log:\n%s", err, strings.Join(page.logs(), "\n"))
		}
		var r struct{ Result struct{ Value any } }
		if json.Unmarshal(res, &r) == nil && r.Result.Value == true {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	for _, l := range page.logs() {
		if strings.Contains(l, "Content Security Policy") || strings.Contains(l, "Refused to") {
			t.Errorf("CSP violation: %s", l)
		}
	}
	if v.ctl.dials.Load() == 0 {
		t.Error("the WebSocket did not go through the proxy")
	}
	if n := v.srv.vnc.tickets.len(); n != 0 {
		t.Errorf("the ticket was not spent: %d outstanding", n)
	}
}

// cdpPage is a DevTools protocol connection to one page.
type cdpPage struct {
	c *websocket.Conn

	mu      sync.Mutex
	nextID  int
	waiting map[int]chan cdpMessage
	log     []string
}

type cdpMessage struct {
	ID     int             `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

var devtoolsURL = regexp.MustCompile(`DevTools listening on (ws://127\.0\.0\.1:(\d+)/\S+)`)

// startChromium starts headless Chromium in its own process group (killed at the end) with a
// throwaway profile and connects to its first page.
func startChromium(ctx context.Context, t *testing.T, bin string) *cdpPage {
	t.Helper()
	// Loopback only: no background traffic, and every host name but 127.0.0.1 fails to resolve, so
	// nothing the page or the browser itself asks for can leave the machine.
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--remote-debugging-port=0",
		"--remote-debugging-address=127.0.0.1", "--disable-background-networking", "--disable-component-update",
		"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--user-data-dir="+t.TempDir(), "about:blank")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := devtoolsURL.FindStringSubmatch(sc.Text()); m != nil {
				port <- m[2]
			}
		}
	}()
	var p string
	select {
	case p = <-port:
	case <-ctx.Done():
		t.Fatal("chromium did not start its DevTools server")
	}
	req, err := http.NewRequestWithContext(ctx, "GET", "http://127.0.0.1:"+p+"/json/list", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var targets []struct{ Type, WebSocketDebuggerURL string }
	if err := json.NewDecoder(res.Body).Decode(&targets); err != nil {
		t.Fatal(err)
	}
	for _, tg := range targets {
		if tg.Type != "page" {
			continue
		}
		c, _, err := websocket.Dial(ctx, tg.WebSocketDebuggerURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadLimit(64 << 20)
		pg := &cdpPage{c: c, waiting: map[int]chan cdpMessage{}}
		go pg.read(context.WithoutCancel(ctx))
		t.Cleanup(func() { c.CloseNow() })
		return pg
	}
	t.Fatalf("no page target: %+v", targets)
	return nil
}

func (p *cdpPage) read(ctx context.Context) {
	for {
		_, b, err := p.c.Read(ctx)
		if err != nil {
			return
		}
		var m cdpMessage
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		p.mu.Lock()
		if ch, ok := p.waiting[m.ID]; ok && m.ID != 0 {
			delete(p.waiting, m.ID)
			ch <- m
		} else if m.Method == "Log.entryAdded" || m.Method == "Runtime.consoleAPICalled" || m.Method == "Runtime.exceptionThrown" {
			p.log = append(p.log, m.Method+" "+string(m.Params))
		}
		p.mu.Unlock()
	}
}

func (p *cdpPage) call(ctx context.Context, method string, params any) (json.RawMessage, error) {
	p.mu.Lock()
	p.nextID++
	id := p.nextID
	ch := make(chan cdpMessage, 1)
	p.waiting[id] = ch
	p.mu.Unlock()
	b, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err != nil {
		return nil, err
	}
	if err := p.c.Write(ctx, websocket.MessageText, b); err != nil {
		return nil, err
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return nil, fmt.Errorf("%s: %s", method, m.Error.Message)
		}
		return m.Result, nil
	case <-ctx.Done():
		return nil, errors.New(method + ": no answer in time")
	}
}

func (p *cdpPage) logs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.log...)
}
