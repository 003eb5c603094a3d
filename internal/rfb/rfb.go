// Package rfb is a minimal RFB (VNC) client, RFB 3.8 with fallbacks to 3.7 and 3.3: enough to
// connect without a password, ask for the whole screen once in Raw or Zlib encoding and return it as
// an image, so tests can check that a VM's display shows something, over TCP or over websockify's
// WebSocket the way noVNC does. It is not a viewer (no input, no incremental updates, no other
// encodings) and depends on nothing else in Polydev. Every byte it reads comes from an untrusted
// server, so sizes are checked before anything is allocated, and the parser is fuzzed.
package rfb

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"
	"net"
	"time"
)

// Limits on what a server may announce.
const (
	MaxPixels     = 1 << 24 // width × height of the framebuffer (64 MiB as RGBA)
	maxStringLen  = 1 << 16 // desktop names and failure reasons
	maxCutTextLen = 1 << 24 // clipboard text, skipped unread
)

// ErrNoNoneSecurity means the server wants authentication; this client only speaks security type
// None (1), which x11vnc offers when started with -nopw.
var ErrNoNoneSecurity = errors.New("rfb: server does not offer security type None (1): start the VNC server without a password (x11vnc -nopw)")

// Screenshot connects as a shared client over conn, which must be fresh (the server's version string
// not yet read), requests the whole framebuffer once and returns it. ctx bounds the whole exchange;
// the caller keeps ownership of conn and closes it.
func Screenshot(ctx context.Context, conn net.Conn) (*image.RGBA, error) {
	return ScreenshotIn(ctx, conn, Raw)
}

// ScreenshotIn is Screenshot with the pixels asked for in enc first (Raw is accepted too, and is
// what a server without enc sends).
func ScreenshotIn(ctx context.Context, conn net.Conn, enc Encoding) (*image.RGBA, error) {
	if d, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(d); err != nil {
			return nil, fmt.Errorf("rfb: %w", err)
		}
	}
	// Cancellation interrupts a blocked read or write by moving the deadline into the past.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	img, err := screenshot(bufio.NewReader(conn), conn, enc)
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("rfb: %w (%v)", ctx.Err(), err)
	}
	return img, err
}

func screenshot(r *bufio.Reader, w io.Writer, enc Encoding) (*image.RGBA, error) {
	init, err := handshake(r, w)
	if err != nil {
		return nil, err
	}
	fb := newFramebuffer(int(init.Width), int(init.Height))
	if err := writeRequests(w, init.Width, init.Height, enc); err != nil {
		return nil, fmt.Errorf("rfb: sending requests: %w", err)
	}
	for !fb.complete() {
		if err := readServerMessage(r, fb); err != nil {
			return nil, err
		}
	}
	return fb.img, nil
}

// writeRequests sends SetPixelFormat (32 bpp true colour, red<<16 | green<<8 | blue, little-endian),
// SetEncodings (enc, then Raw; Raw alone when enc is Raw) and a non-incremental
// FramebufferUpdateRequest for the whole screen.
func writeRequests(w io.Writer, width, height uint16, enc Encoding) error {
	b := make([]byte, 0, 20+8+10)
	b = append(b, 0, 0, 0, 0) // SetPixelFormat, padding
	b = append(b, 32, 24, 0, 1)
	b = binary.BigEndian.AppendUint16(b, 255)
	b = binary.BigEndian.AppendUint16(b, 255)
	b = binary.BigEndian.AppendUint16(b, 255)
	b = append(b, 16, 8, 0, 0, 0, 0)
	encs := []Encoding{Raw}
	if enc != Raw {
		encs = []Encoding{enc, Raw}
	}
	b = append(b, 2, 0) // SetEncodings, padding
	b = binary.BigEndian.AppendUint16(b, uint16(len(encs)))
	for _, e := range encs {
		b = binary.BigEndian.AppendUint32(b, uint32(e))
	}
	b = append(b, 3, 0)                     // FramebufferUpdateRequest, not incremental
	b = binary.BigEndian.AppendUint32(b, 0) // x, y
	b = binary.BigEndian.AppendUint16(b, width)
	b = binary.BigEndian.AppendUint16(b, height)
	_, err := w.Write(b)
	return err
}

// Blank reports whether every pixel of img has the same colour (a screen showing nothing). An
// empty image is blank.
func Blank(img *image.RGBA) bool {
	b := img.Rect
	if b.Empty() {
		return true
	}
	first := img.Pix[img.PixOffset(b.Min.X, b.Min.Y):][:4]
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := img.Pix[img.PixOffset(b.Min.X, y):][:4*b.Dx()]
		for i := 0; i < len(row); i += 4 {
			if row[i] != first[0] || row[i+1] != first[1] || row[i+2] != first[2] || row[i+3] != first[3] {
				return false
			}
		}
	}
	return true
}
