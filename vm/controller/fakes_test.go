package controller

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/vm"
	"github.com/polydev/polydev/vm/netpool"
)

// fakeDriver is an in-memory vm.Driver. A running VM serves the agent's /health (and anything on
// the noVNC port) on real loopback listeners: the host forward ports in user mode, ports of its own
// in tap mode (fakeNet dials them). hook, when set, runs first in every method and can fail it.
type fakeDriver struct {
	mu     sync.Mutex
	vms    map[string]*fakeVM
	hook   func(method, id string) error
	health string // what /health reports; "healthy" by default
	snaps  int    // successful Snapshot calls
	snapOK bool   // false: Snapshot is vm.ErrUnsupported
	// fingerprint is SnapshotFingerprint's answer, the fake hypervisor's "version".
	fingerprint string
}

type fakeVM struct {
	spec      vm.Spec
	state     vm.State
	restored  bool
	addrs     map[uint16]string
	servers   []*http.Server
	listeners []net.Listener
}

func newFakeDriver() *fakeDriver {
	return &fakeDriver{vms: map[string]*fakeVM{}, health: "healthy", snapOK: true, fingerprint: "fake hypervisor 1"}
}

func (d *fakeDriver) call(method, id string) error {
	d.mu.Lock()
	hook := d.hook
	d.mu.Unlock()
	if hook != nil {
		return hook(method, id)
	}
	return nil
}

func (d *fakeDriver) Create(ctx context.Context, spec vm.Spec) error {
	if err := d.call("Create", spec.ID); err != nil {
		return err
	}
	return d.add(spec, vm.StateCreated, false)
}

func (d *fakeDriver) add(spec vm.Spec, st vm.State, restored bool) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.vms[spec.ID]; ok {
		return vm.ErrExists
	}
	for _, f := range []string{spec.OverlayPath, filepath.Join(spec.SocketDir, spec.Names().PIDFile), filepath.Join(spec.SocketDir, spec.Names().LogFile)} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			return err
		}
	}
	v := &fakeVM{spec: spec, state: st, restored: restored}
	d.vms[spec.ID] = v
	if st == vm.StateRunning {
		return d.serve(v)
	}
	return nil
}

// serve starts v's guest ports. Called with d.mu held.
func (d *fakeDriver) serve(v *fakeVM) error {
	v.addrs = map[uint16]string{}
	for _, port := range guestPorts {
		addr := "127.0.0.1:0"
		if v.spec.Net.User != nil {
			for _, f := range v.spec.Net.User.HostForwards {
				if f.GuestPort == port {
					addr = f.Host.String()
				}
			}
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			d.halt(v)
			return err
		}
		v.addrs[port] = ln.Addr().String()
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if port == polydev.VMPortAgent && r.URL.Path == "/health" {
				d.mu.Lock()
				h := d.health
				d.mu.Unlock()
				fmt.Fprintf(w, `{"status":%q,"display":true,"browser":true,"novnc":true,"children":[]}`, h)
				return
			}
			fmt.Fprintf(w, "port %d of %s", port, v.spec.ID)
		})}
		v.servers = append(v.servers, srv)
		v.listeners = append(v.listeners, ln)
		go srv.Serve(ln)
	}
	return nil
}

func (d *fakeDriver) halt(v *fakeVM) {
	for _, s := range v.servers {
		s.Close()
	}
	// Server.Close misses a listener its Serve goroutine has not taken yet, and the port would stay
	// bound under the cold boot that follows a failed restore.
	for _, ln := range v.listeners {
		ln.Close()
	}
	v.servers, v.listeners, v.addrs = nil, nil, nil
}

func (d *fakeDriver) Start(ctx context.Context, id string) error {
	if err := d.call("Start", id); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	v, ok := d.vms[id]
	if !ok {
		return vm.ErrNotFound
	}
	if v.state == vm.StateRunning {
		return nil
	}
	if !v.state.CanBecome(vm.StateRunning) {
		return vm.ErrInvalidState
	}
	v.state = vm.StateRunning
	return d.serve(v)
}

func (d *fakeDriver) Stop(ctx context.Context, id string) error {
	if err := d.call("Stop", id); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	v, ok := d.vms[id]
	if !ok {
		return vm.ErrNotFound
	}
	d.halt(v)
	v.state = vm.StateStopped
	return nil
}

