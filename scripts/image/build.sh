#!/bin/sh
# Build the golden browser image: compile polydev and a static polydev-agent, then run
# `polydev image build`. Needs root, debootstrap, busybox-static, e2fsprogs, xz-utils, zstd.
# usage: scripts/image/build.sh [DATA_DIR]   (default /var/tmp/polydev-images)
set -eu
cd "$(dirname "$0")/../.."
data=${1:-/var/tmp/polydev-images}
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
CGO_ENABLED=0 go build -trimpath -o "$bin/polydev-agent" ./cmd/polydev-agent
go build -o "$bin/polydev" ./cmd/polydev
"$bin/polydev" image build --data-dir "$data" --agent "$bin/polydev-agent"
"$bin/polydev" image list --data-dir "$data"
