package rfb

import (
	"bufio"
	"bytes"
	"io"
	"testing"
)

// FuzzServerMessages feeds arbitrary bytes to the server-message parser on a small framebuffer:
// it must return errors, never panic, and never count more pixels than there are.
func FuzzServerMessages(f *testing.F) {
	f.Add([]byte{msgBell})
	f.Add(update(rect(0, 0, 8, 4)))
	f.Add(update(rect(7, 3, 1, 1), rect(0, 0, 0, 0)))
	f.Add(bytes.Join([][]byte{{msgServerCutText, 0, 0, 0}, str("clip")}, nil))
	f.Add(bytes.Join([][]byte{{msgSetColourMapEntries, 0}, u16(0), u16(1), make([]byte, 6)}, nil))
	f.Add(bytes.Join([][]byte{{0, 0}, u16(1), u16(0), u16(0), u16(65535), u16(65535), u32(0)}, nil))
	zr := newZlibRects()
	f.Add(update(zr.rect(0, 0, 8, 2), zr.rect(0, 2, 8, 2)))
	f.Fuzz(func(t *testing.T, data []byte) {
		fb := newFramebuffer(8, 4)
		r := bufio.NewReader(bytes.NewReader(data))
		for range 1000 {
			if err := readServerMessage(r, fb); err != nil {
				break
			}
		}
		if fb.covered > 8*4 {
			t.Fatalf("covered %d of 32 pixels", fb.covered)
		}
	})
}

// FuzzHandshake feeds arbitrary server bytes to the handshake.
func FuzzHandshake(f *testing.F) {
	f.Add(bytes.Join([][]byte{[]byte("RFB 003.008\n"), {1, 1}, u32(0), serverInit(5, 3, "x")}, nil))
	f.Add(bytes.Join([][]byte{[]byte("RFB 003.007\n"), {2, 2, 1}, serverInit(5, 3, "x")}, nil))
	f.Add(bytes.Join([][]byte{[]byte("RFB 003.003\n"), u32(1), serverInit(5, 3, "x")}, nil))
	f.Add(bytes.Join([][]byte{[]byte("RFB 003.008\n"), {0}, str("no")}, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		init, err := handshake(bufio.NewReader(bytes.NewReader(data)), io.Discard)
		if err == nil && (init.Width == 0 || init.Height == 0 || int(init.Width)*int(init.Height) > MaxPixels) {
			t.Fatalf("accepted framebuffer %dx%d", init.Width, init.Height)
		}
	})
}
