#!/usr/bin/env bash
# bench/gateway/run.sh — Polydev's gateway benchmark in one command.
#
# Installs the peer gateway @portkey-ai/gateway from npm into a cache outside the repository (once),
# builds Polydev and the load generator, then runs bench/gateway (see main.go): direct vs a bare Go
# reverse proxy (goproxy, the reference floor) vs Polydev vs Portkey against one fake OpenAI
# upstream on 127.0.0.1, interleaved. Extra arguments go to the
# benchmark, e.g.  bench/gateway/run.sh -scale 0.2 -hold-streams 200   (a quick look)
#                  bench/gateway/run.sh -h                              (every flag)
#
# Environment: PORTKEY_VERSION (default: the pinned version below; "latest" asks npm),
# PORTKEY_HONO_NODE_SERVER (see below), XDG_CACHE_HOME (cache root), NODE (node binary), GO (go binary).
set -euo pipefail

PINNED_PORTKEY_VERSION=1.15.2 # checked with `npm view @portkey-ai/gateway version`, 2026-11
# The gateway declares "@hono/node-server": "^1.3.3", which npm resolves to 1.19.x; with that,
# every streaming request through the gateway fails with HTTP 500 ("TypeError: immutable" in
# updateHeaders, upstream issues Portkey-AI/gateway#1389 and #1550; 1.14.2 and 1.19.19 fail here,
# 1.14.1 works), so the install pins 1.14.1 with an npm override. PORTKEY_HONO_NODE_SERVER="" keeps
# npm's choice.
HONO_NODE_SERVER=${PORTKEY_HONO_NODE_SERVER-1.14.1}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
cmdline="bench/gateway/run.sh${*:+ $*}"
GO=${GO:-go}
NODE=${NODE:-node}
say() { printf '[run.sh] %s\n' "$*" >&2; }

# 512 concurrent requests through a gateway need well over 1024 descriptors in the gateway (the
# node process does not raise its own limit). Children inherit this.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 65536 2>/dev/null || true

# ---- 1. the peer gateway, cached outside the repository ----
portkey_dir="" portkey_skip="" portkey_version=""
if ! command -v "$NODE" >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	portkey_skip="node/npm not found on this machine"
else
	portkey_version=${PORTKEY_VERSION:-$PINNED_PORTKEY_VERSION}
	if [ "$portkey_version" = latest ]; then
		portkey_version=$(npm view @portkey-ai/gateway version 2>/dev/null || true)
	fi
	cache=${XDG_CACHE_HOME:-$HOME/.cache}/polydev/portkey-$portkey_version
	pkg=$cache/node_modules/@portkey-ai/gateway
	stamp="@portkey-ai/gateway@$portkey_version @hono/node-server@${HONO_NODE_SERVER:-npm}"
	if [ -z "$portkey_version" ]; then
		portkey_skip="could not ask npm for the latest @portkey-ai/gateway version"
	elif [ "$(cat "$cache/.installed" 2>/dev/null)" = "$stamp" ] && [ -f "$pkg/build/start-server.js" ]; then
		say "portkey $portkey_version: cached in $cache"
		portkey_dir=$pkg
	else
		say "portkey $portkey_version: installing into $cache"
		staging=$(mktemp -d "${cache}.XXXXXX" 2>/dev/null || { mkdir -p "$(dirname "$cache")" && mktemp -d "${cache}.XXXXXX"; })
		overrides=""
		[ -n "$HONO_NODE_SERVER" ] && overrides=',"overrides":{"@hono/node-server":"'"$HONO_NODE_SERVER"'"}'
		printf '{"name":"polydev-bench-portkey","private":true%s}\n' "$overrides" >"$staging/package.json"
		# --ignore-scripts: the package's only install script is `patch-package`, with no patches shipped.
		if (cd "$staging" && npm install --no-audit --no-fund --omit=dev --ignore-scripts --save-exact \
			"@portkey-ai/gateway@$portkey_version" >"$staging/npm-install.log" 2>&1); then
			printf '%s\n' "$stamp" >"$staging/.installed"
			rm -rf "$cache"
			mv "$staging" "$cache"
			portkey_dir=$pkg
		else
			tail -n 20 "$staging/npm-install.log" >&2 || true
			portkey_skip="npm install @portkey-ai/gateway@$portkey_version failed (see above)"
			rm -rf "$staging"
		fi
	fi
fi
portkey_label=$portkey_version portkey_note=""
if [ -n "$portkey_dir" ]; then
	hono=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$cache/node_modules/@hono/node-server/package.json" 2>/dev/null | head -n 1)
	portkey_label="$portkey_version (with @hono/node-server ${hono:-?})"
	if [ -n "$HONO_NODE_SERVER" ]; then
		portkey_note="Peer install: run.sh pins the gateway's dependency @hono/node-server to $HONO_NODE_SERVER with an npm override. With what npm picks by default (1.19.x for the declared ^1.3.3), every streaming request through the gateway fails with HTTP 500 \"Something went wrong\" (TypeError: immutable in updateHeaders; upstream issues Portkey-AI/gateway#1389 and #1550; 1.14.2 and 1.19.19 fail, 1.14.1 works)."
	fi
fi
if [ -n "$portkey_skip" ]; then say "portkey: $portkey_skip — its column is skipped"; fi

# ---- 2. build Polydev and the load generator ----
tmp=$(mktemp -d "${TMPDIR:-/tmp}/polydev-gateway-bench-bin.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
say "building the load generator"
"$GO" build -o "$tmp/gateway-bench" ./bench/gateway
say "building polydev (./cmd/polydev)"
polydev_skip=""
# As `make build` builds it: with the vector JSON scan (GOEXPERIMENT=simd, see the Makefile).
if ! GOEXPERIMENT=${GOEXPERIMENT:-simd} "$GO" build -o "$tmp/polydev" ./cmd/polydev 2>"$tmp/polydev-build.log"; then
	head -n 20 "$tmp/polydev-build.log" >&2
	polydev_skip="build of ./cmd/polydev failed: $(head -n 1 "$tmp/polydev-build.log")"
	say "polydev: $polydev_skip — its column is skipped"
fi

# ---- 3. run (not exec: the trap removes the binaries afterwards) ----
"$tmp/gateway-bench" \
	-polydev-bin "$tmp/polydev" -polydev-skip "$polydev_skip" \
	-portkey-dir "$portkey_dir" -portkey-skip "$portkey_skip" -portkey-version "$portkey_label" -portkey-note "$portkey_note" \
	-node "$NODE" -guard "$here/portkey-guard.mjs" -out "$here/results" -cmdline "$cmdline" \
	"$@"
