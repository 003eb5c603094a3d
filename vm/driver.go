package vm

import "context"

// Driver is what a hypervisor back end implements: the lower layer of the VM controller. One Driver
// value manages many VMs, addressed by Spec.ID; it must be safe for concurrent use, and calls for
// different ids must not block each other for longer than a hypervisor request.
//
// Every method honours ctx: it bounds waiting (for a socket, a request, a graceful shutdown), and a
// cancelled ctx returns promptly with ctx's error. A method that fails part-way leaves the VM in a
// state that State reports truthfully and that Destroy can always clean up.
//
// Drivers keep their per-VM bookkeeping in memory only. After a controller crash the new Driver knows
// no VM; the controller reclaims the dead one's resources by name (see Names and Orphans) and marks
// its record failed.
type Driver interface {
	// Create validates spec, prepares every per-VM resource named by Names(spec.ID) (hypervisor
	// process, API socket, disk overlay where the driver makes one) and configures the machine without
	// booting it. On success the VM is StateCreated. ErrExists if the id is already managed.
	Create(ctx context.Context, spec Spec) error

	// Start boots a created VM, resumes a paused one, and cold-boots a stopped one again from the same
	// overlay (disk changes survive, memory does not). Starting a running VM is a no-op. A failed VM
	// cannot be started: ErrInvalidState.
	Start(ctx context.Context, id string) error

	// Stop asks the guest to shut down, waits until ctx is done or a driver-configured grace period
	// passes, then kills the hypervisor process. The overlay and the Spec are kept so Start can boot
	// again. Stopping a stopped VM is a no-op.
	Stop(ctx context.Context, id string) error

	// Destroy kills the hypervisor process if any and removes every resource named from the id that
	// the driver owns, overlay included. It is idempotent: an unknown id returns nil, so cleanup paths
	// can call it unconditionally.
	Destroy(ctx context.Context, id string) error

	// Snapshot writes the guest's device state and memory to snap. The VM is paused for the duration
	// and returned to the state it had before (running or paused), also when the snapshot fails.
	Snapshot(ctx context.Context, id string, snap SnapshotFiles) error

	// Restore creates a new VM named by spec.ID from snap instead of booting: the snapshot's machine
	// configuration wins over spec's vCPUs, memory and kernel, while spec's names, socket dir and
	// network are used. On success the VM is StateRunning. ErrExists if the id is already managed.
	Restore(ctx context.Context, spec Spec, snap SnapshotFiles) error

	// State reports the VM's current state, asking the hypervisor when it can; a process that has
	// exited without Stop being called is StateFailed. ErrNotFound for an unknown id.
	State(ctx context.Context, id string) (State, error)
}

// SnapshotFiles names the two files of a snapshot: the hypervisor's device/CPU state and the guest
// memory image. Both paths are absolute and belong to the caller (the controller keeps golden
// snapshots under the image directory); drivers write or read them but never delete them.
type SnapshotFiles struct {
	StatePath string
	MemPath   string
	// DiskPath, when set, receives a copy of the VM's writable disk layer as it was at the snapshot
	// (a qcow2 file, so its name should end in .qcow2), and VMs restored from the snapshot get
	// overlays backed by it. Without it a restored guest's page cache describes blocks its disk does
	// not have, as soon as the snapshotted VM had written its disk: the filesystem breaks on the
	// clone's next cold boot. Empty: the snapshotted VM must not have written its disk.
	DiskPath string
}

// Fingerprinter is implemented by drivers whose snapshots can only be restored by the same
// hypervisor build with the same machine: the controller keys its saved golden snapshot by the
// fingerprint, so a snapshot made by another hypervisor version or machine configuration is never
// restored (QEMU refuses such a migration stream, or worse, accepts one that misbehaves later).
type Fingerprinter interface {
	// SnapshotFingerprint describes what a snapshot of a VM created from spec depends on beyond the
	// Spec's image files: hypervisor version and binary, accelerator, the machine and devices. Two
	// calls give the same string exactly when a snapshot made under one restores under the other.
	// Per-VM details (id, paths under SocketDir, host ports, TAP names) must not change it.
	SnapshotFingerprint(ctx context.Context, spec Spec) (string, error)
}
