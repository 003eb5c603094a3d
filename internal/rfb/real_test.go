package rfb_test

import (
	"context"
	"image"
	"image/color"
	"net"
	"testing"
	"time"

	"github.com/polydev/polydev/internal/rfb"
	"github.com/polydev/polydev/internal/rfb/rfbtest"
)

// TestRealX11VNC takes screenshots of a real X display the way the browser VM serves it: Xvfb,
// x11vnc -nopw, websockify in front, all on 127.0.0.1. A black root window must be reported blank
// and a red-on-black grid not, with its red where red belongs (so the pixel format is right).
func TestRealX11VNC(t *testing.T) {
	d := rfbtest.Start(t, rfbtest.Options{})
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute) // a bound for hung tools, not a measure
	defer cancel()
	wsURL := "ws://" + d.WSAddr + "/websockify"

	black := rfbtest.Eventually(ctx, t, func(ctx context.Context) (net.Conn, error) { return rfb.DialWebSocket(ctx, wsURL, nil) },
		"a blank black screen", rfb.Blank)
	if got := black.RGBAAt(0, 0); got != (color.RGBA{A: 0xff}) {
		t.Errorf("black screen pixel = %v", got)
	}
	if b := black.Rect; b.Dx() != d.Width || b.Dy() != d.Height {
		t.Errorf("screen is %v, want %dx%d", b, d.Width, d.Height)
	}

	d.SetRoot("-mod", "16", "16", "-fg", "red", "-bg", "black")
	grid := rfbtest.Eventually(ctx, t, func(ctx context.Context) (net.Conn, error) { return rfb.DialWebSocket(ctx, wsURL, nil) },
		"a red and black grid", func(img *image.RGBA) bool { return !rfb.Blank(img) })
	if !rfbtest.Contains(grid, color.RGBA{R: 0xff, A: 0xff}) || !rfbtest.Contains(grid, color.RGBA{A: 0xff}) {
		t.Errorf("grid has no pure red or no black pixel: first pixels %v %v", grid.RGBAAt(0, 0), grid.RGBAAt(1, 1))
	}

	// Zlib, as the viewer benchmark asks for it: the same grid.
	zc, err := rfb.DialWebSocket(ctx, wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	zimg, err := rfb.ScreenshotIn(ctx, zc, rfb.Zlib)
	zc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !rfbtest.Contains(zimg, color.RGBA{R: 0xff, A: 0xff}) || !rfbtest.Contains(zimg, color.RGBA{A: 0xff}) {
		t.Errorf("Zlib grid has no pure red or no black pixel")
	}

	// The same server over plain TCP.
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", d.VNCAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	direct, err := rfb.Screenshot(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if rfb.Blank(direct) {
		t.Error("TCP screenshot of the grid is blank")
	}
}
