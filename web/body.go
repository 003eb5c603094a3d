package web

import "io"

// readAllSized is io.ReadAll with the buffer sized from the request's Content-Length (size; -1 when
// unknown): a 126 KB agent prompt is read into one allocation instead of a dozen doublings and
// copies. A body longer than it said still reads to its end (the caller's limit applies).
func readAllSized(r io.Reader, size int64) ([]byte, error) {
	return readAllInto(r, size, nil)
}

// readAllInto is readAllSized appending to b[:0] (a buffer from bodyPool), which is used as it
// is when it has room for size bytes.
func readAllInto(r io.Reader, size int64, b []byte) ([]byte, error) {
	if size < 0 || size > 64<<20 {
		return io.ReadAll(r)
	}
	if int64(cap(b)) < size+1 { // +1: the read that meets the end needs room
		b = make([]byte, 0, size+1)
	}
	b = b[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}
