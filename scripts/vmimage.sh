#!/usr/bin/env bash
# Build (or reuse) the golden browser image in a content-keyed cache outside the repository, and print
# its directory (vmlinux, initrd.img, rootfs.ext4) on stdout; progress goes to stderr.
#
#   usage: scripts/vmimage.sh [CACHE_DIR]   (default $POLYDEV_IMAGE_CACHE, else /var/cache/polydev)
#
# The key is `polydev image build`'s recipe hash (package set, mirror, agent binary sha256, generated
# guest scripts, builder version): the agent is built with -trimpath -buildvcs=false so that its bytes
# depend on its source only, not on the commit or a dirty work tree; an unchanged recipe reuses the
# finished image in a second. Needs root, the host's APT mirror, npm (the coding CLIs) and a few minutes for a new image.
# Concurrent callers wait for each other (flock). Images unused for 14 days are removed.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${1:-${POLYDEV_IMAGE_CACHE:-/var/cache/polydev}}
say() { printf 'vmimage: %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
  say "building the image needs root (debootstrap, chroot, mount)"; exit 1
fi
need=()
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v mkfs.ext4 >/dev/null 2>&1 || need+=(e2fsprogs)
command -v xz >/dev/null 2>&1 || need+=(xz-utils)
command -v zstd >/dev/null 2>&1 || need+=(zstd)
[ -x /bin/busybox ] || need+=(busybox-static)
command -v flock >/dev/null 2>&1 || need+=(util-linux)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"; } >&2
fi

mkdir -p "$cache"
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
CGO_ENABLED=0 go build -trimpath -buildvcs=false -o "$bin/polydev-agent" ./cmd/polydev-agent
go build -buildvcs=false -gcflags 'modernc.org/sqlite/lib=-l' -o "$bin/polydev" ./cmd/polydev

exec 9>"$cache/.build.lock"
flock 9
start=$(date +%s)
dir=$("$bin/polydev" image build --data-dir "$cache" --agent "$bin/polydev-agent" 2> >(sed 's/^/vmimage: /' >&2))
touch "$dir"   # last use, for the cleanup below
say "image $dir ($(( $(date +%s) - start )) s)"
find "$cache/images" -mindepth 1 -maxdepth 1 -type d ! -path "$dir" -mtime +14 -print0 2>/dev/null |
  while IFS= read -r -d '' old; do say "removing unused $old"; rm -rf "$old"; done
echo "$dir"
