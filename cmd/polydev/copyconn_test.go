package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
)

// TestCopyConn: a body handed to the wrapped connection's ReadFrom (as net/http's transport does
// with a LimitedReader) arrives whole and in order, through the pooled buffer.
func TestCopyConn(t *testing.T) {
	client, server := net.Pipe()
	dial := copyConnDial(func(context.Context, string, string) (net.Conn, error) { return client, nil })
	c, err := dial(t.Context(), "tcp", "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	rf, ok := c.(io.ReaderFrom)
	if !ok {
		t.Fatal("the wrapped connection has no ReadFrom")
	}
	body := bytes.Repeat([]byte("0123456789abcdef"), (copyConnBuf*2+100)/16)
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(server)
		got <- b
	}()
	for range 2 { // the second copy reuses the pooled buffer
		n, err := rf.ReadFrom(&io.LimitedReader{R: bytes.NewReader(body), N: int64(len(body))})
		if n != int64(len(body)) || err != nil {
			t.Fatalf("ReadFrom: %d, %v", n, err)
		}
	}
	c.Close()
	if b := <-got; !bytes.Equal(b, append(append([]byte{}, body...), body...)) {
		t.Fatalf("the other end got %d bytes, want %d", len(b), 2*len(body))
	}
	if _, err := copyConnDial(func(context.Context, string, string) (net.Conn, error) { return nil, io.ErrUnexpectedEOF })(t.Context(), "tcp", "x"); err != io.ErrUnexpectedEOF {
		t.Fatalf("a dial error: %v", err)
	}
}

// fakeParts stands for the passthrough's parts body (gateway/provider/internal/upstream).
type fakeParts struct {
	rest  []byte
	wrote bool
}

func (f *fakeParts) Read(p []byte) (int, error) {
	if len(f.rest) == 0 {
		return 0, io.EOF
	}
	n := copy(p, f.rest)
	f.rest = f.rest[n:]
	return n, nil
}
func (f *fakeParts) Remaining() int64 { return int64(len(f.rest)) }
func (f *fakeParts) WriteBuffersTo(w io.Writer) (int64, error) {
	f.wrote = true
	n, err := w.Write(f.rest)
	f.rest = f.rest[n:]
	return int64(n), err
}

// TestCopyConnParts: a parts body goes to the connection through its own WriteBuffersTo (no copy)
// when the transport's limit covers it, and the limit is counted down; a limit shorter than the
// body takes the copying path and sends exactly the limit.
func TestCopyConnParts(t *testing.T) {
	for _, tc := range []struct {
		name      string
		limit     int64
		wantParts bool
	}{{"whole", 5000, true}, {"limit cuts", 3000, false}} {
		t.Run(tc.name, func(t *testing.T) {
			client, server := net.Pipe()
			got := make(chan []byte)
			go func() {
				b, _ := io.ReadAll(server)
				got <- b
			}()
			body := bytes.Repeat([]byte("0123456789"), 500)
			fp := &fakeParts{rest: body}
			lr := &io.LimitedReader{R: fp, N: tc.limit}
			n, err := copyConn{client}.ReadFrom(lr)
			client.Close()
			if err != nil || n != tc.limit || lr.N != 0 {
				t.Fatalf("ReadFrom: %d, %v (limit left %d)", n, err, lr.N)
			}
			if fp.wrote != tc.wantParts {
				t.Fatalf("WriteBuffersTo used: %v, want %v", fp.wrote, tc.wantParts)
			}
			if b := <-got; !bytes.Equal(b, body[:tc.limit]) {
				t.Fatalf("the other end got %d bytes, want the first %d", len(b), tc.limit)
			}
		})
	}
}
