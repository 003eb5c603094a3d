package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// The collector's pacing for the server (docs/PERFORMANCE.md, "The collector's heap goal").
//
// The Go runtime's default (GOGC=100) collects when the heap has doubled. A gateway's live heap is
// small (a few MB idle, tens of MB with a thousand open streams) and it allocates fast, so
// collecting at three times the live heap (gcPercent) costs about a tenth less CPU per request.
// With a small live heap even that means a collection every few MB of allocation: a few hundred
// requests. Each collection has a fixed part (stacks, globals, the phase changes and the workers'
// wake-ups) that does not shrink with the heap, so the goal gets a floor (heapGoalFloor): below it
// the percentage is raised so that the next goal is the floor. Memory stays bounded by the floor
// while the live heap is small; once the live heap passes a third of it, the percentage is
// gcPercent again and memory grows with the live heap as before. GOGC in the environment still
// decides (nothing is tuned then); a GOMEMLIMIT still caps the heap, whatever the percentage.
const (
	gcPercent     = 200
	heapGoalFloor = 32 << 20
	// The runtime never aims below 4 MB times the percentage (its heap minimum): past this a tiny
	// heap would get a goal above the floor.
	maxGCPercent = heapGoalFloor / (4 << 20) * 100
)

// gcPercentFor returns the percentage that puts the next heap goal at the floor, or gcPercent when
// that already does. The runtime's goal is the live heap plus the percentage of what the collector
// scans: the live heap, goroutine stacks and globals (live and scan, in bytes).
func gcPercentFor(live, scan uint64) int {
	if scan == 0 || live+scan*gcPercent/100 >= heapGoalFloor {
		return gcPercent
	}
	return int(min((heapGoalFloor-live)*100/scan, maxGCPercent))
}

// gcTuner re-reads the live heap after every collection and sets the percentage for the next one.
// It needs no goroutine and no timer: a cleanup on an object that nothing references runs once
// per collection (after the sweep that finds it dead), and re-arms itself with a new object.
type gcTuner struct {
	stopped atomic.Bool
	current atomic.Int64 // the percentage last set
	sample  []metrics.Sample
	mu      sync.Mutex // sample
}

// sentinel is what the tuner's cleanup hangs on: a pointer field keeps it out of the tiny
// allocator (whose blocks are shared, and freed together).
type sentinel struct {
	_ *byte
	_ [8]byte
}

var (
	serverGC     *gcTuner
	serverGCOnce sync.Once
)

// tuneServerGC starts the server's pacing once per process, unless GOGC is set.
func tuneServerGC(getenv func(string) string) {
	if getenv("GOGC") != "" {
		return
	}
	serverGCOnce.Do(func() { serverGC = startGCTuner() })
}

func startGCTuner() *gcTuner {
	t := &gcTuner{sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"}}}
	t.current.Store(gcPercent)
	debug.SetGCPercent(gcPercent)
	t.retune()
	t.arm()
	return t
}

func (t *gcTuner) arm() {
	runtime.AddCleanup(new(sentinel), func(t *gcTuner) {
		if t.stopped.Load() {
			return
		}
		t.retune()
		t.arm()
	}, t)
}

// retune sets the percentage for the live heap the last collection found, when it moved by more
// than a tenth (setting it takes the heap lock).
func (t *gcTuner) retune() {
	t.mu.Lock()
	metrics.Read(t.sample)
	var b [3]uint64 // live heap, stacks, globals
	for i, s := range t.sample {
		if s.Value.Kind() == metrics.KindUint64 {
			b[i] = s.Value.Uint64()
		}
	}
	t.mu.Unlock()
	want := int64(gcPercentFor(b[0], b[0]+b[1]+b[2]))
	if cur := t.current.Load(); want*10 > cur*11 || want*11 < cur*10 {
		t.current.Store(want)
		debug.SetGCPercent(int(want))
	}
}

// stop ends the tuning and puts the runtime's default back (tests).
func (t *gcTuner) stop() {
	t.stopped.Store(true)
	debug.SetGCPercent(100)
}
