package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"

	"github.com/polydev/polydev/agent"
)

// builtinWebsockify, as -websockify, makes the stack's websockify child this binary's own relay
// (agent/websockify.go) instead of a websockify command.
const builtinWebsockify = "builtin"

// runWebsockify is `polydev-agent websockify LISTEN TARGET`: the viewer relay, run by the
// supervisor as the stack's websockify child until it is signalled.
func runWebsockify(ctx context.Context, args []string, stderr io.Writer) int {
	if len(args) != 2 {
		fmt.Fprintln(stderr, "usage: polydev-agent websockify LISTEN TARGET")
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	ln, err := net.Listen("tcp", args[0])
	if err != nil {
		fmt.Fprintln(stderr, "polydev-agent websockify:", err)
		return 1
	}
	log.Info("websockify relay listening", "listen", ln.Addr().String(), "target", args[1])
	if err := agent.ServeWebsockify(ctx, ln, args[1], log); err != nil {
		fmt.Fprintln(stderr, "polydev-agent websockify:", err)
		return 1
	}
	return 0
}

// websockifySelf resolves -websockify builtin to this binary.
func websockifySelf(path string) (string, error) {
	if path != builtinWebsockify {
		return "", nil
	}
	return os.Executable()
}
