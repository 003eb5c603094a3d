package rfb

import (
	"bytes"
	"compress/zlib"
	"net"
	"strings"
	"testing"
)

// zlibRects encodes rectangles of the test pattern in the Zlib encoding: one zlib stream for the
// connection, flushed after each rectangle, as x11vnc does.
type zlibRects struct {
	buf bytes.Buffer
	z   *zlib.Writer
}

func newZlibRects() *zlibRects {
	zr := &zlibRects{}
	zr.z = zlib.NewWriter(&zr.buf)
	return zr
}

func (zr *zlibRects) rect(x, y, w, h int) []byte {
	raw := rect(x, y, w, h)
	if _, err := zr.z.Write(raw[12:]); err != nil {
		panic(err)
	}
	if err := zr.z.Flush(); err != nil {
		panic(err)
	}
	data := bytes.Clone(zr.buf.Bytes())
	zr.buf.Reset()
	return bytes.Join([][]byte{raw[:8], u32(uint32(Zlib)), u32(uint32(len(data))), data}, nil)
}

// zlibRequests is what the client sends after ServerInit when it asks for Zlib.
func zlibRequests(w, h uint16) []byte {
	return bytes.Join([][]byte{
		{0, 0, 0, 0, 32, 24, 0, 1}, u16(255), u16(255), u16(255), {16, 8, 0, 0, 0, 0},
		{2, 0}, u16(2), u32(uint32(Zlib)), u32(0),
		{3, 0}, u16(0), u16(0), u16(w), u16(h),
	}, nil)
}

// runZlib is run with the client asking for Zlib; script starts after the handshake.
func runZlib(t *testing.T, w, h uint16, script func(*fakeServer) error) ([]byte, error) {
	t.Helper()
	client, server := net.Pipe()
	done := make(chan error, 1)
	go func() {
		s := &fakeServer{server}
		err := s.send([]byte("RFB 003.008\n"))
		for _, step := range []func() error{
			func() error { return s.expect("version", []byte("RFB 003.008\n")) },
			func() error { return s.send([]byte{1, 1}) },
			func() error { return s.expect("security type", []byte{1}) },
			func() error { return s.send(u32(0)) },
			func() error { return s.expect("ClientInit (shared)", []byte{1}) },
			func() error { return s.send(serverInit(w, h, "test:0")) },
			func() error { return s.expect("requests", zlibRequests(w, h)) },
			func() error { return script(s) },
		} {
			if err == nil {
				err = step()
			}
		}
		server.Close()
		done <- err
	}()
	img, err := ScreenshotIn(t.Context(), client, Zlib)
	client.Close()
	if serr := <-done; serr != nil && err == nil {
		t.Fatalf("server script: %v", serr)
	}
	if err != nil {
		return nil, err
	}
	return img.Pix, nil
}

// TestScreenshotZlib: rectangles in one zlib stream across updates, mixed with Raw ones, give the
// same picture as Raw.
func TestScreenshotZlib(t *testing.T) {
	t.Parallel()
	zr := newZlibRects()
	got, err := runZlib(t, 5, 3, func(s *fakeServer) error {
		return s.send(
			update(zr.rect(0, 0, 5, 1), zr.rect(0, 1, 2, 1)),
			[]byte{msgBell},
			update(rect(2, 1, 3, 1), zr.rect(0, 2, 5, 1)),
		)
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := wantPattern(5, 3); !bytes.Equal(got, want.Pix) {
		t.Fatalf("got %x\nwant %x", got, want.Pix)
	}
}

// TestScreenshotZlibErrors: a Zlib rectangle that announces more data than its pixels can need, or
// whose data is not zlib, is an error.
func TestScreenshotZlibErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, want string
		rect       []byte
	}{
		{"too long", "Zlib rectangle of", bytes.Join([][]byte{u16(0), u16(0), u16(1), u16(1), u32(uint32(Zlib)), u32(1 << 20)}, nil)},
		{"not zlib", "Zlib stream", bytes.Join([][]byte{u16(0), u16(0), u16(1), u16(1), u32(uint32(Zlib)), u32(4), []byte("abcd")}, nil)},
		{"short", "reading Zlib data", bytes.Join([][]byte{u16(0), u16(0), u16(1), u16(1), u32(uint32(Zlib)), u32(8), []byte("ab")}, nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := runZlib(t, 5, 3, func(s *fakeServer) error {
				_ = s.send(update(tc.rect))
				return nil
			})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one with %q", err, tc.want)
			}
		})
	}
}
