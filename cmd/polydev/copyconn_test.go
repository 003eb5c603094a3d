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
