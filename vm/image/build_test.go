package image

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

func TestImageOpenAndListFinishedImages(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	r := testRecipe(t)
	hash, _ := r.Hash()
	dir := filepath.Join(ImagesDir(data), hash)
	c, _ := r.canonical()
	writeFile(filepath.Join(dir, FileRecipe), string(c), 0o644)
	writeFile(filepath.Join(dir, FileLog), "=== kernel\nkernel 6.1.0-41-amd64: vmlinuz 1 bytes, vmlinux 2 bytes\n", 0o644)
	// Unfinished (no done marker) and temporary directories are not images.
	writeFile(filepath.Join(ImagesDir(data), "deadbeef", FileRecipe), string(c), 0o644)
	os.MkdirAll(filepath.Join(ImagesDir(data), ".build-x"), 0o755)
	if ims, _ := List(data); len(ims) != 0 {
		t.Fatalf("listed an unfinished image: %+v", ims[0])
	}
	writeAtomic(filepath.Join(dir, fileDone), []byte(hash+"\n"))
	ims, err := List(data)
	if err != nil || len(ims) != 1 {
		t.Fatalf("List = %v, %v", ims, err)
	}
	im := ims[0]
	if im.Hash != hash || im.KernelVersion != "6.1.0-41-amd64" || im.Recipe.Suite != "bookworm" || im.Recipe.AgentSHA256 == "" {
		t.Errorf("image = %+v", im)
	}
	// Build reuses it without needing root or any tool.
	got, err := Build(context.Background(), r, data, slog.New(slog.DiscardHandler))
	if err != nil || got.Dir != dir {
		t.Fatalf("Build did not reuse the finished image: %v, %v", got, err)
	}
}

// TestImageBuildReal builds the real golden image. It needs root, debootstrap, busybox-static,
// e2fsprogs, xz-utils and zstd, the host's APT mirror, about 2 minutes and 1.2 GB. The image is cached
// in POLYDEV_IMAGE_CACHE (default /var/tmp/polydev-images) so a second run is a reuse. Run it with
// -count=1: go test's result cache cannot see the host state it depends on.
func TestImageBuildReal(t *testing.T) {
	if os.Getenv("POLYDEV_IMAGE_BUILD_TEST") != "1" {
		t.Skip("SKIP: set POLYDEV_IMAGE_BUILD_TEST=1 to build the real golden image (root, debootstrap, ~2 min)")
	}
	data := os.Getenv("POLYDEV_IMAGE_CACHE")
	if data == "" {
		data = "/var/tmp/polydev-images"
	}
	agent := filepath.Join(t.TempDir(), "polydev-agent")
	_, self, _, _ := runtime.Caller(0)
	build := exec.Command("go", "build", "-trimpath", "-o", agent, "./cmd/polydev-agent")
	build.Dir = filepath.Join(filepath.Dir(self), "../..")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build agent: %v\n%s", err, out)
	}
	src, err := HostSources("/")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	start := time.Now()
	im, err := Build(ctx, DefaultRecipe(src, agent), data, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("image %s in %s: %d MiB, kernel %s", im.Dir, time.Since(start).Round(time.Second), im.Size>>20, im.KernelVersion)
	for _, f := range []string{im.Vmlinux(), im.Vmlinuz(), im.Initrd(), im.Rootfs()} {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	head := make([]byte, 4)
	if f, err := os.Open(im.Vmlinux()); err == nil {
		f.Read(head)
		f.Close()
	}
	if !bytes.Equal(head, elfMagic) {
		t.Errorf("vmlinux is not an ELF file: % x", head)
	}
	if out, err := exec.Command("debugfs", "-R", "stat /usr/local/bin/polydev-agent", im.Rootfs()).CombinedOutput(); err != nil || !bytes.Contains(out, []byte("Type: regular")) {
		t.Errorf("agent not in rootfs.ext4: %v\n%s", err, out)
	}
	// Same recipe again: reused, not rebuilt.
	start = time.Now()
	if again, err := Build(ctx, DefaultRecipe(src, agent), data, slog.New(slog.DiscardHandler)); err != nil || again.Dir != im.Dir {
		t.Errorf("rebuild: %v, %v", again, err)
	} else if d := time.Since(start); d > 5*time.Second {
		t.Errorf("reuse took %s", d)
	}
}
