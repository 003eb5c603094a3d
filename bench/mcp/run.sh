#!/usr/bin/env bash
# get_perspectives over three models whose fake upstreams answer after 50, 100 and 200 ms, through
# the real MCP endpoint (Go SDK client over Streamable HTTP, loopback): prints the time per call
# and "overhead-ms", what the call took beyond the slowest model. See docs/PERFORMANCE.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
go test ./web -run '^$' -bench '^BenchmarkMCPFanOut$' -benchtime "${BENCHTIME:-30x}" -count "${COUNT:-3}"
