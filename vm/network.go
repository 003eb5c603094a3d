package vm

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// NetMode is how a VM reaches the network.
type NetMode string

const (
	NetNone NetMode = "none" // no network device at all
	NetTAP  NetMode = "tap"  // a TAP device in a per-VM namespace, address from vm/netpool
	NetUser NetMode = "user" // QEMU user-mode networking (restrict=on) with explicit forwards
)

// Network configures the VM's one network interface. At most one of TAP and User is set; neither
// means NetNone.
type Network struct {
	TAP  *TAP
	User *UserNet
}

// TAP is a TAP device the hypervisor attaches as the guest's eth0. The controller creates the
// namespace and the device before Create and removes them after Destroy; drivers only use them.
type TAP struct {
	Name      string           // host device name, ≤ 15 characters (Linux IFNAMSIZ-1)
	Netns     string           // namespace holding the device; the hypervisor runs inside it. Empty: host namespace
	MAC       net.HardwareAddr // guest MAC: 6 bytes, unicast
	GuestIP   netip.Addr       // the guest's IPv4 address
	Gateway   netip.Addr       // the guest's default gateway (the host side, inside the namespace)
	PrefixLen int              // length of the guest's subnet prefix, 1..30
}

// UserNet is QEMU user-mode networking. The guest reaches nothing but what GuestForwards allows
// (restrict=on), and the host reaches the guest only through HostForwards.
type UserNet struct {
	HostForwards  []HostForward
	GuestForwards []GuestForward
}

// HostForward exposes a guest TCP port on a host loopback address (QEMU hostfwd).
type HostForward struct {
	Host      netip.AddrPort // loopback address and a non-zero port the controller picked
	GuestPort uint16
}

// GuestForward lets the guest reach one host service (QEMU guestfwd): for every connection the
// guest opens to Guest (an IPv4 address in the user-mode subnet), QEMU runs Command with the
// connection as its standard input and output. QEMU's other form, a character device, is a single
// byte stream for the VM's whole life: it cannot carry two connections, or one after another, so
// it is not offered. The egress proxy's pipe (`polydev egress-pipe SOCKET`) is the command.
type GuestForward struct {
	Guest   netip.AddrPort
	Command []string // absolute program path, then its arguments
}

// Mode reports which kind of network n describes.
func (n Network) Mode() NetMode {
	switch {
	case n.TAP != nil:
		return NetTAP
	case n.User != nil:
		return NetUser
	}
	return NetNone
}

// Netmask returns the dotted IPv4 mask of the guest's subnet (e.g. 255.255.255.0 for /24).
func (t TAP) Netmask() netip.Addr {
	m := net.CIDRMask(t.PrefixLen, 32)
	a, _ := netip.AddrFromSlice(m)
	return a
}

// Validate checks the network settings; errors wrap ErrInvalidSpec.
func (n Network) Validate() error {
	if n.TAP != nil && n.User != nil {
		return invalid("network has both tap and user settings")
	}
	if n.TAP != nil {
		return n.TAP.validate()
	}
	if n.User != nil {
		return n.User.validate()
	}
	return nil
}

func (t *TAP) validate() error {
	if err := ValidateIfName("tap name", t.Name); err != nil {
		return err
	}
	if t.Netns != "" {
		if err := ValidateIfName("netns name", t.Netns); err != nil {
			return err
		}
	}
	if len(t.MAC) != 6 || t.MAC[0]&1 != 0 {
		return invalid("guest MAC %q must be a 6-byte unicast address", t.MAC)
	}
	if t.PrefixLen < 1 || t.PrefixLen > 30 {
		return invalid("prefix length %d outside 1..30", t.PrefixLen)
	}
	if !t.GuestIP.Is4() || !t.Gateway.Is4() {
		return invalid("guest IP %v and gateway %v must be IPv4", t.GuestIP, t.Gateway)
	}
	subnet := netip.PrefixFrom(t.GuestIP, t.PrefixLen).Masked()
	if !subnet.Contains(t.Gateway) || t.Gateway == t.GuestIP {
		return invalid("gateway %v must be another address in %v", t.Gateway, subnet)
	}
	return nil
}

func (u *UserNet) validate() error {
	for _, f := range u.HostForwards {
		if !f.Host.Addr().IsLoopback() || f.Host.Port() == 0 || f.GuestPort == 0 {
			return invalid("host forward %v->%d must bind a loopback address and name both ports", f.Host, f.GuestPort)
		}
	}
	for _, f := range u.GuestForwards {
		if !f.Guest.IsValid() || !f.Guest.Addr().Is4() || f.Guest.Port() == 0 {
			return invalid("guest forward %v must be an IPv4 address and a port", f.Guest)
		}
		if len(f.Command) == 0 || !strings.HasPrefix(f.Command[0], "/") {
			return invalid("guest forward %v needs a command with an absolute program path", f.Guest)
		}
		for _, a := range f.Command {
			// QEMU hands the command to GLib's shell-style parser; the driver single-quotes every
			// argument, so a quote, newline or NUL could break out of it.
			if a == "" || strings.ContainsAny(a, "'\n\x00") {
				return invalid("guest forward %v: command argument %q is empty or has a quote, newline or NUL", f.Guest, a)
			}
		}
	}
	return nil
}

// ValidateIfName checks a Linux interface or namespace name: 1..15 characters, none of them '/',
// ':', whitespace or NUL, and not "." or "..".
func ValidateIfName(field, name string) error {
	if name == "" || len(name) > 15 {
		return invalid("%s %q must be 1..15 characters", field, name)
	}
	if name == "." || name == ".." || strings.ContainsAny(name, "/: \t\n\x00") {
		return invalid("%s %q has a forbidden character", field, name)
	}
	return nil
}

// GuestKernelArgs is what a driver appends to the guest's kernel command line so that the golden
// image's init configures eth0 (polydev.ip=ADDR/PREFIX, polydev.gw=GATEWAY; see vm/image's
// GuestInit). Only a TAP needs it: nothing in a VM's namespace answers DHCP, while QEMU's user
// networking has its own DHCP server. It starts with a space, or is empty.
func (n Network) GuestKernelArgs() string {
	t := n.TAP
	if t == nil {
		return ""
	}
	return fmt.Sprintf(" polydev.ip=%s/%d polydev.gw=%s", t.GuestIP, t.PrefixLen, t.Gateway)
}
