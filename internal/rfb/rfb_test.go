package rfb

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coder/websocket"
)

// fakeServer is the server end of one RFB connection, driven step by step by a test script.
type fakeServer struct{ c net.Conn }

func (s *fakeServer) send(parts ...[]byte) error {
	_, err := s.c.Write(bytes.Join(parts, nil))
	return err
}

// expect reads len(want) bytes and checks them.
func (s *fakeServer) expect(what string, want []byte) error {
	got := make([]byte, len(want))
	if _, err := io.ReadFull(s.c, got); err != nil {
		return fmt.Errorf("reading %s: %w", what, err)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("%s = %x, want %x", what, got, want)
	}
	return nil
}

func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func str(s string) []byte { return append(u32(uint32(len(s))), s...) }

func serverInit(w, h uint16, name string) []byte {
	pf := make([]byte, 16) // the server's own format, which the client replaces
	pf[0], pf[1], pf[3] = 16, 16, 1
	return bytes.Join([][]byte{u16(w), u16(h), pf, str(name)}, nil)
}

// clientRequests is exactly what the client must send after ServerInit.
func clientRequests(w, h uint16) []byte {
	return bytes.Join([][]byte{
		{0, 0, 0, 0, 32, 24, 0, 1}, u16(255), u16(255), u16(255), {16, 8, 0, 0, 0, 0},
		{2, 0}, u16(1), u32(0),
		{3, 0}, u16(0), u16(0), u16(w), u16(h),
	}, nil)
}

// afterSecurity finishes a handshake from ClientInit on and checks the client's requests.
func (s *fakeServer) afterSecurity(w, h uint16) error {
	if err := s.expect("ClientInit (shared)", []byte{1}); err != nil {
		return err
	}
	if err := s.send(serverInit(w, h, "test:0")); err != nil {
		return err
	}
	return s.expect("SetPixelFormat, SetEncodings, FramebufferUpdateRequest", clientRequests(w, h))
}

// handshake38 is the x11vnc -nopw handshake.
func (s *fakeServer) handshake38(w, h uint16) error {
	if err := s.send([]byte("RFB 003.008\n")); err != nil {
		return err
	}
	if err := s.expect("version", []byte("RFB 003.008\n")); err != nil {
		return err
	}
	if err := s.send([]byte{1, 1}); err != nil {
		return err
	}
	if err := s.expect("security type", []byte{1}); err != nil {
		return err
	}
	if err := s.send(u32(0)); err != nil {
		return err
	}
	return s.afterSecurity(w, h)
}

// pattern is the test picture: every pixel different, channels told apart.
func pattern(x, y int) color.RGBA {
	return color.RGBA{R: uint8(40*x + 1), G: uint8(60*y + 2), B: uint8(3 + x*y), A: 0xff}
}

// rect is a FramebufferUpdate rectangle header plus Raw pixels of pattern, in the client's format.
func rect(x, y, w, h int) []byte {
	b := bytes.Join([][]byte{u16(uint16(x)), u16(uint16(y)), u16(uint16(w)), u16(uint16(h)), u32(0)}, nil)
	for j := y; j < y+h; j++ {
		for i := x; i < x+w; i++ {
			c := pattern(i, j)
			b = append(b, c.B, c.G, c.R, 0)
		}
	}
	return b
}

func update(rects ...[]byte) []byte {
	return bytes.Join(append([][]byte{{0, 0}, u16(uint16(len(rects)))}, rects...), nil)
}

func wantPattern(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, pattern(x, y))
		}
	}
	return img
}

// run serves script on one end of a pipe and takes a screenshot from the other.
func run(t *testing.T, ctx context.Context, script func(*fakeServer) error) (*image.RGBA, error) {
	t.Helper()
	client, server := net.Pipe()
	done := make(chan error, 1)
	go func() {
		err := script(&fakeServer{server})
		server.Close()
		done <- err
	}()
	img, err := Screenshot(ctx, client)
	client.Close()
	if serr := <-done; serr != nil && err == nil {
		t.Fatalf("server script: %v", serr)
	}
	return img, err
}

