package firecracker

import (
	"cmp"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/polydev/polydev/vm"
)

// machine is the driver's record of one VM. mu serialises operations on it; every field is guarded
// by mu.
type machine struct {
	mu       sync.Mutex
	spec     vm.Spec
	state    vm.State
	proc     Process // nil until the first launch
	api      *Client
	stopping bool // the driver asked the process to end, so its exit is not a failure
}

// observe notes an exit nobody asked for (the guest panicked, the process crashed or was killed from
// outside) as StateFailed, and returns the current state.
func (m *machine) observe() vm.State {
	if m.proc == nil || m.stopping || m.state == vm.StateStopped {
		return m.state
	}
	select {
	case <-m.proc.Done():
		m.state = vm.StateFailed
	default:
	}
	return m.state
}

// configure sends the pre-boot configuration, in the order Firecracker's own guides use.
func (m *machine) configure(ctx context.Context) error {
	s := m.spec
	if err := m.api.PutMachineConfig(ctx, MachineConfiguration{VCPUCount: s.VCPUs, MemSizeMiB: s.MemoryMiB}); err != nil {
		return err
	}
	boot := BootSource{KernelImagePath: s.KernelPath, BootArgs: cmp.Or(s.KernelArgs, DefaultBootArgs) + s.Net.GuestKernelArgs(), InitrdPath: s.InitrdPath}
	if err := m.api.PutBootSource(ctx, boot); err != nil {
		return err
	}
	root := Drive{DriveID: RootDriveID, PathOnHost: s.RootImage, IsRootDevice: true, IsReadOnly: true}
	if err := m.api.PutDrive(ctx, root); err != nil {
		return err
	}
	if s.OverlayPath != "" {
		overlay := Drive{DriveID: OverlayDriveID, PathOnHost: s.OverlayPath}
		if err := m.api.PutDrive(ctx, overlay); err != nil {
			return err
		}
	}
	if tap := s.Net.TAP; tap != nil {
		nic := NetworkInterface{IfaceID: IfaceID, HostDevName: tap.Name, GuestMAC: tap.MAC.String()}
		if err := m.api.PutNetworkInterface(ctx, nic); err != nil {
			return err
		}
	}
	return nil
}

func (m *machine) pidPath() string { return filepath.Join(m.spec.SocketDir, m.spec.Names().PIDFile) }
func (m *machine) logPath() string { return filepath.Join(m.spec.SocketDir, m.spec.Names().LogFile) }

// removeFiles removes each non-empty path, ignoring ones that do not exist.
func removeFiles(paths ...string) error {
	var errs []error
	for _, p := range paths {
		if p == "" {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
