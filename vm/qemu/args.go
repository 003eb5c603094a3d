package qemu

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/polydev/polydev/vm"
)

// DefaultKernelArgs is used when Spec.KernelArgs is empty: the console on the serial port (which
// the log file receives) and an immediate reboot on panic, which -no-reboot turns into an exit.
const DefaultKernelArgs = "console=ttyS0 panic=1"

// TBSizeMiB is TCG's translation-block cache. 256 MiB halved host RSS against QEMU's default
// without slowing the boot measurably (DESIGN.md §7).
const TBSizeMiB = 256

// Device ids on the command line. Restore relies on them matching the snapshotted VM's.
const (
	memID   = "mem0"
	driveID = "root"
	netID   = "net0"
)

// ArgsRequest is everything Args needs besides the Spec.
type ArgsRequest struct {
	Spec    vm.Spec
	Accel   Accel // AccelKVM or AccelTCG (resolve AccelAuto with Probe first)
	HostMHz int   // host TSC frequency for tsc_early_khz under TCG; 0 leaves the kernel to calibrate

	// MemPath, when set, backs guest RAM with a memory-backend-file there. Shared (share=on) makes
	// the VM snapshot-capable with x-ignore-shared; a private mapping (Shared false) is how a
	// restored clone maps a snapshot's memory copy-on-write.
	MemPath   string
	MemShared bool
	MemoryMiB int // overrides Spec.MemoryMiB when non-zero (restore takes the snapshot's size)

	Incoming bool // add `-incoming defer`: the VM will be loaded with migrate-incoming
}

// Args returns QEMU's arguments (without the binary) for req. The process always starts frozen
// (-S); the driver boots it with `cont`. It refuses what QEMU must not be asked to do: host forwards
// on anything but 127.0.0.1, IPv6 guest forwards, and an unresolved accelerator.
func Args(req ArgsRequest) ([]string, error) {
	s := req.Spec
	if err := s.Validate(); err != nil {
		return nil, err
	}
	names := s.Names()
	mem := s.MemoryMiB
	if req.MemoryMiB > 0 {
		mem = req.MemoryMiB
	}
	machine := "microvm,pit=on,rtc=on"
	if req.MemPath != "" {
		machine += ",memory-backend=" + memID
	}
	args := []string{
		"-name", "guest=" + names.Process + ",process=" + names.Process,
		"-M", machine,
	}
	switch req.Accel {
	case AccelTCG:
		args = append(args, "-accel", "tcg,tb-size="+strconv.Itoa(TBSizeMiB), "-cpu", "max")
	case AccelKVM:
		args = append(args, "-accel", "kvm", "-cpu", "host,-arch-capabilities")
	default:
		return nil, fmt.Errorf("qemu: accelerator %q must be resolved to kvm or tcg", req.Accel)
	}
	args = append(args,
		"-smp", strconv.Itoa(s.VCPUs),
		"-m", strconv.Itoa(mem)+"M",
		"-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
		"-serial", "stdio",
	)
	if req.MemPath != "" {
		share := "off"
		if req.MemShared {
			share = "on"
		}
		args = append(args, "-object", fmt.Sprintf("memory-backend-file,id=%s,size=%dM,mem-path=%s,share=%s",
			memID, mem, escape(req.MemPath), share))
	}
	args = append(args, "-kernel", s.KernelPath)
	if s.InitrdPath != "" {
		args = append(args, "-initrd", s.InitrdPath)
	}
	args = append(args, "-append", kernelArgs(s.KernelArgs, req.Accel, req.HostMHz)+s.Net.GuestKernelArgs())
	args = append(args, driveArgs(s)...)
	netArgs, err := networkArgs(s.Net)
	if err != nil {
		return nil, err
	}
	args = append(args, netArgs...)
	args = append(args, "-qmp", "unix:"+escape(s.SocketPath())+",server=on,wait=off", "-S")
	if req.Incoming {
		args = append(args, "-incoming", "defer")
	}
	return args, nil
}

