package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/polydev/polydev/egress"
)

// `polydev egress-pipe SOCKET` run the way QEMU's guestfwd runs it (one socket as standard input,
// output and error) carries a guest connection to a VM's egress proxy and back, prints nothing of
// its own, and measures what one connection's pipe costs to start.
func TestEgressPipeBinary(t *testing.T) {
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	p, err := egress.New(egress.Config{})
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "vm.egress")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Serve("vm", ln); err != nil {
		t.Fatal(err)
	}
	defer p.CloseVM("vm")

	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	child := os.NewFile(uintptr(fds[1]), "qemu-side")
	guestFile := os.NewFile(uintptr(fds[0]), "guest-side")
	guest, err := net.FileConn(guestFile)
	guestFile.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer guest.Close()
	cmd := exec.Command(bin, "egress-pipe", sock)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = child, child, child
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child.Close()

	fmt.Fprint(guest, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
	br := bufio.NewReader(guest)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first answer through a fresh pipe after %v", time.Since(start))
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Polydev-Egress") != "refused" {
		t.Fatalf("answer %d %v", resp.StatusCode, resp.Header)
	}
	if b, err := io.ReadAll(resp.Body); err != nil || !strings.HasPrefix(string(b), "polydev egress: no login session") {
		t.Errorf("refusal body %q, %v", b, err)
	}
	// The proxy closed the refused connection and the pipe passed that on; the guest's close of its
	// side (as a browser does on the end of a response) lets the pipe exit.
	if err := guest.(*net.UnixConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("pipe exit: %v", err)
	}
	if rest, _ := br.Peek(1); len(rest) != 0 {
		t.Errorf("the pipe wrote something of its own: %q", rest)
	}

	// A missing socket: exit status 1 and still not a byte to the guest.
	a, b, err := socketPair()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	cmd = exec.Command(bin, "egress-pipe", filepath.Join(t.TempDir(), "none"))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = b, b, b
	err = cmd.Run()
	b.Close()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("pipe to a missing socket: %v", err)
	}
	if n, _ := a.Read(make([]byte, 1)); n != 0 {
		t.Error("the failing pipe wrote to the guest")
	}
}

func socketPair() (*os.File, *os.File, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		return nil, nil, err
	}
	return os.NewFile(uintptr(fds[0]), "a"), os.NewFile(uintptr(fds[1]), "b"), nil
}
