package firecracker

// fakeFC is a Firecracker API stand-in: every request is first validated against the API
// description (validateRequest), then applied to a small model of Firecracker's state machine, and
// answered the way Firecracker answers (204, or 400 with a fault_message). It runs in-process behind
// fakeLauncher, and as a separate process (the test binary re-executed) for ExecLauncher's tests.

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// recorded is one request the fake received.
type recorded struct {
	Method string
	Path   string
	Body   map[string]any // decoded with json.Number; nil without a body
	Err    string         // why the request broke the API description; empty when it did not
}

// call is a compact form for sequence assertions: "PUT /actions InstanceStart", "PATCH /vm Paused".
func (r recorded) call() string {
	s := r.Method + " " + r.Path
	for _, k := range []string{"action_type", "state"} {
		if v, ok := r.Body[k].(string); ok {
			s += " " + v
		}
	}
	return s
}

type recorder struct {
	mu   sync.Mutex
	reqs []recorded
}

func (r *recorder) add(x recorded) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, x)
}

func (r *recorder) all() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = nil
}

// calls returns the compact form of every request, skipping GET / (State polls).
func (r *recorder) calls() []string {
	var out []string
	for _, x := range r.all() {
		if x.Method == http.MethodGet && x.Path == "/" {
			continue
		}
		out = append(out, x.call())
	}
	return out
}

// find returns the body of the last request to method and path.
func (r *recorder) find(t *testing.T, method, path string) map[string]any {
	t.Helper()
	reqs := r.all()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Method == method && reqs[i].Path == path {
			return reqs[i].Body
		}
	}
	t.Fatalf("no %s %s request was sent", method, path)
	return nil
}

// checkValid fails the test for every request that broke the API description.
func (r *recorder) checkValid(t *testing.T) {
	t.Helper()
	all := r.all()
	if len(all) == 0 {
		t.Fatal("no request reached the fake: nothing was validated")
	}
	for _, x := range all {
		if x.Err != "" {
			t.Errorf("request violates the Firecracker API description: %s", x.Err)
		}
	}
}

type fakeFC struct {
	spec       *apiSpec
	rec        *recorder
	id         string
	fail       *failures
	onShutdown func() // the guest reacted to Ctrl+Alt+Del; nil: it ignores it

	mu         sync.Mutex
	state      string
	configured map[string]bool
}

// failures maps "PUT /snapshot/create" to the fault_message the fake answers it with.
type failures struct {
	mu sync.Mutex
	m  map[string]string
}

func (f *failures) set(call, msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[string]string{}
	}
	f.m[call] = msg
}

func (f *failures) clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m = nil
}

func (f *failures) get(call string) (string, bool) {
	if f == nil {
		return "", false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	msg, ok := f.m[call]
	return msg, ok
}

func newFakeFC(spec *apiSpec, rec *recorder, id string, fail *failures) *fakeFC {
	return &fakeFC{spec: spec, rec: rec, id: id, fail: fail, state: InstanceNotStarted, configured: map[string]bool{}}
}

func (f *fakeFC) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	rec := recorded{Method: r.Method, Path: r.URL.Path}
	if v, err := decodeJSON(body); err == nil {
		rec.Body, _ = v.(map[string]any)
	}
	if err := f.spec.validateRequest(r.Method, r.URL.Path, r.Header.Get("Content-Type"), body); err != nil {
		rec.Err = err.Error()
		f.rec.add(rec)
		writeFault(w, http.StatusBadRequest, "schema violation: "+err.Error())
		return
	}
	f.rec.add(rec)
	if msg, ok := f.fail.get(r.Method + " " + r.URL.Path); ok {
		writeFault(w, http.StatusBadRequest, msg)
		return
	}
	if r.Method == http.MethodGet && r.URL.Path == "/" {
		f.describe(w)
		return
	}
	shutdown, fault := f.apply(r.Method, r.URL.Path, rec.Body)
	if fault != "" {
		writeFault(w, http.StatusBadRequest, fault)
		return
	}
	w.WriteHeader(http.StatusNoContent)
	if shutdown && f.onShutdown != nil {
		w.(http.Flusher).Flush()
		go f.onShutdown() // the guest reboots, and reboot=k ends the process
	}
}

