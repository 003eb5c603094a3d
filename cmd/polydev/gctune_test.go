package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestGCPercentFor(t *testing.T) {
	const mb = 1 << 20
	for _, c := range []struct {
		live, scan uint64
		want       int
	}{
		{0, 0, gcPercent},              // nothing read yet
		{1 * mb, 1 * mb, maxGCPercent}, // the floor would need 3100%
		{4 * mb, 4 * mb, 700},          // 4 MB + 7 × 4 MB = the floor
		{4 * mb, 5 * mb, 560},          // stacks and globals count: 4 MB + 5.6 × 5 MB
		{8 * mb, 8 * mb, 300},          // 8 + 3 × 8
		{10 * mb, 11 * mb, 200},        // 10 + 2 × 11: the floor is reached at gcPercent
		{10 * mb, 10*mb + mb/2, 209},   // a little more than gcPercent
		{heapGoalFloor, heapGoalFloor, gcPercent},
		{1 << 30, 1 << 30, gcPercent},
	} {
		got := gcPercentFor(c.live, c.scan)
		if got != c.want {
			t.Errorf("gcPercentFor(%d, %d) = %d, want %d", c.live, c.scan, got, c.want)
		}
		// The goal the runtime derives is at the floor (within rounding) unless capped or past it.
		if goal := c.live + c.scan*uint64(got)/100; got > gcPercent && got < maxGCPercent && (goal > heapGoalFloor || goal < heapGoalFloor-c.scan/100) {
			t.Errorf("live %d, scan %d: goal %d, want the floor %d", c.live, c.scan, goal, heapGoalFloor)
		}
	}
}

// TestGCTunerFollowsTheLiveHeap runs the tuner in this process: with the test binary's small live
// heap the goal is raised to the floor after a collection; with a large live heap the percentage
// comes back to gcPercent; stopped, the runtime's default is back.
func TestGCTunerFollowsTheLiveHeap(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	tu := startGCTuner()
	defer tu.stop()

	// waitPercent collects until the tuner's cleanup has run and set want (the cleanup runs on
	// its own goroutine after a collection's sweep).
	waitPercent := func(want int64) {
		t.Helper()
		for i := 0; i < 500 && tu.current.Load() != want; i++ {
			runtime.GC()
			time.Sleep(2 * time.Millisecond)
		}
		if got := tu.current.Load(); got != want {
			t.Fatalf("percentage %d, want %d", got, want)
		}
	}
	read := func(name string) uint64 {
		s := []metrics.Sample{{Name: name}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	live := func() uint64 { return read("/gc/heap/live:bytes") }
	goal := func() uint64 { return read("/gc/heap/goal:bytes") }
	scan := func() uint64 { return live() + read("/gc/scan/stack:bytes") + read("/gc/scan/globals:bytes") }

	runtime.GC()
	small := live()
	if small*3 >= heapGoalFloor {
		t.Skipf("SKIP: the test binary's live heap (%d bytes) is already past a third of the floor", small)
	}
	waitPercent(int64(gcPercentFor(live(), scan())))
	if g := goal(); g < heapGoalFloor*9/10 || g > heapGoalFloor*11/10 {
		t.Fatalf("live heap %d: goal %d, want about the floor %d", live(), g, heapGoalFloor)
	}

	big := make([][]byte, 64)
	for i := range big {
		big[i] = make([]byte, 1<<20) // 64 MB live: past a third of the floor
	}
	waitPercent(gcPercent)
	runtime.KeepAlive(big)
	if g := goal(); g > live()*(100+gcPercent+50)/100 {
		t.Fatalf("live heap %d: goal %d, want about %d%% more", live(), g, gcPercent)
	}
	big = nil

	tu.stop()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("after stop the percentage is %d, want the default 100", got)
	}
}
