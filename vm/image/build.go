package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Image is a finished golden image directory.
type Image struct {
	Hash          string
	Dir           string
	KernelVersion string
	Recipe        Recipe
	Size          int64 // bytes on disk of every artefact
	Built         time.Time
}

// Artefact file names inside an image directory.
const (
	FileVmlinux = "vmlinux"
	FileVmlinuz = "vmlinuz"
	FileInitrd  = "initrd.img"
	FileRootfs  = "rootfs.ext4"
	FileRecipe  = "recipe.json"
	FileLog     = "build.log"
	fileDone    = "done"
)

// Paths of the artefacts.
func (im *Image) Vmlinux() string { return filepath.Join(im.Dir, FileVmlinux) }
func (im *Image) Vmlinuz() string { return filepath.Join(im.Dir, FileVmlinuz) }
func (im *Image) Initrd() string  { return filepath.Join(im.Dir, FileInitrd) }
func (im *Image) Rootfs() string  { return filepath.Join(im.Dir, FileRootfs) }

// ImagesDir is where images live under a data directory.
func ImagesDir(dataDir string) string { return filepath.Join(dataDir, "images") }

// BusyboxPath is the static busybox copied into the initramfs (Debian's busybox-static).
var BusyboxPath = "/bin/busybox"

// Build returns the image for r, building it unless a finished one with the same hash exists. It
// needs root (debootstrap, chroot, mounting /proc in the chroot). Concurrent builds of one recipe wait
// for each other through a lock file; the build itself happens in a temporary directory renamed into
// place once the done marker is written.
func Build(ctx context.Context, r Recipe, dataDir string, log *slog.Logger) (*Image, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	hash, err := r.Hash()
	if err != nil {
		return nil, err
	}
	root := ImagesDir(dataDir)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	final := filepath.Join(root, hash)
	log = log.With("image", hash[:12])
	unlock, err := lockFile(filepath.Join(root, "."+hash+".lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	if im, err := Open(final); err == nil {
		log.Info("image: reusing finished image", "dir", final)
		return im, nil
	}
	if err := checkHost(len(r.CLIs.PackageJSON) > 0); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(root, ".build-"+hash[:12]+"-")
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		unmountUnder(filepath.Join(tmp, "rootfs"))
		if !ok {
			// Keep the log of a failed build next to where the image would have been.
			_ = os.Rename(filepath.Join(tmp, FileLog), final+".failed.log")
		}
		_ = os.RemoveAll(tmp)
	}()
	b := &builder{r: r, hash: hash, dir: tmp, rootfs: filepath.Join(tmp, "rootfs"), log: log}
	logf, err := os.Create(filepath.Join(tmp, FileLog))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	b.out = logf
	start := time.Now()
	if err := b.run(ctx); err != nil {
		return nil, fmt.Errorf("image %s: %w (log: %s)", hash[:12], err, final+".failed.log")
	}
	fmt.Fprintf(logf, "built in %s\n", time.Since(start).Round(time.Second))
	if err := logf.Sync(); err != nil {
		return nil, err
	}
	if err := writeAtomic(filepath.Join(tmp, fileDone), []byte(hash+"\n")); err != nil {
		return nil, err
	}
	_ = os.RemoveAll(final) // an unfinished directory under the real name (no done marker)
	if err := os.Rename(tmp, final); err != nil {
		return nil, err
	}
	ok = true
	_ = os.Remove(final + ".failed.log")
	log.Info("image: built", "dir", final, "took", time.Since(start).Round(time.Second))
	return Open(final)
}

// builder holds one build's state; its steps run in order.
type builder struct {
	r             Recipe
	hash          string
	dir, rootfs   string
	kernelVersion string
	out           io.Writer
	log           *slog.Logger
}

