package agent

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Child names used by the default specs and by the health report.
const (
	ChildDisplay    = "display"
	ChildBrowser    = "browser"
	ChildVNC        = "vnc"
	ChildWebsockify = "websockify"
)

// StackOptions are the knobs of the golden image's stack. Zero values get the defaults noted.
type StackOptions struct {
	Display      int    // X display number; default 99
	Screen       string // Xvfb screen geometry WxHxDepth; default 1024x768x24 (the first Raw frame 3 MiB)
	X11SocketDir string // default /tmp/.X11-unix

	XvfbPath       string // default "Xvfb"
	ChromiumPath   string // default "chromium"
	X11vncPath     string // default "x11vnc"
	WebsockifyPath string // default "websockify"
	// WebsockifySelf, when set, is this agent's own binary: the stack's websockify child is then
	// "WebsockifySelf websockify LISTEN TARGET" (websockify.go) instead of WebsockifyPath.
	WebsockifySelf string

	ProfileDir        string // Chromium's dedicated profile; default /var/lib/polydev-agent/profile
	StartURL          string // page the browser opens; default about:blank
	DevToolsPort      int    // on guest loopback only; default 9222
	ChromiumNoSandbox bool   // needed when Chromium runs as root in the guest
	VNCPort           int    // on guest loopback only; default 5900
	WebsockifyListen  string // the one guest port the host reaches; default 0.0.0.0:6080
	NoVNCWeb          string // noVNC web root, served by websockify when it exists; default /usr/share/novnc
	// ProxyServer is the egress proxy (host:port) every page goes through; empty means none. Chromium
	// bypasses it for loopback by itself, so the CLIs' localhost callbacks stay in the guest.
	ProxyServer string
	// TrustSPKI are base64 SHA-256 SPKI hashes of extra CAs Chromium accepts in a chain (ca.go).
	TrustSPKI []string
}

func (o StackOptions) withDefaults() StackOptions {
	if o.Display == 0 {
		o.Display = 99
	}
	o.Screen = cmp.Or(o.Screen, "1024x768x24")
	o.X11SocketDir = cmp.Or(o.X11SocketDir, X11SocketDir)
	o.XvfbPath = cmp.Or(o.XvfbPath, "Xvfb")
	o.ChromiumPath = cmp.Or(o.ChromiumPath, "chromium")
	o.X11vncPath = cmp.Or(o.X11vncPath, "x11vnc")
	o.WebsockifyPath = cmp.Or(o.WebsockifyPath, "websockify")
	o.ProfileDir = cmp.Or(o.ProfileDir, "/var/lib/polydev-agent/profile")
	o.StartURL = cmp.Or(o.StartURL, "about:blank")
	o.DevToolsPort = cmp.Or(o.DevToolsPort, 9222)
	o.VNCPort = cmp.Or(o.VNCPort, 5900)
	o.WebsockifyListen = cmp.Or(o.WebsockifyListen, "0.0.0.0:6080")
	o.NoVNCWeb = cmp.Or(o.NoVNCWeb, "/usr/share/novnc")
	return o
}

