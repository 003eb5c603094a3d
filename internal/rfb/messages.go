package rfb

import (
	"bufio"
	"bytes"
	"compress/zlib"
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

// Encoding is how the server is asked to send pixels (RFC 6143 §7.7).
type Encoding int32

const (
	// Raw sends every pixel as is: 4 bytes a pixel, 4 MB for a 1280x800 screen.
	Raw Encoding = 0
	// Zlib is Raw through one zlib stream per connection, flushed after each rectangle (type 6,
	// registered in RFC 6143 and sent by x11vnc). A browser page shrinks to a few percent of Raw,
	// which is what a viewer like noVNC gets from its own compressed encodings.
	Zlib Encoding = 6
)

// framebuffer is the image being filled and which of its pixels some rectangle has covered, so the
// screenshot is done when all have, however the server splits the screen.
type framebuffer struct {
	img     *image.RGBA
	seen    []uint64 // one bit per pixel
	covered int
	row     []byte // scratch: one row of wire pixels

	// The Zlib encoding's stream: compressed bytes of each rectangle are appended to zin, which
	// the one decompressor reads for the whole connection.
	zin  bytes.Buffer
	zout io.Reader
}

func newFramebuffer(w, h int) *framebuffer {
	return &framebuffer{img: image.NewRGBA(image.Rect(0, 0, w, h)), seen: make([]uint64, (w*h+63)/64), row: make([]byte, 4*w)}
}

func (fb *framebuffer) complete() bool { return fb.covered == len(fb.img.Pix)/4 }

// readServerMessage reads one server message into fb. Only Raw and Zlib rectangles are accepted,
// the encodings this client asks for.
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

// readRect reads one rectangle header and its pixels, which must lie inside the framebuffer.
func readRect(r io.Reader, fb *framebuffer) error {
	var h [12]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return fmt.Errorf("rfb: reading rectangle: %w", err)
	}
	x, y := int(binary.BigEndian.Uint16(h[0:])), int(binary.BigEndian.Uint16(h[2:]))
	w, ht := int(binary.BigEndian.Uint16(h[4:])), int(binary.BigEndian.Uint16(h[6:]))
	bounds := fb.img.Rect
	if x+w > bounds.Dx() || y+ht > bounds.Dy() {
		return fmt.Errorf("rfb: rectangle %dx%d at %d,%d is outside the %dx%d framebuffer", w, ht, x, y, bounds.Dx(), bounds.Dy())
	}
	switch enc := Encoding(binary.BigEndian.Uint32(h[8:])); enc {
	case Raw:
		return readPixels(r, fb, x, y, w, ht)
	case Zlib:
		pix, err := fb.inflate(r, 4*w*ht)
		if err != nil {
			return err
		}
		return readPixels(pix, fb, x, y, w, ht)
	default:
		return fmt.Errorf("rfb: rectangle in encoding %d, but only Raw (0) and Zlib (6) were asked for", enc)
	}
}

// inflate reads one Zlib rectangle's compressed data from r and returns a reader of its n bytes of
// pixels. Deflate expands incompressible data by a few bytes per 16 KiB block, so a rectangle that
// announces more than that bound is refused before anything is read into memory.
func (fb *framebuffer) inflate(r io.Reader, n int) (io.Reader, error) {
	var l [4]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return nil, fmt.Errorf("rfb: reading Zlib length: %w", err)
	}
	size := int64(binary.BigEndian.Uint32(l[:]))
	if size > int64(n)+int64(n)/64+1024 {
		return nil, fmt.Errorf("rfb: Zlib rectangle of %d bytes for %d bytes of pixels", size, n)
	}
	if _, err := io.CopyN(&fb.zin, r, size); err != nil {
		return nil, fmt.Errorf("rfb: reading Zlib data: %w", err)
	}
	if fb.zout == nil {
		// The stream's header comes with the first rectangle; zlib.NewReader reads it at once.
		z, err := zlib.NewReader(&fb.zin)
		if err != nil {
			return nil, fmt.Errorf("rfb: Zlib stream: %w", err)
		}
		fb.zout = z
	}
	return io.LimitReader(fb.zout, int64(n)), nil
}

// readPixels reads w×ht pixels in the client's format from r into the rectangle at x, y.
func readPixels(r io.Reader, fb *framebuffer, x, y, w, ht int) error {
	bounds := fb.img.Rect
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
