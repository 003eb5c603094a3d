package rfb

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// ServerInit is what the server says about its display once the handshake is done.
type ServerInit struct {
	Width, Height uint16
	Name          string
}

// Security types (RFC 6143 §7.2).
const (
	securityInvalid = 0
	securityNone    = 1
	securityVNCAuth = 2
)

// handshake runs ProtocolVersion, security (None only) and ClientInit/ServerInit.
func handshake(r *bufio.Reader, w io.Writer) (*ServerInit, error) {
	minor, err := readVersion(r)
	if err != nil {
		return nil, err
	}
	if _, err := fmt.Fprintf(w, "RFB 003.%03d\n", minor); err != nil {
		return nil, fmt.Errorf("rfb: sending version: %w", err)
	}
	if err := negotiateSecurity(r, w, minor); err != nil {
		return nil, err
	}
	if _, err := w.Write([]byte{1}); err != nil { // ClientInit: shared, leave other viewers connected
		return nil, fmt.Errorf("rfb: sending ClientInit: %w", err)
	}
	return readServerInit(r)
}

// readVersion reads "RFB 003.00x\n" and returns the minor version this client will speak: 8 for
// 3.8 and later (Apple's 3.889 included), 7 for 3.7, 3 for the rest of 3.x as the RFC says.
func readVersion(r io.Reader) (int, error) {
	var b [12]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return 0, fmt.Errorf("rfb: reading server version: %w", err)
	}
	major, okMajor := digits3(b[4:7])
	minor, okMinor := digits3(b[8:11])
	if string(b[:4]) != "RFB " || b[7] != '.' || b[11] != '\n' || !okMajor || !okMinor {
		return 0, fmt.Errorf("rfb: not an RFB server: greeting %q", b[:])
	}
	if major != 3 {
		return 0, fmt.Errorf("rfb: unsupported protocol version %d.%d", major, minor)
	}
	switch {
	case minor >= 8:
		return 8, nil
	case minor == 7:
		return 7, nil
	}
	return 3, nil
}

// digits3 parses exactly three decimal digits.
func digits3(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = 10*n + int(c-'0')
	}
	return n, true
}

func negotiateSecurity(r *bufio.Reader, w io.Writer, minor int) error {
	if minor == 3 {
		// 3.3: the server decides, as a 32-bit type; 0 carries a reason.
		var t [4]byte
		if _, err := io.ReadFull(r, t[:]); err != nil {
			return fmt.Errorf("rfb: reading security type: %w", err)
		}
		switch typ := binary.BigEndian.Uint32(t[:]); typ {
		case securityNone:
			return nil
		case securityInvalid:
			return refused(r, "connection refused")
		case securityVNCAuth:
			return fmt.Errorf("%w; it requires VNC password authentication (2)", ErrNoNoneSecurity)
		default:
			return fmt.Errorf("%w; it requires type %d", ErrNoNoneSecurity, typ)
		}
	}
	n, err := r.ReadByte()
	if err != nil {
		return fmt.Errorf("rfb: reading security types: %w", err)
	}
	if n == 0 {
		return refused(r, "connection refused")
	}
	types := make([]byte, n)
	if _, err := io.ReadFull(r, types); err != nil {
		return fmt.Errorf("rfb: reading security types: %w", err)
	}
	if !slices.Contains(types, securityNone) {
		if slices.Contains(types, securityVNCAuth) {
			return fmt.Errorf("%w; it offers %v, including VNC password authentication (2)", ErrNoNoneSecurity, types)
		}
		return fmt.Errorf("%w; it offers %v", ErrNoNoneSecurity, types)
	}
	if _, err := w.Write([]byte{securityNone}); err != nil {
		return fmt.Errorf("rfb: choosing security type: %w", err)
	}
	if minor == 7 {
		return nil // 3.7 sends no SecurityResult for None
	}
	var res [4]byte
	if _, err := io.ReadFull(r, res[:]); err != nil {
		return fmt.Errorf("rfb: reading security result: %w", err)
	}
	if binary.BigEndian.Uint32(res[:]) != 0 {
		return refused(r, "security handshake failed")
	}
	return nil
}

// refused reads the reason string that follows a failure and returns it as the error.
func refused(r io.Reader, what string) error {
	reason, err := readString(r)
	if err != nil {
		return fmt.Errorf("rfb: %s (no reason: %w)", what, err)
	}
	return fmt.Errorf("rfb: %s: %q", what, reason)
}

// readString reads a 32-bit length and that many bytes, refusing lengths over maxStringLen.
func readString(r io.Reader) (string, error) {
	var l [4]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return "", err
	}
	n := binary.BigEndian.Uint32(l[:])
	if n > maxStringLen {
		return "", fmt.Errorf("string of %d bytes is over the %d limit", n, maxStringLen)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	return string(b), nil
}

func readServerInit(r io.Reader) (*ServerInit, error) {
	var b [20]byte // width, height, pixel format (16 bytes, ignored: we set our own)
	if _, err := io.ReadFull(r, b[:4+16]); err != nil {
		return nil, fmt.Errorf("rfb: reading ServerInit: %w", err)
	}
	init := &ServerInit{Width: binary.BigEndian.Uint16(b[0:]), Height: binary.BigEndian.Uint16(b[2:])}
	name, err := readString(r)
	if err != nil {
		return nil, fmt.Errorf("rfb: reading desktop name: %w", err)
	}
	init.Name = name
	if init.Width == 0 || init.Height == 0 {
		return nil, errors.New("rfb: server announced an empty framebuffer")
	}
	if int(init.Width)*int(init.Height) > MaxPixels {
		return nil, fmt.Errorf("rfb: framebuffer %dx%d is over the %d pixel limit", init.Width, init.Height, MaxPixels)
	}
	return init, nil
}
