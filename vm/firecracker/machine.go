package firecracker

import (
	"cmp"
	"context"
)

// configure sends the pre-boot configuration, in the order Firecracker's own guides use.
func configure(ctx context.Context, m *machine) error {
	s := m.Spec
	if err := m.X.api.PutMachineConfig(ctx, MachineConfiguration{VCPUCount: s.VCPUs, MemSizeMiB: s.MemoryMiB}); err != nil {
		return err
	}
	boot := BootSource{KernelImagePath: s.KernelPath, BootArgs: cmp.Or(s.KernelArgs, DefaultBootArgs) + s.Net.GuestKernelArgs(), InitrdPath: s.InitrdPath}
	if err := m.X.api.PutBootSource(ctx, boot); err != nil {
		return err
	}
	root := Drive{DriveID: RootDriveID, PathOnHost: s.RootImage, IsRootDevice: true, IsReadOnly: true}
	if err := m.X.api.PutDrive(ctx, root); err != nil {
		return err
	}
	if s.OverlayPath != "" {
		overlay := Drive{DriveID: OverlayDriveID, PathOnHost: s.OverlayPath}
		if err := m.X.api.PutDrive(ctx, overlay); err != nil {
			return err
		}
	}
	if tap := s.Net.TAP; tap != nil {
		nic := NetworkInterface{IfaceID: IfaceID, HostDevName: tap.Name, GuestMAC: tap.MAC.String()}
		if err := m.X.api.PutNetworkInterface(ctx, nic); err != nil {
			return err
		}
	}
	return nil
}
