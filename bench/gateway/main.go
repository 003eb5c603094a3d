// Command gateway is Polydev's gateway benchmark (run it with bench/gateway/run.sh): against one
// local fake OpenAI upstream (internal/testkit) it measures, interleaved in one run, requests sent
// directly to the upstream, through Polydev, through the peer gateway @portkey-ai/gateway and,
// as a reference floor, through a bare Go httputil.ReverseProxy (this program run again with
// -serve-goproxy, see goproxy.go): latency and the latency each gateway adds (median, p99), time
// to first byte of streams, throughput, CPU per request and memory, then holds many slow streams
// open through Polydev and reads its memory. It prints a markdown report and writes it under
// bench/gateway/results/.
//
// Every connection it opens, and every one it lets the gateways open, is to 127.0.0.1.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type config struct {
	polydevBin, polydevSkip string
	polydevModel            string
	polydevAnthModel        string
	anthModel               string
	keyProviders            string
	keyOwner                string
	polydevLogLevel         string
	engines                 string
	pgURL                   string
	tier                    string
	portkeyDir, portkeySkip string
	portkeyVersion          string
	portkeyNote             string
	node, guard             string
	model                   string
	targets                 string
	conc                    string
	modes                   string
	batches                 int
	requests                string
	scale                   float64
	batchTimeout            time.Duration
	interleave              bool
	maxTime                 time.Duration
	firstByte, tokenDelay   time.Duration
	firstByteJitter         time.Duration
	chunks                  int
	holdStreams             int
	holdTime                time.Duration
	holdTokenDelay          time.Duration
	holdTargets             string
	out                     string
	cmdline                 string
	keepTmp                 bool
	serveFake               bool
}

