package agent

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestDefaultSpecs(t *testing.T) {
	t.Parallel()
	specs, err := DefaultSpecs(StackOptions{NoVNCWeb: t.TempDir(), ProfileDir: "/p"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range specs {
		names = append(names, s.Name)
		if s.Ready == nil {
			t.Errorf("%s has no readiness check", s.Name)
		}
	}
	// The browser starts last, so that x11vnc and websockify do not start behind its CPU burn.
	if want := []string{ChildDisplay, ChildVNC, ChildWebsockify, ChildBrowser}; !slices.Equal(names, want) {
		t.Fatalf("order %v, want %v", names, want)
	}
	has := func(s Spec, args ...string) {
		t.Helper()
		joined := " " + strings.Join(s.Args, " ") + " "
		for _, a := range args {
			if !strings.Contains(joined, " "+a+" ") {
				t.Errorf("%s args %v lack %q", s.Name, s.Args, a)
			}
		}
	}
	const display, vnc, websockify, browser = 0, 1, 2, 3
	has(specs[display], ":99", "-screen 0 1024x768x24", "-nolisten tcp")
	has(specs[browser], "--user-data-dir=/p", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=9222",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--window-size=1024,768")
	has(specs[vnc], "-display :99", "-localhost", "-forever", "-shared", "-nopw", "-nonap", "-q", "-rfbport 5900")
	has(specs[websockify], "--web", "0.0.0.0:6080 127.0.0.1:5900")
	if slices.Contains(specs[browser].Args, "--no-sandbox") {
		t.Error("--no-sandbox without ChromiumNoSandbox")
	}
	if !slices.Contains(specs[browser].Env, "DISPLAY=:99") || !slices.Contains(specs[vnc].Env, "DISPLAY=:99") {
		t.Error("browser and vnc need DISPLAY=:99")
	}

	noWeb, err := DefaultSpecs(StackOptions{NoVNCWeb: "/does/not/exist", Display: 7, Screen: "800x600x16"})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(noWeb[websockify].Args, "--web") {
		t.Error("--web given for a missing noVNC root")
	}
	has(noWeb[display], ":7", "800x600x16")

	// The agent's own relay: its binary with the websockify subcommand, no --web.
	own, err := DefaultSpecs(StackOptions{WebsockifySelf: "/usr/local/bin/polydev-agent"})
	if err != nil {
		t.Fatal(err)
	}
	if own[websockify].Path != "/usr/local/bin/polydev-agent" || !slices.Equal(own[websockify].Args, []string{WebsockifyCommand, "0.0.0.0:6080", "127.0.0.1:5900"}) {
		t.Errorf("builtin relay spec %s %v", own[websockify].Path, own[websockify].Args)
	}
	if _, err := DefaultSpecs(StackOptions{Screen: "big"}); err == nil {
		t.Error("bad screen accepted")
	}
}

func TestPreStartClearsLeftovers(t *testing.T) {
	t.Parallel()
	profile, sockets := t.TempDir(), t.TempDir()
	specs, err := DefaultSpecs(StackOptions{ProfileDir: profile, X11SocketDir: sockets, Display: 4242})
	if err != nil {
		t.Fatal(err)
	}
	leftovers := []string{filepath.Join(sockets, "X4242"), filepath.Join(profile, "SingletonLock"), filepath.Join(profile, "SingletonSocket")}
	for _, p := range leftovers {
		if err := os.Symlink("host-12345", p); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range specs {
		if s.PreStart == nil {
			continue
		}
		if err := s.PreStart(); err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
	}
	for _, p := range leftovers {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s survived PreStart", p)
		}
	}
}
