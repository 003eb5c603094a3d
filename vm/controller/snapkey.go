package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/egress"
	"github.com/polydev/polydev/vm"
)

// snapshotFormat is part of every snapshot key: bump it when what the controller stores in a
// snapshot directory changes, so that directories written by older code are not restored.
const snapshotFormat = 1

// snapshotKey is everything a golden snapshot depends on. A saved snapshot is restored only under
// an equal key; any difference (another image or image build, hypervisor version or binary,
// accelerator, vCPUs, memory, network mode, kernel command line) names another directory, so
// snapshots of incompatible configurations live side by side and are never mixed up.
type snapshotKey struct {
	Format      int        `json:"format"`
	Driver      string     `json:"driver"`
	Hypervisor  string     `json:"hypervisor"` // vm.Fingerprinter's answer; empty for drivers without one
	Image       string     `json:"image"`      // Image.ID: the image's content hash (its recipe covers the agent)
	Kernel      fileStamp  `json:"kernel"`
	Initrd      *fileStamp `json:"initrd,omitempty"`
	Root        fileStamp  `json:"root"`
	KernelArgs  string     `json:"kernel_args"`
	VCPUs       int        `json:"vcpus"`
	MemoryMiB   int        `json:"memory_mib"`
	Net         vm.NetMode `json:"net"`
	AfterSettle bool       `json:"after_settle"` // snapshotted after settling (GoldenSettle > 0)
	Egress      bool       `json:"egress"`       // the VMs reach out through the egress proxy
}

// fileStamp identifies an image file cheaply: an image rebuilt in place (same directory, same
// recipe hash) gets new files, hence another size or modification time. Hashing the 2 GB root
// image at every start would cost more than the snapshot saves.
type fileStamp struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime_ns"`
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{Path: path, Size: fi.Size(), ModTime: fi.ModTime().UnixNano()}, nil
}

// name is the key's directory name under the snapshot root: 16 hex characters of its hash.
func (k snapshotKey) name() string {
	b, _ := json.Marshal(k) // a struct of strings and numbers always marshals
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// goldenKey computes the key of the golden snapshot for the current image and configuration.
func (c *Controller) goldenKey(ctx context.Context) (snapshotKey, error) {
	img := c.currentImage()
	k := snapshotKey{
		Format: snapshotFormat, Driver: c.cfg.DriverName, Image: img.ID, KernelArgs: img.KernelArgs,
		VCPUs: c.cfg.VCPUs, MemoryMiB: c.cfg.MemoryMiB, Net: c.cfg.NetMode, AfterSettle: c.cfg.GoldenSettle > 0,
		Egress: c.cfg.Egress != nil,
	}
	var errs []error
	var err error
	k.Kernel, err = stampOf(img.KernelPath)
	errs = append(errs, err)
	k.Root, err = stampOf(img.RootImage)
	errs = append(errs, err)
	if img.InitrdPath != "" {
		st, err := stampOf(img.InitrdPath)
		k.Initrd = &st
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return snapshotKey{}, fmt.Errorf("golden image: %w", err)
	}
	if f, ok := c.cfg.Driver.(vm.Fingerprinter); ok {
		fp, err := f.SnapshotFingerprint(ctx, c.spec("golden", c.placeholderNet()))
		if err != nil {
			return snapshotKey{}, err
		}
		k.Hypervisor = fp
	}
	return k, nil
}

// placeholderNet is a network like the one acquireNet gives a VM, for the fingerprint's template
// Spec: the driver replaces per-VM values itself, but the Spec must still be valid, and the egress
// forward a VM gets in user mode is on QEMU's command line.
func (c *Controller) placeholderNet() vm.Network {
	if c.cfg.NetMode == vm.NetTAP {
		return vm.Network{TAP: &vm.TAP{Name: "tap", MAC: []byte{0x52, 0x54, 0, 0x12, 0x34, 0x56},
			GuestIP: netip.MustParseAddr("10.0.2.15"), Gateway: netip.MustParseAddr("10.0.2.2"), PrefixLen: 24}}
	}
	n := userPorts{polydev.VMPortAgent: 1, polydev.VMPortNoVNC: 2}.network()
	if c.cfg.Egress != nil {
		cmd := append(slices.Clone(c.cfg.EgressPipe), "/egress.sock")
		n.User.GuestForwards = append(n.User.GuestForwards, vm.GuestForward{Guest: egress.GuestAddr, Command: cmd})
	}
	return n
}
