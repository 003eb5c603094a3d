package qemu

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// probeMarker is what the kernel prints once it hands over to user space: a kernel that gets there
// under KVM runs under KVM.
const probeMarker = "as init process"

// KernelProbe returns a ProbeBoot that boots kernel (and initrd) under the accelerator asked for,
// with no disk and no network, and succeeds once the kernel prints that it starts init. On PVM's
// /dev/kvm a stock kernel never gets there (DESIGN.md §7), so the probe times out (default 30 s) and
// the driver settles on TCG. The probe stops QEMU as soon as the initramfs's /init starts (the
// kernel's "Run /init as init process"), so a successful probe costs about a second on a real KVM
// host; initrd is required.
func KernelProbe(binary, kernel, initrd string, timeout time.Duration) ProbeBoot {
	return func(ctx context.Context, accel Accel) error {
		ctx, cancel := context.WithTimeout(ctx, cmp.Or(timeout, 30*time.Second))
		defer cancel()
		// The machine and the TCG clock settings are the driver's own (DESIGN.md §7): without pit/rtc
		// and tsc_early_khz a kernel may hang calibrating its clocks and fail the probe for the wrong
		// reason.
		args := []string{"-M", "microvm,pit=on,rtc=on", "-accel", string(accel), "-m", "256M", "-smp", "1",
			"-nodefaults", "-no-user-config", "-nographic", "-no-reboot", "-serial", "stdio",
			"-kernel", kernel, "-append", kernelArgs("console=ttyS0 panic=-1", accel, HostMHz(""))}
		if accel == AccelKVM {
			args = append(args, "-cpu", "host,-arch-capabilities")
		}
		if initrd != "" {
			args = append(args, "-initrd", initrd)
		}
		cmd := exec.CommandContext(ctx, cmp.Or(binary, DefaultBinary), args...)
		cmd.WaitDelay = time.Second // a child still holding QEMU's output must not hold the probe
		// The probe QEMU has no name the reconciler knows: if this process dies during the probe (a
		// SIGKILLed server), the kernel must end it, or on a PVM host it hangs forever. (Pdeathsig
		// follows the forking thread; the Go runtime keeps its threads, and an early signal would
		// only fail the probe, which falls back to TCG.)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		out := &markerWriter{found: make(chan struct{})}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			return err
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-out.found:
			_ = cmd.Process.Kill()
			<-done
			return nil
		case err := <-done:
			if out.seen() {
				return nil
			}
			if ctx.Err() != nil {
				return fmt.Errorf("the kernel did not reach init within the probe's time")
			}
			return fmt.Errorf("QEMU exited before the kernel reached init: %v: %s", err, out.tail())
		}
	}
}

// markerWriter collects QEMU's output and closes found when probeMarker appears.
type markerWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	found chan struct{}
	hit   bool
}

func (w *markerWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if w.buf.Len() > 1<<20 { // keep the tail: the marker comes late in a boot log
		w.buf.Next(w.buf.Len() - 64<<10)
	}
	if !w.hit && bytes.Contains(w.buf.Bytes(), []byte(probeMarker)) {
		w.hit = true
		close(w.found)
	}
	return len(p), nil
}

func (w *markerWriter) seen() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.hit
}

func (w *markerWriter) tail() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := w.buf.Bytes()
	return string(b[max(0, len(b)-300):])
}