func main() {
	// The reference proxy is this program run again by itself (startGoproxy): a hidden mode.
	if (len(os.Args) == 3 || len(os.Args) == 4) && os.Args[1] == goproxyFlag {
		anth := ""
		if len(os.Args) == 4 {
			anth = os.Args[3]
		}
		if err := serveGoproxy(os.Args[2], anth); err != nil {
			fmt.Fprintln(os.Stderr, "goproxy:", err)
			os.Exit(1)
		}
		return
	}
	var c config
	flag.StringVar(&c.polydevBin, "polydev-bin", "", "the polydev binary to benchmark (run.sh builds ./cmd/polydev)")
	flag.StringVar(&c.polydevSkip, "polydev-skip", "", "reason the Polydev column is skipped (set by run.sh when the build fails)")
	flag.StringVar(&c.polydevModel, "polydev-model", "openai/gpt-4o-mini", "model name sent to Polydev (provider/model)")
	flag.StringVar(&c.polydevAnthModel, "polydev-anthropic-model", "anthropic/claude-sonnet-4-5", "model name sent to Polydev's /v1/messages (the anthropic kinds)")
	flag.StringVar(&c.anthModel, "anthropic-model", "claude-sonnet-4-5-20250929", "model name of the anthropic kinds sent directly, to goproxy and to the peer gateway")
	flag.StringVar(&c.keyProviders, "key-providers", "openai,openai-compatible,anthropic", "Polydev keys to add, each with the fake's key and base URL (anthropic: the fake Anthropic API's)")
	flag.StringVar(&c.keyOwner, "key-owner", "platform", "whose keys Polydev uses: platform (admin keys; ephemeral mode is turned off) or user (BYOK)")
	flag.StringVar(&c.polydevLogLevel, "polydev-log-level", "info", "POLYDEV_LOG_LEVEL for the server under test")
	flag.StringVar(&c.engines, "engine", "sqlite", "Polydev's store engines, each its own target measured in the same rounds: sqlite (target polydev), postgres (target polydev-pg)")
	flag.StringVar(&c.pgURL, "pg-url", "", "PostgreSQL URL for -engine postgres (an empty database); empty: a throwaway cluster from scripts/pg.sh in the temporary directory")
	flag.StringVar(&c.tier, "tier", "pro", "tier of the bench user (its request limits are set high, not removed)")
	flag.StringVar(&c.portkeyDir, "portkey-dir", "", "directory of the installed @portkey-ai/gateway package")
	flag.StringVar(&c.portkeySkip, "portkey-skip", "", "reason the Portkey column is skipped (set by run.sh when installing fails)")
	flag.StringVar(&c.portkeyVersion, "portkey-version", "", "version of @portkey-ai/gateway, for the report")
	flag.StringVar(&c.portkeyNote, "portkey-note", "", "a note on how the peer gateway was installed, for the report")
	flag.StringVar(&c.node, "node", "node", "node binary for the peer gateway")
	flag.StringVar(&c.guard, "guard", "bench/gateway/portkey-guard.mjs", "preload that keeps the peer gateway on loopback")
	flag.StringVar(&c.model, "model", "gpt-4o-mini", "model name sent directly and to the peer gateway")
	flag.StringVar(&c.targets, "targets", "direct,goproxy,polydev,portkey", "targets to measure: direct, goproxy (a bare Go httputil.ReverseProxy, the reference floor), polydev, portkey (direct is always measured: added latency is relative to it)")
	flag.StringVar(&c.conc, "conc", "1,64,512", "concurrency levels")
	flag.StringVar(&c.modes, "modes", "nonstream,stream,anthropic", "request kinds: nonstream, stream (chat completions, a short prompt), anthropic, anthropic-stream (POST /v1/messages with a 126 KB Claude-Code-shaped body)")
	flag.IntVar(&c.batches, "batches", 5, "interleaved rounds per (kind, concurrency); each round measures every target once")
	flag.StringVar(&c.requests, "requests", "1:200,64:1024,512:1536", "requests per target per round, by concurrency (conc:n,...); others get 20*conc")
	flag.Float64Var(&c.scale, "scale", 1, "multiply every request count (0.2 for a quick look, 3 for tighter p99s)")
	flag.DurationVar(&c.batchTimeout, "batch-timeout", 15*time.Second, "no new request starts in a batch after this")
	flag.BoolVar(&c.interleave, "interleave", false, "at concurrency 1, a round alternates the targets request by request instead of sending each its batch in turn")
	flag.DurationVar(&c.maxTime, "max-time", 6*time.Minute, "stop starting measurement rounds after this (the report says which cells were cut)")
	flag.DurationVar(&c.firstByte, "first-byte", 0, "fake upstream: delay before the response headers")
	flag.DurationVar(&c.firstByteJitter, "first-byte-jitter", 0, "fake upstream: a random extra delay in [0, this) per response, so clients do not move in lockstep")
	flag.DurationVar(&c.tokenDelay, "token-delay", 0, "fake upstream: delay before each streamed delta")
	flag.IntVar(&c.chunks, "chunks", 0, "fake upstream: deltas per answer (0: one per word, 7)")
	flag.IntVar(&c.holdStreams, "hold-streams", 1000, "concurrent slow streams to hold open (0: skip the hold test)")
	flag.DurationVar(&c.holdTime, "hold-time", 5*time.Second, "how long the streams are held once all are open")
	flag.DurationVar(&c.holdTokenDelay, "hold-token-delay", 200*time.Millisecond, "fake upstream's delay between deltas during the hold test")
	flag.StringVar(&c.holdTargets, "hold-targets", "polydev", "targets of the hold test")
	flag.StringVar(&c.out, "out", "bench/gateway/results", "directory for the results file ('' = do not write)")
	flag.StringVar(&c.cmdline, "cmdline", "", "the command line to record (run.sh passes its own)")
	flag.BoolVar(&c.keepTmp, "keep-tmp", false, "keep the temporary directory (logs, Polydev data)")
	flag.BoolVar(&c.serveFake, "serve-fake", false, "only start the fake upstream, print its base URL and key, and wait (for poking at a gateway by hand)")
	flag.Parse()
	if c.cmdline == "" {
		c.cmdline = strings.Join(os.Args, " ")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if c.serveFake {
		f := startFake(c.firstByte, c.firstByteJitter, c.tokenDelay, c.chunks)
		fmt.Printf("fake OpenAI upstream: base URL %s, key %s\nfake Anthropic upstream: base URL %s, key %s (Ctrl-C to stop)\n", f.Up.BaseURL(), f.Up.Key, f.Anth.BaseURL(), f.Anth.Key)
		<-ctx.Done()
		f.Close()
		return
	}
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "gateway bench:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// Cell is one (kind, concurrency) measurement, with a result per target.
type Cell struct {
	Kind   Kind
	Conc   int
	N      int // requests per target per round
	Rounds int // rounds completed
	Cut    bool
	By     map[string]*Agg
}

// Agg accumulates one target's batches in a cell.
type Agg struct {
	Lat      []time.Duration // non-streaming: whole request; streaming: time to first data line
	Total    []time.Duration // whole request (streaming: until the stream ended)
	Overhead []time.Duration // X-Polydev-Overhead-Us values
	Errors   int
	ErrFirst string
	Wall     time.Duration
	CPU      time.Duration
	RoundCPU []time.Duration // CPU per request of each round, in the order the rounds ran
	Sum      Summary
	OverSum  Summary
}

// addRound adds a round's batch and the target's CPU time over it.
func (a *Agg) addRound(b Batch, cpu time.Duration) {
	a.CPU += cpu
	if len(b.Results) > 0 {
		a.RoundCPU = append(a.RoundCPU, cpu/time.Duration(len(b.Results)))
	}
	a.add(b)
}

func (a *Agg) add(b Batch) {
	for _, r := range b.Results {
		if r.Err != "" {
			a.Errors++
			if a.ErrFirst == "" {
				a.ErrFirst = r.Err
			}
			continue
		}
		if r.TTFB > 0 {
			a.Lat = append(a.Lat, r.TTFB)
		} else {
			a.Lat = append(a.Lat, r.Total)
		}
		a.Total = append(a.Total, r.Total)
		if r.Overhead >= 0 {
			a.Overhead = append(a.Overhead, r.Overhead)
		}
	}
	a.Wall += b.Wall
}

// RPS is completed requests per second of wall time spent on this target.
func (a *Agg) RPS() float64 {
	if a.Wall <= 0 {
		return 0
	}
	return float64(len(a.Lat)) / a.Wall.Seconds()
}

func run(ctx context.Context, c config) error {
	debug.SetGCPercent(400) // the load generator's own GC must stay out of the way
	started := time.Now()
	tmp, err := os.MkdirTemp("", "polydev-gateway-bench-")
	if err != nil {
		return err
	}
	if c.keepTmp {
		logf("temporary directory kept: %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}

	concs, err := parseInts(c.conc)
	if err != nil {
		return fmt.Errorf("-conc: %w", err)
	}
	reqs, err := parseReqs(c.requests)
	if err != nil {
		return fmt.Errorf("-requests: %w", err)
	}
	modes, err := parseKinds(c.modes)
	if err != nil {
		return fmt.Errorf("-modes: %w", err)
	}
	want, err := parseTargets(c.targets)
	if err != nil {
		return fmt.Errorf("-targets: %w", err)
	}
	maxConc := slices.Max(concs)
	if c.keyOwner != "platform" && c.keyOwner != "user" {
		return fmt.Errorf("-key-owner: %q is not platform or user", c.keyOwner)
	}

	rep := &Report{Config: c, Started: started, Machine: machineFacts(c.node), Concs: concs}
	logf("fake upstream: first-byte %v (+ up to %v), token delay %v", c.firstByte, c.firstByteJitter, c.tokenDelay)
	fake := startFake(c.firstByte, c.firstByteJitter, c.tokenDelay, c.chunks)
	defer fake.Close()
	rep.FakeURL = fake.Up.BaseURL()

	rep.AnthURL = fake.Anth.BaseURL()
	direct := directTarget(fake, c.model, c.anthModel)
	targets := []*Target{direct}
	// Clusters stop after the servers using them (deferred calls run last to first).
	var clusters []func()
	defer func() {
		for _, stop := range clusters {
			stop()
		}
	}()
	var procs []*Proc
	defer func() {
		for _, p := range procs {
			p.Stop(10 * time.Second)
		}
	}()

	if want["goproxy"] {
		logf("goproxy: starting the reference proxy (httputil.ReverseProxy)")
		t, p := startGoproxy(ctx, fake, direct, tmp)
		if p != nil {
			procs = append(procs, p)
		}
		targets = append(targets, t)
	}
	if want["polydev"] {
		engines, err := parseEngines(c.engines)
		if err != nil {
			return fmt.Errorf("-engine: %w", err)
		}
		for _, engine := range engines {
			name, dbURL := engineTarget(engine), ""
			var t *Target
			var p *Proc
			if engine == "postgres" {
				var stop func()
				dbURL, stop, err = benchPostgres(ctx, c.pgURL, tmp)
				if stop != nil {
					clusters = append(clusters, stop)
				}
				if err != nil {
					t = &Target{Name: name, Reason: "PostgreSQL: " + err.Error()}
				}
			}
			switch {
			case t != nil:
			case c.polydevSkip != "":
				t = &Target{Name: name, Reason: c.polydevSkip}
			default:
				logf("%s: starting %s (%s)", name, c.polydevBin, engine)
				t, p = startPolydev(ctx, PolydevOpts{
					Bin: c.polydevBin, Model: c.polydevModel, AnthModel: c.polydevAnthModel, KeyProviders: splitList(c.keyProviders), KeyOwner: c.keyOwner,
					LogLevel: c.polydevLogLevel, Tier: c.tier, DatabaseURL: dbURL, Name: name,
				}, fake, tmp, &rep.Notes)
			}
			if p != nil {
				procs = append(procs, p)
				if rep.PolydevLog == "" {
					rep.PolydevLog = p.Log
				}
			}
			targets = append(targets, t)
		}
	}
	var portkeyProc *Proc
	if want["portkey"] {
		var t *Target
		if c.portkeySkip != "" {
			t = &Target{Name: "portkey", Reason: c.portkeySkip}
		} else {
			logf("portkey: starting @portkey-ai/gateway %s from %s", c.portkeyVersion, c.portkeyDir)
			t, portkeyProc = startPortkey(ctx, PortkeyOpts{Dir: c.portkeyDir, Node: c.node, Guard: c.guard, Version: c.portkeyVersion}, fake, c.model, c.anthModel, tmp)
		}
		if portkeyProc != nil {
			procs = append(procs, portkeyProc)
		}
		targets = append(targets, t)
	}
	for _, t := range targets {
		if t.Available() {
			if err := checkLoopback(t.URL); err != nil {
				t.Reason = err.Error()
				continue
			}
			t.client = newClient(maxConc + 64)
			if reason := probe(ctx, t); reason != "" {
				t.Reason = reason
			}
			if t.Available() && t.Msgs != nil {
				if reason := probeMessages(ctx, t); reason != "" {
					t.Msgs, t.MsgsReason = nil, reason
				}
			}
		}
		if t.Available() {
			logf("%s: ready (%s)", t.Name, t.URL)
			if t.Msgs == nil {
				logf("%s: the anthropic kinds are NOT MEASURED: %s", t.Name, t.MsgsReason)
			}
		} else {
			logf("%s: NOT MEASURED: %s", t.Name, t.Reason)
		}
	}
	if !direct.Available() {
		return fmt.Errorf("the fake upstream itself does not answer: %s", direct.Reason)
	}
	rep.Targets = targets

	pids := map[string]int{}
	for _, t := range targets {
		if t.PID > 0 && t.Available() {
			pids[t.Name] = t.PID
			rep.RSSIdle = setMap(rep.RSSIdle, t.Name, procStatus(t.PID, "VmRSS"))
		}
	}
	watch := newRSSWatch(pids, 100*time.Millisecond)
	defer watch.Close()
	rep.Watch = watch

	// ---- interleaved latency runs ----
	var avail []*Target
	for _, t := range targets {
		if t.Available() {
			avail = append(avail, t)
		}
	}
	deadline := started.Add(c.maxTime)
	watch.Phase("latency")
	for _, k := range modes {
		var avail []*Target
		for _, t := range targets {
			if t.Does(k) {
				avail = append(avail, t)
			}
		}
		for _, conc := range concs {
			n := reqs[conc]
			if n == 0 {
				n = min(max(20*conc, 200), 8192)
			}
			n = max(int(float64(n)*c.scale), 1)
			cell := &Cell{Kind: k, Conc: conc, N: n, By: map[string]*Agg{}}
			rep.Cells = append(rep.Cells, cell)
			for _, t := range avail {
				cell.By[t.Name] = &Agg{}
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				cell.Cut = true
				continue
			}
			logf("%s c=%d: warm-up, then %d rounds of %d requests per target", k.Label(), conc, c.batches, n)
			for _, t := range avail { // warm-up: connections, JIT, caches; discarded
				runBatch(ctx, t, k, conc, min(n, 2*conc+100), c.batchTimeout)
			}
			for _, order := range Schedule(len(avail), c.batches) {
				if time.Now().After(deadline) || ctx.Err() != nil {
					cell.Cut = true
					break
				}
				ts := make([]*Target, len(order))
				for j, i := range order {
					ts[j] = avail[i]
				}
				if conc == 1 && c.interleave {
					// Request by request: every target's CPU is read before and after the round,
					// and a change of load from outside that lasts longer than a request weighs
					// on all of them alike.
					cpu0 := make([]cpuSample, len(ts))
					for j, t := range ts {
						cpu0[j] = procCPU(t.PID)
					}
					bs := runInterleaved(ctx, ts, k, n, c.batchTimeout)
					for j, t := range ts {
						cell.By[t.Name].addRound(bs[j], procCPU(t.PID).Sub(cpu0[j]))
					}
				} else {
					for _, t := range ts {
						cpu0 := procCPU(t.PID)
						b := runBatch(ctx, t, k, conc, n, c.batchTimeout)
						cell.By[t.Name].addRound(b, procCPU(t.PID).Sub(cpu0))
					}
				}
				cell.Rounds++
			}
			for _, t := range avail {
				a := cell.By[t.Name]
				a.Sum = Summarize(a.Lat)
				a.OverSum = Summarize(a.Overhead)
			}
			logf("  %s", cellLine(cell, avail))
		}
	}
	watch.Phase("after-latency")
	for _, t := range avail {
		if t.PID > 0 {
			rep.RSSHWM = setMap(rep.RSSHWM, t.Name, procStatus(t.PID, "VmHWM"))
		}
	}

	// ---- concurrent streams held open ----
	if c.holdStreams > 0 {
		for _, name := range splitList(c.holdTargets) {
			var t *Target
			for _, x := range targets {
				if x.Name == name {
					t = x
				}
			}
			if t == nil {
				continue
			}
			if !t.Available() {
				rep.Holds = append(rep.Holds, &Hold{Target: name, Skipped: t.Reason})
				continue
			}
			if ctx.Err() != nil {
				break
			}
			logf("hold: %d concurrent streams through %s for %v", c.holdStreams, name, c.holdTime)
			rep.Holds = append(rep.Holds, holdStreams(ctx, t, fake, watch, c.holdStreams, c.holdTime, c.holdTokenDelay, c.chunks))
		}
	}

	if portkeyProc != nil {
		rep.GuardBlocked, rep.GuardListen = guardReport(portkeyProc.Log)
		rep.PortkeyListen = listenAddrs(0, portFromURL(targetByName(targets, "portkey")))
	}
	rep.Finished = time.Now()
	rep.LoadAtEnd = loadavg()
	if err := ctx.Err(); err != nil {
		rep.Notes = append(rep.Notes, "The run was interrupted; the numbers are partial.")
	}

	text := rep.Markdown("#")
	fmt.Println(text)
	if c.out != "" {
		if err := os.MkdirAll(c.out, 0o755); err != nil {
			return err
		}
		path := filepath.Join(c.out, "gateway-"+started.UTC().Format("20060102-150405")+".md")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			return err
		}
		logf("report written to %s", path)
	}
	fmt.Println("\n---- section for docs/PERFORMANCE.md (replace the \"Gateway benchmark\" section with it) ----")
	fmt.Println(rep.Markdown("##"))
	return nil
}

func cellLine(c *Cell, avail []*Target) string {
	var parts []string
	for _, t := range avail {
		a := c.By[t.Name]
		part := fmt.Sprintf("%s med %s p99 %s (%.0f req/s, %d err", t.Name, FormatDur(a.Sum.Median), FormatDur(a.Sum.P99), a.RPS(), a.Errors)
		if t.PID > 0 && len(a.RoundCPU) > 0 {
			var cpu []string
			for _, d := range a.RoundCPU {
				cpu = append(cpu, FormatDur(d))
			}
			part += "; CPU/req by round " + strings.Join(cpu, " ")
		}
		parts = append(parts, part+")")
	}
	return strings.Join(parts, " | ")
}

func targetByName(ts []*Target, name string) *Target {
	for _, t := range ts {
		if t.Name == name {
			return t
		}
	}
	return nil
}

func portFromURL(t *Target) int {
	if t == nil || t.URL == "" {
		return -1
	}
	rest := strings.TrimPrefix(t.URL, "http://127.0.0.1:")
	p, _, _ := strings.Cut(rest, "/")
	n, err := strconv.Atoi(p)
	if err != nil {
		return -1
	}
	return n
}

func setMap(m map[string]int64, k string, v int64) map[string]int64 {
	if m == nil {
		m = map[string]int64{}
	}
	m[k] = v
	return m
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, x := range splitList(s) {
		n, err := strconv.Atoi(x)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive integer", x)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty")
	}
	return out, nil
}

func parseReqs(s string) (map[int]int, error) {
	out := map[int]int{}
	for _, x := range splitList(s) {
		a, b, ok := strings.Cut(x, ":")
		ca, err1 := strconv.Atoi(a)
		nb, err2 := strconv.Atoi(b)
		if !ok || err1 != nil || err2 != nil || ca < 1 || nb < 1 {
			return nil, fmt.Errorf("%q is not conc:n", x)
		}
		out[ca] = nb
	}
	return out, nil
}
