package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
)

// A bodyReader decodes one framing of a response body from the connection's buffer and can tell
// whether its next Read returns without touching the socket (Ready): a stream relay flushes what it
// holds for its client only before a read that may wait, so events that arrived together leave
// together, and none waits behind a read that blocks.
type bodyReader interface {
	io.Reader
	Ready() bool
}

// lengthReader reads a body of Content-Length bytes.
type lengthReader struct {
	br *bufio.Reader
	n  int64
}

func (r *lengthReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	n, err := r.br.Read(p)
	r.n -= int64(n)
	if err == io.EOF && r.n > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (r *lengthReader) Ready() bool { return r.n <= 0 || r.br.Buffered() > 0 }

// closeReader reads a body that ends when the server closes the connection.
type closeReader struct{ br *bufio.Reader }

func (r closeReader) Read(p []byte) (int, error) { return r.br.Read(p) }
func (r closeReader) Ready() bool                { return r.br.Buffered() > 0 }

// chunkedReader reads a chunked body (RFC 9112 §7.1): size lines in hex (extensions ignored),
// data, CRLF, and after the zero-size chunk an optional trailer section that is discarded.
type chunkedReader struct {
	br    *bufio.Reader
	n     int64 // data bytes left in the current chunk
	state chunkState
	err   error
}

type chunkState uint8

const (
	chunkSize chunkState = iota // before a size line
	chunkData                   // inside a chunk's data
	chunkCRLF                   // after a chunk's data
	chunkDone                   // the body has ended
)

// maxChunkLine bounds a size line (with extensions) and a trailer line.
const maxChunkLine = 4096

var errChunk = errors.New("h1: malformed chunked body")

func (r *chunkedReader) Read(p []byte) (int, error) {
	for r.err == nil {
		switch r.state {
		case chunkDone:
			return 0, io.EOF
		case chunkCRLF:
			if r.err = expectCRLF(r.br); r.err == nil {
				r.state = chunkSize
			}
		case chunkSize:
			var line []byte
			if line, r.err = readLine(r.br); r.err != nil {
				break
			}
			var size int64
			if size, r.err = chunkLen(line); r.err != nil {
				break
			}
			if size == 0 {
				r.err = skipTrailers(r.br)
				if r.err == nil {
					r.state = chunkDone
				}
				break
			}
			r.n, r.state = size, chunkData
		case chunkData:
			if len(p) == 0 {
				return 0, nil
			}
			if int64(len(p)) > r.n {
				p = p[:r.n]
			}
			n, err := r.br.Read(p)
			r.n -= int64(n)
			if r.n == 0 {
				r.state = chunkCRLF
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			if err != nil {
				r.err = err
			}
			if n > 0 || err != nil {
				return n, err
			}
		}
	}
	if r.err == io.EOF {
		r.err = io.ErrUnexpectedEOF
	}
	return 0, r.err
}

// Ready reports whether Read would return (data, the end or an error) from the buffer alone.
func (r *chunkedReader) Ready() bool {
	if r.err != nil || r.state == chunkDone {
		return true
	}
	buf, _ := r.br.Peek(r.br.Buffered())
	state := r.state
	for {
		switch state {
		case chunkData:
			return len(buf) > 0
		case chunkCRLF:
			if len(buf) < 2 {
				return false
			}
			if buf[0] != '\r' || buf[1] != '\n' {
				return true // an error, at once
			}
			buf, state = buf[2:], chunkSize
		case chunkSize:
			i := bytes.IndexByte(buf, '\n')
			if i < 0 {
				return len(buf) >= maxChunkLine // an over-long line fails at once
			}
			size, err := chunkLen(bytes.TrimSuffix(buf[:i], []byte("\r")))
			if err != nil {
				return true
			}
			buf = buf[i+1:]
			if size > 0 {
				state = chunkData
				continue
			}
			// The last chunk: ready once the trailer section's empty line is here.
			for {
				j := bytes.IndexByte(buf, '\n')
				if j < 0 {
					return false
				}
				if len(bytes.TrimSuffix(buf[:j], []byte("\r"))) == 0 {
					return true
				}
				buf = buf[j+1:]
			}
		}
	}
}

// readLine reads one line, without its CRLF (or LF), of at most maxChunkLine bytes.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		line = append(line, frag...)
		if len(line) > maxChunkLine {
			return nil, errChunk
		}
		if err == nil {
			break
		}
		if err != bufio.ErrBufferFull {
			return nil, err
		}
	}
	line = bytes.TrimSuffix(line[:len(line)-1], []byte("\r"))
	return line, nil
}

// chunkLen parses a size line: hex digits, then optional whitespace and ";extensions".
func chunkLen(line []byte) (int64, error) {
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = bytes.TrimRight(line, " \t")
	if len(line) == 0 || len(line) > 15 {
		return 0, errChunk
	}
	n, err := strconv.ParseInt(string(line), 16, 64)
	if err != nil || n < 0 {
		return 0, errChunk
	}
	return n, nil
}

func expectCRLF(br *bufio.Reader) error {
	b, err := br.Peek(2)
	if err != nil {
		return err
	}
	if b[0] != '\r' || b[1] != '\n' {
		return errChunk
	}
	_, err = br.Discard(2)
	return err
}

// skipTrailers reads the trailer section up to its empty line.
func skipTrailers(br *bufio.Reader) error {
	for range 100 {
		line, err := readLine(br)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			return nil
		}
	}
	return errChunk
}
