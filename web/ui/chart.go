package ui

import (
	"strconv"
	"time"

	"github.com/polydev/polydev"
)

// Charts are SVG drawn on the server: no chart library, no script, and they print and screenshot
// as they look. Colours come from the stylesheet (classes b1..b3), so they follow light and dark.

// rect is one bar (or one part of a stacked bar), in the chart's own units.
type rect struct {
	X, Y, W, H float64
	Class      string
	Title      string // the value, shown as a tooltip and read by screen readers
}

// label is a text on an axis.
type label struct {
	X, Y   float64
	Text   string
	Anchor string
}

// chart is what templates/chart.html draws.
type chart struct {
	ID, Title, Desc string
	W, H, AxisY     float64
	Rects           []rect
	Labels          []label
	Legend          []series // shown when bars are stacked
	Empty           bool
}

// series is one stacked part of a day chart.
type series struct {
	Class string
	Name  string
	Value func(polydev.UsageTotals) int64
}

const (
	chartW, chartH = 600.0, 160.0
	chartTop       = 14.0 // room for the maximum's label
	chartBottom    = 18.0 // room for the dates
)

// dayChart draws one bar per day, the series stacked, scaled to the largest day.
func dayChart(id, title string, days []polydev.UsageBucket, format func(int64) string, ss ...series) chart {
	c := chart{ID: id, Title: title, W: chartW, H: chartH, AxisY: chartH - chartBottom}
	var peak, sum int64
	for _, d := range days {
		var t int64
		for _, s := range ss {
			t += s.Value(d.UsageTotals)
		}
		peak, sum = max(peak, t), sum+t
	}
	c.Empty = sum == 0
	if len(ss) > 1 {
		c.Legend = ss
	}
	c.Desc = title + ": " + format(sum) + " over " + strconv.Itoa(len(days)) + " days, at most " + format(peak) + " in a day."
	if len(days) == 0 {
		return c
	}
	slot := chartW / float64(len(days))
	plot := chartH - chartTop - chartBottom
	for i, d := range days {
		y := chartH - chartBottom
		for _, s := range ss {
			v := s.Value(d.UsageTotals)
			if v == 0 || peak == 0 {
				continue
			}
			h := max(plot*float64(v)/float64(peak), 1)
			y -= h
			c.Rects = append(c.Rects, rect{X: float64(i)*slot + slot*0.15, Y: y, W: slot * 0.7, H: h, Class: s.Class,
				Title: d.Key + " " + s.Name + ": " + format(v)})
		}
	}
	c.Labels = []label{
		{X: 0, Y: chartH - 4, Text: days[0].Key, Anchor: "start"},
		{X: chartW, Y: chartH - 4, Text: days[len(days)-1].Key, Anchor: "end"},
		{X: 0, Y: chartTop - 3, Text: "max " + format(peak), Anchor: "start"},
	}
	return c
}

// breakdown is a table of usage by one key (model, provider) with a bar per row.
type breakdown struct {
	Name string
	Rows []shareRow
}

// shareRow is one line of a breakdown (by model, by provider): the value and its share of the largest.
type shareRow struct {
	Key          string
	Totals       polydev.UsageTotals
	Tokens       int64
	Width        float64 // 0-100, of the largest row's tokens
	WidthPercent string
}

func shares(bs []polydev.UsageBucket) []shareRow {
	var peak int64
	for _, b := range bs {
		peak = max(peak, b.InputTokens+b.OutputTokens)
	}
	out := make([]shareRow, len(bs))
	for i, b := range bs {
		t := b.InputTokens + b.OutputTokens
		w := 0.0
		if peak > 0 {
			w = max(100*float64(t)/float64(peak), 0.5)
		}
		out[i] = shareRow{Key: b.Key, Totals: b.UsageTotals, Tokens: t, Width: w}
	}
	return out
}

// usageView is the usage part of the dashboard and of the admin overview: totals, the three day
// charts and the breakdowns by model and provider (templates/_chart.html "usage" draws them).
type usageView struct {
	Totals     polydev.UsageTotals
	Tokens     chart
	Requests   chart
	Cost       chart
	ByModel    breakdown
	ByProvider breakdown
}

// newUsageView draws st's days from since to today; whose names the tokens chart ("", "all users").
func newUsageView(st *polydev.UsageStats, since, today time.Time, whose string) usageView {
	days := st.Days(since, today)
	title := "Tokens per day"
	if whose != "" {
		title += ", " + whose
	}
	return usageView{
		Totals: st.Totals,
		Tokens: dayChart("tokens", title, days, num,
			series{"b1", "input", func(t polydev.UsageTotals) int64 { return t.InputTokens }},
			series{"b2", "output", func(t polydev.UsageTotals) int64 { return t.OutputTokens }}),
		Requests: dayChart("requests", "Requests per day", days, num,
			series{"b1", "requests", func(t polydev.UsageTotals) int64 { return t.Requests }}),
		Cost: dayChart("cost", "Cost per day", days, func(m int64) string { return money(polydev.Money(m)) },
			series{"b3", "cost", func(t polydev.UsageTotals) int64 { return int64(t.Cost) }}),
		ByModel:    breakdown{Name: "Model", Rows: shares(st.ByModel)},
		ByProvider: breakdown{Name: "Provider", Rows: shares(st.ByProvider)},
	}
}
