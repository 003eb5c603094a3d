package polydev

import (
	"context"
	"net"
	"net/netip"
	"time"
)

// VMType is what a microVM is for.
type VMType string

const (
	VMBrowser VMType = "browser" // Chromium on a virtual display, reached through noVNC
	VMCLI     VMType = "cli"     // a shell for CLI providers (Claude Code, Codex, Gemini CLI)
)

// VMTypes lists every VM type.
var VMTypes = []VMType{VMBrowser, VMCLI}

// Valid reports whether t is a known VM type. Matching is exact: "Browser" is not a type.
func (t VMType) Valid() bool { return t == VMBrowser || t == VMCLI }

// VMState is where a VM record is in its lifecycle. It is the controller's view, wider than a
// driver's (package vm): starting and stopping cover the time a driver call is in flight, and deleted
// marks a record whose resources are being reclaimed before the row goes.
type VMState string

const (
	VMCreated  VMState = "created"
	VMStarting VMState = "starting"
	VMRunning  VMState = "running"
	VMStopping VMState = "stopping"
	VMStopped  VMState = "stopped"
	VMFailed   VMState = "failed"
	VMDeleted  VMState = "deleted"
)

// VMStates lists every record state in lifecycle order.
var VMStates = []VMState{VMCreated, VMStarting, VMRunning, VMStopping, VMStopped, VMFailed, VMDeleted}

// Valid reports whether s is a known record state.
func (s VMState) Valid() bool {
	for _, v := range VMStates {
		if s == v {
			return true
		}
	}
	return false
}

// VMResources is what a VM is given.
type VMResources struct {
	VCPUs     int `json:"vcpus"`
	MemoryMiB int `json:"memoryMib"`
}

// VM is one user's microVM record (the seed's vms table). The record is written before any host
// resource exists and outlives them, so a restarted controller can reclaim by it (STYLE rule 7).
type VM struct {
	ID     string      `json:"id"`
	UserID string      `json:"userId"`
	Type   VMType      `json:"type"`
	State  VMState     `json:"state"`
	IP     *netip.Addr `json:"ip"`     // nil until an address is leased (tap mode only)
	Driver string      `json:"driver"` // "qemu" or "firecracker"
	VMResources
	CreatedAt      time.Time  `json:"createdAt"`
	UpdatedAt      time.Time  `json:"updatedAt"`
	StartedAt      *time.Time `json:"startedAt"`
	StoppedAt      *time.Time `json:"stoppedAt"`
	LastActivityAt time.Time  `json:"lastActivityAt"` // the reaper stops VMs idle for too long
}

// VMCounts groups every VM record by state and by type; every known state and type is present.
type VMCounts struct {
	Total   int
	ByState map[VMState]int
	ByType  map[VMType]int
}

// VMStore persists VM records.
type VMStore interface {
	// CreateVM inserts v (ID, state and timestamps set); ECONFLICT if the id exists.
	CreateVM(ctx context.Context, v *VM) error
	// VMByID returns userID's VM; ENOTFOUND when there is none or it belongs to someone else.
	VMByID(ctx context.Context, userID, id string) (*VM, error)
	// ListVMs returns userID's VMs newest first.
	ListVMs(ctx context.Context, userID string) ([]*VM, error)
	// ListAllVMs returns every VM record, oldest first (the controller's reconciler reads it).
	ListAllVMs(ctx context.Context) ([]*VM, error)
	// SetVMState moves VM id from state from to state to at time at, atomically: ECONFLICT when the
	// record is not in state from (someone else moved it first), ENOTFOUND when there is no record.
	// Entering running sets StartedAt, entering stopped sets StoppedAt.
	SetVMState(ctx context.Context, id string, from, to VMState, at time.Time) error
	// SetVMIP records (or with nil clears) the address leased to VM id.
	SetVMIP(ctx context.Context, id string, ip *netip.Addr, at time.Time) error
	// TouchVM records activity on VM id (the idle reaper reads LastActivityAt).
	TouchVM(ctx context.Context, id string, at time.Time) error
	// DeleteVM removes the record; ENOTFOUND when there is none.
	DeleteVM(ctx context.Context, id string) error
	// CountVMs counts every record by state and by type.
	CountVMs(ctx context.Context) (*VMCounts, error)
}

// IPLeaseStore is the contract of the ip_leases table, method for method the same as
// vm/netpool.LeaseStore (which this package may not import), so store.Leases satisfies both. One
// value is scoped to one pool (a subnet): Claim is `INSERT ... ON CONFLICT DO NOTHING` on a table
// with UNIQUE(ip) and UNIQUE(vm_id) followed by reading the row for ip, never check-then-insert;
// Release is `DELETE ... WHERE ip = ? AND vm_id = ?`; Leases lists the pool's rows. The shared suite
// vm/netpool/leasetest holds every engine to it.
type IPLeaseStore interface {
	Claim(ctx context.Context, ip netip.Addr, vmID string) (bool, error)
	Release(ctx context.Context, ip netip.Addr, vmID string) error
	Leases(ctx context.Context) (map[netip.Addr]string, error)
}

// VMPoolStats is the controller's view of its address pool.
type VMPoolStats struct {
	CIDR      string // "" when the controller uses no pool (user-mode networking)
	Total     int
	Available int
}

// VMController runs VMs for users: the web layer calls it and nothing else for VM changes. It owns
// the rules that need the host (drivers, networking, the MaxVMs count enforced under its own lock);
// reads go to VMStore directly. Methods act only on u's own VMs: another user's id is ENOTFOUND.
type VMController interface {
	// Create records, prepares and boots a VM of type t for u and returns its record.
	Create(ctx context.Context, u *User, t VMType) (*VM, error)
	// Start boots u's stopped VM id; Stop shuts it down keeping its disk; both return the record.
	Start(ctx context.Context, u *User, id string) (*VM, error)
	Stop(ctx context.Context, u *User, id string) (*VM, error)
	// Delete destroys u's VM id and every resource it owns, then its record.
	Delete(ctx context.Context, u *User, id string) error
	// PoolStats reports the address pool.
	PoolStats(ctx context.Context) (VMPoolStats, error)
	// Dial opens a TCP connection to port (VMPortAgent or VMPortNoVNC, nothing else) of u's running
	// VM id, through whatever path the network mode gives (a 127.0.0.1 host forward in user mode,
	// the VM's namespace in tap mode), and records activity on the VM for the idle reaper.
	// EINVALID for another port, ECONFLICT when the VM is not running.
	Dial(ctx context.Context, u *User, id string, port uint16) (net.Conn, error)
}

// Guest ports the host may reach; nothing else in a guest is exposed.
const (
	VMPortAgent = 3000 // polydev-agent: GET /health
	VMPortNoVNC = 6080 // websockify: the noVNC page and its WebSocket to the guest's VNC server
)

// ErrVMOff is the answer of every VM change while no controller is configured.
var ErrVMOff = Errorf(EUNAVAILABLE, "VM support is off: install QEMU and build the golden image (polydev image build), or set POLYDEV_VM_DRIVER")
