package controller

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/polydev/polydev/vm"
)

// settleGolden waits, up to GoldenSettle, until golden VM id's hypervisor uses at most GoldenIdle
// of a core over GoldenWindow, so that the snapshot captures a guest at rest. Only ctx ending is an
// error: a VM that never settles is snapshotted when the bound passes, and one whose process
// cannot be found or measured is snapshotted at once (both logged).
func (c *Controller) settleGolden(ctx context.Context, id string) error {
	if c.cfg.GoldenSettle <= 0 {
		return nil
	}
	pid, err := c.pidOf(ctx, id)
	if err != nil {
		c.log.Warn("golden VM: cannot measure its CPU; snapshotting now", "vm", id, "err", err)
		return nil
	}
	began := time.Now()
	deadline := began.Add(c.cfg.GoldenSettle)
	for {
		before, err := c.cfg.CPUTime(pid)
		if err != nil {
			c.log.Warn("golden VM: cannot measure its CPU; snapshotting now", "vm", id, "err", err)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(c.cfg.GoldenWindow):
		}
		after, err := c.cfg.CPUTime(pid)
		if err != nil {
			c.log.Warn("golden VM: cannot measure its CPU; snapshotting now", "vm", id, "err", err)
			return nil
		}
		use := float64(after-before) / float64(c.cfg.GoldenWindow)
		switch {
		case use <= c.cfg.GoldenIdle:
			c.log.Info("golden VM settled", "vm", id, "after", time.Since(began).Round(time.Second), "cpu", fmt.Sprintf("%.0f%%", 100*use))
			return nil
		case time.Now().After(deadline):
			c.log.Warn("golden VM still busy; snapshotting anyway", "vm", id, "after", time.Since(began).Round(time.Second), "cpu", fmt.Sprintf("%.0f%%", 100*use))
			return nil
		}
	}
}

// pidOf finds the hypervisor process of VM id among this controller's.
func (c *Controller) pidOf(ctx context.Context, id string) (int, error) {
	procs, err := c.cfg.Processes.List(ctx)
	if err != nil {
		return 0, err
	}
	key := vm.Names(id).Key
	for _, p := range procs {
		if p.Key == key {
			return p.PID, nil
		}
	}
	return 0, errors.New("no hypervisor process found")
}

// procCPUTime is utime+stime of pid from /proc/<pid>/stat, in USER_HZ ticks of 10 ms (the value
// Linux uses on every architecture Polydev runs on).
func procCPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0, errors.New("malformed /proc stat")
	}
	f := bytes.Fields(b[i+2:])
	if len(f) < 13 {
		return 0, errors.New("malformed /proc stat")
	}
	ut, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}
