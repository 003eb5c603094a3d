package main

import (
	"context"

	"github.com/polydev/polydev/egress"
)

// egressPipe is `polydev egress-pipe SOCKET`, which QEMU's guestfwd runs for each connection a
// guest opens to its egress proxy address, with that connection as standard input, output and
// error. It therefore prints nothing, ever: anything written would reach the guest. It returns
// the exit status.
func egressPipe(args []string) int {
	if len(args) != 1 {
		return 2
	}
	guest, err := egress.StdioConn()
	if err != nil {
		return 1
	}
	defer guest.Close()
	if err := egress.Pipe(context.Background(), args[0], guest); err != nil {
		return 1
	}
	return 0
}
