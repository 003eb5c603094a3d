package qemu

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// fakeLauncher starts in-process fake QEMUs on the requested sockets, all recording into one
// recorder and following one behaviour.
type fakeLauncher struct {
	rec    qmpRecorder
	behave behaviour

	mu       sync.Mutex
	launches []LaunchRequest
	procs    []*fakeProcess
}

func (l *fakeLauncher) Launch(ctx context.Context, req LaunchRequest) (Process, error) {
	sock, err := qmpSocket(req.Args)
	if err != nil {
		return nil, err
	}
	if sock != req.SocketPath {
		return nil, fmt.Errorf("-qmp names %s, request names %s", sock, req.SocketPath)
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	p := &fakeProcess{pid: 1000 + len(l.procs), done: make(chan struct{}), ln: ln}
	q := newFakeQMP(req.Args, &l.rec, &l.behave, p.exit)
	go q.serve(ln)
	for path, content := range map[string]string{req.PIDPath: strconv.Itoa(p.pid) + "\n", req.LogPath: "fake qemu\n"} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			p.exit()
			return nil, err
		}
	}
	if err := makeSharedMemory(req.Args); err != nil {
		p.exit()
		return nil, err
	}
	l.launches = append(l.launches, req)
	l.procs = append(l.procs, p)
	return p, nil
}

func (l *fakeLauncher) last() *fakeProcess {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.procs[len(l.procs)-1]
}

func (l *fakeLauncher) lastArgs() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.launches[len(l.launches)-1].Args
}

func (l *fakeLauncher) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.procs)
}

type fakeProcess struct {
	pid  int
	done chan struct{}
	once sync.Once
	ln   net.Listener
}

func (p *fakeProcess) exit() {
	p.once.Do(func() {
		p.ln.Close()
		close(p.done)
	})
}

func (p *fakeProcess) Pid() int              { return p.pid }
func (p *fakeProcess) Done() <-chan struct{} { return p.done }
func (p *fakeProcess) Kill() error           { p.exit(); return nil }

func (p *fakeProcess) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// fakeRunner stands in for qemu-img: it records each call and makes the overlay file.
type fakeRunner struct {
	mu    sync.Mutex
	calls [][]string
	fail  error
}

func (r *fakeRunner) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, append([]string{name}, args...))
	if r.fail != nil {
		return []byte("qemu-img: Could not open backing file"), r.fail
	}
	return nil, os.WriteFile(args[len(args)-1], []byte("QFI\xfb fake overlay"), 0o600)
}

func (r *fakeRunner) last() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls[len(r.calls)-1])
}

// fakeBinaryEnv makes the test binary behave as qemu-system-x86_64 (see TestMain).
const fakeBinaryEnv = "POLYDEV_TEST_FAKE_QEMU"

func TestMain(m *testing.M) {
	if os.Getenv(fakeBinaryEnv) == "1" {
		os.Exit(runFakeBinary(os.Args[1:]))
	}
	if os.Getenv(egressPipeEnv) == "1" {
		os.Exit(runEgressPipe(os.Args[len(os.Args)-1]))
	}
	os.Exit(m.Run())
}

// runFakeBinary serves the fake QMP on the -qmp socket until quit, system_powerdown or SIGTERM, like
// a QEMU whose guest shuts down when asked. It refuses a command line without microvm.
func runFakeBinary(args []string) int {
	if !slices.Contains(args, "-M") || !slices.Contains(args, "-nodefaults") {
		fmt.Fprintln(os.Stderr, "fake qemu: not a microvm command line:", args)
		return 2
	}
	sock, err := qmpSocket(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake qemu:", err)
		return 2
	}
	if err := makeSharedMemory(args); err != nil {
		fmt.Fprintln(os.Stderr, "fake qemu:", err)
		return 1
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake qemu:", err)
		return 1
	}
	stop := make(chan struct{})
	var once sync.Once
	q := newFakeQMP(args, nil, nil, func() { once.Do(func() { close(stop) }) })
	go q.serve(ln)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	fmt.Println("fake qemu serving QMP")
	select {
	case <-stop:
	case <-sig:
	}
	ln.Close()
	fmt.Println("fake qemu: guest powered off")
	return 0
}

// makeSharedMemory does what QEMU does for a shared memory-backend-file: creates the file at
// mem-path with the RAM's size (sparse; the fake guest writes one page so copies have data).
func makeSharedMemory(args []string) error {
	for i, a := range args {
		if a != "-object" || i+1 == len(args) || !strings.HasPrefix(args[i+1], "memory-backend-file,") {
			continue
		}
		opts := map[string]string{}
		for _, kv := range strings.Split(args[i+1], ",") {
			k, v, _ := strings.Cut(kv, "=")
			opts[k] = v
		}
		if opts["share"] != "on" {
			return nil
		}
		mib, err := strconv.Atoi(strings.TrimSuffix(opts["size"], "M"))
		if err != nil {
			return err
		}
		f, err := os.OpenFile(opts["mem-path"], os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := f.Truncate(int64(mib) << 20); err != nil {
			return err
		}
		_, err = f.WriteAt([]byte("guest page"), 1<<20)
		return err
	}
	return nil
}
