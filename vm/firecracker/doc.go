// Package firecracker is a vm.Driver for Firecracker microVMs, for real KVM hosts (DESIGN.md §7: the
// PVM hosts Polydev is developed on cannot run it; the QEMU driver is used there).
//
// It has two layers, kept apart so that the first can be tested without a Firecracker binary:
//
//   - Client speaks Firecracker's HTTP API over the process's unix socket, with request bodies that
//     follow the API description (Swagger 2.0, checked in tests against
//     vm/firecracker/testdata/firecracker-api.json, our record of the operations and fields it uses) and non-2xx answers turned into *APIError carrying
//     Firecracker's fault_message.
//   - Driver manages processes through a Launcher (ExecLauncher runs the binary with --api-sock and
//     --id, inside the VM's network namespace when it has one) and drives each VM's lifecycle with the
//     Client: configure then InstanceStart to boot, SendCtrlAltDel then kill to stop, Paused /
//     snapshot/create / Resumed to snapshot, snapshot/load then Resumed to restore.
//
// It owns the Firecracker process, its API socket, pid file and log (all named by vm.Names), and
// removes the VM's overlay on Destroy. It must not create the overlay, TAP devices, namespaces or
// snapshot files' directories, nor delete snapshot files: those belong to the controller.
//
// Disk layout: the golden image is attached read-only as the root device ("rootfs") and the per-VM
// overlay, when set, as a second writable drive ("overlay") that the guest's initramfs mounts as the
// overlayfs upper layer, so the golden image is shared and never written.
package firecracker
