package polydev

import (
	"testing"
	"time"
)

func TestPeriodKeysMatchFormat(t *testing.T) {
	t.Parallel()
	ist := time.FixedZone("IST", 5*3600+1800)
	base := []time.Time{
		time.Date(2026, 11, 27, 23, 59, 59, 999999999, time.UTC),
		time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 28, 3, 0, 0, 0, ist), // the previous day in UTC
		time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for round := range 2 { // the second round reads the cache where days repeat
		for _, tm := range append(base, base[0], base[1], base[1]) {
			if got, want := DayOf(tm), tm.UTC().Format("2006-01-02"); got != want {
				t.Errorf("round %d: DayOf(%v) = %q, want %q", round, tm, got, want)
			}
			if got, want := MonthOf(tm), tm.UTC().Format("2006-01"); got != want {
				t.Errorf("round %d: MonthOf(%v) = %q, want %q", round, tm, got, want)
			}
		}
	}
}