func (d *fakeDriver) Destroy(ctx context.Context, id string) error {
	if err := d.call("Destroy", id); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	v, ok := d.vms[id]
	if !ok {
		return nil
	}
	d.halt(v)
	delete(d.vms, id)
	if err := os.Remove(v.spec.OverlayPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (d *fakeDriver) Snapshot(ctx context.Context, id string, snap vm.SnapshotFiles) error {
	if err := d.call("Snapshot", id); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.snapOK {
		return fmt.Errorf("fake: %w", vm.ErrUnsupported)
	}
	if _, ok := d.vms[id]; !ok {
		return vm.ErrNotFound
	}
	d.snaps++
	err := errors.Join(os.WriteFile(snap.StatePath, []byte("state of "+id), 0o600), os.WriteFile(snap.MemPath, []byte("mem"), 0o600))
	if snap.DiskPath != "" {
		err = errors.Join(err, os.WriteFile(snap.DiskPath, []byte("disk"), 0o600))
	}
	return err
}

func (d *fakeDriver) SnapshotFingerprint(ctx context.Context, spec vm.Spec) (string, error) {
	if err := d.call("Fingerprint", spec.ID); err != nil {
		return "", err
	}
	if err := spec.Validate(); err != nil {
		return "", err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fingerprint, nil
}

func (d *fakeDriver) Restore(ctx context.Context, spec vm.Spec, snap vm.SnapshotFiles) error {
	if err := d.call("Restore", spec.ID); err != nil {
		return err
	}
	for _, f := range []string{snap.StatePath, snap.MemPath} {
		if _, err := os.Stat(f); err != nil {
			return err
		}
	}
	return d.add(spec, vm.StateRunning, true)
}

func (d *fakeDriver) State(ctx context.Context, id string) (vm.State, error) {
	if err := d.call("State", id); err != nil {
		return "", err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	v, ok := d.vms[id]
	if !ok {
		return "", vm.ErrNotFound
	}
	return v.state, nil
}

func (d *fakeDriver) ids() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for id := range d.vms {
		out = append(out, id)
	}
	return out
}

func (d *fakeDriver) get(id string) (fakeVM, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	v, ok := d.vms[id]
	if !ok {
		return fakeVM{}, false
	}
	return *v, true
}

func (d *fakeDriver) closeAll() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, v := range d.vms {
		d.halt(v)
	}
}

// fakeNet is an in-memory Network: it records the vm.Names namespace and TAP of each set-up VM
// and dials the fake driver's per-VM listeners.
type fakeNet struct {
	d         *fakeDriver
	mu        sync.Mutex
	names     map[string]bool
	failSetup error
	listened  map[string]netip.AddrPort // VM id -> the egress address Listen was asked for
}

func newFakeNet(d *fakeDriver) *fakeNet { return &fakeNet{d: d, names: map[string]bool{}} }

func (n *fakeNet) Setup(ctx context.Context, id string, slot netpool.Slot) (vm.Network, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.failSetup != nil {
		return vm.Network{}, n.failSetup
	}
	names := vm.Names(id)
	n.names[names.Netns], n.names[names.TAP] = true, true
	net := slot.VMNet()
	net.TAP.Name, net.TAP.Netns = names.TAP, names.Netns
	return net, nil
}

func (n *fakeNet) Teardown(ctx context.Context, id string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	names := vm.Names(id)
	delete(n.names, names.Netns)
	delete(n.names, names.TAP)
	return nil
}

func (n *fakeNet) List(ctx context.Context) ([]string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for name := range n.names {
		out = append(out, name)
	}
	return out, nil
}

func (n *fakeNet) Remove(ctx context.Context, name string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.names, name)
	return nil
}

// Listen stands in for a listener inside the VM's namespace with one on loopback.
func (n *fakeNet) Listen(ctx context.Context, id string, addr netip.AddrPort) (net.Listener, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.names[vm.Names(id).Netns] {
		return nil, fmt.Errorf("fake: VM %s has no namespace", id)
	}
	if n.listened == nil {
		n.listened = map[string]netip.AddrPort{}
	}
	n.listened[id] = addr
	return net.Listen("tcp", "127.0.0.1:0")
}

func (n *fakeNet) has(name string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.names[name]
}

func (n *fakeNet) add(name string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.names[name] = true
}

func (n *fakeNet) Dial(ctx context.Context, id string, slot netpool.Slot, port uint16) (net.Conn, error) {
	v, ok := n.d.get(id)
	if !ok || v.addrs[port] == "" {
		return nil, errors.New("fake: nothing listens")
	}
	if v.spec.Net.TAP == nil || v.spec.Net.TAP.GuestIP != slot.IP {
		return nil, fmt.Errorf("fake: VM %s is not at %v", id, slot.IP)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", v.addrs[port])
}

// fakeProcs is a process table the reconciler sees.
type fakeProcs struct {
	mu     sync.Mutex
	procs  map[int]string // pid -> key
	killed []int
}

func (p *fakeProcs) List(ctx context.Context) ([]Process, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Process
	for pid, key := range p.procs {
		out = append(out, Process{PID: pid, Key: key})
	}
	return out, nil
}

func (p *fakeProcs) Kill(ctx context.Context, pid int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.procs, pid)
	p.killed = append(p.killed, pid)
	return nil
}
