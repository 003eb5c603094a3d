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
//	flock /tmp/polydev-vm.lock go test -tags browserlogin_wip ./e2e/browserlogin
//
// Status (2026-12-06): work in progress, behind the build tag browserlogin_wip so that make test does
// not run it. It boots the VM, starts the session and the self-test login in the guest, but the
// login's page never opens in the guest's Chromium (no request for the fake provider reaches the
// proxy). Next step: log the DevTools open error in agent/opener.go (today it goes only to the CLI's
// discarded terminal), rebuild the image, re-run; then add the tests to scripts/test.sh's VM phase and
// drop the tag.
//
// Without them they skip and say why. Nothing leaves the machine: the only destination the proxy
// may dial is the fake provider on 127.0.0.1, and the real providers' hosts are refused by the
// proxy (which is what the test looks for in its log).
package browserlogin
