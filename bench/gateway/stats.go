package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Summary describes one sample of per-request durations.
type Summary struct {
	N      int
	Median time.Duration
	P99    time.Duration
}

// Summarize sorts xs in place and returns its median and 99th percentile.
func Summarize(xs []time.Duration) Summary {
	slices.Sort(xs)
	return Summary{N: len(xs), Median: Quantile(xs, 0.5), P99: Quantile(xs, 0.99)}
}

// Quantile returns the q-quantile (0 <= q <= 1) of sorted, interpolating linearly between the two
// closest ranks (the definition numpy and R call type 7): the median of an even-sized sample is
// the mean of its two middle values, and p99 of 100 values lies between the 99th and the 100th.
// An empty sample has quantile 0.
func Quantile(sorted []time.Duration, q float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	pos := q * float64(n-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, n-1)
	frac := pos - float64(lo)
	return sorted[lo] + time.Duration(math.Round(frac*float64(sorted[hi]-sorted[lo])))
}

// Schedule returns, for each of batches rounds, the order in which the targets are measured:
// round b starts at target b mod n and goes round, so every target is measured in every round
// (drift over the run hits all targets alike) and each takes every position equally often
// (no target always runs right after the warm-up or right after the slowest one).
func Schedule(targets, batches int) [][]int {
	out := make([][]int, batches)
	for b := range out {
		order := make([]int, targets)
		for i := range order {
			order[i] = (b + i) % targets
		}
		out[b] = order
	}
	return out
}

// Added is target minus direct, the latency a gateway adds on top of the upstream.
func Added(target, direct time.Duration) time.Duration { return target - direct }

// Ratio formats how many times larger peer is than ours ("12.3x"), or explains why there is no
// meaningful ratio: an added latency at or below zero is within the noise of the measurement.
func Ratio(peer, ours time.Duration) string {
	switch {
	case peer <= 0:
		return "n/m (peer added <= 0)"
	case ours <= 0:
		return "n/m (ours added <= 0, within noise)"
	}
	return fmt.Sprintf("%.1fx", float64(peer)/float64(ours))
}

// FormatDur prints a duration for the tables: whole microseconds below 10 ms, then milliseconds.
func FormatDur(d time.Duration) string {
	neg := ""
	if d < 0 {
		neg, d = "-", -d
	}
	switch {
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%s%d µs", neg, d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%s%.1f ms", neg, float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%s%.2f s", neg, d.Seconds())
	}
}

// FormatBytes prints a size in MiB with one decimal.
func FormatBytes(b int64) string {
	if b <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}