func (b *builder) run(ctx context.Context) error {
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"debootstrap", b.debootstrap},
		{"packages", b.installPackages},
		{"coding CLIs", b.installCLIs},
		{"kernel", b.kernel},
		{"guest files", b.guestFiles},
		{"initramfs", b.initramfs},
		{"trim", b.trim},
		{"rootfs.ext4", b.mkfs},
		{"recipe.json", b.writeRecipe},
	}
	for _, s := range steps {
		t := time.Now()
		b.log.Info("image: step", "step", s.name)
		fmt.Fprintf(b.out, "=== %s\n", s.name)
		if err := s.fn(ctx); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		fmt.Fprintf(b.out, "=== %s done in %s\n", s.name, time.Since(t).Round(100*time.Millisecond))
	}
	return os.RemoveAll(b.rootfs)
}

// cmd runs a host command with its output in build.log and a pinned, non-interactive environment.
func (b *builder) cmd(ctx context.Context, name string, args ...string) error {
	fmt.Fprintf(b.out, "$ %s %s\n", name, strings.Join(args, " "))
	c := exec.CommandContext(ctx, name, args...)
	c.Stdout, c.Stderr = b.out, b.out
	c.Env = b.env()
	c.WaitDelay = 10 * time.Second
	if err := c.Run(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func (b *builder) chroot(ctx context.Context, args ...string) error {
	return b.cmd(ctx, "chroot", append([]string{b.rootfs}, args...)...)
}

func (b *builder) env() []string {
	epoch := strconv.FormatInt(b.r.Epoch, 10)
	return []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LC_ALL=C.UTF-8", "LANG=C.UTF-8", "DEBIAN_FRONTEND=noninteractive", "DEBCONF_NONINTERACTIVE_SEEN=true",
		"SOURCE_DATE_EPOCH=" + epoch, "E2FSPROGS_FAKE_TIME=" + epoch, "HOME=/root",
	}
}

func (b *builder) debootstrap(ctx context.Context) error {
	return b.cmd(ctx, "debootstrap", "--variant=minbase", "--arch="+b.r.Arch, b.r.Suite, b.rootfs, b.r.Mirror)
}

// dpkgExcludes keeps documentation, man pages and translations out of the image (about a fifth of it).
const dpkgExcludes = `path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
`

func (b *builder) installPackages(ctx context.Context) error {
	files := map[string]string{
		"etc/apt/sources.list":               strings.Join(b.r.Sources, "\n") + "\n",
		"usr/sbin/policy-rc.d":               "#!/bin/sh\nexit 101\n", // no daemon starts in the chroot
		"etc/dpkg/dpkg.cfg.d/01-polydev":     dpkgExcludes,
		"etc/apt/apt.conf.d/01-polydev":      "APT::Install-Recommends \"false\";\nAPT::Install-Suggests \"false\";\n",
		"etc/initramfs-tools/conf.d/polydev": "MODULES=list\nCOMPRESS=gzip\n", // the kernel's own initrd is discarded; "dep" needs /sys
	}
	if len(b.r.Sources) == 0 {
		files["etc/apt/sources.list"] = fmt.Sprintf("deb %s %s main\n", b.r.Mirror, b.r.Suite)
	}
	for p, content := range files {
		if err := writeFile(filepath.Join(b.rootfs, p), content, 0o755); err != nil {
			return err
		}
	}
	if resolv, err := os.ReadFile("/etc/resolv.conf"); err == nil {
		if err := writeFile(filepath.Join(b.rootfs, "etc/resolv.conf"), string(resolv), 0o644); err != nil {
			return err
		}
	}
	proc := filepath.Join(b.rootfs, "proc")
	if err := b.cmd(ctx, "mount", "-t", "proc", "proc", proc); err != nil {
		return err
	}
	defer func() { _ = b.cmd(context.WithoutCancel(ctx), "umount", "-l", proc) }()
	if err := b.chroot(ctx, "apt-get", "update", "-q"); err != nil {
		return err
	}
	pkgs := append([]string{"apt-get", "install", "-y", "-q"}, b.r.Packages...)
	pkgs = append(pkgs, b.r.KernelPackage)
	if err := b.chroot(ctx, pkgs...); err != nil {
		return err
	}
	return b.chroot(ctx, "apt-get", "clean")
}

// kernel copies vmlinuz out of the rootfs and extracts the uncompressed vmlinux from it.
func (b *builder) kernel(ctx context.Context) error {
	matches, _ := filepath.Glob(filepath.Join(b.rootfs, "boot/vmlinuz-*"))
	if len(matches) != 1 {
		return fmt.Errorf("want one /boot/vmlinuz-* in the rootfs, found %d", len(matches))
	}
	b.kernelVersion = strings.TrimPrefix(filepath.Base(matches[0]), "vmlinuz-")
	z, err := os.ReadFile(matches[0])
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(b.dir, FileVmlinuz), z, 0o644); err != nil {
		return err
	}
	vmlinux, err := ExtractVmlinux(ctx, z)
	if err != nil {
		return err
	}
	fmt.Fprintf(b.out, "kernel %s: vmlinuz %d bytes, vmlinux %d bytes\n", b.kernelVersion, len(z), len(vmlinux))
	return os.WriteFile(filepath.Join(b.dir, FileVmlinux), vmlinux, 0o644)
}

