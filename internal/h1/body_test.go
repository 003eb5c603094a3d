package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net/http/httputil"
	"strings"
	"testing"
)

// chunk encodes data in chunks of the given sizes, with Go's own chunked writer, then a trailer.
func chunk(data []byte, sizes []int, trailer string) []byte {
	var buf bytes.Buffer
	w := httputil.NewChunkedWriter(&buf)
	for _, n := range sizes {
		n = min(n, len(data))
		w.Write(data[:n])
		data = data[n:]
	}
	w.Write(data)
	w.Close() // the zero-size chunk
	buf.WriteString(trailer + "\r\n")
	return buf.Bytes()
}

func TestChunkedReaderDecodesWhatGoEncodes(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		data := make([]byte, rng.IntN(5000))
		for j := range data {
			data[j] = byte(rng.IntN(256))
		}
		var sizes []int
		for range rng.IntN(20) {
			sizes = append(sizes, 1+rng.IntN(700))
		}
		trailer := ""
		if i%3 == 0 {
			trailer = "X-Trailer: 1\r\nY: 2\r\n"
		}
		enc := append(chunk(data, sizes, trailer), "NEXT"...) // the next response on the connection
		br := bufio.NewReaderSize(bytes.NewReader(enc), 64+rng.IntN(4096))
		got, err := io.ReadAll(&chunkedReader{br: br})
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("case %d: %d bytes, %v; want the %d bytes sent", i, len(got), err, len(data))
		}
		if rest, _ := io.ReadAll(br); string(rest) != "NEXT" {
			t.Fatalf("case %d: left %q on the connection, want exactly the next response", i, rest)
		}
	}
}

func TestChunkedReaderRefusesMalformed(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"zz\r\nab\r\n0\r\n\r\n",            // not hex
		"2\r\nabX\r\n0\r\n\r\n",            // no CRLF after data
		"-1\r\n",                           // negative
		"1000000000000000\r\n",             // too long
		"3\r\nab",                          // cut in the data
		"3\r\nabc\r\n",                     // cut before the last chunk
		strings.Repeat("1", 5000) + "\r\n", // over-long size line
	} {
		_, err := io.ReadAll(&chunkedReader{br: bufio.NewReader(strings.NewReader(in))})
		if err == nil {
			t.Errorf("%.40q: decoded without error", in)
		}
	}
	got, err := io.ReadAll(&chunkedReader{br: bufio.NewReader(strings.NewReader("3;ext=1 \r\nabc\r\n0\r\n\r\n"))})
	if err != nil || string(got) != "abc" {
		t.Fatalf("chunk extension: %q, %v", got, err)
	}
}

// errWouldBlock stands for a socket read that would wait.
var errWouldBlock = errors.New("would block")

// prefixSource hands out data, then reports errWouldBlock for every further read.
type prefixSource struct {
	data    []byte
	blocked int
}

func (s *prefixSource) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		s.blocked++
		return 0, errWouldBlock
	}
	n := copy(p, s.data)
	s.data = s.data[n:]
	return n, nil
}

// checkReady reads r to the end of what src holds, asserting before every read that a Ready
// reader returns without reading src: Ready may say false when unsure, never true wrongly.
func checkReady(t testing.TB, r bodyReader, src *prefixSource) {
	p := make([]byte, 37)
	for range 10_000 {
		ready := r.Ready()
		before := src.blocked
		_, err := r.Read(p)
		if ready && src.blocked > before {
			t.Fatalf("Ready said the next Read would not wait, and it did")
		}
		if err != nil {
			return
		}
	}
}

func TestChunkedReadyNeverLies(t *testing.T) {
	t.Parallel()
	full := chunk([]byte(strings.Repeat("data: {\"x\":1}\n\n", 40)), []int{16, 16, 3, 100, 1, 200}, "T: 1\r\n")
	for cut := 0; cut <= len(full); cut++ {
		src := &prefixSource{data: full[:cut]}
		br := bufio.NewReaderSize(src, 16)
		checkReady(t, &chunkedReader{br: br}, src)
	}
	// The whole body buffered: ready at every step, and never touching the source.
	src := &prefixSource{data: full}
	br := bufio.NewReaderSize(src, 1<<16)
	br.Peek(len(full))
	r := &chunkedReader{br: br}
	for {
		if !r.Ready() {
			t.Fatal("a fully buffered body said a read could wait")
		}
		if _, err := r.Read(make([]byte, 10)); err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			break
		}
	}
}

func TestLengthReader(t *testing.T) {
	t.Parallel()
	src := &prefixSource{data: []byte("hello world")}
	br := bufio.NewReaderSize(src, 16)
	br.Peek(5)
	r := &lengthReader{br: br, n: 11}
	checkReady(t, r, src)
	got, err := io.ReadAll(&lengthReader{br: bufio.NewReader(strings.NewReader("abcdefXYZ")), n: 6})
	if err != nil || string(got) != "abcdef" {
		t.Fatalf("%q, %v", got, err)
	}
	if _, err := io.ReadAll(&lengthReader{br: bufio.NewReader(strings.NewReader("abc")), n: 6}); err != io.ErrUnexpectedEOF {
		t.Fatalf("short body: %v, want ErrUnexpectedEOF", err)
	}
}

// FuzzChunkedReader: any bytes decode without panic, Ready never claims a read that would wait,
// and well-formed input (as Go's chunked reader sees it) decodes to the same bytes.
func FuzzChunkedReader(f *testing.F) {
	f.Add([]byte("3\r\nabc\r\n0\r\n\r\n"))
	f.Add([]byte("1;x=y\r\na\r\n0\r\nT: v\r\n\r\n"))
	f.Add(chunk([]byte("data: x\n\n"), []int{2, 3}, ""))
	f.Fuzz(func(t *testing.T, in []byte) {
		src := &prefixSource{data: in}
		checkReady(t, &chunkedReader{br: bufio.NewReaderSize(src, 16)}, src)
		got, err := io.ReadAll(&chunkedReader{br: bufio.NewReader(bytes.NewReader(in))})
		if err != nil {
			return
		}
		want, werr := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(in)))
		if werr == nil && !bytes.Equal(got, want) {
			t.Fatalf("decoded %q, Go's reader %q", got, want)
		}
	})
}
