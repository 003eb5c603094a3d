package netns

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/polydev/polydev/vm"
	"github.com/polydev/polydev/vm/netpool"
)

// Manager creates and removes VM namespaces. It keeps no state: everything it needs is derived from
// the VM id and the slot, so any number of Managers (or a restarted controller) agree.
type Manager struct {
	cfg Config

	// guestStandIn, set only by tests, replaces the TAP device by a veth pair named like it whose
	// peer ("eth0") goes to the namespace it returns, where the test plays the guest. A TAP without a
	// VM attached has no carrier, so this is how tests get traffic to a "guest" without QEMU.
	guestStandIn func(vmID string) string

	// listed, set only by tests, narrows List (and so Reclaim) to the names it accepts: /run/netns is
	// shared by the whole host, and a test must never reclaim another process's namespaces.
	listed func(name string) bool
}

// New returns a Manager. It runs nothing; a missing ip or nft binary surfaces at the first Setup.
func New(cfg Config) (*Manager, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Manager{cfg: cfg}, nil
}

// Setup builds the network of VM vmID on slot (leased from vm/netpool beforehand) and returns what
// the driver needs: a TAP device in the VM's namespace, with the inner network's addresses. Call it
// once the VM's record and the slot's lease are stored (STYLE rule 7), so a crash mid-way leaves
// resources a successor can attribute. Leftovers of an earlier attempt for the same id are removed
// first; on failure nothing is left behind.
func (m *Manager) Setup(ctx context.Context, vmID string, slot netpool.Slot) (vm.Network, error) {
	if err := checkSlot(vmID, slot); err != nil {
		return vm.Network{}, err
	}
	names := vm.Names(vmID)
	if err := m.remove(ctx, names.Netns); err != nil {
		return vm.Network{}, fmt.Errorf("netns: remove leftovers of %s: %w", names.Netns, err)
	}
	if err := m.build(ctx, vmID, names, slot); err != nil {
		// The build error is the one that matters; a failed cleanup is reported beside it.
		return vm.Network{}, errors.Join(err, m.remove(context.WithoutCancel(ctx), names.Netns))
	}
	m.cfg.Logger.Debug("netns: set up", "vm", vmID, "netns", names.Netns, "address", slot.IP)
	return vm.Network{TAP: &vm.TAP{
		Name:      names.TAP,
		Netns:     names.Netns,
		MAC:       m.cfg.GuestMAC,
		GuestIP:   m.cfg.GuestAddr.Addr(),
		Gateway:   m.cfg.GuestGateway,
		PrefixLen: m.cfg.GuestAddr.Bits(),
	}}, nil
}

// Teardown removes VM vmID's namespace and the outer end of its veth pair; the TAP device, the inner
// veth end and the rules go with them. Removing what does not exist succeeds.
func (m *Manager) Teardown(ctx context.Context, vmID string) error {
	if vmID == "" {
		return errors.New("netns: empty VM id")
	}
	return m.remove(ctx, vm.Names(vmID).Netns)
}

