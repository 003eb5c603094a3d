package egress

import (
	"context"
	"fmt"
	"net"
	"os"
)

// Pipe carries one guest connection to a VM's egress listener, a unix socket: it is what QEMU's
// guestfwd runs (as `polydev egress-pipe SOCKET`) for every connection the guest opens to
// GuestAddr, with the connection on its standard input and output. QEMU's other guestfwd form,
// a character device, is one byte stream for the VM's whole life and cannot carry concurrent
// connections, so each connection gets its own short-lived pipe. guest is that connection;
// half-closes pass both ways, and Pipe returns when both directions are done.
func Pipe(ctx context.Context, socket string, guest net.Conn) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return fmt.Errorf("egress pipe: %w", err)
	}
	splice(ctx, guest, c)
	return nil
}

// StdioConn returns the connection QEMU's guestfwd hands its command as standard input and
// output (one socket on both); standard error is that socket too, so the pipe must never write
// there.
func StdioConn() (net.Conn, error) {
	c, err := net.FileConn(os.Stdin)
	if err != nil {
		return nil, fmt.Errorf("egress pipe: standard input is not a socket: %w", err)
	}
	return c, nil
}
