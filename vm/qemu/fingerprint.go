package qemu

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"

	"github.com/polydev/polydev/vm"
)

var _ vm.Fingerprinter = (*Driver)(nil)

// SnapshotFingerprint implements vm.Fingerprinter: QEMU's own version line, the SHA-256 of the
// binary (a rebuilt package with the same version string still changes it), and the command line
// a snapshot-capable VM of spec gets, with every per-VM name replaced by a placeholder. The command
// line carries the accelerator, machine type, vCPUs, memory, devices and kernel, so a change to any
// of them, or to how Args writes them, gives another fingerprint without anyone having to remember
// to bump a version. The host's TSC frequency is left out: it only steers the cold boot's
// calibration, is in the snapshot already, and /proc/cpuinfo reports it with jitter on some hosts.
func (d *Driver) SnapshotFingerprint(ctx context.Context, spec vm.Spec) (string, error) {
	bin, err := exec.LookPath(d.cfg.Binary)
	if err != nil {
		return "", fmt.Errorf("qemu: fingerprint: %w", err)
	}
	sum, err := vm.FileSHA256(bin)
	if err != nil {
		return "", fmt.Errorf("qemu: fingerprint: %w", err)
	}
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("qemu: fingerprint: %s --version: %w", bin, err)
	}
	version, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	args, err := Args(ArgsRequest{Spec: placeholderSpec(spec), Accel: d.Accel(ctx), MemPath: "/mem", MemShared: true})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s\nbinary sha256:%s\nargs %q", version, sum, args), nil
}

// placeholderSpec is spec with what differs from one VM to the next replaced by fixed values: the
// id, the socket directory, the overlay path, host ports of forwards and the TAP device's names.
// Guest-side addresses and ports stay: a restored guest keeps the ones it was snapshotted with.
func placeholderSpec(s vm.Spec) vm.Spec {
	s.ID, s.SocketDir = "golden", "/run"
	if s.OverlayPath != "" {
		s.OverlayPath = "/overlay"
	}
	loopback := netip.MustParseAddr("127.0.0.1")
	if u := s.Net.User; u != nil {
		p := &vm.UserNet{}
		for i, f := range u.HostForwards {
			p.HostForwards = append(p.HostForwards, vm.HostForward{Host: netip.AddrPortFrom(loopback, uint16(i+1)), GuestPort: f.GuestPort})
		}
		for i, f := range u.GuestForwards {
			// The command names the VM's own socket; what a restored guest keeps is the address.
			p.GuestForwards = append(p.GuestForwards, vm.GuestForward{Guest: f.Guest, Command: []string{"/guest-forward-" + strconv.Itoa(i+1)}})
		}
		s.Net.User = p
	}
	if t := s.Net.TAP; t != nil {
		p := *t
		p.Name, p.Netns = "tap", "netns"
		s.Net.TAP = &p
	}
	return s
}