func (b *builder) guestFiles(ctx context.Context) error {
	agent, err := os.ReadFile(b.r.AgentPath)
	if err != nil {
		return err
	}
	files := map[string]string{
		"usr/local/bin/polydev-agent": string(agent),
		"sbin/init":                   GuestInit,
		"etc/polydev/udhcpc.sh":       UDHCPCScript,
		"etc/acpi/PWRF/00000080":      PowerButtonScript,
		"etc/hostname":                "polydev\n",
		"etc/hosts":                   "127.0.0.1 localhost\n127.0.1.1 polydev\n::1 localhost ip6-localhost ip6-loopback\n",
		"etc/machine-id":              "", // per boot, never baked into the golden image
		"etc/resolv.conf":             "", // written by init from DHCP or polydev.dns=
	}
	// dbus keeps a second copy of the machine id, random per build; point it at the per-boot one.
	dbusID := filepath.Join(b.rootfs, "var/lib/dbus/machine-id")
	if err := os.MkdirAll(filepath.Dir(dbusID), 0o755); err != nil {
		return err
	}
	_ = os.Remove(dbusID)
	if err := os.Symlink("/etc/machine-id", dbusID); err != nil {
		return err
	}
	for p, content := range b.r.ExtraFiles {
		files[strings.TrimPrefix(p, "/")] = content
	}
	for p, content := range files {
		dst := filepath.Join(b.rootfs, p)
		_ = os.Remove(dst) // /sbin/init may be a symlink to systemd
		mode := os.FileMode(0o644)
		if strings.Contains(p, "bin/") || strings.HasSuffix(p, ".sh") || strings.HasPrefix(p, "etc/acpi/") {
			mode = 0o755
		}
		if err := writeFile(dst, content, mode); err != nil {
			return err
		}
	}
	return nil
}

func (b *builder) initramfs(ctx context.Context) error {
	return buildInitramfs(ctx, filepath.Join(b.dir, FileInitrd), b.rootfs, b.kernelVersion, BusyboxPath, b.r.Modules, b.r.Epoch)
}

// trim removes what the guest does not need and what would differ between two builds, then clamps
// every file time to SOURCE_DATE_EPOCH.
func (b *builder) trim(ctx context.Context) error {
	for _, g := range []string{
		"boot/*", "var/lib/apt/lists/*", "var/cache/apt/*", "var/cache/debconf/*-old", "var/log/*",
		"usr/sbin/policy-rc.d", "var/cache/ldconfig/aux-cache", "var/lib/dpkg/*-old",
	} {
		matches, _ := filepath.Glob(filepath.Join(b.rootfs, g))
		for _, m := range matches {
			if err := os.RemoveAll(m); err != nil {
				return err
			}
		}
	}
	if err := b.pruneModules(ctx); err != nil {
		return err
	}
	stamp := "@" + strconv.FormatInt(b.r.Epoch, 10)
	return b.cmd(ctx, "find", b.rootfs, "-xdev", "-newermt", stamp, "-exec", "touch", "-h", "-d", stamp, "{}", "+")
}

