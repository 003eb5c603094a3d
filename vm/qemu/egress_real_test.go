package qemu

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polydev/polydev/egress"
	"github.com/polydev/polydev/netguard"
	"github.com/polydev/polydev/vm"
)

// egressPipeEnv makes the test binary behave as `polydev egress-pipe SOCKET` (see TestMain): QEMU
// passes its environment to the commands its guestfwd runs.
const egressPipeEnv = "POLYDEV_TEST_EGRESS_PIPE"

func runEgressPipe(socket string) int {
	c, err := egress.StdioConn()
	if err != nil {
		return 1
	}
	if err := egress.Pipe(context.Background(), socket, c); err != nil {
		return 1
	}
	return 0
}

// TestRealGuestForwardEgress boots the golden kernel under real QEMU with the user-mode network
// Args builds for a VM with an egress proxy (restrict=on, guestfwd cmd: at egress.GuestAddr) and a
// throwaway init in the initramfs instead of the root filesystem: it sends three concurrent
// plain-HTTP requests and a CONNECT to a refused host to 10.0.2.100:3128, and tries the slirp
// gateway directly. The proxy on the host (a unix socket, as the controller opens it) must see three
// allowed requests, each on its own pipe, and one refusal; nothing else leaves the guest.
func TestRealGuestForwardEgress(t *testing.T) {
	bin, image := requireImage(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := shortDir(t)

	// The destination the session allows, on host loopback, known to the proxy as allowed.test.
	var mu sync.Mutex
	var peers []string
	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		peers = append(peers, r.RemoteAddr)
		mu.Unlock()
		fmt.Fprintf(w, "egress-ok%s\n", r.URL.Path)
	}))
	defer dest.Close()
	port := dest.Listener.Addr().(*net.TCPAddr).Port
	guard, err := netguard.ParseAllowList("127.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	p, err := egress.New(egress.Config{Guard: guard.WithResolver(loopbackName("allowed.test"))})
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, vm.Names("egress-real").Egress)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Serve("egress-real", ln); err != nil {
		t.Fatal(err)
	}
	defer p.CloseVM("egress-real")
	sess, err := p.Open("egress-real", egress.Policy{Session: "real", Allow: []egress.Rule{{Host: "allowed.test", Ports: []uint16{uint16(port)}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()

	initrd := filepath.Join(dir, "initrd.img")
	if err := appendInit(filepath.Join(image, "initrd.img"), initrd, egressInit(port)); err != nil {
		t.Fatal(err)
	}
	spec := vm.Spec{
		ID: "egress-real", VCPUs: 1, MemoryMiB: 256,
		KernelPath: filepath.Join(image, "vmlinux"), InitrdPath: initrd, RootImage: filepath.Join(image, "rootfs.ext4"),
		KernelArgs: "console=ttyS0 panic=-1 rdinit=/egress-init",
		SocketDir:  dir,
		Net: vm.Network{User: &vm.UserNet{GuestForwards: []vm.GuestForward{{
			Guest: egress.GuestAddr, Command: []string{self, "egress-pipe", sock},
		}}}},
	}
	args, err := Args(ArgsRequest{Spec: spec, Accel: AccelTCG, HostMHz: HostMHz("")})
	if err != nil {
		t.Fatal(err)
	}
	args = slices.DeleteFunc(args, func(a string) bool { return a == "-S" }) // run at once, no QMP cont
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), egressPipeEnv+"=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	t.Logf("boot, requests and power-off took %v", time.Since(start))
	serial := out.String()
	if err != nil || !strings.Contains(serial, "EGRESS-TEST-DONE") {
		t.Fatalf("QEMU: %v\n%s", err, tail(serial, 3000))
	}
	for i := 1; i <= 3; i++ {
		if !strings.Contains(serial, fmt.Sprintf("egress-ok/%d", i)) {
			t.Errorf("request %d did not come back through the proxy:\n%s", i, tail(serial, 2000))
		}
	}
	if !strings.Contains(serial, "refused-status: HTTP/1.1 403") {
		t.Errorf("the refused host was not refused:\n%s", tail(serial, 2000))
	}
	if !strings.Contains(serial, "direct: failed") {
		t.Errorf("the guest reached the slirp gateway directly:\n%s", tail(serial, 2000))
	}
	if u := sess.Usage(); u.Requests != 3 || u.Refused != 1 {
		t.Errorf("proxy usage = %+v, want 3 requests and 1 refusal", u)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(peers) != 3 {
		t.Errorf("destination saw %d requests", len(peers))
	}
}

// egressInit is the guest's /egress-init: load the initramfs's modules, bring up eth0 with the
// address slirp's DHCP would give, and talk to the proxy with busybox nc.
func egressInit(port int) string {
	return `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp
grep '^insmod ' /init | sh
ip link set lo up
ip addr add 10.0.2.15/24 dev eth0
ip link set eth0 up
ip route add default via 10.0.2.2
for i in 1 2 3; do
	(printf 'GET http://allowed.test:` + fmt.Sprint(port) + `/%s HTTP/1.0\r\n\r\n' $i | nc 10.0.2.100 3128 > /tmp/out$i) &
done
wait
cat /tmp/out1 /tmp/out2 /tmp/out3
echo "refused-status: $(printf 'CONNECT evil.test:443 HTTP/1.1\r\nHost: evil.test\r\n\r\n' | nc 10.0.2.100 3128 | head -n 1)"
if echo x | nc -w 5 10.0.2.2 22 >/dev/null 2>&1; then echo "direct: connected"; else echo "direct: failed"; fi
echo EGRESS-TEST-DONE
poweroff -f
`
}

// appendInit writes src followed by a second gzip'd newc cpio holding /egress-init: the kernel
// unpacks concatenated archives in order, so the original modules stay and the script is added.
func appendInit(src, dst, script string) error {
	orig, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	buf.Write(orig)
	for buf.Len()%4 != 0 {
		buf.WriteByte(0)
	}
	zw := gzip.NewWriter(&buf)
	writeNewc(zw, 1, "egress-init", 0o100755, []byte(script))
	writeNewc(zw, 0, "TRAILER!!!", 0, nil)
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(dst, buf.Bytes(), 0o600)
}

func writeNewc(w interface{ Write([]byte) (int, error) }, ino uint32, name string, mode uint32, data []byte) {
	pad := func(n int) { w.Write(make([]byte, (4-n%4)%4)) }
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
	w.Write([]byte(hdr + name + "\x00"))
	pad(110 + len(name) + 1)
	w.Write(data)
	pad(len(data))
}

// loopbackName resolves one name to 127.0.0.1 for the proxy; no real DNS is queried.
type loopbackName string

func (n loopbackName) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	if host != string(n) {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return []net.IPAddr{{IP: net.IP(netip.MustParseAddr("127.0.0.1").AsSlice())}}, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