// DefaultSpecs returns the golden image's stack in start order: display, vnc, websockify, browser.
// DevTools and VNC listen on guest loopback only; websockify listens on the guest interface so that the
// host reaches it through the VMM's forward (and nothing else).
func DefaultSpecs(o StackOptions) ([]Spec, error) {
	o = o.withDefaults()
	w, h, err := screenSize(o.Screen)
	if err != nil {
		return nil, err
	}
	_, wsPort, err := net.SplitHostPort(o.WebsockifyListen)
	if err != nil {
		return nil, fmt.Errorf("websockify listen address: %w", err)
	}
	display := ":" + strconv.Itoa(o.Display)
	env := []string{"DISPLAY=" + display}
	loopback := func(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

	browserArgs := []string{
		"--user-data-dir=" + o.ProfileDir,
		"--remote-debugging-address=127.0.0.1",
		"--remote-debugging-port=" + strconv.Itoa(o.DevToolsPort),
		"--no-first-run", "--no-default-browser-check",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage",
		// Kiosk-ish: one window filling the screen, no window manager needed, address bar kept so the
		// user can reach the login page they want.
		"--window-position=0,0", fmt.Sprintf("--window-size=%d,%d", w, h), "--start-maximized",
	}
	if o.ChromiumNoSandbox {
		browserArgs = append(browserArgs, "--no-sandbox")
	}
	if o.ProxyServer != "" {
		browserArgs = append(browserArgs, "--proxy-server=http://"+o.ProxyServer)
	}
	if len(o.TrustSPKI) > 0 {
		browserArgs = append(browserArgs, "--ignore-certificate-errors-spki-list="+strings.Join(o.TrustSPKI, ","))
	}
	browserArgs = append(browserArgs, o.StartURL)

	wsPath, wsArgs := o.WebsockifyPath, []string{}
	if o.WebsockifySelf != "" {
		wsPath, wsArgs = o.WebsockifySelf, []string{WebsockifyCommand}
	} else if fi, err := os.Stat(o.NoVNCWeb); err == nil && fi.IsDir() {
		wsArgs = append(wsArgs, "--web", o.NoVNCWeb)
	}
	wsArgs = append(wsArgs, o.WebsockifyListen, loopback(o.VNCPort))

	// The browser comes last: once started, Chromium keeps a vCPU busy for tens of seconds, and under
	// TCG on a loaded host websockify's Python start-up behind it took over 30 s, so a 30 s readiness
	// timeout killed it again and again before it listened (TestRealQEMU, 2026-11-27). x11vnc and
	// websockify need only the display; started before the browser they are up in seconds, and the
	// long timeouts keep a slow start from turning into a restart loop.
	return []Spec{
		{
			Name: ChildDisplay, Path: o.XvfbPath,
			Args:     []string{display, "-screen", "0", o.Screen, "-nolisten", "tcp"},
			PreStart: removeFiles(fmt.Sprintf("/tmp/.X%d-lock", o.Display), filepath.Join(o.X11SocketDir, "X"+strconv.Itoa(o.Display))),
			Ready:    XDisplay(o.X11SocketDir, o.Display), ReadyTimeout: 60 * time.Second,
		},
		{
			Name: ChildVNC, Path: o.X11vncPath, Env: env,
			// -nonap: once idle for a while x11vnc naps between its polls, and the steps of a new
			// viewer's RFB handshake wait out the naps: 1.2-2.0 s before the first pixels after 75 s
			// idle on the bare host, 25 ms with -nonap (docs/PERFORMANCE.md, Browser VMs). A warm VM
			// has been idle for minutes when its viewer connects. Without a client x11vnc wakes as
			// often either way. -q: its lines for each viewer went to the serial console, an
			// emulated I/O write a byte under TCG.
			Args: []string{"-display", display, "-localhost", "-forever", "-shared", "-nopw", "-nonap",
				"-q", "-rfbport", strconv.Itoa(o.VNCPort)},
			Ready: TCPPort(loopback(o.VNCPort)), ReadyTimeout: 90 * time.Second,
		},
		{
			Name: ChildWebsockify, Path: wsPath, Args: wsArgs,
			Ready: TCPPort(net.JoinHostPort("127.0.0.1", wsPort)), ReadyTimeout: 180 * time.Second,
		},
		{
			Name: ChildBrowser, Path: o.ChromiumPath, Args: browserArgs, Env: env,
			PreStart: removeFiles(filepath.Join(o.ProfileDir, "SingletonLock"),
				filepath.Join(o.ProfileDir, "SingletonSocket"), filepath.Join(o.ProfileDir, "SingletonCookie")),
			// DevTools comes up 20-27 s after a cold boot under TCG on an idle host (DESIGN.md
			// section 7), and took up to 95 s on this 2-core machine at load average 6-10.
			Ready: TCPPort(loopback(o.DevToolsPort)), ReadyTimeout: 180 * time.Second,
		},
	}, nil
}

// removeFiles returns a PreStart that removes what a killed instance left behind. It is safe only
// because the supervisor has already killed that instance's whole process group, and nothing else in
// the guest runs this display or this profile.
func removeFiles(paths ...string) func() error {
	return func() error {
		for _, p := range paths {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		return nil
	}
}

func screenSize(s string) (w, h int, err error) {
	var d int
	if _, err := fmt.Sscanf(s, "%dx%dx%d", &w, &h, &d); err != nil || w <= 0 || h <= 0 || d <= 0 {
		return 0, 0, fmt.Errorf("screen %q: want WxHxDepth", s)
	}
	return w, h, nil
}
