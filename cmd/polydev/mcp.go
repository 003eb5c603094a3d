package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/auth"
	"github.com/polydev/polydev/mcp"
)

// mcpCmd is `polydev mcp`: a stdio MCP server for a local coding agent (`claude mcp add polydev --
// polydev mcp`) that forwards to a Polydev server and reports the machine's coding CLIs. The token
// comes from the environment or a file, never from the command line, where `ps` would show it.
func mcpCmd(ctx context.Context, args []string, getenv func(string) string, stdin io.ReadCloser, stdout io.WriteCloser, stderr io.Writer) error {
	fs := flag.NewFlagSet("mcp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	host, _ := os.Hostname()
	server := fs.String("server", cmpEnv(getenv, "POLYDEV_URL", "http://127.0.0.1:8080"), "the Polydev server's URL (POLYDEV_URL)")
	tokenFile := fs.String("token-file", getenv("POLYDEV_MCP_TOKEN_FILE"), "a file holding the MCP token (POLYDEV_MCP_TOKEN_FILE); default: POLYDEV_MCP_TOKEN")
	machine := fs.String("machine", cmpEnv(getenv, "POLYDEV_MACHINE", host), "this machine's name in CLI status reports (POLYDEV_MACHINE)")
	noReport := fs.Bool("no-cli-report", false, "do not report the coding CLIs found on this machine")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: POLYDEV_MCP_TOKEN=pdm_... polydev mcp [--server URL] [--token-file F] [--machine NAME] [--no-cli-report]\n\n"+
			"Serves MCP on stdin/stdout for a local coding agent, forwarding to a Polydev server.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	token := strings.TrimSpace(getenv("POLYDEV_MCP_TOKEN"))
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			return fmt.Errorf("reading the token file: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	if token == "" {
		return errors.New("no MCP token: set POLYDEV_MCP_TOKEN (create one with POST /api/mcp/tokens) or --token-file")
	}
	if _, err := auth.ParseMCPToken(token); err != nil {
		if _, apiErr := auth.ParseToken(token); apiErr != nil {
			return errors.New("POLYDEV_MCP_TOKEN is not a Polydev token (pdm_... or pd_...)")
		}
	}
	// stdout is the protocol's: logs go to stderr only.
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg := mcp.BridgeConfig{Server: *server, Token: token, Machine: *machine, Log: log}
	if !*noReport {
		cfg.Detect = func() []polydev.CLIStatus { return mcp.DetectCLIs(getenv) }
		cfg.Versions = func(ctx context.Context, sts []polydev.CLIStatus) { mcp.AddVersions(ctx, sts, getenv) }
	}
	b, err := mcp.NewBridge(ctx, cfg)
	if err != nil {
		return err
	}
	return b.Serve(ctx, &sdk.IOTransport{Reader: stdin, Writer: stdout})
}

func cmpEnv(getenv func(string) string, k, def string) string {
	if v := strings.TrimSpace(getenv(k)); v != "" {
		return v
	}
	return def
}
