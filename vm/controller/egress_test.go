package controller

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/egress"
	"github.com/polydev/polydev/vm"
)

// With an egress proxy, every VM gets its egress listener when its network is made (user mode: a
// unix socket and a guest forward running the pipe to it; tap mode: a listener in its namespace),
// a session can bind to it, and it closes with the VM.
func TestEgressWiring(t *testing.T) {
	for _, mode := range []vm.NetMode{vm.NetUser, vm.NetTAP} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			p, err := egress.New(egress.Config{})
			if err != nil {
				t.Fatal(err)
			}
			pipe := []string{"/usr/local/bin/polydev", "egress-pipe"}
			e := newEnv(t, mode, func(c *Config) { c.Egress, c.EgressPipe = p, pipe })
			if e.c.Egress() != p {
				t.Fatal("Egress() is not the configured proxy")
			}
			ctx := t.Context()
			u := e.user(polydev.TierPro)
			v, err := e.c.Create(ctx, u, polydev.VMBrowser)
			if err != nil {
				t.Fatal(err)
			}
			sock := filepath.Join(e.cfg.RunDir, vm.Names(v.ID).Egress)
			fv, _ := e.d.get(v.ID)
			switch mode {
			case vm.NetUser:
				fwds := fv.spec.Net.User.GuestForwards
				if len(fwds) != 1 || fwds[0].Guest != egress.GuestAddr || !slices.Equal(fwds[0].Command, append(pipe, sock)) {
					t.Fatalf("guest forwards = %+v", fwds)
				}
				if _, err := os.Stat(sock); err != nil {
					t.Fatalf("egress socket: %v", err)
				}
				// What QEMU's guestfwd does for one guest connection: the pipe to the socket.
				guest, qemu := net.Pipe()
				go func() { _ = egress.Pipe(ctx, sock, qemu) }()
				fmt.Fprint(guest, "CONNECT claude.ai:443 HTTP/1.1\r\nHost: claude.ai:443\r\n\r\n")
				resp, err := http.ReadResponse(bufio.NewReader(guest), &http.Request{Method: http.MethodConnect})
				guest.Close()
				if err != nil || resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Polydev-Egress") != "refused" {
					t.Fatalf("CONNECT without a session through the pipe: %v %v", resp, err)
				}
			case vm.NetTAP:
				if e.n.listened[v.ID] != egress.GuestAddr {
					t.Fatalf("Listen calls = %v", e.n.listened)
				}
			}
			s, err := p.Open(v.ID, egress.Policy{Session: "sess", Allow: []egress.Rule{{Host: "claude.ai"}}})
			if err != nil {
				t.Fatalf("Open on a running VM: %v", err)
			}
			defer s.Close()
			if err := e.c.Delete(ctx, u, v.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := p.Open(v.ID, egress.Policy{Session: "again"}); !errors.Is(err, egress.ErrNoVM) {
				t.Errorf("Open after Delete: %v, want ErrNoVM", err)
			}
			if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("egress socket after Delete: %v", err)
			}
		})
	}
}

// A user-mode controller with an egress proxy needs the pipe's absolute path.
func TestEgressNeedsPipe(t *testing.T) {
	t.Parallel()
	p, err := egress.New(egress.Config{})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, vm.NetUser, nil)
	cfg := e.cfg
	cfg.Egress, cfg.EgressPipe = p, []string{"polydev", "egress-pipe"}
	if _, err := New(cfg); err == nil {
		t.Error("a relative pipe program was accepted")
	}
}