// kernelArgs adds two TSC settings under TCG, each unless the caller set it already:
//   - tsc_early_khz: without it about one boot in four hangs calibrating the TSC (DESIGN.md §7);
//   - tsc=reliable: the kernel's TSC sync check fails under TCG ("Marking TSC unstable due to TSCs
//     unsynchronized") and falls back to the refined-jiffies clocksource, which loses every timer tick
//     the loaded host delivers late: a guest measured on 2026-11-27 ran 40 s behind after 100 s. TCG's
//     TSC is the host's clock for every vCPU, so it is reliable; with it the guest keeps time.
func kernelArgs(base string, accel Accel, hostMHz int) string {
	if base == "" {
		base = DefaultKernelArgs
	}
	if accel != AccelTCG {
		return base
	}
	has := func(key string) bool {
		for _, f := range strings.Fields(base) {
			if strings.HasPrefix(f, key) {
				return true
			}
		}
		return false
	}
	if hostMHz > 0 && !has("tsc_early_khz=") {
		base += " tsc_early_khz=" + strconv.Itoa(hostMHz*1000)
	}
	if !has("tsc=") {
		base += " tsc=reliable"
	}
	return base
}

// driveArgs attaches the overlay (qcow2 over the golden image) as the guest's virtio disk, or the
// golden image itself read-only when the VM has no overlay.
func driveArgs(s vm.Spec) []string {
	drive := fmt.Sprintf("file=%s,format=qcow2,if=none,id=%s,discard=unmap", escape(s.OverlayPath), driveID)
	if s.OverlayPath == "" {
		drive = fmt.Sprintf("file=%s,format=%s,if=none,id=%s,readonly=on", escape(s.RootImage), ImageFormat(s.RootImage), driveID)
	}
	return []string{"-drive", drive, "-device", "virtio-blk-device,drive=" + driveID}
}

func networkArgs(n vm.Network) ([]string, error) {
	switch n.Mode() {
	case vm.NetUser:
		netdev, err := userNetdev(n.User)
		if err != nil {
			return nil, err
		}
		return []string{"-netdev", netdev, "-device", "virtio-net-device,netdev=" + netID}, nil
	case vm.NetTAP:
		t := n.TAP
		netdev := fmt.Sprintf("tap,id=%s,ifname=%s,script=no,downscript=no", netID, t.Name)
		return []string{"-netdev", netdev, "-device", fmt.Sprintf("virtio-net-device,netdev=%s,mac=%s", netID, t.MAC)}, nil
	}
	return nil, nil
}

// hostfwdAddr is the only address host forwards may bind: Spec.Validate allows all of loopback, but
// QEMU would then listen where other local users' tooling does not expect a guest.
var hostfwdAddr = netip.MustParseAddr("127.0.0.1")

func userNetdev(u *vm.UserNet) (string, error) {
	var b strings.Builder
	b.WriteString("user,id=" + netID + ",restrict=on")
	for _, f := range u.HostForwards {
		if f.Host.Addr() != hostfwdAddr {
			return "", fmt.Errorf("%w: host forward on %v: only 127.0.0.1 is allowed", vm.ErrInvalidSpec, f.Host)
		}
		fmt.Fprintf(&b, ",hostfwd=tcp:%s:%d-:%d", f.Host.Addr(), f.Host.Port(), f.GuestPort)
	}
	for _, f := range u.GuestForwards {
		if !f.Guest.Addr().Is4() {
			return "", fmt.Errorf("%w: guest forward %v: user networking is IPv4 only", vm.ErrInvalidSpec, f.Guest)
		}
		// cmd: runs the command once per guest connection (GLib parses it shell-style, without a
		// shell); every argument is single-quoted (Validate refused quotes in them) and commas are
		// doubled for QEMU's option parser.
		quoted := make([]string, len(f.Command))
		for i, a := range f.Command {
			quoted[i] = "'" + a + "'"
		}
		fmt.Fprintf(&b, ",guestfwd=tcp:%s-cmd:%s", f.Guest, escape(strings.Join(quoted, " ")))
	}
	return b.String(), nil
}

// ImageFormat guesses a disk image's format from its name: ".qcow2" is qcow2, anything else raw
// (the golden image is an ext4 filesystem image made by mkfs.ext4 -d).
func ImageFormat(path string) string {
	if strings.HasSuffix(path, ".qcow2") {
		return "qcow2"
	}
	return "raw"
}

// escape doubles commas, QEMU's quoting inside option values, so a path cannot inject options.
func escape(s string) string { return strings.ReplaceAll(s, ",", ",,") }
