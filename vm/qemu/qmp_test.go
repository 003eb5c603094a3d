package qemu

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// shortDir is a temporary directory short enough for unix socket paths (t.TempDir embeds the test
// name and can pass sun_path's 107 bytes).
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pdq")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// startFakeQMP serves a fake QEMU started with args on a socket and returns a connected Client.
func startFakeQMP(t *testing.T, b *behaviour, args ...string) (*Client, *qmpRecorder, chan struct{}) {
	t.Helper()
	sock := filepath.Join(shortDir(t), "q.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	rec := &qmpRecorder{}
	f := newFakeQMP(args, rec, b, func() { ln.Close(); close(exited) })
	go f.serve(ln)
	t.Cleanup(func() { ln.Close() })
	c, err := Dial(t.Context(), sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, rec, exited
}

func TestClientNegotiatesAndCollectsEvents(t *testing.T) {
	t.Parallel()
	c, rec, _ := startFakeQMP(t, nil, "-S")
	if c.Greeting.QMP.Version.QEMU.Major != 9 {
		t.Errorf("greeting = %+v", c.Greeting)
	}
	st, err := c.QueryStatus(t.Context())
	if err != nil || st.Status != "prelaunch" || st.Running {
		t.Fatalf("QueryStatus = %+v, %v", st, err)
	}
	if err := c.Cont(t.Context()); err != nil { // RESUME event arrives before the reply
		t.Fatal(err)
	}
	if err := c.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.QueryStatus(t.Context()); st.Status != "paused" {
		t.Fatalf("status after stop = %q", st.Status)
	}
	var names []string
	for _, e := range c.Events() {
		names = append(names, e.Event)
	}
	if !slices.Equal(names, []string{"RESUME", "STOP"}) {
		t.Errorf("events = %q", names)
	}
	if got := rec.names(); !slices.Equal(got, []string{"qmp_capabilities", "cont", "stop"}) {
		t.Errorf("commands = %q", got)
	}
}

func TestClientErrorReply(t *testing.T) {
	t.Parallel()
	b := &behaviour{}
	b.setFail("system_powerdown", "No ACPI device")
	c, _, _ := startFakeQMP(t, b)
	err := c.SystemPowerdown(t.Context())
	var qe *QMPError
	if !errors.As(err, &qe) || qe.Class != "GenericError" || qe.Desc != "No ACPI device" || qe.Command != "system_powerdown" {
		t.Fatalf("err = %#v", err)
	}
	if err := c.Execute(t.Context(), "no-such-command", nil, nil); !errors.As(err, &qe) {
		t.Fatalf("unknown command err = %v", err)
	}
	if _, err := c.QueryStatus(t.Context()); err != nil {
		t.Fatalf("the connection did not survive an error reply: %v", err)
	}
}

func TestClientSocketClosedMidCommand(t *testing.T) {
	t.Parallel()
	b := &behaviour{}
	b.setHangup("migrate")
	c, _, _ := startFakeQMP(t, b)
	if err := c.Migrate(t.Context(), "fd:nonexistent"); !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v, want ErrClosed", err)
	}
	if err := c.Cont(t.Context()); !errors.Is(err, ErrClosed) {
		t.Fatalf("command after close = %v, want ErrClosed", err)
	}
}

func TestClientQuitEndsConnection(t *testing.T) {
	t.Parallel()
	c, _, exited := startFakeQMP(t, nil)
	if err := c.Quit(t.Context()); err != nil {
		t.Fatal(err)
	}
	<-exited
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the client did not notice the closed socket")
	}
}

// passFile hands a new file in dir to the fake under name, as getfd does.
func passFile(t *testing.T, c *Client, name string) string {
	t.Helper()
	path := filepath.Join(shortDir(t), name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() // the fake has its own duplicate
	if err := c.GetFD(t.Context(), name, f); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestClientMigration(t *testing.T) {
	t.Parallel()
	t.Run("completed", func(t *testing.T) {
		c, rec, _ := startFakeQMP(t, nil)
		if err := c.MigrateSetMaxBandwidth(t.Context(), 1<<30); err != nil {
			t.Fatal(err)
		}
		if err := c.MigrateSetCapabilities(t.Context(), map[string]bool{"x-ignore-shared": true}); err != nil {
			t.Fatal(err)
		}
		state := passFile(t, c, "vmstate")
		if err := c.Migrate(t.Context(), "fd:vmstate"); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitMigration(t.Context(), time.Millisecond); err != nil {
			t.Fatal(err)
		}
		for cmd, want := range map[string]string{
			"migrate-set-parameters":   `{"max-bandwidth":1073741824}`,
			"migrate-set-capabilities": `{"capabilities":[{"capability":"x-ignore-shared","state":true}]}`,
			"getfd":                    `{"fdname":"vmstate"}`,
			"migrate":                  `{"uri":"fd:vmstate"}`,
		} {
			if got := rec.args(cmd); got != want {
				t.Errorf("%s arguments = %s, want %s", cmd, got, want)
			}
		}
		if data, err := os.ReadFile(state); err != nil || string(data) != "fake vmstate\n" {
			t.Errorf("state written through the passed descriptor = %q, %v", data, err)
		}
	})
	t.Run("no descriptor", func(t *testing.T) {
		c, _, _ := startFakeQMP(t, nil)
		err := c.Execute(t.Context(), "getfd", map[string]any{"fdname": "x"}, nil)
		if qe, ok := errors.AsType[*QMPError](err); !ok || !strings.Contains(qe.Desc, "SCM_RIGHTS") {
			t.Fatalf("getfd without a descriptor = %v", err)
		}
		if err := c.ExecuteWithFile(t.Context(), "getfd", nil, nil, nil); err == nil {
			t.Fatal("ExecuteWithFile accepted a nil file")
		}
	})
	t.Run("file URI refused as by QEMU 7.2", func(t *testing.T) {
		c, _, _ := startFakeQMP(t, nil)
		if err := c.Migrate(t.Context(), "file:/tmp/x"); err == nil {
			t.Fatal("file: accepted")
		}
	})
	t.Run("failed", func(t *testing.T) {
		c, _, _ := startFakeQMP(t, &behaviour{migrationFails: "No space left on device"})
		passFile(t, c, "vmstate")
		if err := c.Migrate(t.Context(), "fd:vmstate"); err != nil {
			t.Fatal(err)
		}
		err := c.WaitMigration(t.Context(), time.Millisecond)
		var me *MigrationError
		if !errors.As(err, &me) || me.Status != "failed" || me.Desc != "No space left on device" {
			t.Fatalf("err = %v, want a failed MigrationError", err)
		}
	})
	t.Run("cancelled wait", func(t *testing.T) {
		c, _, _ := startFakeQMP(t, nil)
		passFile(t, c, "vmstate")
		if err := c.Migrate(t.Context(), "fd:vmstate"); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := c.WaitMigration(ctx, time.Hour); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}

func TestDialRequiresGreeting(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(shortDir(t), "silent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // accepts and says nothing, like a wedged QEMU
		c, err := ln.Accept()
		if err == nil {
			<-t.Context().Done()
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := Dial(ctx, sock); err == nil {
		t.Fatal("Dial succeeded without a greeting")
	}
}
