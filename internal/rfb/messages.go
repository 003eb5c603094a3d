package rfb

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"image"
	"io"
)

// Server-to-client message types (RFC 6143 §7.6).
const (
	msgFramebufferUpdate   = 0
	msgSetColourMapEntries = 1
	msgBell                = 2
	msgServerCutText       = 3
)

const encodingRaw = 0

// framebuffer is the image being filled and which of its pixels some rectangle has covered, so the
// screenshot is done when all have, however the server splits the screen.
type framebuffer struct {
	img     *image.RGBA
	seen    []uint64 // one bit per pixel
	covered int
	row     []byte // scratch: one row of wire pixels
}

func newFramebuffer(w, h int) *framebuffer {
	return &framebuffer{img: image.NewRGBA(image.Rect(0, 0, w, h)), seen: make([]uint64, (w*h+63)/64), row: make([]byte, 4*w)}
}

func (fb *framebuffer) complete() bool { return fb.covered == len(fb.img.Pix)/4 }

// readServerMessage reads one server message into fb. Only Raw rectangles are accepted, since Raw
// is the only encoding the client asked for.
func readServerMessage(r *bufio.Reader, fb *framebuffer) error {
	typ, err := r.ReadByte()
	if err != nil {
		return fmt.Errorf("rfb: reading message type: %w", err)
	}
	switch typ {
	case msgFramebufferUpdate:
		var h [3]byte // padding, number of rectangles
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return fmt.Errorf("rfb: reading FramebufferUpdate: %w", err)
		}
		for n := binary.BigEndian.Uint16(h[1:]); n > 0; n-- {
			if err := readRect(r, fb); err != nil {
				return err
			}
		}
		return nil
	case msgSetColourMapEntries:
		var h [5]byte // padding, first colour, number of colours
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return fmt.Errorf("rfb: reading SetColourMapEntries: %w", err)
		}
		return discard(r, 6*int64(binary.BigEndian.Uint16(h[3:])), "SetColourMapEntries")
	case msgBell:
		return nil
	case msgServerCutText:
		var h [7]byte // padding, length
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return fmt.Errorf("rfb: reading ServerCutText: %w", err)
		}
		n := binary.BigEndian.Uint32(h[3:])
		if n > maxCutTextLen {
			return fmt.Errorf("rfb: ServerCutText of %d bytes is over the %d limit", n, maxCutTextLen)
		}
		return discard(r, int64(n), "ServerCutText")
	}
	return fmt.Errorf("rfb: unknown server message type %d", typ)
}

func discard(r io.Reader, n int64, what string) error {
	if _, err := io.CopyN(io.Discard, r, n); err != nil {
		return fmt.Errorf("rfb: reading %s: %w", what, err)
	}
	return nil
}

// readRect reads one rectangle header and its Raw pixels, which must lie inside the framebuffer.
func readRect(r io.Reader, fb *framebuffer) error {
	var h [12]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return fmt.Errorf("rfb: reading rectangle: %w", err)
	}
	x, y := int(binary.BigEndian.Uint16(h[0:])), int(binary.BigEndian.Uint16(h[2:]))
	w, ht := int(binary.BigEndian.Uint16(h[4:])), int(binary.BigEndian.Uint16(h[6:]))
	if enc := int32(binary.BigEndian.Uint32(h[8:])); enc != encodingRaw {
		return fmt.Errorf("rfb: rectangle in encoding %d, but only Raw (0) was asked for", enc)
	}
	bounds := fb.img.Rect
	if x+w > bounds.Dx() || y+ht > bounds.Dy() {
		return fmt.Errorf("rfb: rectangle %dx%d at %d,%d is outside the %dx%d framebuffer", w, ht, x, y, bounds.Dx(), bounds.Dy())
	}
	row := fb.row[:4*w]
	for j := y; j < y+ht; j++ {
		if _, err := io.ReadFull(r, row); err != nil {
			return fmt.Errorf("rfb: reading pixels: %w", err)
		}
		pix := fb.img.Pix[fb.img.PixOffset(x, j):]
		for i := 0; i < w; i++ {
			// Wire pixel: little-endian red<<16 | green<<8 | blue, so bytes are B, G, R, unused.
			pix[4*i], pix[4*i+1], pix[4*i+2], pix[4*i+3] = row[4*i+2], row[4*i+1], row[4*i], 0xff
			if k := j*bounds.Dx() + x + i; fb.seen[k/64]&(1<<(k%64)) == 0 {
				fb.seen[k/64] |= 1 << (k % 64)
				fb.covered++
			}
		}
	}
	return nil
}
