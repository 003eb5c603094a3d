package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Machine is what the report says about where it ran.
type Machine struct {
	NProc       int
	CPU         string
	MemTotal    string
	Kernel      string
	Go          string
	Node        string
	LoadAtStart string
}

func machineFacts(node string) Machine {
	m := Machine{NProc: runtime.NumCPU(), Go: runtime.Version(), CPU: "unknown", Node: "not found"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				var kb int64
				fmt.Sscan(strings.TrimSpace(v), &kb)
				m.MemTotal = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if out, err := exec.Command(node, "--version").Output(); err == nil {
		m.Node = strings.TrimSpace(string(out))
	}
	m.LoadAtStart = loadavg()
	return m
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// Report is everything the run produced.
type Report struct {
	Config        config
	Machine       Machine
	Started       time.Time
	Finished      time.Time
	LoadAtEnd     string
	FakeURL       string
	AnthURL       string
	Concs         []int
	Targets       []*Target
	Cells         []*Cell
	Holds         []*Hold
	RSSIdle       map[string]int64
	RSSHWM        map[string]int64
	Watch         *RSSWatch
	GuardBlocked  []string
	GuardListen   []string
	PortkeyListen []string
	PolydevLog    string
	Notes         []string
}

func (r *Report) target(name string) *Target { return targetByName(r.Targets, name) }

func (r *Report) avail(name string) bool {
	t := r.target(name)
	return t != nil && t.Available()
}

// Markdown renders the report; h is the heading prefix of its title ("#" or "##").
func (r *Report) Markdown(h string) string {
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	sub := h + "#"
	c := r.Config
	w("%s Gateway benchmark\n\n", h)
	w("Run %s (%s), command:\n\n```sh\n%s\n```\n\n", r.Started.UTC().Format("2006-01-02 15:04 MST"), r.Finished.Sub(r.Started).Round(time.Second), c.cmdline)
	w("Machine: %d CPUs (%s), %s RAM, Linux %s, load average %s at start and %s at the end (the machine is shared); %s; node %s; @portkey-ai/gateway %s.\n\n",
		r.Machine.NProc, r.Machine.CPU, r.Machine.MemTotal, r.Machine.Kernel, r.Machine.LoadAtStart, r.LoadAtEnd, r.Machine.Go, r.Machine.Node, orDash(c.portkeyVersion))
	w("Upstream: `internal/testkit` fake OpenAI API on 127.0.0.1 in the load generator's process (first-byte latency %v%s, token delay %v, %s). ",
		c.firstByte, jitterText(c.firstByteJitter), c.tokenDelay, chunksText(c.chunks))
	w("Each (kind, concurrency) cell: one discarded warm-up batch per target, then %d rounds; a round sends N requests at the given concurrency to each target in turn, the order rotating every round, so drift hits every target alike. ", c.batches)
	if c.interleave {
		w("At concurrency 1 a round alternates the targets request by request (N requests each), and each target's CPU is read before and after the round: load from outside that changes over more than a request weighs on all targets alike. ")
	}
	w("Latency is measured by the client from sending the request to the end of the body (non-streaming) or to the first SSE `data:` line (streaming, TTFB). ")
	w("Added latency = target − direct (median minus median, p99 minus p99). CPU/req is the gateway process's CPU time over its requests: the scheduler's nanosecond run time of its threads (`/proc/<pid>/task/*/schedstat`), or its 10 ms clock ticks where that is missing. All processes share the same %d cores.\n\n", r.Machine.NProc)

	w("Targets:\n\n")
	for _, t := range r.Targets {
		switch {
		case t.Available() && t.Name == "direct":
			w("- **direct**: the fake upstream itself (`%s/chat/completions`), model `%s`.\n", r.FakeURL, c.model)
		case t.Available() && t.Name == "goproxy":
			w("- **goproxy**: a bare Go `httputil.ReverseProxy` (reference floor: what any Go HTTP proxy adds on this machine; no auth, no accounting): this program run again as a separate process (`-serve-goproxy`), `NewSingleHostReverseProxy` to the fake with `FlushInterval` −1 (every SSE event flushed at once), an idle pool of %d connections and the request body ended at its Content-Length (golang/go#40747), same requests as direct (path, key, model `%s`).\n", goproxyIdleConns, c.model)
		case t.Available() && isPolydev(t.Name):
			engine := "SQLite"
			if t.Name != "polydev" {
				engine = "PostgreSQL: " + orDash(c.pgURLNote())
			}
			w("- **%s**: `polydev serve` (%s, log level %s) `POST /v1/chat/completions` with an API token, model `%s`, %s keys (%s) pointing at the fake.\n", t.Name, engine, c.polydevLogLevel, c.polydevModel, c.keyOwner, c.keyProviders)
		case t.Available() && t.Name == "portkey":
			w("- **portkey**: `node build/start-server.js --port=N --headless` with headers `x-portkey-provider: openai`, `x-portkey-custom-host: %s`, model `%s`.\n", r.FakeURL, c.model)
		default:
			w("- **%s**: not measured — %s\n", t.Name, oneLine(t.Reason))
		}
	}
	w("\n")

	for k := range numKinds {
		cells := r.cellsOf(k)
		if len(cells) == 0 {
			continue
		}
		stream := k.Stream()
		if k.Anthropic() {
			w("%s Anthropic Messages passthrough case: %s\n\n", sub, k.Label())
			w("`POST /v1/messages` to the fake Anthropic API (`%s`) with a %d-byte Claude-Code-shaped body (`bench/gateway/anthropic.go`: system blocks with cache_control, 40 tool definitions, a long history of text, tool calls and tool results), `anthropic-version` and `anthropic-beta` headers; model `%s` (Polydev: `%s`). Targets without a Messages route are not in this table.\n\n",
				r.AnthURL, len(claudeCodeBody(c.anthModel, false)), c.anthModel, c.polydevAnthModel)
		}
		if stream {
			w("%s Streaming: time to first byte (`\"stream\":true`)\n\n", sub)
			w("| conc | target | ok | errors | TTFB median | TTFB p99 | added median | added p99 | stream end median | req/s | CPU/req |\n")
			w("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		} else {
			w("%s Non-streaming: latency\n\n", sub)
			w("| conc | target | ok | errors | median | p99 | added median | added p99 | req/s | CPU/req | self-reported overhead med / p99 |\n")
			w("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		}
		for _, cell := range cells {
			if cell.Cut && cell.Rounds == 0 {
				w("| %d | — | cut: the -max-time budget ran out | | | | | | | | |\n", cell.Conc)
				continue
			}
			d := cell.By["direct"]
			for _, t := range r.Targets {
				a := cell.By[t.Name]
				if a == nil {
					w("| %d | %s | n/a | | | | | | | | |\n", cell.Conc, t.Name)
					continue
				}
				added := func(x, y time.Duration) string {
					if t.Name == "direct" || d == nil || d.Sum.N == 0 || a.Sum.N == 0 {
						return "—"
					}
					return FormatDur(Added(x, y))
				}
				cpu := "—"
				if t.PID > 0 && len(a.Lat)+a.Errors > 0 {
					cpu = FormatDur(a.CPU / time.Duration(len(a.Lat)+a.Errors))
				}
				if stream {
					w("| %d | %s | %d | %d | %s | %s | %s | %s | %s | %.0f | %s |\n", cell.Conc, t.Name, len(a.Lat), a.Errors,
						FormatDur(a.Sum.Median), FormatDur(a.Sum.P99), added(a.Sum.Median, d.Sum.Median), added(a.Sum.P99, d.Sum.P99),
						FormatDur(Summarize(a.Total).Median), a.RPS(), cpu)
				} else {
					over := "—"
					if a.OverSum.N > 0 {
						over = FormatDur(a.OverSum.Median) + " / " + FormatDur(a.OverSum.P99)
					}
					w("| %d | %s | %d | %d | %s | %s | %s | %s | %.0f | %s | %s |\n", cell.Conc, t.Name, len(a.Lat), a.Errors,
						FormatDur(a.Sum.Median), FormatDur(a.Sum.P99), added(a.Sum.Median, d.Sum.Median), added(a.Sum.P99, d.Sum.P99),
						a.RPS(), cpu, over)
				}
			}
			if cell.Cut {
				w("| %d | | only %d of %d rounds: the -max-time budget ran out | | | | | | | | |\n", cell.Conc, cell.Rounds, c.batches)
			}
		}
		w("\n")
	}

	// Polydev against the peer, and against the reference floor.
	switch {
	case r.avail("polydev") && r.avail("portkey"):
		w("%s Added latency, Polydev against the peer (lower is better)\n\n", sub)
	case r.avail("polydev") && r.avail("goproxy"):
		w("%s Added latency, Polydev against the reference floor (lower is better)\n\n", sub)
	}
	if r.avail("polydev") && r.avail("portkey") {
		r.compareTable(w, "portkey", "peer / polydev", func(pd, other time.Duration) string { return Ratio(other, pd) })
	}
	if r.avail("polydev") && r.avail("goproxy") {
		w("Against the reference floor, goproxy (a bare Go `httputil.ReverseProxy`: the least any Go HTTP proxy adds on this machine). polydev / goproxy is how many times the floor Polydev adds; 1.0x would be no more than a proxy that does nothing else.\n\n")
		r.compareTable(w, "goproxy", "polydev / goproxy", floorRatio)
	}

	// Throughput at saturation.
	top := r.Concs[len(r.Concs)-1]
	for _, x := range r.Concs {
		top = max(top, x)
	}
	var tp []string
	for _, cell := range r.Cells {
		if cell.Conc != top || cell.Rounds == 0 {
			continue
		}
		var parts []string
		for _, t := range r.Targets {
			if a := cell.By[t.Name]; a != nil {
				parts = append(parts, fmt.Sprintf("%s %.0f", t.Name, a.RPS()))
			}
		}
		tp = append(tp, fmt.Sprintf("%s: %s req/s", cell.Kind.Label(), strings.Join(parts, ", ")))
	}
	if len(tp) > 0 {
		w("Throughput at saturation (concurrency %d, requests completed per second while that target was being measured): %s.\n\n", top, strings.Join(tp, "; "))
	}

	// Memory.
	w("%s Memory (resident set, from /proc/<pid>/status)\n\n", sub)
	w("| target | RSS idle after set-up | peak RSS during latency runs (100 ms samples) | VmHWM after latency runs |\n|---|---:|---:|---:|\n")
	for _, t := range r.Targets {
		if t.PID == 0 || !t.Available() {
			continue
		}
		w("| %s | %s | %s | %s |\n", t.Name, FormatBytes(r.RSSIdle[t.Name]), FormatBytes(r.Watch.Peak("latency", t.Name)), FormatBytes(r.RSSHWM[t.Name]))
	}
	w("\n")
	for _, hd := range r.Holds {
		w("%s %d concurrent streams held open through %s\n\n", sub, c.holdStreams, hd.Target)
		if hd.Skipped != "" {
			w("Not run: %s\n\n", oneLine(hd.Skipped))
			continue
		}
		w("Fake upstream sending one delta every %v, so streams stay open; RSS of the %s process.\n\n", hd.TokenDelay, hd.Target)
		w("| streams | established | failed | open at end of hold | time to establish | RSS before | RSS held (after %v) | peak RSS | per stream | RSS 1 s after clients left | upstream requests cancelled after clients left |\n", hd.HeldFor)
		w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		per := "—"
		if hd.Established > 0 && hd.RSSHeld > hd.RSSBefore {
			per = fmt.Sprintf("%.1f KiB", float64(hd.RSSHeld-hd.RSSBefore)/1024/float64(hd.Established))
		}
		w("| %d | %d | %d | %d | %s | %s | %s | %s | %s | %s | %d of %d in %s |\n\n", hd.Streams, hd.Established, hd.Failed, hd.HeldOpen,
			FormatDur(hd.Ramp), FormatBytes(hd.RSSBefore), FormatBytes(hd.RSSHeld), FormatBytes(hd.RSSPeak), per, FormatBytes(hd.RSSAfter),
			hd.Cancelled, hd.HeldOpen, FormatDur(hd.CancelWait))
		if hd.FirstErr != "" {
			w("First failure: `%s`\n\n", oneLine(hd.FirstErr))
		}
	}

	// Issue 4 targets.
	chat := false
	for _, cell := range r.Cells {
		chat = chat || !cell.Kind.Anthropic()
	}
	if r.avail("polydev") && chat {
		w("%s Against the targets of issue 4 (benchmarks, not tests)\n\n", sub)
		for _, cell := range r.Cells {
			if cell.Conc != 64 || cell.Kind.Anthropic() {
				continue
			}
			d, p := cell.By["direct"], cell.By["polydev"]
			if d == nil || p == nil || d.Sum.N == 0 || p.Sum.N == 0 {
				continue
			}
			pm, pp := Added(p.Sum.Median, d.Sum.Median), Added(p.Sum.P99, d.Sum.P99)
			label := "added latency"
			if cell.Kind.Stream() {
				label = "TTFB overhead"
			}
			w("- %s at concurrency 64: median %s (target ≤ 150 µs: %s), p99 %s (target ≤ 1 ms: %s)", label,
				FormatDur(pm), metAdded(pm, 150*time.Microsecond), FormatDur(pp), metAdded(pp, time.Millisecond))
			if k := cell.By["portkey"]; k != nil && k.Sum.N > 0 {
				km := Added(k.Sum.Median, d.Sum.Median)
				w("; peer/polydev median ratio %s (target ≥ 10x: %s)", Ratio(km, pm), met(pm > 0 && km >= 10*pm || pm <= 0 && km > 0))
			}
			if g := cell.By["goproxy"]; g != nil && g.Sum.N > 0 {
				w("; for reference, a bare Go reverse proxy (goproxy) adds median %s, p99 %s here", FormatDur(Added(g.Sum.Median, d.Sum.Median)), FormatDur(Added(g.Sum.P99, d.Sum.P99)))
			}
			w(".\n")
		}
		for _, hd := range r.Holds {
			if hd.Target == "polydev" && hd.Skipped == "" {
				w("- %d concurrent streams: %d held, RSS %s (target < 200 MB: %s).\n", hd.Streams, hd.HeldOpen, FormatBytes(max(hd.RSSHeld, hd.RSSPeak)),
					met(hd.HeldOpen == hd.Streams && max(hd.RSSHeld, hd.RSSPeak) < 200e6))
			}
		}
		w("\n")
	}
	r.passthroughTargets(w, sub)

	// Errors and notes.
	var errs []string
	for _, cell := range r.Cells {
		for _, t := range r.Targets {
			if a := cell.By[t.Name]; a != nil && a.Errors > 0 {
				errs = append(errs, fmt.Sprintf("%s c=%d %s: %d errors, first: `%s`", cell.Kind.Label(), cell.Conc, t.Name, a.Errors, oneLine(a.ErrFirst)))
			}
		}
	}
	notes := append([]string(nil), r.Notes...)
	if len(r.Concs) > 0 && slices.Max(r.Concs) >= 64 {
		notes = append(notes, fmt.Sprintf("Reading the table: at concurrency 64 and above every target keeps the %d shared cores busy (load generator, fake upstream and gateway together), so latency there is mostly queueing, concurrency ÷ throughput (Little's law), and throughput is bounded by the CPU each request costs. The added latency at those levels therefore tracks each gateway's CPU per request (the CPU/req column) more than the length of its request path, which concurrency 1 shows.", r.Machine.NProc))
		if r.avail("goproxy") {
			notes = append(notes, "goproxy is there to size that effect: it does nothing but forward, so what it adds over direct is what one more process on the same cores costs (an extra hop, a second HTTP parse and copy, and the CPU they take from the load generator and the upstream), the floor under any gateway's figures here.")
		}
	}
	if r.avail("portkey") {
		if c.portkeyNote != "" {
			notes = append(notes, c.portkeyNote)
		}
		notes = append(notes, "Peer streaming: @portkey-ai/gateway's stream reader waits 25 ms (setTimeout) before forwarding the first chunk of every stream (seen in build/start-server.js of 1.15.2), which sets a floor under its TTFB at low concurrency.")
	}
	if r.target("portkey") != nil && r.target("portkey").PID > 0 {
		listen := "could not be read"
		if len(r.PortkeyListen) > 0 {
			listen = strings.Join(r.PortkeyListen, ", ")
		}
		notes = append(notes, fmt.Sprintf("Peer gateway network: started with `bench/gateway/portkey-guard.mjs` preloaded (it binds every listener to 127.0.0.1 — the gateway itself listens on all interfaces — and refuses any non-loopback connection or DNS lookup). Listening address seen in /proc/net: %s. Egress attempts blocked during the run: %d%s.",
			listen, len(r.GuardBlocked), firstFew(r.GuardBlocked)))
	}
	if len(errs) > 0 || len(notes) > 0 {
		w("%s Notes\n\n", sub)
		for _, n := range notes {
			w("- %s\n", n)
		}
		for _, e := range errs {
			w("- %s\n", e)
		}
		w("\n")
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}

func (r *Report) cellsOf(k Kind) []*Cell {
	var out []*Cell
	for _, c := range r.Cells {
		if c.Kind == k {
			out = append(out, c)
		}
	}
	return out
}

// cpuPerReq is a's gateway CPU per request (0: not measured).
func cpuPerReq(t *Target, a *Agg) time.Duration {
	if t == nil || a == nil || t.PID <= 0 || len(a.Lat)+a.Errors == 0 {
		return 0
	}
	return a.CPU / time.Duration(len(a.Lat)+a.Errors)
}

// passthroughTargets writes issue 11's targets for the Anthropic case: Polydev's CPU per request
// within 1.2x the bare Go reverse proxy's for the same body, and the ratio against the peer.
func (r *Report) passthroughTargets(w func(string, ...any), sub string) {
	var lines []string
	for _, cell := range r.Cells {
		if !cell.Kind.Anthropic() || cell.Rounds == 0 {
			continue
		}
		p := cpuPerReq(r.target("polydev"), cell.By["polydev"])
		if p == 0 {
			continue
		}
		line := fmt.Sprintf("- %s, concurrency %d: Polydev %s CPU per request", cell.Kind.Label(), cell.Conc, FormatDur(p))
		if g := cpuPerReq(r.target("goproxy"), cell.By["goproxy"]); g > 0 {
			line += fmt.Sprintf(", goproxy %s: **%.2fx** the bare reverse proxy (target ≤ 1.2x: %s)", FormatDur(g), float64(p)/float64(g), met(float64(p) <= 1.2*float64(g)))
			if med, lo, hi, n := pairedRatios(cell.By["polydev"].RoundCPU, cell.By["goproxy"].RoundCPU); n > 1 {
				line += fmt.Sprintf("; round by round (each pair ran back to back) the median ratio of %d rounds is %.2fx, range %.2f–%.2fx", n, med, lo, hi)
			}
		}
		if k := cpuPerReq(r.target("portkey"), cell.By["portkey"]); k > 0 {
			line += fmt.Sprintf("; Portkey %s, %.1fx Polydev's", FormatDur(k), float64(k)/float64(p))
			d, pa, ka := cell.By["direct"], cell.By["polydev"], cell.By["portkey"]
			if d != nil && d.Sum.N > 0 && pa.Sum.N > 0 && ka.Sum.N > 0 {
				line += fmt.Sprintf(" (added latency median: Portkey / Polydev %s)", Ratio(Added(ka.Sum.Median, d.Sum.Median), Added(pa.Sum.Median, d.Sum.Median)))
			}
		}
		lines = append(lines, line+".")
	}
	if len(lines) == 0 {
		return
	}
	w("%s Against the targets of issue 11 (Anthropic passthrough, 126 KB body)\n\n", sub)
	for _, l := range lines {
		w("%s\n", l)
	}
	w("\n")
}

// metAdded judges an added latency against its target. A negative one means direct's own figure
// was the larger (noise from a busy machine, most often at p99): it proves nothing either way.
func metAdded(added, target time.Duration) string {
	if added < 0 {
		return "not measurable in this run (direct's own figure was larger)"
	}
	return met(added <= target)
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func chunksText(n int) string {
	if n == 0 {
		return "7 deltas per answer"
	}
	return fmt.Sprintf("%d deltas per answer", n)
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return truncate(strings.ReplaceAll(s, "|", "/"), 400)
}

func firstFew(xs []string) string {
	if len(xs) == 0 {
		return ""
	}
	if len(xs) > 3 {
		xs = xs[:3]
	}
	return " (" + strings.Join(xs, "; ") + ")"
}

// jitterText describes the fake's first-byte jitter, if any.
func jitterText(j time.Duration) string {
	if j <= 0 {
		return ""
	}
	return fmt.Sprintf(" plus a uniformly random 0–%v", j)
}

// compareTable writes Polydev's added latency beside other's, per cell, with ratio(polydev, other)
// for the median and the p99.
func (r *Report) compareTable(w func(string, ...any), other, ratioLabel string, ratio func(pd, other time.Duration) string) {
	w("| kind | conc | polydev added median | %s added median | %s | polydev added p99 | %s added p99 | %s |\n", other, ratioLabel, other, ratioLabel)
	w("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, cell := range r.Cells {
		d, p, o := cell.By["direct"], cell.By["polydev"], cell.By[other]
		if d == nil || p == nil || o == nil || d.Sum.N == 0 || p.Sum.N == 0 || o.Sum.N == 0 {
			continue
		}
		pm, om := Added(p.Sum.Median, d.Sum.Median), Added(o.Sum.Median, d.Sum.Median)
		pp, op := Added(p.Sum.P99, d.Sum.P99), Added(o.Sum.P99, d.Sum.P99)
		w("| %s | %d | %s | %s | %s | %s | %s | %s |\n", cell.Kind.Label(), cell.Conc, FormatDur(pm), FormatDur(om), ratio(pm, om), FormatDur(pp), FormatDur(op), ratio(pp, op))
	}
	w("\n")
}

// pairedRatios compares ours and theirs round by round (round i of each ran back to back, so load
// from outside the benchmark that lasts longer than a round weighs on both): the median, lowest and
// highest of ours[i]/theirs[i], and how many rounds were paired.
func pairedRatios(ours, theirs []time.Duration) (med, lo, hi float64, n int) {
	n = min(len(ours), len(theirs))
	r := make([]float64, 0, n)
	for i := range n {
		if theirs[i] > 0 {
			r = append(r, float64(ours[i])/float64(theirs[i]))
		}
	}
	if len(r) == 0 {
		return 0, 0, 0, 0
	}
	slices.Sort(r)
	med = r[len(r)/2]
	if len(r)%2 == 0 {
		med = (r[len(r)/2-1] + r[len(r)/2]) / 2
	}
	return med, r[0], r[len(r)-1], len(r)
}
