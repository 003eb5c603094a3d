#!/usr/bin/env bash
# get_perspectives over three models whose fake upstreams answer after 50, 100 and 200 ms, through
# the real MCP endpoint (Go SDK client over Streamable HTTP, loopback; usage journaled as serve does
# on SQLite): prints "overhead-ms", what the call took beyond the slowest model, "direct-overhead-ms",
# the same for the three requests sent straight to the fakes in the same round, and "added-ms", the
# difference. ns/op counts both. See docs/PERFORMANCE.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
go test ./web -run '^$' -bench '^BenchmarkMCPFanOut$' -benchtime "${BENCHTIME:-30x}" -count "${COUNT:-3}"
