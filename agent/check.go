package agent

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// TCPPort is ready when a TCP connection to addr (for example "127.0.0.1:9222") succeeds.
func TCPPort(addr string) Check {
	return func(ctx context.Context) error {
		d := net.Dialer{Timeout: time.Second}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// FileExists is ready when path exists.
func FileExists(path string) Check {
	return func(context.Context) error {
		_, err := os.Stat(path)
		return err
	}
}

// X11SocketDir is where X servers put their local sockets.
const X11SocketDir = "/tmp/.X11-unix"

// XDisplay is ready when display n answers on its local socket dir/X<n>. The socket file alone can be
// stale after a crash, so the probe connects to it.
func XDisplay(dir string, n int) Check {
	path := filepath.Join(dir, "X"+strconv.Itoa(n))
	return func(ctx context.Context) error {
		d := net.Dialer{Timeout: time.Second}
		c, err := d.DialContext(ctx, "unix", path)
		if err != nil {
			return fmt.Errorf("display :%d: %w", n, err)
		}
		return c.Close()
	}
}
