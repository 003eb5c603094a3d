package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

type report struct {
	opts options
	host string

	coldBoot    time.Duration
	coldMem     mem
	coldIdleCPU []float64

	golden       time.Duration
	restore      []time.Duration
	cloneMem     mem
	cloneIdleCPU []float64
	availBefore  float64
	availAfter   float64

	warmHandOut time.Duration
}

func (r *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# bench/vm — %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "Command: `go run ./bench/vm -image %s -clones %d -idle %v -settle %v -golden-settle %v`\n\n", r.opts.image, r.opts.clones, r.opts.idle, r.opts.settle, r.opts.goldenSettle)
	fmt.Fprintf(&b, "Host: %s. \"Ready\" is the controller's own test: the agent's /health says healthy "+
		"(display, browser, VNC and websockify all up).\n\n", r.host)
	b.WriteString("| measurement | value |\n|---|---|\n")
	fmt.Fprintf(&b, "| cold boot to ready (no snapshot) | %s |\n", secs(r.coldBoot))
	fmt.Fprintf(&b, "| golden VM: cold boot to ready, settling (at most %v), snapshot | %s |\n", r.opts.goldenSettle, secs(r.golden))
	fmt.Fprintf(&b, "| snapshot restore to ready, %d clones one after another | %s |\n", len(r.restore), durs(r.restore))
	fmt.Fprintf(&b, "| warm-pool hand-out (a restored VM already ready) | %.1f ms |\n", float64(r.warmHandOut.Microseconds())/1000)
	fmt.Fprintf(&b, "| cold-booted VM memory: RSS / PSS | %s / %s |\n", mibs(r.coldMem.rss), mibs(r.coldMem.pss))
	fmt.Fprintf(&b, "| restored clone memory: RSS / PSS, each | %s / %s |\n", mibs(r.cloneMem.rss), mibs(r.cloneMem.pss))
	used := r.availBefore - r.availAfter
	fmt.Fprintf(&b, "| host memory taken by %d running clones (MemAvailable drop) | %.0f MiB |\n", len(r.restore), used)
	if used > 0 && len(r.restore) > 0 {
		per := used / float64(len(r.restore))
		fmt.Fprintf(&b, "| idle clones that fit in the memory available before (%.0f MiB / %.0f MiB each) | %d |\n",
			r.availBefore, per, int(r.availBefore/per))
	}
	fmt.Fprintf(&b, "| idle CPU, cold-booted VM (%% of one core over %v, %v after ready) | %s |\n", r.opts.idle, r.opts.settle, pcts(r.coldIdleCPU))
	fmt.Fprintf(&b, "| idle CPU, restored clones, each | %s |\n", pcts(r.cloneIdleCPU))
	return b.String()
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func durs(ds []time.Duration) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = secs(d)
	}
	return strings.Join(s, ", ")
}

func mibs(v []float64) string {
	if len(v) == 0 {
		return "n/a"
	}
	v = slices.Clone(v)
	slices.Sort(v)
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf("%.0f", x)
	}
	return strings.Join(s, ", ") + " MiB"
}

func pcts(v []float64) string {
	if len(v) == 0 {
		return "n/a"
	}
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf("%.1f%%", x)
	}
	return strings.Join(s, ", ")
}
