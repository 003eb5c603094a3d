// Package rfbtest runs, for tests, a real X display served the way a browser VM serves it: Xvfb,
// x11vnc without a password and websockify in front, all on 127.0.0.1, each stopped when the test
// ends. Tests skip when the tools are missing (apt packages xvfb, x11vnc, websockify,
// x11-xserver-utils). It starts processes and nothing else; it must not be imported outside tests.
package rfbtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/polydev/polydev/internal/rfb"
)

// Tools are the programs Start needs.
var Tools = []string{"Xvfb", "x11vnc", "websockify", "xsetroot"}

// Display is a running X display and its VNC and WebSocket endpoints.
type Display struct {
	Name     string // ":N"
	VNCAddr  string // x11vnc, host:port on 127.0.0.1
	WSAddr   string // websockify, host:port on 127.0.0.1
	Width    int
	Height   int
	t        testing.TB
	setRoots int
}

// Options configure Start; zero values get the defaults noted.
type Options struct {
	Width, Height int    // default 320x240
	WebDir        string // websockify serves files from here (as the guest serves noVNC); "" for none
}

// Start starts Xvfb with a black root window, x11vnc and websockify, or skips the test when a tool
// is missing.
func Start(t testing.TB, o Options) *Display {
	t.Helper()
	for _, bin := range Tools {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("SKIP: %s is not installed (apt-get install xvfb x11vnc websockify x11-xserver-utils)", bin)
		}
	}
	if o.Width == 0 || o.Height == 0 {
		o.Width, o.Height = 320, 240
	}
	d := &Display{t: t, Width: o.Width, Height: o.Height}
	d.Name = startXvfb(t, o.Width, o.Height)
	d.SetRoot("-solid", "black")
	d.VNCAddr = startX11VNC(t, d.Name)
	d.WSAddr = startWebsockify(t, d.VNCAddr, o.WebDir)
	return d
}

// SetRoot runs xsetroot on the display with args ("-solid", "black"; "-mod", "16", "16", ...).
func (d *Display) SetRoot(args ...string) {
	d.t.Helper()
	cmd := exec.Command("xsetroot", append([]string{"-display", d.Name}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		d.t.Fatalf("xsetroot %v: %v: %s", args, err, out)
	}
}

// syncBuffer keeps a process's output for the failure message.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs cmd and stops it (SIGTERM, then SIGKILL) when the test ends. Its stderr is kept and
// logged if the test fails.
func start(t testing.TB, cmd *exec.Cmd) {
	t.Helper()
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", cmd.Path, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s stderr:\n%s", cmd.Args[0], logs)
		}
	})
}

// startXvfb starts a display on a number Xvfb picks itself (-displayfd) and returns ":N".
func startXvfb(t testing.TB, w, h int) string {
	t.Helper()
	r, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", strconv.Itoa(w)+"x"+strconv.Itoa(h)+"x24",
		"-nolisten", "tcp", "-noreset")
	cmd.ExtraFiles = []*os.File{wr}
	start(t, cmd)
	wr.Close() // Xvfb holds the only writer: an early exit ends the read below
	line, err := bufio.NewReader(r).ReadString('\n')
	n, convErr := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || convErr != nil {
		t.Fatalf("Xvfb did not report its display: %q %v", line, err)
	}
	return ":" + strconv.Itoa(n)
}

// startX11VNC serves display without a password on 127.0.0.1, on a port x11vnc picks itself
// (5900 up, the first it can bind, so no race), and returns its address once it listens. The cursor
// and every extension that could add pixels of its own are off, so a black screen is all black.
func startX11VNC(t testing.TB, display string) string {
	t.Helper()
	cmd := exec.Command("x11vnc", "-display", display, "-localhost", "-listen", "127.0.0.1", "-no6", "-nopw",
		"-forever", "-shared", "-nocursor", "-noxdamage", "-noxfixes", "-noxrecord", "-nowf", "-noscr", "-nobell",
		"-nosel", "-noclipboard", "-nocmds")
	out, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	cmd.Stdout = w
	start(t, cmd)
	w.Close()
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if port, ok := strings.CutPrefix(sc.Text(), "PORT="); ok {
			go func() { // keep the pipe drained
				for sc.Scan() {
				}
			}()
			return net.JoinHostPort("127.0.0.1", port)
		}
	}
	t.Fatalf("x11vnc exited before listening: %v", errors.Join(sc.Err(), errors.New("no PORT= line")))
	return ""
}

// startWebsockify proxies WebSockets to the VNC server. The listening socket is made here and
// handed over (--inetd), so there is no port to race for and no wait for it to listen.
func startWebsockify(t testing.TB, vncAddr, webDir string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	f, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	args := []string{"--inetd"}
	if webDir != "" {
		args = append(args, "--web", webDir)
	}
	cmd := exec.Command("websockify", append(args, vncAddr)...)
	cmd.Stdin = f
	start(t, cmd)
	return l.Addr().String()
}

// Eventually takes screenshots over connections from dial until want holds, and returns that
// screenshot. x11vnc copies the screen by polling, so a change shows after an unknown delay; ctx
// bounds the wait and the test fails when it ends.
func Eventually(ctx context.Context, t testing.TB, dial func(context.Context) (net.Conn, error), what string, want func(*image.RGBA) bool) *image.RGBA {
	t.Helper()
	for {
		img, err := shot(ctx, dial)
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if want(img) {
			return img
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no screenshot showed %s (last: blank=%v, pixel 0,0 %v)", what, rfb.Blank(img), img.RGBAAt(0, 0))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func shot(ctx context.Context, dial func(context.Context) (net.Conn, error)) (*image.RGBA, error) {
	c, err := dial(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return rfb.Screenshot(ctx, c)
}

// Contains reports whether some pixel of img is c.
func Contains(img *image.RGBA, c color.RGBA) bool {
	for y := img.Rect.Min.Y; y < img.Rect.Max.Y; y++ {
		for x := img.Rect.Min.X; x < img.Rect.Max.X; x++ {
			if img.RGBAAt(x, y) == c {
				return true
			}
		}
	}
	return false
}
