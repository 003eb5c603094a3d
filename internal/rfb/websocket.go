package rfb

import (
	"context"
	"fmt"
	"net"
	"slices"

	"github.com/coder/websocket"
)

// WebSocketConn turns a WebSocket to websockify into a net.Conn carrying RFB, the way noVNC talks
// to it: every write is one binary message, and reads see the messages' bytes as one stream. ctx
// bounds the net.Conn's life; Close closes the WebSocket.
func WebSocketConn(ctx context.Context, c *websocket.Conn) net.Conn {
	return websocket.NetConn(ctx, c, websocket.MessageBinary)
}

// DialWebSocket opens a WebSocket to websockify at url (ws:// or wss://), offering the "binary"
// subprotocol as noVNC does, and returns it as a net.Conn for Screenshot. ctx bounds the dial
// only; the connection lives until Close. opts may carry headers (Cookie, Origin, Authorization).
func DialWebSocket(ctx context.Context, url string, opts *websocket.DialOptions) (net.Conn, error) {
	o := websocket.DialOptions{}
	if opts != nil {
		o = *opts
	}
	if !slices.Contains(o.Subprotocols, "binary") {
		o.Subprotocols = append(slices.Clone(o.Subprotocols), "binary")
	}
	c, res, err := websocket.Dial(ctx, url, &o)
	if err != nil {
		if res != nil {
			return nil, fmt.Errorf("rfb: websocket dial: status %d: %w", res.StatusCode, err)
		}
		return nil, fmt.Errorf("rfb: websocket dial: %w", err)
	}
	return WebSocketConn(context.WithoutCancel(ctx), c), nil
}
