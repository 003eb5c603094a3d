#!/usr/bin/env bash
# `make test`: installs what the suite needs (idempotently), starts a throwaway PostgreSQL, runs go vet,
# the whole test suite with -race on both store engines, and short fuzz runs. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

# --- dependencies ----------------------------------------------------------------------------------
need_apt=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v runuser >/dev/null 2>&1 || need_apt+=(util-linux)
command -v xz >/dev/null 2>&1 || need_apt+=(xz-utils)      # vm/image: vmlinux extraction tests
command -v zstd >/dev/null 2>&1 || need_apt+=(zstd)
[ -x /bin/busybox ] || need_apt+=(busybox-static)          # vm/image: initramfs tests
command -v qemu-system-x86_64 >/dev/null 2>&1 || need_apt+=(qemu-system-x86)  # vm/qemu: TestRealQEMU
command -v qemu-img >/dev/null 2>&1 || need_apt+=(qemu-utils)
command -v debootstrap >/dev/null 2>&1 || need_apt+=(debootstrap)             # golden image build
command -v mkfs.ext4 >/dev/null 2>&1 || need_apt+=(e2fsprogs)
command -v nft >/dev/null 2>&1 || need_apt+=(nftables)      # vm/netns: per-VM NAT rules
command -v Xvfb >/dev/null 2>&1 || need_apt+=(xvfb)                   # internal/rfb, web: real noVNC path
command -v x11vnc >/dev/null 2>&1 || need_apt+=(x11vnc)
command -v websockify >/dev/null 2>&1 || need_apt+=(websockify)
command -v xsetroot >/dev/null 2>&1 || need_apt+=(x11-xserver-utils)
[ -f /usr/share/novnc/vnc.html ] || need_apt+=(novnc)            # web: the viewer page is served from the host
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)         # web: TestNoVNCViewerInChromium
command -v npm >/dev/null 2>&1 || need_apt+=(npm)                   # e2e/agents: installs the agents and SDKs
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing ${need_apt[*]}"
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "missing packages: ${need_apt[*]} (run as root, or install them)" >&2; exit 1
  fi
fi

# --- throwaway PostgreSQL --------------------------------------------------------------------------
work=$(mktemp -d /tmp/polydev-test.XXXXXX)
chmod 755 "$work"
cleanup() { scripts/pg.sh stop "$work/pg" || true; scripts/stripemock.sh stop "$work/stripe" || true; rm -rf "$work"; }
trap cleanup EXIT
log "starting PostgreSQL"
POLYDEV_TEST_POSTGRES_URL=$(scripts/pg.sh start "$work/pg")
export POLYDEV_TEST_POSTGRES_URL POLYDEV_REQUIRE_POSTGRES=1
echo "PostgreSQL up at 127.0.0.1:$(echo "$POLYDEV_TEST_POSTGRES_URL" | sed -E 's/.*@127\.0\.0\.1:([0-9]+).*/\1/')"

# --- stripe-mock -----------------------------------------------------------------------------------
# The billing tests call Stripe's API through stripe-mock on loopback (scripts/stripemock.sh: installed
# once per version into a cache outside the repository). Here they must run: POLYDEV_REQUIRE_STRIPE_MOCK
# turns their skip into a failure.
log "starting stripe-mock"
POLYDEV_STRIPE_MOCK_URL=$(scripts/stripemock.sh start "$work/stripe")
export POLYDEV_STRIPE_MOCK_URL POLYDEV_REQUIRE_STRIPE_MOCK=1
echo "stripe-mock up at $POLYDEV_STRIPE_MOCK_URL"

# --- golden VM image ------------------------------------------------------------------------------
# vm/qemu's TestRealQEMU (and the end-to-end tests) boot it under QEMU. It is built once into a
# content-keyed cache outside the repository ($POLYDEV_IMAGE_CACHE, default /var/cache/polydev; about
# 3 minutes) and reused while its recipe (packages, agent binary, guest scripts) is unchanged. A failed
# build does not fail the run: those tests skip and say why. POLYDEV_VM_IMAGE set by the caller wins.
if [ -z "${POLYDEV_VM_IMAGE:-}" ]; then
  log "golden VM image"
  if img=$(scripts/vmimage.sh 2>"$work/vmimage.log"); then
    export POLYDEV_VM_IMAGE=$img
    grep -E '^vmimage: image ' "$work/vmimage.log" || true
  else
    tail -n 20 "$work/vmimage.log" >&2
    POLYDEV_VM_IMAGE_ERROR="scripts/vmimage.sh failed: $(grep -v '^\s*$' "$work/vmimage.log" | tail -n 1 | cut -c1-200)"
    export POLYDEV_VM_IMAGE_ERROR
    echo "$POLYDEV_VM_IMAGE_ERROR (tests that boot VMs will skip)" >&2
  fi
fi

# --- coding agents and JS SDKs ---------------------------------------------------------------------
# e2e/agents runs Claude Code, Codex CLI, Gemini CLI and the official JS SDKs from npm against Polydev.
# scripts/npmtools.sh installs them once into a content-keyed cache outside the repository
# (/var/cache/polydev/npm/<hash of scripts/npmtools/package*.json>, about a minute) and reuses it after.
# Here the tests must run: POLYDEV_REQUIRE_NPM_TOOLS turns their skip into a failure.
if [ -z "${POLYDEV_NPM_TOOLS:-}" ]; then
  log "coding agents and JS SDKs (npm)"
  POLYDEV_NPM_TOOLS=$(scripts/npmtools.sh)
  echo "$POLYDEV_NPM_TOOLS"
