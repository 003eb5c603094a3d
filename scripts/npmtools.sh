#!/usr/bin/env bash
# Install (or reuse) the coding agents and official JS SDKs that the agent tests run against Polydev —
# Claude Code, Codex CLI, Gemini CLI, openai, @anthropic-ai/sdk, @google/genai and the Node.js runtime
# they need — into a content-keyed cache outside the repository, and print the install directory on
# stdout (tools in DIR/node_modules/.bin, SDKs in DIR/node_modules); progress goes to stderr.
#
#   usage: scripts/npmtools.sh [CACHE_DIR]   (default $POLYDEV_NPM_CACHE, else /var/cache/polydev/npm
#                                            when writable, else ${XDG_CACHE_HOME:-~/.cache}/polydev/npm)
#
# What is installed is scripts/npmtools/package.json with its package-lock.json (exact versions, the
# current npm releases when they were last bumped: `npm view NAME version`, then
# `npm install --package-lock-only` in scripts/npmtools). The cache key is the hash of those two files
# and the machine's platform, so an unchanged list reuses the finished install in a second and a bump
# installs anew. Needs npm and the npm registry; concurrent callers wait for each other (flock).
# Installs unused for 14 days are removed.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'npmtools: %s\n' "$*" >&2; }

if [ -n "${1:-}" ]; then
	cache=$1
elif [ -n "${POLYDEV_NPM_CACHE:-}" ]; then
	cache=$POLYDEV_NPM_CACHE
elif mkdir -p /var/cache/polydev/npm 2>/dev/null && [ -w /var/cache/polydev/npm ]; then
	cache=/var/cache/polydev/npm
else
	cache=${XDG_CACHE_HOME:-$HOME/.cache}/polydev/npm
fi
command -v npm >/dev/null 2>&1 || { say "npm not found"; exit 1; }
command -v flock >/dev/null 2>&1 || { say "flock not found (util-linux)"; exit 1; }

src=scripts/npmtools
key=$( (cat "$src/package.json" "$src/package-lock.json"; uname -sm) | sha256sum | cut -c1-16)
dir=$cache/$key
mkdir -p "$cache"

verify() { # the tools start and say their version; a broken install is never handed out
	local bin=$1/node_modules/.bin
	"$bin/node" --version >/dev/null &&
		HOME=$1/.verify-home "$bin/claude" --version >/dev/null &&
		HOME=$1/.verify-home "$bin/codex" --version >/dev/null 2>&1 &&
		HOME=$1/.verify-home "$bin/node" "$bin/gemini" --version >/dev/null
}

if [ ! -f "$dir/.complete" ]; then
	exec 9>"$cache/.install.lock"
	flock 9
	if [ ! -f "$dir/.complete" ]; then
		rm -rf "$dir"
		staging=$(mktemp -d "$cache/.staging.XXXXXX")
		trap 'rm -rf "$staging"' EXIT
		cp "$src/package.json" "$src/package-lock.json" "$staging/"
		say "installing $(grep -cE '^    "' "$src/package.json") packages into $dir (about a minute)"
		# Telemetry of npm itself off; the packages' own install steps run (Claude Code's puts its
		# native binary in place).
		if ! (cd "$staging" && npm ci --no-audit --no-fund --no-update-notifier >"$staging/npm-install.log" 2>&1); then
			tail -n 30 "$staging/npm-install.log" >&2
			say "npm ci failed"
			exit 1
		fi
		mkdir -p "$staging/.verify-home"
		# Claude Code's package puts its native binary in place in a postinstall step; an npm that
		# skips install scripts leaves a placeholder, so run that step here if it did not happen.
		if ! HOME=$staging/.verify-home "$staging/node_modules/.bin/claude" --version >/dev/null 2>&1; then
			(cd "$staging/node_modules/@anthropic-ai/claude-code" && "$staging/node_modules/.bin/node" install.cjs) >&2 || true
		fi
		if ! verify "$staging"; then
			say "the installed tools do not start"
			exit 1
		fi
		rm -rf "$staging/.verify-home"
		touch "$staging/.complete"
		mv "$staging" "$dir"
		trap - EXIT
	fi
	exec 9>&-
fi
touch "$dir" # last use, for the cleanup below
find "$cache" -mindepth 1 -maxdepth 1 -type d ! -name '.*' ! -path "$dir" -mtime +14 -print0 2>/dev/null |
	while IFS= read -r -d '' old; do say "removing unused $old"; rm -rf "$old"; done
echo "$dir"
