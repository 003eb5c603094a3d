#!/usr/bin/env bash
# stripe-mock (Stripe's mock of its own API) for the billing tests.
#
#   scripts/stripemock.sh install      installs (or reuses) it and prints the binary's path
#   scripts/stripemock.sh start DIR    starts it on 127.0.0.1 (free ports, HTTP and HTTPS both on
#                                      loopback), prints its base URL; its pid goes to DIR/stripe-mock.pid
#   scripts/stripemock.sh stop DIR     stops the one started in DIR
#
# The install is `go install github.com/stripe/stripe-mock@VERSION` into a cache outside the
# repository keyed by the version ($POLYDEV_STRIPE_MOCK_CACHE, else /var/cache/polydev/stripe-mock
# when writable, else ${XDG_CACHE_HOME:-~/.cache}/polydev/stripe-mock): a second run reuses it in no
# time. Needs Go and the Go module proxy the first time. Concurrent installs wait for each other.
set -euo pipefail
version=v0.203.0
say() { printf 'stripemock: %s\n' "$*" >&2; }

install() {
	local cache dir
	if [ -n "${POLYDEV_STRIPE_MOCK_CACHE:-}" ]; then
		cache=$POLYDEV_STRIPE_MOCK_CACHE
	elif mkdir -p /var/cache/polydev/stripe-mock 2>/dev/null && [ -w /var/cache/polydev/stripe-mock ]; then
		cache=/var/cache/polydev/stripe-mock
	else
		cache=${XDG_CACHE_HOME:-$HOME/.cache}/polydev/stripe-mock
	fi
	dir=$cache/$version
	mkdir -p "$cache"
	exec 9>"$cache/.lock"
	flock 9
	if [ ! -x "$dir/stripe-mock" ]; then
		say "installing github.com/stripe/stripe-mock@$version into $dir"
		local tmp
		tmp=$(mktemp -d "$cache/.install.XXXXXX")
		# Outside any module, so the repository's go.mod is not touched.
		(cd "$tmp" && GOBIN="$tmp/bin" GOFLAGS=-mod=mod go install "github.com/stripe/stripe-mock@$version") >&2
		"$tmp/bin/stripe-mock" -version >/dev/null
		rm -rf "$dir"
		mv "$tmp/bin" "$dir"
		rm -rf "$tmp"
	fi
	echo "$dir/stripe-mock"
}

case "${1:-}" in
install)
	install
	;;
start)
	run=${2:?usage: stripemock.sh start DIR}
	bin=$(install)
	mkdir -p "$run"
	"$bin" -http-addr 127.0.0.1: -https-addr 127.0.0.1: >"$run/stripe-mock.log" 2>&1 &
	echo $! >"$run/stripe-mock.pid"
	for _ in $(seq 1 300); do
		addr=$(grep -oE 'Listening for HTTP at address: 127\.0\.0\.1:[0-9]+' "$run/stripe-mock.log" | grep -oE '127\.0\.0\.1:[0-9]+' || true)
		if [ -n "$addr" ]; then
			echo "http://$addr"
			exit 0
		fi
		kill -0 "$(cat "$run/stripe-mock.pid")" 2>/dev/null || { cat "$run/stripe-mock.log" >&2; say "stripe-mock exited"; exit 1; }
		sleep 0.2
	done
	say "stripe-mock did not start within a minute"; exit 1
	;;
stop)
	run=${2:?usage: stripemock.sh stop DIR}
	if [ -f "$run/stripe-mock.pid" ]; then
		kill "$(cat "$run/stripe-mock.pid")" 2>/dev/null || true
		rm -f "$run/stripe-mock.pid"
	fi
	;;
*)
	echo "usage: stripemock.sh install | start DIR | stop DIR" >&2; exit 2
	;;
esac
