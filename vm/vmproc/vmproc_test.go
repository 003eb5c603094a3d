package vmproc

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestArgv(t *testing.T) {
	t.Parallel()
	c := Command{Binary: "/bin/vmm", Args: []string{"-a", "b"}}
	if name, args := c.Argv(); name != "/bin/vmm" || !slices.Equal(args, []string{"-a", "b"}) {
		t.Fatalf("host: %s %q", name, args)
	}
	c.Netns = "pdvn-1"
	if name, args := c.Argv(); name != "ip" || !slices.Equal(args, []string{"netns", "exec", "pdvn-1", "/bin/vmm", "-a", "b"}) {
		t.Fatalf("netns: %s %q", name, args)
	}
}

// TestStartAndWaitExit runs a real child (sh, then sleep) that would run for a minute: it must start
// with its pid file and log, and WaitExit with no grace period must kill and reap it.
func TestStartAndWaitExit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := Command{Name: "test", Binary: "/bin/sh", Args: []string{"-c", "echo started; exec sleep 60"},
		PIDPath: filepath.Join(dir, "pid"), LogPath: filepath.Join(dir, "log")}
	p, err := Start(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := os.ReadFile(c.PIDPath)
	if strings.TrimSpace(string(pid)) != strconv.Itoa(p.Pid()) {
		t.Fatalf("pid file %q, pid %d", pid, p.Pid())
	}
	if err := WaitExit(t.Context(), p, 0, "test"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	default:
		t.Fatal("process not reaped after WaitExit")
	}
	if err := p.Kill(); err != nil {
		t.Fatalf("Kill after exit: %v", err)
	}
	if _, err := Start(t.Context(), Command{Name: "test"}); err == nil {
		t.Fatal("Start without a binary succeeded")
	}
}
