package main

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func us(xs ...int) []time.Duration {
	out := make([]time.Duration, len(xs))
	for i, x := range xs {
		out[i] = time.Duration(x) * time.Microsecond
	}
	return out
}

func TestQuantile(t *testing.T) {
	cases := []struct {
		name string
		xs   []time.Duration
		q    float64
		want time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"single median", us(7), 0.5, 7 * time.Microsecond},
		{"single p99", us(7), 0.99, 7 * time.Microsecond},
		{"odd median", us(1, 2, 3), 0.5, 2 * time.Microsecond},
		{"even median is the mean of the middle two", us(1, 2, 3, 10), 0.5, 2500 * time.Nanosecond},
		{"min", us(1, 2, 3), 0, 1 * time.Microsecond},
		{"max", us(1, 2, 3), 1, 3 * time.Microsecond},
		{"clamped below", us(1, 2, 3), -1, 1 * time.Microsecond},
		{"clamped above", us(1, 2, 3), 2, 3 * time.Microsecond},
	}
	for _, c := range cases {
		if got := Quantile(c.xs, c.q); got != c.want {
			t.Errorf("%s: Quantile(%v, %v) = %v, want %v", c.name, c.xs, c.q, got, c.want)
		}
	}
}

func TestP99OfHundredAndThousand(t *testing.T) {
	// 1..100 µs: rank position 0.99*99 = 98.01, between 99 µs and 100 µs.
	xs := make([]time.Duration, 100)
	for i := range xs {
		xs[i] = time.Duration(i+1) * time.Microsecond
	}
	if got, want := Quantile(xs, 0.99), 99010*time.Nanosecond; got != want {
		t.Errorf("p99 of 1..100 µs = %v, want %v", got, want)
	}
	// 1..1000 µs: position 989.01, between 990 µs and 991 µs.
	xs = make([]time.Duration, 1000)
	for i := range xs {
		xs[i] = time.Duration(i+1) * time.Microsecond
	}
	if got, want := Quantile(xs, 0.99), 990010*time.Nanosecond; got != want {
		t.Errorf("p99 of 1..1000 µs = %v, want %v", got, want)
	}
	// One slow outlier in 1000 does not move p99; eleven do.
	xs = slices.Repeat(us(100), 1000)
	xs[0] = time.Second
	if s := Summarize(xs); s.P99 != 100*time.Microsecond || s.Median != 100*time.Microsecond || s.N != 1000 {
		t.Errorf("one outlier: %+v", s)
	}
	for i := range 11 {
		xs[i] = time.Second
	}
	if s := Summarize(xs); s.P99 != time.Second {
		t.Errorf("eleven outliers: p99 = %v, want 1s", s.P99)
	}
}

func TestSummarizeSortsAnyOrder(t *testing.T) {
	xs := us(9, 1, 5, 3, 7)
	s := Summarize(xs)
	if s.Median != 5*time.Microsecond || s.N != 5 {
		t.Errorf("Summarize = %+v", s)
	}
	if !slices.IsSorted(xs) {
		t.Errorf("Summarize did not sort in place: %v", xs)
	}
}

func TestScheduleInterleaves(t *testing.T) {
	got := Schedule(3, 4)
	want := [][]int{{0, 1, 2}, {1, 2, 0}, {2, 0, 1}, {0, 1, 2}}
	if !slices.EqualFunc(got, want, slices.Equal[[]int]) {
		t.Fatalf("Schedule(3, 4) = %v, want %v", got, want)
	}
	// Over a multiple of n rounds every target takes every position exactly equally often,
	// and each round measures every target once.
	for _, n := range []int{1, 2, 3, 5} {
		rounds := Schedule(n, 4*n)
		pos := make([][]int, n)
		for i := range pos {
			pos[i] = make([]int, n)
		}
		for _, r := range rounds {
			seen := make([]bool, n)
			for p, target := range r {
				if seen[target] {
					t.Fatalf("n=%d: round %v measures target %d twice", n, r, target)
				}
				seen[target] = true
				pos[target][p]++
			}
		}
		for target, counts := range pos {
			for p, c := range counts {
				if c != 4 {
					t.Errorf("n=%d: target %d at position %d %d times, want 4", n, target, p, c)
				}
			}
		}
	}
}

