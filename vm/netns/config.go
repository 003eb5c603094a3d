package netns

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"

	"github.com/polydev/polydev/vm"
)

// Defaults of the inner network, the one every VM's guest sees. They are QEMU user-mode
// networking's, so a golden VM snapshotted on either kind of network resumes on a TAP unchanged.
var (
	DefaultGuestAddr    = netip.MustParsePrefix("10.0.2.15/24")
	DefaultGuestGateway = netip.MustParseAddr("10.0.2.2")
	DefaultGuestDNS     = netip.MustParseAddr("10.0.2.3")
	DefaultGuestMAC     = net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x56} // QEMU's first NIC
	DefaultPorts        = []uint16{3000, 6080}                                 // agent, noVNC
)

// InnerLink is the name of the inner veth end, inside the VM namespace (names there are private).
const InnerLink = "veth0"

// Config configures a Manager. The zero value is a production configuration: uplink in the
// controller's own namespace, ip and nft from PATH, the default inner network and ports.
type Config struct {
	// UplinkNetns is the namespace (a name under /run/netns) holding the outer veth ends; empty is the
	// controller's own namespace. Tests pass a namespace they created, so they never touch the host's.
	UplinkNetns string

	IPPath  string // iproute2's ip; "ip" when empty
	NFTPath string // nftables' nft; "nft" when empty

	GuestAddr    netip.Prefix     // the guest's address and prefix; DefaultGuestAddr when invalid
	GuestGateway netip.Addr       // the TAP's address, the guest's gateway; DefaultGuestGateway when invalid
	GuestMAC     net.HardwareAddr // the guest NIC's MAC; DefaultGuestMAC when nil
	GuestDNS     netip.Addr       // where the guest sends DNS queries; DefaultGuestDNS when invalid

	// DNS, when valid, is the resolver the guest's queries to GuestDNS:53 are DNATed to.
	DNS netip.Addr

	// Egress, when valid, is the egress proxy's guest-side address (egress.GuestAddr): Setup puts
	// the address on the TAP side of the namespace and lets the guest's TCP to that port in, where
	// Listen opens the VM's proxy listener. With DenyEgress it is the guest's only way out.
	Egress netip.AddrPort

	Ports      []uint16         // guest TCP ports published at the slot address; DefaultPorts when empty
	Allow      []netip.AddrPort // TCP services the guest may reach even inside a denied range
	Deny       []netip.Prefix   // more ranges the guest may not reach (e.g. the host's public addresses)
	DenyEgress bool             // the guest reaches nothing but Allow and DNS

	// TAPUser and TAPGroup own the TAP device, so an unprivileged QEMU can open it: a user or group
	// name or number. TAPUser defaults to the controller's uid; no group when empty.
	TAPUser  string
	TAPGroup string

	Logger *slog.Logger
}

// withDefaults fills the zero fields and checks the rest.
func (c Config) withDefaults() (Config, error) {
	c.IPPath = cmp.Or(c.IPPath, "ip")
	c.NFTPath = cmp.Or(c.NFTPath, "nft")
	if !c.GuestAddr.IsValid() {
		c.GuestAddr = DefaultGuestAddr
	}
	if !c.GuestGateway.IsValid() {
		c.GuestGateway = DefaultGuestGateway
	}
	if !c.GuestDNS.IsValid() {
		c.GuestDNS = DefaultGuestDNS
	}
	if c.GuestMAC == nil {
		c.GuestMAC = DefaultGuestMAC
	}
	if len(c.Ports) == 0 {
		c.Ports = DefaultPorts
	}
	c.TAPUser = cmp.Or(c.TAPUser, strconv.Itoa(os.Getuid()))
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, c.validate()
}

func (c Config) validate() error {
	if c.UplinkNetns != "" {
		if err := vm.ValidateIfName("uplink netns", c.UplinkNetns); err != nil {
			return fmt.Errorf("netns: %w", err)
		}
	}
	inner := c.GuestAddr.Masked()
	if !c.GuestAddr.Addr().Is4() || c.GuestAddr.Bits() < 8 || c.GuestAddr.Bits() > 30 {
		return fmt.Errorf("netns: guest address %v must be IPv4 with a prefix of /8../30", c.GuestAddr)
	}
	for _, a := range []netip.Addr{c.GuestGateway, c.GuestDNS} {
		if !inner.Contains(a) || a == c.GuestAddr.Addr() {
			return fmt.Errorf("netns: %v must be another address in the guest's subnet %v", a, inner)
		}
	}
	if c.Egress.IsValid() {
		a := c.Egress.Addr()
		if !inner.Contains(a) || c.Egress.Port() == 0 || a == c.GuestAddr.Addr() || a == c.GuestGateway || a == c.GuestDNS {
			return fmt.Errorf("netns: egress address %v must be a free address and port in the guest's subnet %v", c.Egress, inner)
		}
	}
	if c.GuestGateway == c.GuestDNS {
		return fmt.Errorf("netns: guest gateway and DNS address are both %v", c.GuestDNS)
	}
	if len(c.GuestMAC) != 6 || c.GuestMAC[0]&1 != 0 {
		return fmt.Errorf("netns: guest MAC %v must be a 6-byte unicast address", c.GuestMAC)
	}
	if c.DNS.IsValid() && !c.DNS.Is4() {
		return fmt.Errorf("netns: DNS %v must be IPv4", c.DNS)
	}
	for _, p := range c.Ports {
		if p == 0 {
			return errors.New("netns: published port 0")
		}
	}
	for _, a := range c.Allow {
		if !a.Addr().Is4() || a.Port() == 0 {
			return fmt.Errorf("netns: allowed service %v must be IPv4 with a port", a)
		}
	}
	for _, p := range c.Deny {
		if !p.Addr().Is4() {
			return fmt.Errorf("netns: denied range %v must be IPv4", p)
		}
	}
	return nil
}

// gatewayMAC is the TAP's MAC: 52:55 and the gateway's IPv4 bytes, the address QEMU's slirp answers
// ARP with, so a guest snapshotted on user-mode networking keeps a valid ARP entry.
func (c Config) gatewayMAC() net.HardwareAddr {
	b := c.GuestGateway.As4()
	return net.HardwareAddr{0x52, 0x55, b[0], b[1], b[2], b[3]}
}

// published reports whether port is one of the guest ports published at the slot address.
func (c Config) published(port uint16) bool {
	for _, p := range c.Ports {
		if p == port {
			return true
		}
	}
	return false
}
