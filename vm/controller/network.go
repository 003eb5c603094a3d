package controller

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/egress"
	"github.com/polydev/polydev/vm"
	"github.com/polydev/polydev/vm/netpool"
)

// Network is the tap-mode host networking the controller needs (implemented by vm/netns). Every
// name it creates must come from vm.Names(vmID) (the pdvn-/pdvt- prefixes), so that the reconciler
// can tell whose it is with vm.Orphans.
type Network interface {
	// Setup creates VM vmID's namespace, TAP device and NAT for slot and returns the network part of
	// its Spec. Whatever a failed Setup created it removes itself. Calling Setup for a VM that is
	// already set up replaces its network.
	Setup(ctx context.Context, vmID string, slot netpool.Slot) (vm.Network, error)
	// Teardown removes everything Setup made for vmID. It is idempotent: a VM without a network is nil.
	Teardown(ctx context.Context, vmID string) error
	// List returns the names of the per-VM host resources that exist now (namespaces, devices), as
	// made by vm.Names, for the reconciler.
	List(ctx context.Context) ([]string, error)
	// Remove deletes one resource named by List (the reconciler passes only vm.Orphans of List).
	Remove(ctx context.Context, name string) error
	// Dial connects to port of the guest in VM vmID's namespace (the guest is at slot.IP there).
	Dial(ctx context.Context, vmID string, slot netpool.Slot, port uint16) (net.Conn, error)
}

// EgressNetwork is a tap-mode Network that can open the egress proxy's listener inside a VM's
// namespace, at the guest-side address (vm/netns with Config.Egress).
type EgressNetwork interface {
	Network
	Listen(ctx context.Context, vmID string, addr netip.AddrPort) (net.Listener, error)
}

// guestPorts are the guest ports reachable from the host, in the order of a VM's host forwards.
var guestPorts = []uint16{polydev.VMPortAgent, polydev.VMPortNoVNC}

// userPorts are one user-mode VM's loopback host ports, by guest port.
type userPorts map[uint16]uint16

func (p userPorts) network() vm.Network {
	u := &vm.UserNet{}
	for _, g := range guestPorts {
		u.HostForwards = append(u.HostForwards, vm.HostForward{
			Host: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), p[g]), GuestPort: g,
		})
	}
	return vm.Network{User: u}
}

// pickPorts reserves a free 127.0.0.1 port per guest port. The kernel picks them (listen on :0);
// the controller remembers them so that it never hands one port to two VMs, though another program
// could still take one before the hypervisor binds it (the boot then fails and is cleaned up).
func (c *Controller) pickPorts(id string) (userPorts, error) {
	c.portMu.Lock()
	defer c.portMu.Unlock()
	p := userPorts{}
	for _, g := range guestPorts {
		for tries := 0; ; tries++ {
			port, err := freePort()
			if err != nil {
				return nil, err
			}
			if _, used := c.usedPorts[port]; !used && !p.has(port) {
				p[g] = port
				break
			}
			if tries > 20 {
				return nil, fmt.Errorf("no free loopback port after %d tries", tries)
			}
		}
	}
	for _, port := range p {
		c.usedPorts[port] = id
	}
	c.ports[id] = p
	return p, nil
}

func (p userPorts) has(port uint16) bool {
	for _, v := range p {
		if v == port {
			return true
		}
	}
	return false
}

func (c *Controller) releasePorts(id string) {
	c.portMu.Lock()
	defer c.portMu.Unlock()
	for _, port := range c.ports[id] {
		delete(c.usedPorts, port)
	}
	delete(c.ports, id)
}

func (c *Controller) portsOf(id string) (userPorts, bool) {
	c.portMu.Lock()
	defer c.portMu.Unlock()
	p, ok := c.ports[id]
	return p, ok
}

func freePort() (uint16, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return uint16(ln.Addr().(*net.TCPAddr).Port), nil
}