func TestRatioAndAdded(t *testing.T) {
	if got := Added(1500*time.Microsecond, 1000*time.Microsecond); got != 500*time.Microsecond {
		t.Errorf("Added = %v", got)
	}
	if got := Ratio(2*time.Millisecond, 100*time.Microsecond); got != "20.0x" {
		t.Errorf("Ratio = %q", got)
	}
	if got := Ratio(2*time.Millisecond, -time.Microsecond); !strings.HasPrefix(got, "n/m") {
		t.Errorf("Ratio with non-positive ours = %q", got)
	}
	if got := Ratio(0, time.Microsecond); !strings.HasPrefix(got, "n/m") {
		t.Errorf("Ratio with non-positive peer = %q", got)
	}
}

func TestFormat(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                        "0 µs",
		149 * time.Microsecond:   "149 µs",
		-20 * time.Microsecond:   "-20 µs",
		9999 * time.Microsecond:  "9999 µs",
		12340 * time.Microsecond: "12.3 ms",
		1500 * time.Millisecond:  "1.50 s",
	} {
		if got := FormatDur(d); got != want {
			t.Errorf("FormatDur(%v) = %q, want %q", d, got, want)
		}
	}
	if got := FormatBytes(150 << 20); got != "150.0 MiB" {
		t.Errorf("FormatBytes = %q", got)
	}
}

func TestFindData(t *testing.T) {
	// The SSE scanner must find "data:" even when a read splits it, and ignore comments.
	var f dataFinder
	chunks := []string{": ping\n\nda", "ta: {}\n"}
	found := -1
	for i, c := range chunks {
		if f.feed([]byte(c)) {
			found = i
			break
		}
	}
	if found != 1 {
		t.Errorf("split data: found in chunk %d, want 1", found)
	}
	f = dataFinder{}
	if f.feed([]byte(": ping\n\n")) || f.feed([]byte("event: x\n")) {
		t.Error("comment or event line taken for data")
	}
	if f.feed([]byte("xxdata:")) {
		t.Error("data: in the middle of a line taken for a data line")
	}
	if !f.feed([]byte("\r\ndata: {}")) {
		t.Error("data line after CRLF not found")
	}
}

func TestPairedRatios(t *testing.T) {
	u := time.Microsecond
	med, lo, hi, n := pairedRatios([]time.Duration{120 * u, 300 * u, 110 * u, 100 * u}, []time.Duration{100 * u, 100 * u, 100 * u})
	if n != 3 || med != 1.2 || lo != 1.1 || hi != 3 {
		t.Fatalf("3 pairs: median %v, range %v–%v, n %d; want 1.2, 1.1–3, 3", med, lo, hi, n)
	}
	med, _, _, n = pairedRatios([]time.Duration{100 * u, 130 * u}, []time.Duration{100 * u, 100 * u})
	if n != 2 || med != 1.15 {
		t.Fatalf("2 pairs: median %v, n %d; want 1.15, 2", med, n)
	}
	if _, _, _, n := pairedRatios(nil, []time.Duration{u}); n != 0 {
		t.Fatalf("no rounds of ours: n %d", n)
	}
	if _, _, _, n := pairedRatios([]time.Duration{u}, []time.Duration{0}); n != 0 {
		t.Fatalf("a round of theirs without CPU counted: n %d", n)
	}
}

func TestCPUSampleSub(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		s0, s cpuSample
		want  time.Duration
	}{
		{cpuSample{ns: 1000 * ms, ticks: 1000 * ms}, cpuSample{ns: 1123 * ms, ticks: 1120 * ms}, 123 * ms}, // nanoseconds
		{cpuSample{ns: -1, ticks: 1000 * ms}, cpuSample{ns: 1123 * ms, ticks: 1120 * ms}, 120 * ms},        // no schedstat before
		{cpuSample{ns: 1000 * ms, ticks: 1000 * ms}, cpuSample{ns: 1010 * ms, ticks: 1120 * ms}, 120 * ms}, // a thread exited
		{cpuSample{ns: 1000 * ms, ticks: 1000 * ms}, cpuSample{ns: 1000*ms + 5*time.Microsecond, ticks: 1000 * ms}, 5 * time.Microsecond},
	} {
		if got := c.s.Sub(c.s0); got != c.want {
			t.Errorf("%+v − %+v = %v, want %v", c.s, c.s0, got, c.want)
		}
	}
	if s := procCPU(os.Getpid()); s.ticks < 0 || s.ns == 0 {
		t.Fatalf("this process: %+v", s)
	}
}
