package image

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -run ImageScript -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (run go test -run ImageScript -update and review the diff):\n%s", name, got)
	}
}

var goldenScripts = map[string]string{
	"initramfs-init.golden": InitramfsInit("6.1.0-56-amd64", []string{
		"kernel/drivers/virtio/virtio_ring.ko", "kernel/drivers/virtio/virtio.ko",
		"kernel/drivers/virtio/virtio_mmio.ko", "kernel/drivers/block/virtio_blk.ko",
		"kernel/net/core/failover.ko", "kernel/drivers/net/net_failover.ko", "kernel/drivers/net/virtio_net.ko",
		"kernel/crypto/crc32c_generic.ko", "kernel/lib/crc16.ko", "kernel/fs/mbcache.ko", "kernel/fs/jbd2/jbd2.ko", "kernel/fs/ext4/ext4.ko",
	}),
	"guest-init.golden":   GuestInit,
	"udhcpc.sh.golden":    UDHCPCScript,
	"power-button.golden": PowerButtonScript,
}

func TestImageScriptGolden(t *testing.T) {
	for name, got := range goldenScripts {
		t.Run(name, func(t *testing.T) { golden(t, name, got) })
	}
}

// TestScriptSyntax runs each script through `sh -n` (parse only) so a typo fails here, not at boot.
func TestImageScriptSyntax(t *testing.T) {
	t.Parallel()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("SKIP: no sh")
	}
	for name, s := range goldenScripts {
		cmd := exec.Command(sh, "-n")
		stdin, _ := cmd.StdinPipe()
		go func() { stdin.Write([]byte(s)); stdin.Close() }()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: sh -n: %v\n%s", name, err, out)
		}
	}
}
