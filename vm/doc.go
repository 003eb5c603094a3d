// Package vm is the domain of the VM controller's lower layer: what a microVM is asked to be (Spec),
// the lifecycle states it can be in (State), the Driver interface that hypervisor back ends implement
// (vm/qemu, vm/firecracker), and the deterministic names of every host resource a VM owns (Names).
//
// It owns only descriptions and rules: it starts no process, opens no socket and touches no file, so
// both drivers and the controller above them can depend on it without cycles. Hypervisor details live
// in the driver packages; address allocation lives in vm/netpool; records in the database belong to the
// controller.
//
// Crash safety (STYLE.md rule 7) rests on [Names]: every process tag, socket, overlay, memory file,
// network namespace and TAP device is named from the VM id alone, so a controller restarted after a
// crash can list what exists on the host, compute the names of the VMs it has records for, and remove
// the rest ([Orphans]) without any state that lived only in the dead process.
package vm
