// Package netns builds and removes the network of a microVM in `tap` mode: one network namespace per
// VM holding its TAP device, a veth pair to an uplink namespace, and the NAT and filter rules that
// publish the guest's ports and confine its traffic. It follows E2B's design (per-VM namespace, the
// same guest address in every namespace, a unique outside address mapped by NAT inside the namespace).
//
// It owns the namespaces, TAP devices, veth pairs and nftables rules it creates, all named from the
// VM id by vm.Names. It must not allocate addresses (vm/netpool leases them, in the database, before
// Setup is called), start processes, or add anything to the uplink namespace but the outer end of a
// veth pair (with its address and the route the address implies): no NAT, no filter, no sysctl
// there. Every rule lives inside the VM's namespace and disappears with it.
//
// # Layout of one VM
//
//	uplink namespace (host in production)      VM namespace "pdvn-<key>"             guest
//	  veth "pdvn-<key>"  slot.Gateway/32  <---->  veth "veth0"  slot.IP/32
//	    route slot.IP/32 (peer address)             default via slot.Gateway
//	                                                TAP "pdvt-<key>"  10.0.2.2/24  <---> eth0 10.0.2.15/24
//
// The pool address (slot.IP, e.g. 192.168.100.2) is the VM's host-visible address: the controller
// reaches the guest's published ports (3000 and 6080 by default) at slot.IP:port, and the namespace
// DNATs them to the guest. Guest egress is masqueraded to slot.IP on its way out of veth0. The pool
// gateway (slot.Gateway, network+1) is the uplink's address on every outer veth end; Linux allows one
// address on many devices, and each device carries its own peer route, so no host route or bridge is
// shared between VMs.
//
// # The same inner address everywhere
//
// A VM restored from a snapshot keeps the guest address the golden VM booted with, so every namespace
// offers its guest the same inner network. The defaults copy QEMU user-mode networking (guest
// 10.0.2.15/24, gateway 10.0.2.2, DNS 10.0.2.3, guest MAC 52:54:00:12:34:56, gateway MAC
// 52:55:0a:00:02:02 as slirp answers ARP): a golden VM snapshotted on user-mode networking (DHCP) or
// on a TAP (polydev.ip=) resumes on a TAP with a valid address, route and even ARP cache entry for its
// gateway. The TAP's MAC is fixed for the same reason: a restored guest's ARP cache still points at it.
//
// # Filtering (inside the VM namespace, table inet polydev)
//
//   - Uplink → guest: only TCP to slot.IP on Config.Ports, DNATed to the guest. Anything else the
//     uplink sends the namespace is dropped.
//   - Guest → namespace: rejected (the guest cannot probe the namespace's own addresses).
//   - Guest → outside: allowed, masqueraded, except to loopback, private, link-local, CGNAT,
//     multicast and reserved ranges, the pool's subnet (other VMs and the uplink's pool address) and
//     Config.Deny; those are rejected (TCP reset, else ICMP admin-prohibited, so a browser fails fast).
//     Config.Allow lists TCP services the guest may reach despite that (say, a controller endpoint on
//     slot.Gateway). Config.DenyEgress turns the outside off entirely except Allow and DNS.
//   - DNS: when Config.DNS is set, the guest's queries to 10.0.2.3:53 are DNATed to it.
//   - Egress proxy: when Config.Egress is set (egress.GuestAddr, 10.0.2.100:3128), that address is
//     put on the TAP and the guest's TCP to that port is let in; Listen opens the proxy's listener
//     there, a socket of the VM's namespace. With DenyEgress (how `polydev serve` runs tap mode)
//     it is the guest's only way out and the host needs no NAT.
//   - IPv6 is not forwarded (the namespace's default) and the input chain drops it.
//
// What is NOT handled here: without the egress proxy, the host must route and NAT the pool subnet
// out to the internet if guests are to reach it directly, and the host's own public addresses are
// reachable by guests unless they are listed in Config.Deny or firewalled on the host (a packet to
// a local address is delivered on the uplink side, where this package adds no rules).
//
// # Crash safety
//
// Every name comes from vm.Names: namespace "pdvn-<key>", TAP "pdvt-<key>", and the outer veth end in
// the uplink namespace is also "pdvn-<key>" (the link named after the namespace it leads to), so
// vm.Orphans recognises both. Setup removes leftovers of the same VM first and removes what it made on
// any failure; Teardown deletes the outer veth (which destroys its peer at once, even while a process
// still holds the namespace) and then the namespace; Reclaim removes namespaces and outer veth ends
// whose VM id is not live.
//
// # Dialing
//
// Dial connects from the controller to a guest port through the host-visible address. When the uplink
// is another namespace (tests), the socket is created on a goroutine locked to an OS thread that has
// entered the uplink namespace with setns(2); a socket keeps its namespace for life, so the thread
// goes back before it is unlocked.
//
// Tools: iproute2's ip and nftables' nft, run with argument lists (never a shell). Debian bookworm
// ships both in a standard install; tests skip when either is missing.
package netns