// acquireNet gives VM id its network: a lease and a namespace (tap) or two loopback ports (user).
// On error nothing is held. ip is the leased address in tap mode.
func (c *Controller) acquireNet(ctx context.Context, id string) (n vm.Network, ip *netip.Addr, err error) {
	if c.cfg.NetMode == vm.NetUser {
		p, err := c.pickPorts(id)
		if err != nil {
			return vm.Network{}, nil, err
		}
		n := p.network()
		if c.cfg.Egress != nil {
			fwd, err := c.serveEgressUser(id)
			if err != nil {
				c.releasePorts(id)
				return vm.Network{}, nil, err
			}
			n.User.GuestForwards = append(n.User.GuestForwards, fwd)
		}
		return n, nil, nil
	}
	slot, err := c.cfg.Pool.Allocate(ctx, id)
	if err != nil {
		return vm.Network{}, nil, err
	}
	n, err = c.cfg.Network.Setup(ctx, id, slot)
	if err != nil {
		return vm.Network{}, nil, joinErr(err, c.cfg.Pool.Release(ctx, slot.IP, id))
	}
	if c.cfg.Egress != nil {
		if err := c.serveEgressTAP(ctx, id); err != nil {
			return vm.Network{}, nil, joinErr(err, c.cfg.Network.Teardown(ctx, id), c.cfg.Pool.Release(ctx, slot.IP, id))
		}
	}
	return n, &slot.IP, nil
}

// serveEgressUser opens VM id's egress socket in the run directory and returns the guest forward
// that reaches it: QEMU runs the pipe once per guest connection to egress.GuestAddr.
func (c *Controller) serveEgressUser(id string) (vm.GuestForward, error) {
	sock := filepath.Join(c.cfg.RunDir, vm.Names(id).Egress)
	if err := os.Remove(sock); err != nil && !errors.Is(err, os.ErrNotExist) {
		return vm.GuestForward{}, fmt.Errorf("egress socket: %w", err)
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return vm.GuestForward{}, fmt.Errorf("egress socket: %w", err)
	}
	if err := c.cfg.Egress.Serve(id, ln); err != nil {
		_ = ln.Close()
		return vm.GuestForward{}, err
	}
	cmd := append(slices.Clone(c.cfg.EgressPipe), sock)
	return vm.GuestForward{Guest: egress.GuestAddr, Command: cmd}, nil
}

// serveEgressTAP opens VM id's egress listener inside its namespace.
func (c *Controller) serveEgressTAP(ctx context.Context, id string) error {
	ln, err := c.cfg.Network.(EgressNetwork).Listen(ctx, id, egress.GuestAddr)
	if err != nil {
		return err
	}
	if err := c.cfg.Egress.Serve(id, ln); err != nil {
		_ = ln.Close()
		return err
	}
	return nil
}

// closeEgress stops serving VM id's egress (its session, if any, ends) and removes its socket.
func (c *Controller) closeEgress(id string) error {
	if c.cfg.Egress == nil {
		return nil
	}
	c.cfg.Egress.CloseVM(id)
	if c.cfg.NetMode != vm.NetUser {
		return nil
	}
	if err := os.Remove(filepath.Join(c.cfg.RunDir, vm.Names(id).Egress)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// releaseNet frees whatever acquireNet gave VM id. It is idempotent.
func (c *Controller) releaseNet(ctx context.Context, id string) error {
	egressErr := c.closeEgress(id)
	if c.cfg.NetMode == vm.NetUser {
		c.releasePorts(id)
		return egressErr
	}
	err := joinErr(egressErr, c.cfg.Network.Teardown(ctx, id))
	slot, held, ferr := c.cfg.Pool.Find(ctx, id)
	if ferr != nil {
		return joinErr(err, ferr)
	}
	if held {
		err = joinErr(err, c.cfg.Pool.Release(ctx, slot.IP, id))
	}
	return err
}

// dialGuest connects to a guest port of VM id by the network mode's path.
func (c *Controller) dialGuest(ctx context.Context, id string, port uint16) (net.Conn, error) {
	if c.cfg.NetMode == vm.NetUser {
		p, ok := c.portsOf(id)
		if !ok || p[port] == 0 {
			return nil, fmt.Errorf("VM %s has no host forward for port %d", id, port)
		}
		var d net.Dialer
		return d.DialContext(ctx, "tcp", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), p[port]).String())
	}
	slot, held, err := c.cfg.Pool.Find(ctx, id)
	if err != nil {
		return nil, err
	}
	if !held {
		return nil, fmt.Errorf("VM %s holds no address", id)
	}
	return c.cfg.Network.Dial(ctx, id, slot, port)
}

func (c *Controller) dialer(id string) DialFunc {
	return func(ctx context.Context, port uint16) (net.Conn, error) { return c.dialGuest(ctx, id, port) }
}