func TestScreenshot(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		script func(s *fakeServer) error
	}{
		{"3.8 one update", func(s *fakeServer) error {
			if err := s.handshake38(5, 3); err != nil {
				return err
			}
			return s.send(update(rect(0, 0, 5, 3)))
		}},
		{"3.7 no security result", func(s *fakeServer) error {
			if err := s.send([]byte("RFB 003.007\n")); err != nil {
				return err
			}
			if err := s.expect("version", []byte("RFB 003.007\n")); err != nil {
				return err
			}
			if err := s.send([]byte{3, 2, 1, 16}); err != nil {
				return err
			}
			if err := s.expect("security type", []byte{1}); err != nil {
				return err
			}
			if err := s.afterSecurity(5, 3); err != nil {
				return err
			}
			return s.send(update(rect(0, 0, 5, 3)))
		}},
		{"3.3 server picks", func(s *fakeServer) error {
			if err := s.send([]byte("RFB 003.003\n")); err != nil {
				return err
			}
			if err := s.expect("version", []byte("RFB 003.003\n")); err != nil {
				return err
			}
			if err := s.send(u32(1)); err != nil {
				return err
			}
			if err := s.afterSecurity(5, 3); err != nil {
				return err
			}
			return s.send(update(rect(0, 0, 5, 3)))
		}},
		{"3.889 spoken as 3.8", func(s *fakeServer) error {
			if err := s.send([]byte("RFB 003.889\n")); err != nil {
				return err
			}
			if err := s.expect("version", []byte("RFB 003.008\n")); err != nil {
				return err
			}
			if err := s.send([]byte{1, 1}); err != nil {
				return err
			}
			if err := s.expect("security type", []byte{1}); err != nil {
				return err
			}
			if err := s.send(u32(0)); err != nil {
				return err
			}
			if err := s.afterSecurity(5, 3); err != nil {
				return err
			}
			return s.send(update(rect(0, 0, 5, 3)))
		}},
		{"split, overlapping, interleaved", func(s *fakeServer) error {
			if err := s.handshake38(5, 3); err != nil {
				return err
			}
			return s.send(
				[]byte{msgBell},
				[]byte{msgServerCutText, 0, 0, 0}, str("clip"),
				[]byte{msgSetColourMapEntries, 0}, u16(0), u16(2), make([]byte, 12),
				update(rect(0, 0, 5, 1), rect(0, 0, 2, 2), rect(0, 0, 0, 0)),
				[]byte{msgBell},
				update(rect(0, 1, 5, 2)),
			)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			img, err := run(t, t.Context(), tc.script)
			if err != nil {
				t.Fatal(err)
			}
			if want := wantPattern(5, 3); img.Rect != want.Rect || !bytes.Equal(img.Pix, want.Pix) {
				t.Fatalf("image %v\n got %x\nwant %x", img.Rect, img.Pix, want.Pix)
			}
			if Blank(img) {
				t.Error("the pattern is reported blank")
			}
		})
	}
}

