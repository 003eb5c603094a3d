package image

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
)

// ResolveModules returns the module files (relative to /lib/modules/<version>/) to load for the named
// modules, dependencies first, each once, from a modules.dep file. Names listed in modules.builtin are
// built into the kernel and skipped. A name found in neither is an error: the image could not boot.
func ResolveModules(modulesDep, modulesBuiltin io.Reader, names []string) ([]string, error) {
	deps := map[string][]string{} // file -> dependency files
	byName := map[string]string{} // module name -> file
	sc := bufio.NewScanner(modulesDep)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		file, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		deps[file] = strings.Fields(rest)
		byName[moduleName(file)] = file
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	builtin := map[string]bool{}
	if modulesBuiltin != nil {
		sc := bufio.NewScanner(modulesBuiltin)
		for sc.Scan() {
			builtin[moduleName(strings.TrimSpace(sc.Text()))] = true
		}
	}
	var order []string
	seen := map[string]bool{}
	var visit func(file string)
	visit = func(file string) {
		if seen[file] {
			return
		}
		seen[file] = true
		for _, d := range deps[file] {
			visit(d)
		}
		order = append(order, file)
	}
	for _, n := range names {
		n = strings.ReplaceAll(n, "-", "_")
		file, ok := byName[n]
		switch {
		case ok:
			visit(file)
		case builtin[n]:
		default:
			return nil, fmt.Errorf("module %s is neither in modules.dep nor built in", n)
		}
	}
	return order, nil
}

// moduleName is the kernel's name for a module file: kernel/fs/ext4/ext4.ko.xz -> ext4.
func moduleName(file string) string {
	base := path.Base(file)
	if i := strings.Index(base, ".ko"); i >= 0 {
		base = base[:i]
	}
	return strings.ReplaceAll(base, "-", "_")
}

// buildInitramfs writes a gzip'd newc cpio to dst: a static busybox, the modules (decompressed: busybox
// insmod reads plain .ko), /init and /dev/console. Everything is sorted and time-stamped with epoch.
func buildInitramfs(ctx context.Context, dst, rootfs, kernelVersion, busybox string, moduleNames []string, epoch int64) error {
	if err := checkStatic(busybox); err != nil {
		return err
	}
	modDir := filepath.Join(rootfs, "lib/modules", kernelVersion)
	depF, err := os.Open(filepath.Join(modDir, "modules.dep"))
	if err != nil {
		return err
	}
	defer depF.Close()
	builtinF, _ := os.Open(filepath.Join(modDir, "modules.builtin")) // absent on some kernels
	if builtinF != nil {
		defer builtinF.Close()
	}
	files, err := ResolveModules(depF, builtinF, moduleNames)
	if err != nil {
		return err
	}
	bb, err := os.ReadFile(busybox)
	if err != nil {
		return err
	}
	entries := []cpioEntry{
		{Name: "bin", Mode: modeDir | 0o755}, {Name: "dev", Mode: modeDir | 0o755},
		{Name: "dev/console", Mode: modeCharDev | 0o600, RdevMajor: 5, RdevMinor: 1},
		{Name: "proc", Mode: modeDir | 0o755}, {Name: "sys", Mode: modeDir | 0o755},
		{Name: "newroot", Mode: modeDir | 0o755}, {Name: "bin/busybox", Mode: modeFile | 0o755, Data: bb},
		{Name: "bin/sh", Mode: modeSymlink | 0o777, Data: []byte("busybox")},
	}
	dirs := map[string]bool{}
	var loaded []string
	for _, f := range files {
		data, err := readModule(ctx, filepath.Join(modDir, f))
		if err != nil {
			return err
		}
		plain := f[:strings.Index(f, ".ko")+3]
		loaded = append(loaded, plain)
		p := path.Join("lib/modules", kernelVersion, plain)
		for d := path.Dir(p); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
			entries = append(entries, cpioEntry{Name: d, Mode: modeDir | 0o755})
		}
		entries = append(entries, cpioEntry{Name: p, Mode: modeFile | 0o644, Data: data})
	}
	entries = append(entries, cpioEntry{Name: "init", Mode: modeFile | 0o755, Data: []byte(InitramfsInit(kernelVersion, loaded))})

	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // header without name or mtime: reproducible
	if err := writeCpio(zw, entries, epoch); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(dst, buf.Bytes(), 0o644)
}

func readModule(ctx context.Context, p string) ([]byte, error) {
	var tool []string
	switch {
	case strings.HasSuffix(p, ".ko"):
		return os.ReadFile(p)
	case strings.HasSuffix(p, ".ko.xz"):
		tool = []string{"xz", "-dc", p}
	case strings.HasSuffix(p, ".ko.zst"):
		tool = []string{"zstd", "-dc", p}
	case strings.HasSuffix(p, ".ko.gz"):
		tool = []string{"gzip", "-dc", p}
	default:
		return nil, fmt.Errorf("unknown module format %s", p)
	}
	out, err := exec.CommandContext(ctx, tool[0], tool[1:]...).Output()
	if err != nil {
		return nil, fmt.Errorf("decompress %s: %w", p, err)
	}
	return out, nil
}

// checkStatic refuses a dynamically linked busybox: the initramfs has no libc.
func checkStatic(p string) error {
	f, err := elf.Open(p)
	if err != nil {
		return fmt.Errorf("busybox %s: %w (install busybox-static)", p, err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return fmt.Errorf("busybox %s is dynamically linked; install busybox-static", p)
		}
	}
	return nil
}
