package testkit

import (
	"io"
	"strings"
	"testing"
)

// TestListenAddr finds the listening line among others and drains what follows.
func TestListenAddr(t *testing.T) {
	pr, pw := io.Pipe()
	addr := ListenAddr(pr)
	go func() {
		_, _ = io.WriteString(pw, "not json\n"+`{"msg":"opening store"}`+"\n"+`{"msg":"listening","addr":"127.0.0.1:4242"}`+"\n")
		// Written after the address: ListenAddr must keep reading, or this write would block.
		_, _ = io.WriteString(pw, strings.Repeat(`{"msg":"http"}`+"\n", 1000))
		pw.Close()
	}()
	if got := <-addr; got != "127.0.0.1:4242" {
		t.Fatalf("address %q", got)
	}
	pr2, pw2 := io.Pipe()
	none := ListenAddr(pr2)
	_, _ = io.WriteString(pw2, `{"msg":"fatal"}`+"\n")
	pw2.Close()
	select {
	case a := <-none:
		t.Fatalf("address %q from a log without a listening line", a)
	default:
	}
}
