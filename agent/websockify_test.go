package agent

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/polydev/polydev/internal/rfb"
)

// startRelay serves the viewer relay to target on a loopback port and returns its ws:// URL.
func startRelay(t *testing.T, target string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeWebsockify(ctx, ln, target, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeWebsockify: %v", err)
		}
	})
	return "ws://" + ln.Addr().String() + "/websockify"
}

// TestWebsockifyRelay: a viewer's binary messages reach the VNC server's TCP stream and back, a
// 4 MiB frame (a full 1280x800 screen in Raw) arrives whole, and the VNC server closing ends the
// WebSocket.
func TestWebsockifyRelay(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte("0123456789abcdef"), 4<<20/16)
	vnc, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vnc.Close() })
	go func() {
		c, err := vnc.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.WriteString(c, "RFB 003.008\n")
		buf := make([]byte, 5)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "hello" {
			return
		}
		_, _ = c.Write(big)
	}()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a hang guard
	defer cancel()
	ws, _, err := websocket.Dial(ctx, startRelay(t, vnc.Addr().String()), &websocket.DialOptions{Subprotocols: []string{"binary"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if ws.Subprotocol() != "binary" {
		t.Errorf("subprotocol %q, want binary (noVNC asks for it)", ws.Subprotocol())
	}
	conn := websocket.NetConn(ctx, ws, websocket.MessageBinary)
	greeting := make([]byte, 12)
	if _, err := io.ReadFull(conn, greeting); err != nil || string(greeting) != "RFB 003.008\n" {
		t.Fatalf("greeting %q, %v", greeting, err)
	}
	if _, err := io.WriteString(conn, "hello"); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(conn) // up to the VNC server's close
	if !bytes.Equal(got, big) {
		t.Fatalf("relayed %d bytes (%v), want the %d sent", len(got), err, len(big))
	}
}

// TestWebsockifyNoVNCServer: with nothing listening at the target the viewer is told to try again.
func TestWebsockifyNoVNCServer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, startRelay(t, closed), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	_, _, err = ws.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusTryAgainLater {
		t.Fatalf("read = %v, want close status %d", err, websocket.StatusTryAgainLater)
	}
}

// TestWebsockifyNotAnUpgrade: a plain request gets an error answer, not a relay.
func TestWebsockifyNotAnUpgrade(t *testing.T) {
	t.Parallel()
	u := startRelay(t, "127.0.0.1:9")
	resp, err := http.Get("http" + u[len("ws"):])
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Fatalf("plain GET: %d, want a 4xx", resp.StatusCode)
	}
}

// TestRealStackBuiltinRelay runs the golden stack with the agent's own relay as its websockify child
// (this test binary, see TestMain) and reads a screen of the real Chromium through it.
func TestRealStackBuiltinRelay(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	_, listen := startRealStack(t, StackOptions{Display: 191, WebsockifySelf: self})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var last error
	for ctx.Err() == nil { // Chromium's window appears some time after the stack is ready
		conn, err := rfb.DialWebSocket(ctx, "ws://"+listen+"/websockify", &websocket.DialOptions{Subprotocols: []string{"binary"}})
		if err != nil {
			t.Fatal(err)
		}
		img, err := rfb.ScreenshotIn(ctx, conn, rfb.Raw)
		conn.Close()
		if err == nil && !rfb.Blank(img) {
			return
		}
		last = errors.Join(err, errors.New("blank screen"))
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("no screen through the relay: %v", last)
}
