// Package agents holds the tests that run the real coding agents and official JS SDKs from npm —
// Claude Code, Codex CLI, Gemini CLI, openai, @anthropic-ai/sdk, @google/genai — unmodified against a
// real `polydev serve`, whose upstreams are internal/testkit's fake providers on 127.0.0.1.
//
// The tools come from scripts/npmtools.sh (a content-keyed cache outside the repository); `make test`
// exports its directory as POLYDEV_NPM_TOOLS. Without it the tests skip and say so, unless
// POLYDEV_REQUIRE_NPM_TOOLS=1, when they fail. Every agent runs with a throwaway HOME, its telemetry,
// update checks and plugin syncs turned off, and HTTPS_PROXY/HTTP_PROXY pointing at a loopback catcher
// that refuses and records anything not addressed to 127.0.0.1: the tests assert it saw nothing.
//
// The package has no non-test code; this file exists for its documentation.
package agents
