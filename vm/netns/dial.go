package netns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/polydev/polydev/vm"
	"github.com/polydev/polydev/vm/netpool"
)

// runDir is where `ip netns add` mounts named namespaces.
const runDir = "/run/netns"

// Dial connects to TCP port (one of Config.Ports) of VM vmID's guest through the slot's host-visible
// address, from the uplink namespace.
func (m *Manager) Dial(ctx context.Context, vmID string, slot netpool.Slot, port uint16) (net.Conn, error) {
	if err := checkSlot(vmID, slot); err != nil {
		return nil, err
	}
	if !m.cfg.published(port) {
		return nil, fmt.Errorf("netns: guest port %d is not published (ports %v)", port, m.cfg.Ports)
	}
	addr := netip.AddrPortFrom(slot.IP, port).String()
	var conn net.Conn
	err := inNetns(m.cfg.UplinkNetns, func() error {
		var err error
		conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netns: dial %s of %s: %w", addr, vm.Names(vmID).Netns, err)
	}
	return conn, nil
}

// inNetns runs fn on an OS thread that has entered the named namespace (a name under /run/netns);
// name "" runs fn in place. Sockets fn creates stay in that namespace for life. fn runs on its own
// goroutine, so the caller's thread never changes namespace; if the thread cannot go back, it stays
// locked and Go discards it when the goroutine ends.
func inNetns(name string, fn func() error) error {
	if name == "" {
		return fn()
	}
	if err := vm.ValidateIfName("netns", name); err != nil {
		return err
	}
	target, err := os.Open(filepath.Join(runDir, name))
	if err != nil {
		return fmt.Errorf("netns: open namespace: %w", err)
	}
	defer target.Close()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("netns: open own namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("netns: enter %s: %w", name, err)
			return
		}
		fnErr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- errors.Join(fnErr, fmt.Errorf("netns: leave %s: %w", name, err)) // thread stays locked
			return
		}
		runtime.UnlockOSThread()
		done <- fnErr
	}()
	return <-done
}

// Listen opens a TCP listener on addr (Config.Egress) inside VM vmID's namespace, for the egress
// proxy: the guest reaches it through its TAP, and the listener's socket belongs to that
// namespace for life, so a connection on it can only have come from that VM. Connections the
// proxy then opens are its own, in the controller's namespace.
func (m *Manager) Listen(ctx context.Context, vmID string, addr netip.AddrPort) (net.Listener, error) {
	if vmID == "" {
		return nil, errors.New("netns: empty VM id")
	}
	if !m.cfg.Egress.IsValid() || addr != m.cfg.Egress {
		return nil, fmt.Errorf("netns: %v is not the configured egress address %v", addr, m.cfg.Egress)
	}
	ns := vm.Names(vmID).Netns
	var ln net.Listener
	err := inNetns(ns, func() error {
		var err error
		ln, err = (&net.ListenConfig{}).Listen(ctx, "tcp4", addr.String())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netns: listen on %v in %s: %w", addr, ns, err)
	}
	return ln, nil
}