fi
export POLYDEV_NPM_TOOLS POLYDEV_REQUIRE_NPM_TOOLS=1

# --- web UI screenshots ---------------------------------------------------------------------------
# The browser tests of web/ui save a screenshot of every page at two widths here; it outlives the run.
POLYDEV_SCREENSHOTS=${POLYDEV_SCREENSHOTS:-$(mktemp -d /tmp/polydev-screenshots.XXXXXX)}
export POLYDEV_SCREENSHOTS

# --- vet, tests ------------------------------------------------------------------------------------
# The builds of the suite use the vector JSON scan, as `make build` does (see the Makefile); the
# scalar one is the same code's fallback and checked against it (gateway/passthrough).
export GOEXPERIMENT=${GOEXPERIMENT:-simd}
log "go vet"
go vet ./...

# Tests that boot real VMs run in a second phase, one at a time: each keeps both cores busy under
# QEMU TCG for a minute or more, and beside each other or beside the rest of the suite their boots
# only get slower. The first phase leaves them out (-skip), so nothing is counted twice.
vmtests='^(TestKernelProbeReal|TestRealQEMU|TestRealQEMUCold|TestRealQEMUGolden|TestRealQEMUGoldenRestart|TestRealQEMUTap|TestVMEndToEnd|TestVMCrashReconcile|TestBrowserLoginEndToEnd|TestRealCLILoginsThroughEgress)$'
log "go test -race ./... (store suite on sqlite and postgres)"
out="$work/go-test.log"
set +e
go test -race -count=1 -timeout 30m -v -skip "$vmtests" ./... >"$work/go-test-1.log" 2>&1
rc=$?
log "go test -race, real VMs one at a time"
go test -race -count=1 -timeout 40m -v -p 1 -run "$vmtests" ./vm/qemu ./vm/controller ./cmd/polydev ./e2e/browserlogin >"$work/go-test-2.log" 2>&1
rc2=$?
set -e
cat "$work/go-test-1.log" "$work/go-test-2.log" >"$out"
[ $rc -ne 0 ] || rc=$rc2
# Show what matters: package results, every failure and skip with its reason, and which engines ran.
# Lines a test's slog writer logged (": time=... level=...") are left out here; the failure details
# below keep them, then repeat the failures' own lines last, so the tail of the output names the cause.
grep -E '^(ok|FAIL|---|panic:|\?)|--- (FAIL|SKIP)|engine=|SKIP:|^\s+\S+_test\.go:[0-9]+: ' "$out" |
  grep -vE '^\s*--- PASS|_test\.go:[0-9]+: time=\S+ level=' || true
pass=$(grep -cE '^--- PASS' "$out" || true)
fail=$(grep -cE '^--- FAIL' "$out" || true)
skip=$(grep -cE '^--- SKIP' "$out" || true)
for engine in sqlite postgres; do
  if ! grep -q "store suite engine=$engine" "$out"; then
    echo "store suite did not run on $engine" >&2; rc=1
  fi
done
if [ $rc -ne 0 ]; then
  log "failure details"
  grep -vE '^\s*(=== (RUN|PAUSE|CONT|NAME)|--- PASS)' "$out" | tail -n 200
  log "failures (test lines other than logged slog records)"
  grep -E '^(--- FAIL|FAIL|panic:)|^\s+--- FAIL|^\s+\S+_test\.go:[0-9]+: ' "$out" |
    grep -vE '_test\.go:[0-9]+: time=\S+ level=' | tail -n 60
  echo "go test: $pass passed, $fail failed, $skip skipped"
  echo "web UI screenshots: $POLYDEV_SCREENSHOTS"
  exit $rc
fi

# --- fuzz ------------------------------------------------------------------------------------------
fuzztime=${FUZZTIME:-5s}
log "fuzz ($fuzztime each)"
for spec in $(grep -rlE '^func Fuzz' --include='*_test.go' . | sort); do
  dir=$(dirname "$spec")
  for fn in $(grep -hoE '^func (Fuzz[A-Za-z0-9_]+)' "$spec" | awk '{print $2}'); do
    printf '%-40s %s\n' "$dir" "$fn"
    # Go 1.26's fuzz coordinator can report a bare "context deadline exceeded" when -fuzztime
    # runs out while a worker is mid-input (golang/go#75804, fixed in Go 1.27): no input failed
    # and none is written. That case is run once more; a real finding ("Failing input written",
    # a panic, a t.Fatal) fails at once.
    for attempt in 1 2; do
      if go test -run='^$' -fuzz="^${fn}\$" -fuzztime="$fuzztime" "$dir" >"$work/fuzz.log" 2>&1; then
        break
      fi
      if [ "$attempt" = 1 ] && grep -q 'context deadline exceeded' "$work/fuzz.log" &&
        ! grep -qE 'Failing input written|panic:|_test\.go:[0-9]+:' "$work/fuzz.log"; then
        echo "  $fn: the fuzz engine's end-of-time race (golang/go#75804), no failing input; once more"
        continue
      fi
      cat "$work/fuzz.log"
      exit 1
    done
  done
done

echo
echo "go test: $pass passed, $fail failed, $skip skipped"
echo "web UI screenshots: $POLYDEV_SCREENSHOTS ($(find "$POLYDEV_SCREENSHOTS" -name '*.png' | wc -l) files)"
