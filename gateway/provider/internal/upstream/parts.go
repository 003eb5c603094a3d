package upstream

import "io"

// partsReader reads parts one after the other. It implements io.WriterTo so that the HTTP
// transport writes each slice straight to the connection's buffer instead of through a
// 32 KiB intermediate one.
type partsReader struct{ parts [][]byte }

func (p *partsReader) Read(b []byte) (int, error) {
	for len(p.parts) > 0 && len(p.parts[0]) == 0 {
		p.parts = p.parts[1:]
	}
	if len(p.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(b, p.parts[0])
	p.parts[0] = p.parts[0][n:]
	return n, nil
}

func (p *partsReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for len(p.parts) > 0 {
		n, err := w.Write(p.parts[0])
		total += int64(n)
		p.parts[0] = p.parts[0][n:]
		if err != nil {
			return total, err
		}
		if len(p.parts[0]) > 0 {
			return total, io.ErrShortWrite
		}
		p.parts = p.parts[1:]
	}
	return total, nil
}
