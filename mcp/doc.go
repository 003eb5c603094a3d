// Package mcp is Polydev's Model Context Protocol side, built on the official Go SDK: the server
// that `polydev serve` mounts at /mcp (Streamable HTTP; tools get_perspectives, list_models,
// usage_summary, each run for the user its MCP token belongs to, through the gateway router with
// every tier, key, limit, ephemeral and accounting rule), and the bridge behind `polydev mcp`, a
// stdio server for local coding agents that forwards to a Polydev server and reports which coding
// CLIs its machine has. It authenticates nobody itself: package web does, and hands the user in.
package mcp
