// Package controller is Polydev's VM controller: it implements polydev.VMController on top of one
// vm.Driver (vm/qemu or vm/firecracker), the address pool (vm/netpool) and a per-VM network (a
// Network in tap mode, 127.0.0.1 host forwards in user mode). It owns the rules that need the host:
// the tier's MaxVMs enforced under its own lock, the record-first lifecycle, the golden snapshot,
// the warm pool, the reconciler that reclaims what a crashed predecessor left, and the background
// services (idle reaper, pool monitor, golden rebuild schedule). It must not build images, speak a
// hypervisor's protocol or create namespaces itself: those belong to vm/image, the drivers and the
// Network implementation (vm/netns).
//
// # Records first
//
// Create writes the VM's record (state created) before any host resource exists, then leases an
// address (tap) or picks two free loopback ports (user), boots, waits for the guest agent's /health
// and only then records running. Every failure path destroys the driver VM, releases the lease or
// ports, tears the network down and records failed, with a context detached from the caller's so a
// cancelled request cannot leave half a VM. Only the failed VM's hypervisor log (its console) stays,
// for diagnosis, until the record is deleted. Start, Stop and Delete move the record with the store's
// compare-and-set (SetVMState), so racing callers get ECONFLICT instead of doing the work twice.
// One controller owns every record of its database: this is the single-node mode of DESIGN.md §1.
//
// # Boot paths
//
// When Config.Image.SnapshotDir is set, the controller looks there at StartServices for a saved
// golden snapshot of the current key: the image (content hash and its files' stamps), the driver's
// fingerprint (vm.Fingerprinter: QEMU's version, binary and command line) and the machine
// configuration (vCPUs, memory, network mode, kernel command line). A snapshot whose manifest
// matches the key and whose files match their sizes and checksums is reused, so a restarted
// server restores its first VM in seconds. Otherwise it boots one golden VM, waits until it is
// healthy and settled, snapshots it into a new directory (vm.SnapshotFiles; fsynced, then a
// manifest, then renamed into place: see snapstore.go) and destroys it. Creates that arrive
// meanwhile wait. Later VMs are restored from it (then Config.AfterRestore runs, for the agent's
// clock and entropy refresh); a driver without snapshots (vm.ErrUnsupported), a failed snapshot or
// a failed restore falls back to a cold boot, and a failed restore also unpublishes the snapshot
// and has the boot loop make a fresh one. Snapshots of other keys that no VM overlay uses are
// removed at start.
//
// # Warm pool and names
//
// Both VM types boot the same golden image (the type is what the user asked for, recorded for the
// agent and the UI), so one warm pool and one snapshot serve both.
//
// Every host resource is named from the VM id (vm.Names), and a record's id is its VM's id. A warm
// VM therefore gets its final id up front (polydev.NewID) and boots with no record; handing it out
// creates the user's record with that id, under the same lock and limit check as any Create. Warm
// VMs are the one exception to "record first": they are unrecorded on purpose, kept in memory, and
// destroyed by Close; after a crash the reconciler finds their processes, files, namespaces and
// leases with no record and removes them like any orphan.
//
// # Reconciliation
//
// A new Driver knows no VM (drivers keep their bookkeeping in memory), so at StartServices every record in
// created, starting, running or stopping is marked failed and its hypervisor process killed;
// records being deleted are finished off. Then every host resource whose name (vm.Orphans) belongs
// to no live VM is removed: hypervisor processes found by the name tag in their command line,
// files in the run and VM directories, namespaces the Network lists, and leases (netpool Reclaim).
// Stopped VMs keep their files and lease; starting one again after a restart boots it afresh.
// Graceful shutdown (Close) stops running VMs, so a restart leaves them stopped rather than failed.
package controller
