// Package egress is the only way out of a browser VM: an HTTP proxy Polydev runs on the host, one
// listener per VM, with the allow-list and limits of the login session the VM serves.
//
// How a VM reaches it: the guest sees the proxy at GuestAddr (10.0.2.100:3128) in both network
// modes. In user mode QEMU's guestfwd runs `polydev egress-pipe SOCKET` for each guest connection
// to that address (restrict=on still drops everything else), and the pipe carries the bytes to the
// VM's unix socket listener; in tap mode the address lives on the TAP side of the VM's own network
// namespace, where the controller opens the VM's TCP listener, and the namespace forwards nothing
// else (see vm/netns). Either way the listener a connection arrives on says which VM, and so which
// session, it belongs to: nothing the guest sends can claim another session.
//
// What it allows: CONNECT host:port tunnels and absolute-form plain-HTTP requests whose host and
// port are on the session's allow-list (Rule: an exact name or "*.suffix", ports, default 443);
// ProviderRules keeps the one table of each coding CLI's login and API hosts, TargetRules the host
// of a generic OAuth targetUrl. Everything else gets 403 with X-Polydev-Egress: refused and a log
// line naming session, VM, host and reason. A VM without a session (warm, golden, or after its
// session closed) gets 403 for everything. The allow-list is judged before any name is resolved, so
// a refused host is never looked up or dialed.
//
// Where it connects: directly, through a netguard.Policy (public addresses only unless the operator
// widens it; the address checked is the address dialed, which defeats DNS rebinding; never
// Polydev's own listener), or through the operator's upstream proxy (POLYDEV_EGRESS_PROXY,
// http(s)://user:pass@host:port), after the same destination check on every address the name
// resolves to here. Upstream credentials go only into Proxy-Authorization; they are never logged
// and are scrubbed from any error text.
//
// Limits: per session, bytes in both directions (MaxBytes) and lifetime (MaxDuration); past
// either, open connections are cut and new requests refused. Usage per session is returned to the
// caller and logged when the session closes; Prometheus counters cover all sessions (labels never
// carry session ids, whose number is unbounded).
//
// It owns its listeners' connections and the connections it opens. It must not create namespaces,
// devices or QEMU arguments (vm/netns, vm/qemu and vm/controller do), nor decide who may open a
// session (the auth session service does).
package egress
