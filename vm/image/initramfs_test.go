package image

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// A slice of Debian 6.1's modules.dep for the modules the initramfs loads.
const testModulesDep = `kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/virtio/virtio_mmio.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
kernel/fs/ext4/ext4.ko.xz: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko
kernel/lib/crc16.ko:
kernel/crypto/crc32c_generic.ko:
kernel/fs/mbcache.ko:
kernel/fs/jbd2/jbd2.ko:
kernel/sound/unrelated.ko:
`

func TestImageResolveModules(t *testing.T) {
	t.Parallel()
	got, err := ResolveModules(strings.NewReader(testModulesDep), strings.NewReader("kernel/crypto/sha256_generic.ko\n"),
		[]string{"virtio_ring", "virtio", "virtio_mmio", "virtio_blk", "virtio_net", "ext4", "sha256_generic"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"kernel/drivers/virtio/virtio_ring.ko", "kernel/drivers/virtio/virtio.ko", "kernel/drivers/virtio/virtio_mmio.ko",
		"kernel/drivers/block/virtio_blk.ko", "kernel/net/core/failover.ko", "kernel/drivers/net/net_failover.ko",
		"kernel/drivers/net/virtio_net.ko", "kernel/lib/crc16.ko", "kernel/fs/mbcache.ko", "kernel/fs/jbd2/jbd2.ko",
		"kernel/fs/ext4/ext4.ko.xz",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	if _, err := ResolveModules(strings.NewReader(testModulesDep), nil, []string{"nosuch"}); err == nil {
		t.Error("an unknown module resolved")
	}
}

// readCpio parses a newc archive into name -> entry, enough to check what writeCpio wrote.
func readCpio(t *testing.T, b []byte) map[string]cpioEntry {
	t.Helper()
	out := map[string]cpioEntry{}
	hex := func(s []byte) int {
		var n int
		for _, c := range s {
			n <<= 4
			switch {
			case c >= '0' && c <= '9':
				n |= int(c - '0')
			case c >= 'A' && c <= 'F':
				n |= int(c-'A') + 10
			default:
				t.Fatalf("bad hex %q", s)
			}
		}
		return n
	}
	align := func(n int) int { return (n + 3) &^ 3 }
	for off := 0; ; {
		h := b[off : off+110]
		if string(h[:6]) != "070701" {
			t.Fatalf("bad magic at %d", off)
		}
		mode, size, nameLen := hex(h[14:22]), hex(h[54:62]), hex(h[94:102])
		name := string(b[off+110 : off+110+nameLen-1])
		data := off + align(110+nameLen)
		if name == "TRAILER!!!" {
			return out
		}
		out[name] = cpioEntry{Name: name, Mode: uint32(mode), Data: b[data : data+size], RdevMajor: uint32(hex(h[78:86])), RdevMinor: uint32(hex(h[86:94]))}
		off = align(data + size)
	}
}

func TestImageBuildInitramfs(t *testing.T) {
	t.Parallel()
	if err := checkStatic(BusyboxPath); err != nil {
		t.Skipf("SKIP: %v", err)
	}
	rootfs := t.TempDir()
	const kv = "6.1.0-test-amd64"
	modDir := filepath.Join(rootfs, "lib/modules", kv)
	for _, line := range strings.Split(strings.TrimSpace(testModulesDep), "\n") {
		f, _, _ := strings.Cut(line, ":")
		content := "module " + f
		if strings.HasSuffix(f, ".xz") {
			content = string(compressWith(t, "xz", []byte(content)))
		}
		if err := writeFile(filepath.Join(modDir, f), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(filepath.Join(modDir, "modules.dep"), testModulesDep, 0o644)
	build := func() []byte {
		dst := filepath.Join(t.TempDir(), "initrd.img")
		if err := buildInitramfs(context.Background(), dst, rootfs, kv, BusyboxPath, DefaultModules, DefaultEpoch); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(dst)
		return b
	}
	a, b := build(), build()
	if !bytes.Equal(a, b) {
		t.Fatal("two initramfs builds differ")
	}
	zr, err := gzip.NewReader(bytes.NewReader(a))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(zr)
	ents := readCpio(t, raw)
	if e := ents["dev/console"]; e.Mode != modeCharDev|0o600 || e.RdevMajor != 5 || e.RdevMinor != 1 {
		t.Errorf("dev/console = %+v", e)
	}
	if e := ents["init"]; e.Mode != modeFile|0o755 || !strings.Contains(string(e.Data), "switch_root /newroot /sbin/init") {
		t.Errorf("init missing or wrong: mode %o", e.Mode)
	}
	// The xz module is stored decompressed under its plain name and loaded by it.
	ext4 := "lib/modules/" + kv + "/kernel/fs/ext4/ext4.ko"
	if got := string(ents[ext4].Data); got != "module kernel/fs/ext4/ext4.ko.xz" {
		t.Errorf("%s = %q", ext4, got)
	}
	init := string(ents["init"].Data)
	if i, j := strings.Index(init, "virtio_ring.ko"), strings.Index(init, "virtio/virtio.ko"); i < 0 || j < 0 || i > j {
		t.Error("virtio_ring is not loaded before virtio")
	}
	if _, ok := ents["lib/modules/"+kv+"/kernel/sound/unrelated.ko"]; ok {
		t.Error("an unrequested module was included")
	}
	if len(ents["bin/busybox"].Data) == 0 {
		t.Error("no busybox")
	}
}
