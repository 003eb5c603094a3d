package vm

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Limits checked by Spec.Validate. The vCPU limit is Firecracker's; QEMU's microvm could do more, but
// a browser VM never needs it.
const (
	MaxVCPUs     = 32
	MinMemoryMiB = 128
	MaxMemoryMiB = 1 << 20
	MaxIDLen     = 64
	// maxSocketPath is sun_path's size on Linux (108) minus the terminating NUL.
	maxSocketPath = 107
)

// Spec is everything a driver needs to create one VM. All paths are absolute host paths.
type Spec struct {
	// ID identifies the VM everywhere: 1 to 64 characters of [A-Za-z0-9-] (a UUID fits; it is also
	// the charset Firecracker accepts for --id). Resource names come from it through Names.
	ID string

	VCPUs     int // 1..MaxVCPUs
	MemoryMiB int // MinMemoryMiB..MaxMemoryMiB

	KernelPath string // uncompressed vmlinux (PVH entry) or bzImage, as the driver supports
	InitrdPath string // optional initramfs that loads the virtio modules and switch_roots
	KernelArgs string // full kernel command line; a driver may supply a default when empty

	// RootImage is the golden root filesystem image. It is shared by every VM and must never be
	// written: drivers attach it read-only or use it only as a backing file.
	RootImage string
	// OverlayPath is this VM's writable disk layer (conventionally <data dir>/Names(ID).Overlay).
	// QEMU makes it a qcow2 overlay backed by RootImage; Firecracker attaches it as a second writable
	// drive that the guest's initramfs mounts as the overlayfs upper layer. Empty means no writable
	// disk (the guest then runs on a tmpfs upper layer).
	OverlayPath string

	Net Network

	// SocketDir holds the per-VM runtime files named by Names: API/QMP socket, pid file, log. It must
	// exist and be short enough that SocketDir/Names(ID).Socket fits in a unix socket address.
	SocketDir string
}

// Names returns the resource names of the VM this Spec describes.
func (s Spec) Names() ResourceNames { return Names(s.ID) }

// SocketPath is where the hypervisor's API (Firecracker) or QMP (QEMU) socket lives.
func (s Spec) SocketPath() string { return filepath.Join(s.SocketDir, s.Names().Socket) }

// Validate checks the Spec against the rules every driver relies on. Errors wrap ErrInvalidSpec and
// name the offending field.
func (s Spec) Validate() error {
	if err := ValidateID(s.ID); err != nil {
		return err
	}
	if s.VCPUs < 1 || s.VCPUs > MaxVCPUs {
		return invalid("vcpus %d outside 1..%d", s.VCPUs, MaxVCPUs)
	}
	if s.MemoryMiB < MinMemoryMiB || s.MemoryMiB > MaxMemoryMiB {
		return invalid("memory %d MiB outside %d..%d", s.MemoryMiB, MinMemoryMiB, MaxMemoryMiB)
	}
	paths := []struct {
		field, path string
		required    bool
	}{
		{"kernel path", s.KernelPath, true},
		{"initrd path", s.InitrdPath, false},
		{"root image", s.RootImage, true},
		{"overlay path", s.OverlayPath, false},
		{"socket dir", s.SocketDir, true},
	}
	for _, p := range paths {
		if err := checkPath(p.field, p.path, p.required); err != nil {
			return err
		}
	}
	if s.OverlayPath != "" && filepath.Clean(s.OverlayPath) == filepath.Clean(s.RootImage) {
		return invalid("overlay path must not be the golden root image")
	}
	if n := len(s.SocketPath()); n > maxSocketPath {
		return invalid("socket path %d bytes long, over the unix socket limit of %d", n, maxSocketPath)
	}
	if strings.ContainsAny(s.KernelArgs, "\x00\n") {
		return invalid("kernel args contain a NUL or newline")
	}
	return s.Net.Validate()
}

// ValidateID checks a VM id: 1..MaxIDLen characters of [A-Za-z0-9-].
func ValidateID(id string) error {
	if id == "" || len(id) > MaxIDLen {
		return invalid("id must be 1..%d characters", MaxIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return invalid("id %q has a character outside [A-Za-z0-9-]", id)
		}
	}
	return nil
}

func checkPath(field, path string, required bool) error {
	switch {
	case path == "" && required:
		return invalid("%s is required", field)
	case path == "":
		return nil
	case !filepath.IsAbs(path):
		return invalid("%s %q is not absolute", field, path)
	case strings.ContainsRune(path, 0):
		return invalid("%s contains a NUL byte", field)
	}
	return nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidSpec, fmt.Sprintf(format, args...))
}
