package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// freePort asks the kernel for an unused port on 127.0.0.1.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Proc is a child process the benchmark started (Polydev, the peer gateway or the reference proxy).
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	Log  string // its stdout and stderr
	done chan struct{}
	err  error
}

// startProc starts argv with exactly env (nothing inherited), output to logPath. The child is
// killed if the benchmark dies (Pdeathsig) and is in its own process group.
func startProc(name string, argv, env []string, logPath string) (*Proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	p := &Proc{Name: name, Cmd: cmd, Log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// Exited reports whether the process has ended, and how.
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Stop sends SIGTERM to the process group, then SIGKILL after grace.
func (p *Proc) Stop(grace time.Duration) {
	if p == nil {
		return
	}
	if exited, _ := p.Exited(); exited {
		return
	}
	_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// LogTail returns the last lines of the process's log, for error messages.
func (p *Proc) LogTail(lines int) string {
	b, _ := os.ReadFile(p.Log)
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// waitHTTP polls url until it answers with wantStatus, the process exits, or timeout passes.
func waitHTTP(ctx context.Context, p *Proc, url string, wantStatus int, timeout time.Duration) error {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}
	deadline := time.Now().Add(timeout)
	for {
		if exited, err := p.Exited(); exited {
			return fmt.Errorf("%s exited during start-up (%v); log tail:\n%s", p.Name, err, p.LogTail(15))
		}
		if resp, err := c.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == wantStatus {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer %s within %v; log tail:\n%s", p.Name, url, timeout, p.LogTail(15))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitLogLine polls the process's log until a complete line starting with prefix appears and
// returns the rest of that line, or fails when the process exits or timeout passes.
func waitLogLine(ctx context.Context, p *Proc, prefix string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		b, _ := os.ReadFile(p.Log)
		lines := strings.Split(string(b), "\n")
		for _, line := range lines[:len(lines)-1] { // the last piece is not a complete line yet
			if rest, ok := strings.CutPrefix(line, prefix); ok {
				return strings.TrimSpace(rest), nil
			}
		}
		if exited, err := p.Exited(); exited {
			return "", fmt.Errorf("%s exited during start-up (%v); log tail:\n%s", p.Name, err, p.LogTail(15))
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%s did not print %q within %v; log tail:\n%s", p.Name, prefix, timeout, p.LogTail(15))
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// procStatus reads a kB field (VmRSS, VmHWM) of /proc/<pid>/status, in bytes.
func procStatus(pid int, field string) int64 {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n << 10
			}
		}
	}
	return 0
}

// cpuSample is a process's CPU time read two ways: the scheduler's nanosecond run time summed over
// its threads (/proc/<pid>/task/*/schedstat, first field), which resolves a single request, and the
// user+system ticks of /proc/<pid>/stat, 10 ms each, a few percent of a round of a few hundred
// requests but counting threads that have exited.
type cpuSample struct{ ns, ticks time.Duration }

// procCPU samples the CPU time pid has used (zero for no process).
func procCPU(pid int) cpuSample {
	if pid <= 0 {
		return cpuSample{}
	}
	s := cpuSample{ns: -1, ticks: procTicks(pid)}
	dir := filepath.Join("/proc", strconv.Itoa(pid), "task")
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return s // no schedstat (a kernel without CONFIG_SCHED_INFO)
	}
	var ns time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "schedstat"))
		if err != nil {
			continue // the thread exited since the listing
		}
		f, _, _ := bytes.Cut(b, []byte{' '})
		v, err := strconv.ParseInt(string(f), 10, 64)
		if err != nil {
			return s
		}
		ns += time.Duration(v)
	}
	s.ns = ns
	return s
}

// Sub is the CPU time used between s0 and s: the nanosecond count when both samples have it and it
// agrees with the ticks to within two ticks (a thread that exited in between takes its run time out
// of the sum), else the ticks.
func (s cpuSample) Sub(s0 cpuSample) time.Duration {
	t := s.ticks - s0.ticks
	if s.ns < 0 || s0.ns < 0 {
		return t
	}
	if n := s.ns - s0.ns; n > t-20*time.Millisecond && n < t+20*time.Millisecond {
		return n
	}
	return t
}

// procTicks returns the user+system CPU time of /proc/<pid>/stat (Linux USER_HZ is 100).
func procTicks(pid int) time.Duration {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	// The command name (field 2) may contain spaces; fields after it start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64) // field 14 utime
	st, _ := strconv.ParseInt(f[12], 10, 64) // field 15 stime
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// RSSWatch samples the resident set of some processes and keeps the peak per named phase.
type RSSWatch struct {
	mu    sync.Mutex
	pids  map[string]int
	phase string
	peak  map[string]map[string]int64 // phase -> target -> bytes
	stop  chan struct{}
	done  chan struct{}
}

func newRSSWatch(pids map[string]int, every time.Duration) *RSSWatch {
	w := &RSSWatch{pids: pids, peak: map[string]map[string]int64{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			w.Sample()
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
		}
	}()
	return w
}

// Phase starts attributing samples to a new phase.
func (w *RSSWatch) Phase(name string) {
	w.Sample()
	w.mu.Lock()
	w.phase = name
	w.mu.Unlock()
	w.Sample()
}

// Sample reads every process's RSS now and updates the current phase's peaks.
func (w *RSSWatch) Sample() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.phase == "" {
		return
	}
	m := w.peak[w.phase]
	if m == nil {
		m = map[string]int64{}
		w.peak[w.phase] = m
	}
	for name, pid := range w.pids {
		if rss := procStatus(pid, "VmRSS"); rss > m[name] {
			m[name] = rss
		}
	}
}

// Peak returns the highest RSS seen for target during phase.
func (w *RSSWatch) Peak(phase, target string) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.peak[phase][target]
}

func (w *RSSWatch) Close() {
	close(w.stop)
	<-w.done
}
