package agent

// The viewer's relay: WebSocket (noVNC's binary frames) on the guest port the host forwards, TCP to
// x11vnc on guest loopback. It replaces Python's websockify, which forked a process for every viewer:
// under QEMU TCG that fork took 0.6-4.4 s before a viewer's first byte, and its relay of the first
// 4 MB frame a few seconds more (docs/PERFORMANCE.md, Browser VMs). Here a viewer is two goroutines.
//
// Only the host reaches this port (a user-mode forward on host loopback, or the VM's namespace in
// tap mode), and only through Polydev's viewer route, which checks the user, the ticket and the
// Origin before it forwards the upgrade; so, like websockify, the relay itself checks no Origin.

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/coder/websocket"
)

// WebsockifyCommand is the agent's subcommand that runs the relay as the stack's websockify child:
// polydev-agent websockify LISTEN TARGET.
const WebsockifyCommand = "websockify"

// maxViewerMessage bounds one message from a viewer: RFB client messages are a few bytes (keys,
// pointer, update requests) up to a clipboard text.
const maxViewerMessage = 1 << 20

// ServeWebsockify relays every WebSocket accepted on ln to a new TCP connection to target until ctx
// ends.
func ServeWebsockify(ctx context.Context, ln net.Listener, target string, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           WebsockifyHandler(target, log),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	stop := context.AfterFunc(ctx, func() { _ = srv.Close() })
	defer stop()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// WebsockifyHandler accepts a WebSocket (subprotocol "binary" when offered, as noVNC does) on any
// path and relays its binary messages to and from a TCP connection to target.
func WebsockifyHandler(target string, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// x11vnc first: it sends its version only after timers of its own (up to 200 ms before it
		// accepts, 100 ms after), which then run while the upgrade's answer travels to the viewer.
		var d net.Dialer
		vnc, dialErr := d.DialContext(r.Context(), "tcp", target)
		if dialErr == nil {
			defer vnc.Close()
		}
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"binary"}, InsecureSkipVerify: true})
		if err != nil {
			return // Accept answered the bad upgrade
		}
		defer ws.CloseNow()
		ws.SetReadLimit(maxViewerMessage)
		if dialErr != nil {
			log.Warn("websockify: the VNC server does not answer", "target", target, "err", dialErr)
			_ = ws.Close(websocket.StatusTryAgainLater, "the VNC server does not answer")
			return
		}
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		viewer := websocket.NetConn(ctx, ws, websocket.MessageBinary)
		done := make(chan struct{}, 2)
		relay := func(dst io.Writer, src io.Reader) {
			_, _ = io.Copy(dst, src)
			done <- struct{}{}
		}
		go relay(viewer, vnc)
		go relay(vnc, viewer)
		<-done // either side ended: the deferred closes end the other
	})
}
