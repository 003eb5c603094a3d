// Package browserlogin holds the end-to-end test of issue 15's browser login sessions under real
// QEMU: the golden image's agent runs a login inside a browser VM, the VM reaches a fake OAuth
// provider on host loopback only through the egress proxy, the test signs in by driving the guest's
// Chromium over DevTools through the agent, and the host seals the credential and reaps the VM; and
// for each real coding CLI in the image, its login makes the guest's Chromium ask the egress proxy
// for that provider's authorize host.
//
// The tests need qemu-system-x86_64, POLYDEV_VM_IMAGE (scripts/vmimage.sh) and root, hold 1-3 GB and
// a core for minutes, and run only through the machine-wide lock:
//
//	flock /tmp/polydev-vm.lock go test ./e2e/browserlogin
//
// Without them they skip and say why. Nothing leaves the machine: the only destination the proxy
// may dial is the fake provider on 127.0.0.1, and the real providers' hosts are refused by the
// proxy (which is what the test looks for in its log).
package browserlogin