func TestScreenshotErrors(t *testing.T) {
	t.Parallel()
	greet := func(s *fakeServer, version string) error {
		if err := s.send([]byte(version)); err != nil {
			return err
		}
		return s.expect("version", []byte(version))
	}
	for _, tc := range []struct {
		name   string
		script func(s *fakeServer) error
		want   string
		is     error
	}{
		{"not RFB", func(s *fakeServer) error { return s.send([]byte("HTTP/1.1 400 Bad Request\r\n")) }, "not an RFB server", nil},
		{"version 4", func(s *fakeServer) error { return s.send([]byte("RFB 004.000\n")) }, "unsupported protocol version 4.0", nil},
		{"short greeting", func(s *fakeServer) error { return s.send([]byte("RFB 003")) }, "reading server version", nil},
		{"VNC auth only", func(s *fakeServer) error {
			if err := greet(s, "RFB 003.008\n"); err != nil {
				return err
			}
			return s.send([]byte{1, 2})
		}, "VNC password authentication (2)", ErrNoNoneSecurity},
		{"other types only", func(s *fakeServer) error {
			if err := greet(s, "RFB 003.008\n"); err != nil {
				return err
			}
			return s.send([]byte{2, 19, 30})
		}, "offers [19 30]", ErrNoNoneSecurity},
		{"3.3 VNC auth", func(s *fakeServer) error {
			if err := greet(s, "RFB 003.003\n"); err != nil {
				return err
			}
			return s.send(u32(2))
		}, "VNC password authentication (2)", ErrNoNoneSecurity},
		{"refused with reason", func(s *fakeServer) error {
			if err := greet(s, "RFB 003.008\n"); err != nil {
				return err
			}
			return s.send([]byte{0}, str("too many clients"))
		}, `connection refused: "too many clients"`, nil},
		{"3.3 refused with reason", func(s *fakeServer) error {
			if err := greet(s, "RFB 003.003\n"); err != nil {
				return err
			}
			return s.send(u32(0), str("go away"))
		}, `connection refused: "go away"`, nil},
		{"security result failed", func(s *fakeServer) error {
			if err := greet(s, "RFB 003.008\n"); err != nil {
				return err
			}
			if err := s.send([]byte{1, 1}); err != nil {
				return err
			}
			if err := s.expect("security type", []byte{1}); err != nil {
				return err
			}
			return s.send(u32(1), str("nope"))
		}, `security handshake failed: "nope"`, nil},
		{"reason too long", func(s *fakeServer) error {
			if err := greet(s, "RFB 003.008\n"); err != nil {
				return err
			}
			return s.send([]byte{0}, u32(1<<30))
		}, "over the 65536 limit", nil},
		{"huge framebuffer", func(s *fakeServer) error { return initWith(s, serverInit(65535, 65535, "x")) }, "over the 16777216 pixel limit", nil},
		{"empty framebuffer", func(s *fakeServer) error { return initWith(s, serverInit(0, 10, "x")) }, "empty framebuffer", nil},
		{"rectangle outside", func(s *fakeServer) error {
			if err := s.handshake38(5, 3); err != nil {
				return err
			}
			return s.send(update(rect(4, 0, 2, 1)))
		}, "outside the 5x3 framebuffer", nil},
		{"other encoding", func(s *fakeServer) error {
			if err := s.handshake38(5, 3); err != nil {
				return err
			}
			return s.send([]byte{0, 0}, u16(1), u16(0), u16(0), u16(5), u16(3), u32(7))
		}, "encoding 7, but only Raw", nil},
		{"unknown message", func(s *fakeServer) error {
			if err := s.handshake38(5, 3); err != nil {
				return err
			}
			return s.send([]byte{9})
		}, "unknown server message type 9", nil},
		{"cut text too long", func(s *fakeServer) error {
			if err := s.handshake38(5, 3); err != nil {
				return err
			}
			return s.send([]byte{msgServerCutText, 0, 0, 0}, u32(1<<31))
		}, "ServerCutText of 2147483648 bytes", nil},
		{"closed mid-rectangle", func(s *fakeServer) error {
			if err := s.handshake38(5, 3); err != nil {
				return err
			}
			return s.send(update(rect(0, 0, 5, 3))[:30])
		}, "reading pixels", nil},
		{"closed before the whole screen", func(s *fakeServer) error {
			if err := s.handshake38(5, 3); err != nil {
				return err
			}
			return s.send(update(rect(0, 0, 5, 2)))
		}, "reading message type: EOF", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			img, err := run(t, t.Context(), tc.script)
			if err == nil || !strings.Contains(err.Error(), tc.want) || img != nil {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("err = %v, want errors.Is %v", err, tc.is)
			}
		})
	}
}

// initWith runs a 3.8 handshake up to a given ServerInit.
func initWith(s *fakeServer, init []byte) error {
	if err := s.send([]byte("RFB 003.008\n")); err != nil {
		return err
	}
	if err := s.expect("version", []byte("RFB 003.008\n")); err != nil {
		return err
	}
	if err := s.send([]byte{1, 1}); err != nil {
		return err
	}
	if err := s.expect("security type", []byte{1}); err != nil {
		return err
	}
	if err := s.send(u32(0)); err != nil {
		return err
	}
	if err := s.expect("ClientInit", []byte{1}); err != nil {
		return err
	}
	return s.send(init)
}

