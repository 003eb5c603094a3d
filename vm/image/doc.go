// Package image builds the browser microVM's golden image: a Debian rootfs made by debootstrap from the
// host's configured APT mirror (plus Chromium, Xvfb, x11vnc, websockify, noVNC, fonts and the guest
// agent), the Debian kernel (vmlinuz and an uncompressed vmlinux extracted from it), and a tiny busybox
// initramfs that loads the virtio and ext4 modules and switch_roots to /dev/vda.
//
// An image is named by its [Recipe]'s content hash and lives in <data>/images/<hash>/; a directory with a
// "done" marker is finished and is reused as is. A build goes to a temporary sibling directory that is
// renamed into place only after every artefact is written, so a crash never leaves a half image under a
// real name.
//
// It owns only that directory tree. It starts no VM and knows nothing about drivers or the controller;
// it needs root, debootstrap, chroot, mkfs.ext4 (e2fsprogs) and a static busybox on the host to build.
//
// Reproducibility: the file lists, initramfs archive, timestamps (SOURCE_DATE_EPOCH), filesystem UUID
// and directory hash seed are pinned. Package versions are not: they are whatever the mirror serves on
// the day of the build, unless the mirror itself is a dated snapshot (snapshot.debian.org).
package image
