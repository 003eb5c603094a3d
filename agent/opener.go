package agent

// The CLIs' browser. A CLI's login opens its authorize URL with whatever the system offers: $BROWSER
// (Codex's and Gemini's launchers look there first), else xdg-open (what Node's `open` runs on Linux).
// The runner puts a private directory first in the CLI's PATH holding xdg-open, x-www-browser,
// sensible-browser, www-browser and polydev-open, all links to the agent's own binary, and sets
// BROWSER to polydev-open there. Run under one of those names the binary sends its URL arguments over
// a unix socket in that directory (mode 0700, so neither a web page nor another user reaches it) to
// the runner, which opens them in the running Chromium over DevTools. No URL travels through the
// environment or a file, and nothing else in the guest can make the browser open a page this way.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// OpenSocketEnv names the socket the opener sends its URLs to.
const OpenSocketEnv = "POLYDEV_AGENT_OPEN_SOCKET"

// openerNames are the names under which the agent binary acts as the CLIs' browser.
var openerNames = []string{"polydev-open", "xdg-open", "x-www-browser", "sensible-browser", "www-browser"}

// IsOpener reports whether argv0 names the opener (cmd/polydev-agent's main checks it first).
func IsOpener(argv0 string) bool { return slices.Contains(openerNames, filepath.Base(argv0)) }

// RunOpener is the opener's whole program: each argument that is an http(s) URL is sent to the
// runner; the exit status is 0 when every one was opened.
func RunOpener(args []string, getenv func(string) string, stderr io.Writer) int {
	sock := getenv(OpenSocketEnv)
	if sock == "" {
		fmt.Fprintln(stderr, "polydev-open: no browser here (not started by the login runner)")
		return 3
	}
	status := 0
	for _, a := range args {
		if !isWebURL(a) {
			continue // xdg-open's options and file paths: nothing a login needs
		}
		if err := sendURL(sock, a); err != nil {
			fmt.Fprintln(stderr, "polydev-open:", err)
			status = 4
		}
	}
	return status
}

func sendURL(sock, u string) error {
	c, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, u+"\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line = strings.TrimSpace(line); line != "ok" {
		return fmt.Errorf("browser: %s", line)
	}
	return nil
}

func isWebURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// maxOpenURL bounds one request on the opener socket.
const maxOpenURL = 16 << 10

// opener is the runner's end: a directory with the links and the socket, serving until closed.
type opener struct {
	dir string
	ln  net.Listener
}

// startOpener makes the opener directory under parent with links to self, and serves open requests
// with open until close.
func startOpener(parent, self string, open func(ctx context.Context, u string) error) (*opener, error) {
	dir, err := os.MkdirTemp(parent, "polydev-open-")
	if err != nil {
		return nil, err
	}
	for _, n := range openerNames {
		if err := os.Symlink(self, filepath.Join(dir, n)); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	ln, err := net.Listen("unix", filepath.Join(dir, "open.sock"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	o := &opener{dir: dir, ln: ln}
	go o.serve(open)
	return o, nil
}

func (o *opener) serve(open func(ctx context.Context, u string) error) {
	for {
		c, err := o.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			line, err := bufio.NewReader(io.LimitReader(c, maxOpenURL)).ReadString('\n')
			if err != nil {
				return
			}
			u := strings.TrimSpace(line)
			answer := "ok"
			if !isWebURL(u) {
				answer = "not an http(s) URL"
			} else {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				if err := open(ctx, u); err != nil {
					answer = strings.ReplaceAll(err.Error(), "\n", " ")
				}
				cancel()
			}
			_, _ = io.WriteString(c, answer+"\n")
		}()
	}
}

// env is what the CLI needs to find the opener.
func (o *opener) env() []string {
	return []string{"BROWSER=" + filepath.Join(o.dir, "polydev-open"), OpenSocketEnv + "=" + filepath.Join(o.dir, "open.sock")}
}

func (o *opener) close() {
	o.ln.Close()
	os.RemoveAll(o.dir)
}
