package ui

import (
	"strconv"
	"time"

	"github.com/polydev/polydev"
)

// money shows an amount in dollars: cents for sums of a cent or more, more digits below that (a
// request often costs a fraction of a cent).
func money(m polydev.Money) string {
	d := m.Dollars()
	if d == 0 {
		return "$0"
	}
	if d >= 0.01 {
		return "$" + strconv.FormatFloat(d, 'f', 2, 64)
	}
	return "$" + strconv.FormatFloat(d, 'f', 6, 64)
}

// num writes an integer with thin thousands separators.
func num(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

func pct(part, whole int64) string {
	if whole == 0 {
		return "0%"
	}
	return strconv.FormatInt(part*100/whole, 10) + "%"
}

// when is a timestamp in UTC, to the minute.
func when(t any) string {
	switch v := t.(type) {
	case time.Time:
		if v.IsZero() {
			return "—"
		}
		return v.UTC().Format("2006-01-02 15:04 UTC")
	case *time.Time:
		if v == nil {
			return "never"
		}
		return when(*v)
	}
	return ""
}

// ago is a short relative time for lists ("3 min ago").
func ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + " min ago"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + " h ago"
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + " days ago"
}

// deref reads an optional count (a nil one is handled by the template before).
func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func add(a, b int64) int64 { return a + b }
func sub(a, b int) int     { return a - b }

// trimDollars is an amount as an input's value: dollars without a sign or trailing zeros.
func trimDollars(m polydev.Money) string {
	return strconv.FormatFloat(m.Dollars(), 'f', -1, 64)
}

func derefMoney(p *polydev.Money) polydev.Money {
	if p == nil {
		return 0
	}
	return *p
}

// cents shows an amount in a currency's smallest unit (as Stripe counts) with two decimals.
func cents(n int64) string {
	return strconv.FormatFloat(float64(n)/100, 'f', 2, 64)
}
