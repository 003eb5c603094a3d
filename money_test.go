package polydev

import (
	"math"
	"testing"
)

func TestAddSat(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ a, b, want int64 }{
		{1, 2, 3},
		{-5, 2, 2}, // a negative counter (from before the checks) restarts
		{2, -5, 2},
		{MaxCounter - 1, 1, MaxCounter},
		{MaxCounter - 1, 2, MaxCounter},
		{MaxCounter, 0, MaxCounter},
		{math.MaxInt64, math.MaxInt64, MaxCounter},
		{1, math.MaxInt64, MaxCounter},
	} {
		if got := AddSat(c.a, c.b); got != c.want {
			t.Errorf("AddSat(%d, %d) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
	// The invariant the limiters rely on: two saturated counters and the largest amount still fit.
	if MaxCounter+MaxCounter+int64(MaxMoney) < 0 {
		t.Fatal("spend + reserved + amount can overflow")
	}
}
