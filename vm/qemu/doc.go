// Package qemu is a vm.Driver for QEMU microVMs (the `microvm` machine), the driver Polydev uses on
// hosts where /dev/kvm cannot boot a stock kernel (DESIGN.md §7: PVM hosts run QEMU's TCG).
//
// It has four small layers, each testable without a QEMU binary:
//
//   - Args builds the QEMU command line from a vm.Spec (a pure function): microvm with pit and rtc,
//     TCG (`-accel tcg,tb-size=256 -cpu max`, kernel args tsc_early_khz and tsc=reliable) or KVM
//     (`-accel kvm -cpu host,-arch-capabilities`), virtio-blk on the per-VM qcow2 overlay, user
//     networking with restrict=on and 127.0.0.1-only host forwards or a TAP device, QMP on a unix
//     socket, and an optional shared memory-backend-file that makes the VM snapshot-capable.
//   - CreateOverlay runs `qemu-img create -f qcow2 -F <fmt> -b GOLDEN OVERLAY` through a Runner.
//   - Client speaks QMP over the VM's unix socket (greeting, qmp_capabilities, commands with ids,
//     events collected, error replies as *QMPError).
//   - Driver manages processes through a Launcher (ExecLauncher runs the binary in its own process
//     group, inside the VM's network namespace via `ip netns exec` in TAP mode) and drives each
//     VM's lifecycle over QMP: every process starts frozen (-S), `cont` boots it, system_powerdown
//     then SIGKILL stops it, `stop`/migrate/`cont` snapshots it, and `-incoming defer` plus
//     migrate-incoming restores it. Migration streams go through a descriptor the driver opens and
//     hands over with getfd ("fd:" URI): QEMU 7.2 has no "file:" URI, and no path ever appears in a
//     string QEMU or a shell parses.
//
// Snapshots and clones: a snapshot-capable VM (Config.MemoryDir) has its RAM in a shared file
// (memory-backend-file,share=on); Snapshot migrates only device state (x-ignore-shared) and copies
// that file while the guest is stopped. A clone maps the snapshot's copy privately (share=off,
// MAP_PRIVATE): pages it never writes are read from the one copy in the host's page cache, shared by
// every clone, and pages it writes become its own anonymous memory, so no clone can change the
// snapshot or see another clone's writes, without a per-clone copy of a gigabyte. See README.md for
// the measured timings and memory.
//
// Probe decides between KVM and TCG: KVM only when the device exists and an injected probe boot
// succeeds; TCG whenever in doubt.
//
// It owns the QEMU process, its QMP socket, pid file and log (in Spec.SocketDir), the qcow2 overlay
// (Spec.OverlayPath) and, when Config.MemoryDir is set, the shared memory file — all named by
// vm.Names. It must not create TAP devices or namespaces, write the golden image, or delete snapshot
// files: those belong to the controller.
package qemu
