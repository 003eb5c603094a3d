package main

import (
	"flag"
	"io"
	"strconv"
	"time"

	"github.com/polydev/polydev/agent"
)

// config is everything the agent reads from flags and the environment.
type config struct {
	Version     bool
	Listen      string
	Cmdline     string
	Grace       time.Duration
	Home        string
	EgressProxy string
	StateDir    string
	Stack       agent.StackOptions
}

// parseConfig reads flags, each defaulting to its POLYDEV_AGENT_* variable, then to the built-in value.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	env := func(name, def string) string {
		if v := getenv("POLYDEV_AGENT_" + name); v != "" {
			return v
		}
		return def
	}
	envInt := func(name string, def int) int {
		if n, err := strconv.Atoi(getenv("POLYDEV_AGENT_" + name)); err == nil {
			return n
		}
		return def
	}
	envDur := func(name string, def time.Duration) time.Duration {
		if d, err := time.ParseDuration(getenv("POLYDEV_AGENT_" + name)); err == nil {
			return d
		}
		return def
	}

	var c config
	s := &c.Stack
	fs := flag.NewFlagSet("polydev-agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&c.Version, "version", false, "print the version and exit")
	fs.StringVar(&c.Listen, "listen", env("LISTEN", ":3000"), "health and hand-back address (POLYDEV_AGENT_LISTEN)")
	fs.StringVar(&c.Cmdline, "cmdline", env("CMDLINE", "/proc/cmdline"), "kernel command line, read for polydev.egress= and polydev.ca= (POLYDEV_AGENT_CMDLINE)")
	fs.StringVar(&c.EgressProxy, "egress-proxy", env("EGRESS_PROXY", ""), "egress proxy host:port for Chromium and the CLIs, \"off\" for none; default polydev.egress= on the kernel command line, else "+defaultEgressProxy+" (POLYDEV_AGENT_EGRESS_PROXY)")
	fs.StringVar(&c.Home, "home", env("HOME", "/root"), "HOME of the coding CLIs' logins (POLYDEV_AGENT_HOME)")
	fs.StringVar(&c.StateDir, "state-dir", env("STATE_DIR", "/run/polydev-agent"), "where the agent writes extra CA files (POLYDEV_AGENT_STATE_DIR)")
	fs.DurationVar(&c.Grace, "grace", envDur("GRACE", 5*time.Second), "SIGTERM to SIGKILL grace period at shutdown (POLYDEV_AGENT_GRACE)")

	fs.IntVar(&s.Display, "display", envInt("DISPLAY", 99), "X display number (POLYDEV_AGENT_DISPLAY)")
	fs.StringVar(&s.Screen, "screen", env("SCREEN", "1024x768x24"), "Xvfb screen WxHxDepth (POLYDEV_AGENT_SCREEN)")
	fs.StringVar(&s.XvfbPath, "xvfb", env("XVFB", "Xvfb"), "Xvfb command (POLYDEV_AGENT_XVFB)")
	fs.StringVar(&s.ChromiumPath, "chromium", env("CHROMIUM", "chromium"), "Chromium command (POLYDEV_AGENT_CHROMIUM)")
	fs.StringVar(&s.X11vncPath, "x11vnc", env("X11VNC", "x11vnc"), "x11vnc command (POLYDEV_AGENT_X11VNC)")
	fs.StringVar(&s.WebsockifyPath, "websockify", env("WEBSOCKIFY", builtinWebsockify), "websockify command, or \"builtin\" for this binary's own relay (POLYDEV_AGENT_WEBSOCKIFY)")
	fs.StringVar(&s.ProfileDir, "profile-dir", env("PROFILE_DIR", "/var/lib/polydev-agent/profile"), "Chromium profile directory (POLYDEV_AGENT_PROFILE_DIR)")
	fs.StringVar(&s.StartURL, "start-url", env("START_URL", "about:blank"), "page the browser opens (POLYDEV_AGENT_START_URL)")
	fs.IntVar(&s.DevToolsPort, "devtools-port", envInt("DEVTOOLS_PORT", 9222), "DevTools port on guest loopback (POLYDEV_AGENT_DEVTOOLS_PORT)")
	fs.BoolVar(&s.ChromiumNoSandbox, "no-sandbox", env("NO_SANDBOX", "") == "1", "run Chromium with --no-sandbox, needed as root (POLYDEV_AGENT_NO_SANDBOX=1)")
	fs.IntVar(&s.VNCPort, "vnc-port", envInt("VNC_PORT", 5900), "x11vnc port on guest loopback (POLYDEV_AGENT_VNC_PORT)")
	fs.StringVar(&s.WebsockifyListen, "websockify-listen", env("WEBSOCKIFY_LISTEN", "0.0.0.0:6080"), "websockify address, the port the host forwards (POLYDEV_AGENT_WEBSOCKIFY_LISTEN)")
	fs.StringVar(&s.NoVNCWeb, "novnc-web", env("NOVNC_WEB", "/usr/share/novnc"), "noVNC web root, used when it exists (POLYDEV_AGENT_NOVNC_WEB)")
	fs.StringVar(&s.X11SocketDir, "x11-socket-dir", env("X11_SOCKET_DIR", agent.X11SocketDir), "where Xvfb puts its socket (POLYDEV_AGENT_X11_SOCKET_DIR)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return config{}, flag.ErrHelp
	}
	return c, nil
}
