package controller

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/polydev/polydev/vm"
)

// TestGoldenSettles: the golden VM is snapshotted only once its hypervisor's CPU use falls to
// GoldenIdle, and when it never does, once GoldenSettle has passed.
func TestGoldenSettles(t *testing.T) {
	for _, tc := range []struct {
		name      string
		busy      []time.Duration // CPU used in successive windows of 10 ms
		settle    time.Duration
		wantReads int // CPUTime calls before the snapshot
	}{
		{"settles on the third window", []time.Duration{10 * time.Millisecond, 8 * time.Millisecond, time.Millisecond}, time.Minute, 6},
		// The bound is 20 windows, so that a loaded host's late timers still leave two windows before it.
		{"never settles: snapshot at the bound", []time.Duration{10 * time.Millisecond}, 200 * time.Millisecond, -1},
		{"no settling configured", nil, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, vm.NetUser, nil)
			e.cfg.Image.SnapshotDir = filepath.Join(e.dir, "image", "snapshot")
			e.cfg.GoldenSettle, e.cfg.GoldenWindow, e.cfg.GoldenIdle = tc.settle, 10*time.Millisecond, 0.2
			var mu sync.Mutex
			reads, total, window := 0, time.Duration(0), 0
			readsAtSnapshot := -2
			e.cfg.CPUTime = func(pid int) (time.Duration, error) {
				mu.Lock()
				defer mu.Unlock()
				if pid != 4242 {
					t.Errorf("CPUTime(%d), want the golden VM's pid 4242", pid)
				}
				reads++
				if reads%2 == 0 { // the end of a window: add what the guest used in it
					total += tc.busy[min(window, len(tc.busy)-1)]
					window++
				}
				return total, nil
			}
			e.d.hook = func(method, id string) error {
				switch method {
				case "Start":
					e.procs.mu.Lock()
					e.procs.procs[4242] = vm.Names(id).Key
					e.procs.mu.Unlock()
				case "Snapshot":
					mu.Lock()
					readsAtSnapshot = reads
					mu.Unlock()
				}
				return nil
			}
			e.c = e.newController()
			if err := e.c.PrepareGolden(t.Context()); err != nil {
				t.Fatal(err)
			}
			if len(e.snapshots()) != 1 {
				t.Fatal("no snapshot made")
			}
			switch {
			case tc.wantReads >= 0 && readsAtSnapshot != tc.wantReads:
				t.Fatalf("snapshot after %d CPU readings, want %d", readsAtSnapshot, tc.wantReads)
			case tc.wantReads < 0 && readsAtSnapshot < 4:
				t.Fatalf("snapshot after %d CPU readings: it did not wait for the bound", readsAtSnapshot)
			}
		})
	}
}

func TestProcCPUTime(t *testing.T) {
	before, err := procCPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Spin until the process's CPU time moves (clock ticks are 10 ms, and on a loaded machine a
	// 50 ms spin may get no tick at all); 10 s of spinning without one is a broken reader.
	after := before
	for deadline := time.Now().Add(10 * time.Second); after <= before && time.Now().Before(deadline); {
		for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); {
		}
		if after, err = procCPUTime(os.Getpid()); err != nil {
			t.Fatal(err)
		}
	}
	if after <= before {
		t.Fatalf("CPU time did not grow while spinning: %v then %v", before, after)
	}
	if _, err := procCPUTime(1 << 30); err == nil {
		t.Fatal("a pid that cannot exist was measured")
	}
}
