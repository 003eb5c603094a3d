// Command polydev is Polydev's single binary: `serve` runs the control plane (API, gateway, UI,
// background jobs), `migrate` applies database migrations, `user create` adds accounts, `version`
// prints the build. Configuration comes from POLYDEV_* environment variables and flags (flags win).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/polydev/polydev"
)

func main() {
	// Files Polydev creates (database, WAL, key file, VM disks) are for its own user only.
	syscall.Umask(0o077)
	if len(os.Args) > 1 && os.Args[1] == "egress-pipe" {
		os.Exit(egressPipe(os.Args[2:]))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "polydev:", err)
		}
		os.Exit(2)
	}
}

const usage = `usage: polydev <command> [flags]

commands:
  serve                    run the server (API, gateway, web UI)
  migrate                  apply database migrations and exit
  user create|list|set|disable|enable|reset-password   manage accounts (polydev user -h)
  keys rotate|status|rewrap|retire --version N   manage master keys (encryption at rest)
  pricing import [--dry-run] FILE   refresh model prices from a price list (ours or LiteLLM's JSON)
  egress-pipe SOCKET       (run by QEMU) carry one guest connection to a VM's egress proxy
  mcp                      stdio MCP server for a local coding agent, forwarding to a Polydev server (polydev mcp -h)
  version                  print the version

Run 'polydev <command> -h' for the command's flags. Every flag also has a POLYDEV_* variable (see README).
`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("a command is required")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], getenv, stderr)
	case "migrate":
		return migrateCmd(ctx, args[1:], getenv, stdout, stderr)
	case "user":
		return userCmd(ctx, args[1:], getenv, stdout, stderr)
	case "keys":
		return keysCmd(ctx, args[1:], getenv, stdout, stderr)
	case "pricing":
		return pricingCmd(ctx, args[1:], getenv, stdout, stderr)
	case "image":
		return imageCmd(ctx, args[1:], getenv, stdout, stderr)
	case "mcp":
		return mcpCmd(ctx, args[1:], getenv, os.Stdin, nopCloser{stdout}, stderr)
	case "version":
		fmt.Fprintln(stdout, "polydev", polydev.Version)
		return nil
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

// nopCloser lets the MCP stdio transport own stdout without closing the process's.
type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
