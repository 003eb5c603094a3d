package egress

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"testing"
)

// The guestfwd pipe carries a guest connection to a VM's unix socket listener: a CONNECT through
// it reaches an allowed host.
func TestPipe(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	srv, p := e.tlsServer("login.test")
	sock := filepath.Join(t.TempDir(), "vm.egress")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.p.Serve("vm-unix", ln); err != nil {
		t.Fatal(err)
	}
	defer e.p.CloseVM("vm-unix")
	s, err := e.p.Open("vm-unix", Policy{Session: "s", Allow: []Rule{{Host: "login.test", Ports: []uint16{p}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	guest, qemuSide := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- Pipe(context.Background(), sock, qemuSide) }()
	fmt.Fprintf(guest, "CONNECT login.test:%d HTTP/1.1\r\nHost: x\r\n\r\n", p)
	br := bufio.NewReader(guest)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT through the pipe: %v %v", resp, err)
	}
	guest.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s.Usage().Requests != 1 {
		t.Errorf("usage = %+v", s.Usage())
	}
	_ = srv
	if err := Pipe(context.Background(), filepath.Join(t.TempDir(), "none"), qemuSide); err == nil {
		t.Error("Pipe to a missing socket succeeded")
	}
}