// A server that stops answering after the request is left when the context ends.
func TestScreenshotCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	_, err := run(t, ctx, func(s *fakeServer) error {
		if err := s.handshake38(5, 3); err != nil {
			return err
		}
		cancel()
		_, err := s.c.Read(make([]byte, 1)) // until the client gives up and closes
		if err != io.EOF && !errors.Is(err, io.ErrClosedPipe) {
			return err
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// The same exchange through a WebSocket, as websockify carries it.
func TestScreenshotOverWebSocket(t *testing.T) {
	t.Parallel()
	serverErr := make(chan error, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"binary"}})
		if err != nil {
			serverErr <- err
			return
		}
		if c.Subprotocol() != "binary" {
			serverErr <- fmt.Errorf("subprotocol %q", c.Subprotocol())
			c.CloseNow()
			return
		}
		// A text message would fail the client's NetConn; the server's fails on one from the client.
		nc := websocket.NetConn(r.Context(), c, websocket.MessageBinary)
		defer nc.Close()
		s := &fakeServer{nc}
		err = s.handshake38(64, 48)
		if err == nil {
			// One rectangle larger than a typical WebSocket frame, split across messages.
			b := update(rect(0, 0, 64, 48))
			for len(b) > 0 && err == nil {
				n := min(len(b), 1000)
				err = s.send(b[:n])
				b = b[n:]
			}
		}
		serverErr <- err
	}))
	t.Cleanup(ts.Close)
	conn, err := DialWebSocket(t.Context(), "ws"+strings.TrimPrefix(ts.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	img, err := Screenshot(t.Context(), conn)
	if err != nil {
		t.Fatal(err)
	}
	if serr := <-serverErr; serr != nil {
		t.Fatal(serr)
	}
	if want := wantPattern(64, 48); !bytes.Equal(img.Pix, want.Pix) {
		t.Fatal("the image differs from the pattern sent")
	}
}

func TestDialWebSocketRefused(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusForbidden)
	}))
	t.Cleanup(ts.Close)
	_, err := DialWebSocket(t.Context(), "ws"+strings.TrimPrefix(ts.URL, "http"), nil)
	if err == nil || !strings.Contains(err.Error(), "status 403") {
		t.Fatalf("err = %v", err)
	}
}

func TestBlank(t *testing.T) {
	t.Parallel()
	solid := func(w, h int, c color.RGBA) *image.RGBA {
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		for y := range h {
			for x := range w {
				img.SetRGBA(x, y, c)
			}
		}
		return img
	}
	black := color.RGBA{A: 0xff}
	oneDot := solid(4, 4, black)
	oneDot.SetRGBA(3, 3, color.RGBA{R: 1, A: 0xff})
	// A sub-image whose parent differs outside it is judged on its own pixels.
	framed := solid(6, 6, color.RGBA{G: 0xff, A: 0xff})
	for y := 1; y < 5; y++ {
		for x := 1; x < 5; x++ {
			framed.SetRGBA(x, y, black)
		}
	}
	for _, tc := range []struct {
		name string
		img  *image.RGBA
		want bool
	}{
		{"solid black", solid(8, 5, black), true},
		{"solid red", solid(3, 3, color.RGBA{R: 0xff, A: 0xff}), true},
		{"one pixel differs", oneDot, false},
		{"first pixel differs", func() *image.RGBA { i := solid(2, 2, black); i.SetRGBA(0, 0, color.RGBA{B: 9, A: 0xff}); return i }(), false},
		{"pattern", wantPattern(5, 3), false},
		{"empty", image.NewRGBA(image.Rect(0, 0, 0, 0)), true},
		{"sub-image", framed.SubImage(image.Rect(1, 1, 5, 5)).(*image.RGBA), true},
		{"sub-image with the frame", framed.SubImage(image.Rect(0, 1, 5, 5)).(*image.RGBA), false},
	} {
		if got := Blank(tc.img); got != tc.want {
			t.Errorf("%s: Blank = %v, want %v", tc.name, got, tc.want)
		}
	}
}
