package netpool

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/polydev/polydev/vm"
)

// Slot is one VM's share of the subnet. Every field is a pure function of the pool's subnet and Index.
type Slot struct {
	Index   int
	IP      netip.Addr       // the guest's address: network + 2 + Index
	Gateway netip.Addr       // network + 1, the same for every slot (each slot has its own namespace)
	Subnet  netip.Prefix     // the pool's subnet
	MAC     net.HardwareAddr // 06:00:<IP bytes>: locally administered, unicast, unique per address
	TAP     string           // "pdtap-<Index>"
	Netns   string           // "pdnet-<Index>"
}

// Slot name prefixes. They differ from vm.Names' per-VM prefixes, so reclaim can tell pool-owned
// namespaces and devices (released with the lease) from VM-owned ones.
const (
	TAPPrefix   = "pdtap-"
	NetnsPrefix = "pdnet-"
)

// Netmask is the subnet's dotted mask, e.g. 255.255.255.0.
func (s Slot) Netmask() netip.Addr {
	a, _ := netip.AddrFromSlice(net.CIDRMask(s.Subnet.Bits(), 32))
	return a
}

// VMNet is the slot as the network part of a vm.Spec.
func (s Slot) VMNet() vm.Network {
	return vm.Network{TAP: &vm.TAP{
		Name:      s.TAP,
		Netns:     s.Netns,
		MAC:       s.MAC,
		GuestIP:   s.IP,
		Gateway:   s.Gateway,
		PrefixLen: s.Subnet.Bits(),
	}}
}

// layout is the arithmetic of one subnet.
type layout struct {
	subnet  netip.Prefix
	network uint32
	size    int // usable slots
}

func newLayout(cidr string) (layout, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return layout{}, fmt.Errorf("netpool: bad CIDR %q: %w", cidr, err)
	}
	if !p.Addr().Is4() {
		return layout{}, fmt.Errorf("netpool: CIDR %q is not IPv4", cidr)
	}
	if p.Bits() < 16 || p.Bits() > 30 {
		return layout{}, fmt.Errorf("netpool: CIDR %q must be between /16 and /30", cidr)
	}
	p = p.Masked()
	return layout{
		subnet:  p,
		network: toUint(p.Addr()),
		size:    1<<(32-p.Bits()) - 3, // minus network, gateway and broadcast
	}, nil
}

func (l layout) slot(i int) (Slot, error) {
	if i < 0 || i >= l.size {
		return Slot{}, fmt.Errorf("netpool: slot %d outside 0..%d of %v", i, l.size-1, l.subnet)
	}
	ip := fromUint(l.network + 2 + uint32(i))
	b := ip.As4()
	return Slot{
		Index:   i,
		IP:      ip,
		Gateway: fromUint(l.network + 1),
		Subnet:  l.subnet,
		MAC:     net.HardwareAddr{0x06, 0x00, b[0], b[1], b[2], b[3]},
		TAP:     fmt.Sprintf("%s%d", TAPPrefix, i),
		Netns:   fmt.Sprintf("%s%d", NetnsPrefix, i),
	}, nil
}

// index returns the slot index of ip, and false for addresses outside the subnet or reserved.
func (l layout) index(ip netip.Addr) (int, bool) {
	if !ip.Is4() || !l.subnet.Contains(ip) {
		return 0, false
	}
	i := int(toUint(ip)-l.network) - 2
	return i, i >= 0 && i < l.size
}

func toUint(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func fromUint(u uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)})
}