func (f *fakeFC) describe(w http.ResponseWriter) {
	f.mu.Lock()
	info := InstanceInfo{AppName: "Firecracker", ID: f.id, State: f.state, VMMVersion: "1.17.0-dev"}
	f.mu.Unlock()
	data, _ := json.Marshal(info)
	v, _ := decodeJSON(data)
	if errs := f.spec.validateDefinition("InstanceInfo", v); len(errs) > 0 {
		writeFault(w, http.StatusInternalServerError, "fake answer breaks the description: "+strings.Join(errs, "; "))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(data)
}

// apply models Firecracker's rules for the operations the driver uses. It returns whether the guest
// is now shutting down, or a fault message.
func (f *fakeFC) apply(method, path string, body map[string]any) (shutdown bool, fault string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	preBoot := f.state == InstanceNotStarted && !f.configured["snapshot"]
	switch kind := strings.SplitN(strings.Trim(path, "/"), "/", 2)[0]; method + " " + kind {
	case "PUT machine-config", "PUT boot-source", "PUT drives", "PUT network-interfaces":
		if !preBoot {
			return false, "The requested operation is not supported after starting the microVM."
		}
		f.configured[kind] = true
	case "PUT actions":
		switch body["action_type"] {
		case string(ActionInstanceStart):
			if !preBoot || !f.configured["boot-source"] {
				return false, "Cannot start microvm that was already started or has no boot source."
			}
			f.state = InstanceRunning
		case string(ActionSendCtrlAltDel):
			if f.state != InstanceRunning {
				return false, "The microVM is not running."
			}
			return true, ""
		}
	case "PATCH vm":
		want := map[any]string{string(VMPaused): InstanceRunning, string(VMResumed): InstancePaused}[body["state"]]
		if f.state != want {
			return false, fmt.Sprintf("Cannot set state %v from %s.", body["state"], f.state)
		}
		f.state = map[string]string{InstanceRunning: InstancePaused, InstancePaused: InstanceRunning}[f.state]
	case "PUT snapshot":
		return false, f.snapshot(path, body, preBoot)
	default:
		return false, "The fake does not model " + method + " " + path
	}
	return false, ""
}

func (f *fakeFC) snapshot(path string, body map[string]any, preBoot bool) string {
	switch path {
	case "/snapshot/create":
		if f.state != InstancePaused {
			return "Create snapshot requires a paused microVM."
		}
		for _, k := range []string{"snapshot_path", "mem_file_path"} {
			if err := os.WriteFile(body[k].(string), []byte("fake "+k), 0o600); err != nil {
				return err.Error()
			}
		}
	case "/snapshot/load":
		if !preBoot || len(f.configured) > 0 {
			return "Loading a microVM snapshot not allowed after configuring boot-specific resources."
		}
		_, file := body["mem_file_path"]
		backend, hasBackend := body["mem_backend"].(map[string]any)
		if file == hasBackend {
			return "Exactly one of mem_file_path and mem_backend must be given."
		}
		mem, _ := body["mem_file_path"].(string)
		if hasBackend {
			mem, _ = backend["backend_path"].(string)
		}
		for _, p := range []string{body["snapshot_path"].(string), mem} {
			if _, err := os.Stat(p); err != nil {
				return "Cannot open snapshot file: " + err.Error()
			}
		}
		f.configured["snapshot"] = true
		f.state = InstancePaused
		if body["resume_vm"] == true {
			f.state = InstanceRunning
		}
	}
	return ""
}

func writeFault(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(apiError{FaultMessage: msg})
}

// fakeLauncher starts in-process fakes on the requested sockets, all recording into one recorder.
type fakeLauncher struct {
	spec      *apiSpec
	rec       *recorder
	fail      failures
	ignoreCAD bool

	mu       sync.Mutex
	launches []LaunchRequest
	procs    []*fakeProcess
}

func newFakeLauncher(t *testing.T) *fakeLauncher {
	return &fakeLauncher{spec: loadSpec(t), rec: &recorder{}}
}

func (l *fakeLauncher) Launch(ctx context.Context, req LaunchRequest) (Process, error) {
	ln, err := net.Listen("unix", req.SocketPath)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fc := newFakeFC(l.spec, l.rec, req.Names.Process, &l.fail)
	p := &fakeProcess{pid: 1000 + len(l.procs), done: make(chan struct{}), srv: &http.Server{Handler: fc}}
	if !l.ignoreCAD {
		fc.onShutdown = p.exit
	}
	go p.srv.Serve(ln)
	for path, content := range map[string]string{req.PIDPath: strconv.Itoa(p.pid) + "\n", req.LogPath: "fake firecracker\n"} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			p.exit()
			return nil, err
		}
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

func (l *fakeLauncher) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.procs)
}

type fakeProcess struct {
	pid  int
	done chan struct{}
	once sync.Once
	srv  *http.Server
}

func (p *fakeProcess) exit() {
	p.once.Do(func() {
		p.srv.Close()
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

// fakeBinaryEnv makes the test binary behave as a firecracker binary (see TestMain).
const fakeBinaryEnv = "POLYDEV_TEST_FAKE_FIRECRACKER"

func TestMain(m *testing.M) {
	if os.Getenv(fakeBinaryEnv) == "1" {
		os.Exit(runFakeBinary(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// runFakeBinary serves the fake API on --api-sock until Ctrl+Alt+Del or SIGTERM, like a guest that
// shuts down when asked. Requests that break the API description are answered with a 400, so the
// parent test sees them as errors.
func runFakeBinary(args []string) int {
	flags := flag.NewFlagSet("firecracker", flag.ContinueOnError)
	sock := flags.String("api-sock", "", "API socket path")
	id := flags.String("id", "", "instance id")
	if err := flags.Parse(args); err != nil || *sock == "" {
		fmt.Fprintln(os.Stderr, "fake firecracker: need --api-sock:", err)
		return 2
	}
	spec, err := readSpec()
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake firecracker:", err)
		return 1
	}
	ln, err := net.Listen("unix", *sock)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake firecracker:", err)
		return 1
	}
	stop := make(chan struct{})
	var once sync.Once
	fc := newFakeFC(spec, &recorder{}, *id, nil)
	fc.onShutdown = func() { once.Do(func() { close(stop) }) }
	srv := &http.Server{Handler: fc}
	go srv.Serve(ln)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	fmt.Printf("fake firecracker %s serving %s\n", *id, filepath.Base(*sock))
	select {
	case <-stop:
	case <-sig:
	}
	srv.Close()
	fmt.Println("fake firecracker: guest shut down")
	return 0
}