// unusedModules are kernel module trees no microVM guest has hardware for (about 300 MB of 390).
var unusedModules = []string{
	"drivers/gpu", "drivers/media", "drivers/net/wireless", "drivers/net/ethernet", "drivers/infiniband",
	"drivers/scsi", "drivers/staging", "drivers/usb", "drivers/bluetooth", "drivers/iio", "drivers/hid",
	"drivers/isdn", "drivers/mtd", "drivers/thunderbolt", "drivers/hwmon", "drivers/platform", "drivers/nfc",
	"drivers/md", "drivers/target", "drivers/edac", "drivers/power", "drivers/input/touchscreen",
	"drivers/input/misc", "drivers/net/can", "drivers/atm", "drivers/mmc", "drivers/spi", "drivers/i2c",
	"sound", "net/bluetooth", "net/wireless", "net/mac80211",
}

// pruneModules removes [unusedModules] from the rootfs and re-runs depmod so modules.dep stays true.
func (b *builder) pruneModules(ctx context.Context) error {
	kdir := filepath.Join(b.rootfs, "lib/modules", b.kernelVersion, "kernel")
	for _, d := range unusedModules {
		if err := os.RemoveAll(filepath.Join(kdir, d)); err != nil {
			return err
		}
	}
	return b.chroot(ctx, "depmod", "-a", b.kernelVersion)
}

// mkfs makes rootfs.ext4 from the tree: content plus 20% and 256 MiB of margin for the guest's writes
// (they land in each VM's overlay, but Chromium's first-run files must fit), with the UUID and the
// directory hash seed derived from the recipe hash so two builds give the same filesystem metadata.
func (b *builder) mkfs(ctx context.Context) error {
	var bytes, inodes int64
	err := filepath.WalkDir(b.rootfs, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		inodes++
		if info, err := d.Info(); err == nil && info.Mode().IsRegular() {
			bytes += (info.Size() + 4095) &^ 4095
		} else {
			bytes += 4096
		}
		return nil
	})
	if err != nil {
		return err
	}
	size := (bytes*12/10 + 256<<20 + 1<<20 - 1) >> 20 // MiB
	uuid := fmt.Sprintf("%s-%s-4%s-8%s-%s", b.hash[0:8], b.hash[8:12], b.hash[13:16], b.hash[17:20], b.hash[20:32])
	dst := filepath.Join(b.dir, FileRootfs)
	fmt.Fprintf(b.out, "rootfs content %d MiB in %d inodes -> %d MiB filesystem\n", bytes>>20, inodes, size)
	return b.cmd(ctx, "mkfs.ext4", "-q", "-F", "-L", "polydev-root", "-U", uuid,
		"-E", "hash_seed="+uuid+",root_owner=0:0", "-N", strconv.FormatInt(inodes*13/10+16384, 10),
		"-d", b.rootfs, dst, strconv.FormatInt(size, 10)+"M")
}

func (b *builder) writeRecipe(context.Context) error {
	c, err := b.r.canonical()
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(b.dir, FileRecipe), append(c, '\n'), 0o644)
}

// checkHost reports every missing build prerequisite at once.
func checkHost(npm bool) error {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (debootstrap and chroot need it)")
	}
	for _, tool := range []string{"debootstrap", "chroot", "mount", "mkfs.ext4", "find", "touch"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if _, err := exec.LookPath("npm"); npm && err != nil {
		missing = append(missing, "npm (the coding CLIs come from npm)")
	}
	if err := checkStatic(BusyboxPath); err != nil {
		missing = append(missing, err.Error())
	}
	if len(missing) > 0 {
		return fmt.Errorf("cannot build an image here, missing: %s (apt-get install debootstrap busybox-static e2fsprogs xz-utils zstd npm)", strings.Join(missing, "; "))
	}
	return nil
}

// unmountUnder lazily unmounts whatever a failed build left mounted inside the rootfs (its /proc).
func unmountUnder(rootfs string) {
	for _, m := range []string{"proc", "sys", "dev/pts", "dev"} {
		_ = syscall.Unmount(filepath.Join(rootfs, m), syscall.MNT_DETACH)
	}
}

func lockFile(p string) (func(), error) {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

func writeFile(p, content string, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		return err
	}
	return os.Chmod(p, mode) // WriteFile keeps an existing file's mode and the umask trims new ones
}

func writeAtomic(p string, data []byte) error {
	tmp := p + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}
