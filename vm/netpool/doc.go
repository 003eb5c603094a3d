// Package netpool hands out per-VM network slots from one IPv4 subnet (default 192.168.100.0/24, as
// in the seed) for tap-mode networking, following E2B's design: a slot is an index, and everything
// about it (guest address, gateway, MAC, TAP and namespace names) is computed from that index, so
// nothing but the lease (address → VM id) needs to be stored.
//
// It owns address arithmetic and the allocation protocol over a LeaseStore. It must not create
// namespaces, TAP devices or NAT rules (the controller does, from the Slot it gets), and it keeps no
// lease in memory: every decision is made against the store, so a restarted process or a second
// replica sees the same leases.
//
// Layout of a subnet: the network address, the first usable address (the gateway, the host side of
// every slot inside its namespace) and the broadcast address are reserved; slot i is the address
// network+2+i. A /24 therefore has 253 slots, a /30 one. Prefixes from /16 to /30 are accepted.
//
// Allocation picks the lowest free slot. Lowest-first keeps addresses small and predictable in logs
// and tests; its cost is that concurrent allocators race for the same address, which the store
// settles atomically (Claim) and the losers simply try the next one. Reuse of a just-released address
// is harmless because each slot lives in its own namespace.
package netpool
