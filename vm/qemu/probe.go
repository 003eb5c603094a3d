package qemu

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
)

// Accel is QEMU's accelerator choice.
type Accel string

const (
	AccelAuto Accel = "auto" // KVM when Probe says it boots, TCG otherwise
	AccelKVM  Accel = "kvm"
	AccelTCG  Accel = "tcg"
)

// ProbeBoot tries to boot a throwaway VM with accel and returns nil only if the guest came up. The
// controller supplies it (typically a cold boot of the golden image through a Driver with Accel
// fixed to kvm, waiting for the agent), because only a real boot tells PVM's /dev/kvm, which opens
// fine but cannot run a stock kernel, from a usable one. It must not call back into the Driver that
// is probing (that Driver is waiting for the verdict); use a second Driver with Accel "kvm".
type ProbeBoot func(ctx context.Context, accel Accel) error

// Probe decides the accelerator: KVM when kvmDevice ("/dev/kvm" when empty) can be opened for
// reading and writing and boot succeeds with KVM; TCG otherwise, including when boot is nil. The
// error explains why KVM was not chosen; it is informational, and the Accel is always usable.
func Probe(ctx context.Context, kvmDevice string, boot ProbeBoot) (Accel, error) {
	if kvmDevice == "" {
		kvmDevice = "/dev/kvm"
	}
	f, err := os.OpenFile(kvmDevice, os.O_RDWR, 0)
	if err != nil {
		return AccelTCG, fmt.Errorf("qemu: KVM unavailable: %w", err)
	}
	f.Close()
	if boot == nil {
		return AccelTCG, errors.New("qemu: no KVM probe boot configured; using TCG")
	}
	if err := boot(ctx, AccelKVM); err != nil {
		return AccelTCG, fmt.Errorf("qemu: KVM probe boot failed: %w", err)
	}
	return AccelKVM, nil
}

// HostMHz reads the host CPU frequency from cpuinfo ("/proc/cpuinfo" when empty): the first "cpu
// MHz" line, rounded. 0 when it cannot tell.
func HostMHz(cpuinfo string) int {
	if cpuinfo == "" {
		cpuinfo = "/proc/cpuinfo"
	}
	f, err := os.Open(cpuinfo)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(key) != "cpu MHz" {
			continue
		}
		mhz, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil || mhz <= 0 {
			return 0
		}
		return int(math.Round(mhz))
	}
	return 0
}