// build creates the resources in order: namespace, guest link, veth pair, addresses and routes,
// forwarding, rules.
func (m *Manager) build(ctx context.Context, vmID string, names vm.ResourceNames, slot netpool.Slot) error {
	ns, tap, outer := names.Netns, names.TAP, names.Netns
	if err := m.ip(ctx, "", "netns", "add", ns); err != nil {
		return err
	}
	if err := m.ip(ctx, ns, "link", "set", "lo", "up"); err != nil {
		return err
	}
	if err := m.addGuestLink(ctx, vmID, ns, tap); err != nil {
		return err
	}
	gw := netip.PrefixFrom(m.cfg.GuestGateway, m.cfg.GuestAddr.Bits()).String()
	up := m.cfg.UplinkNetns
	steps := []ipStep{
		{ns, "link", "set", "dev", tap, "address", m.cfg.gatewayMAC().String()},
		{ns, "addr", "add", gw, "dev", tap},
		{up, "link", "add", outer, "type", "veth", "peer", "name", InnerLink, "netns", ns},
		{up, "addr", "add", host32(slot.Gateway), "peer", host32(slot.IP), "dev", outer},
		{up, "link", "set", "dev", outer, "up"},
		{ns, "addr", "add", host32(slot.IP), "peer", host32(slot.Gateway), "dev", InnerLink},
		{ns, "link", "set", "dev", InnerLink, "up"},
		{ns, "route", "add", "default", "via", slot.Gateway.String(), "dev", InnerLink},
	}
	if m.cfg.DNS.IsValid() {
		steps = append(steps, ipStep{ns, "addr", "add", host32(m.cfg.GuestDNS), "dev", tap})
	}
	if m.cfg.Egress.IsValid() {
		steps = append(steps, ipStep{ns, "addr", "add", host32(m.cfg.Egress.Addr()), "dev", tap})
	}
	steps = append(steps, ipStep{ns, "link", "set", "dev", tap, "up"})
	for _, s := range steps {
		if err := m.ip(ctx, s[0], s[1:]...); err != nil {
			return err
		}
	}
	if err := inNetns(ns, func() error {
		return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1\n"), 0)
	}); err != nil {
		return fmt.Errorf("netns: enable forwarding in %s: %w", ns, err)
	}
	rules := ruleset(ruleParams{
		TAP: tap, Uplink: InnerLink, SlotIP: slot.IP, Subnet: slot.Subnet,
		GuestIP: m.cfg.GuestAddr.Addr(), GuestDNS: m.cfg.GuestDNS, DNS: m.cfg.DNS,
		Ports: m.cfg.Ports, Allow: m.cfg.Allow, Deny: m.cfg.Deny, NoEgress: m.cfg.DenyEgress, Proxy: m.cfg.Egress,
	})
	_, err := run(ctx, []byte(rules), m.cfg.IPPath, "netns", "exec", ns, m.cfg.NFTPath, "-f", "-")
	return err
}

// addGuestLink creates the guest's device: a persistent TAP owned by cfg.TAPUser, or in tests the
// veth stand-in.
func (m *Manager) addGuestLink(ctx context.Context, vmID, ns, tap string) error {
	if m.guestStandIn != nil {
		return m.ip(ctx, ns, "link", "add", tap, "type", "veth", "peer", "name", "eth0", "netns", m.guestStandIn(vmID))
	}
	args := []string{"tuntap", "add", "dev", tap, "mode", "tap", "user", m.cfg.TAPUser}
	if m.cfg.TAPGroup != "" {
		args = append(args, "group", m.cfg.TAPGroup)
	}
	return m.ip(ctx, ns, args...)
}

// remove deletes the outer veth end named name in the uplink namespace, then the namespace name.
// Deleting the veth first destroys both ends at once, even if a process still holds the namespace.
func (m *Manager) remove(ctx context.Context, name string) error {
	linkErr := ignoreMissing(m.ip(ctx, m.cfg.UplinkNetns, "link", "del", "dev", name))
	nsErr := ignoreMissing(m.ip(ctx, "", "netns", "del", name))
	return errors.Join(linkErr, nsErr)
}

// ipStep is one ip command: the namespace to run it in ("" for the controller's), then its arguments.
type ipStep []string

func host32(a netip.Addr) string { return netip.PrefixFrom(a, 32).String() }

// checkSlot rejects a slot that netpool cannot have produced.
func checkSlot(vmID string, s netpool.Slot) error {
	if vmID == "" {
		return errors.New("netns: empty VM id")
	}
	if !s.IP.Is4() || !s.Gateway.Is4() || !s.Subnet.Addr().Is4() {
		return fmt.Errorf("netns: slot %d has no IPv4 addresses", s.Index)
	}
	if !s.Subnet.Contains(s.IP) || !s.Subnet.Contains(s.Gateway) || s.IP == s.Gateway {
		return fmt.Errorf("netns: slot address %v and gateway %v must be distinct addresses in %v", s.IP, s.Gateway, s.Subnet)
	}
	return nil
}
