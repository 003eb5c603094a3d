package qemu

// fakeQMP is a QEMU stand-in that speaks QMP the way QEMU does: a greeting, capabilities
// negotiation first, replies carrying the command's id, asynchronous events in between, error
// replies with a class and desc. It models the run states the driver relies on (prelaunch with -S,
// inmigrate with -incoming defer, running, paused, postmigrate) and migration to and from a file
// descriptor passed with getfd, the only file-based URI QEMU 7.2 has ("file:" is refused as 7.2
// refuses it).
// It runs in-process behind fakeLauncher and as a separate process (the test binary re-executed,
// see TestMain) behind ExecLauncher.

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
)

// behaviour is what a test asks of every fake a launcher starts.
type behaviour struct {
	mu              sync.Mutex
	fail            map[string]string // command -> desc of a GenericError reply
	hangup          map[string]bool   // command -> close the connection instead of answering
	migrationFails  string            // non-empty: query-migrate reports failed with this error-desc
	ignorePowerdown bool              // the guest does not react to the ACPI button
	migrationStalls bool              // migrations stay active for ever
}

func (b *behaviour) setFail(cmd, desc string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail == nil {
		b.fail = map[string]string{}
	}
	b.fail[cmd] = desc
}

func (b *behaviour) setHangup(cmd string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.hangup == nil {
		b.hangup = map[string]bool{}
	}
	b.hangup[cmd] = true
}

// set changes the behaviour under its lock: the fake's connection goroutines read it per command,
// and a socket write does not order memory for the race detector.
func (b *behaviour) set(change func(b *behaviour)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	change(b)
}

func (b *behaviour) stalls() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.migrationStalls
}

func (b *behaviour) clear() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fail, b.hangup, b.migrationFails, b.ignorePowerdown = nil, nil, "", false
}

func (b *behaviour) get() (fail map[string]string, hangup map[string]bool, migFail string, ignorePD bool) {
	if b == nil {
		return nil, nil, "", false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.fail, b.hangup, b.migrationFails, b.ignorePowerdown
}

// qmpRecorder keeps every command the fakes received, in order, with its arguments.
type qmpRecorder struct {
	mu   sync.Mutex
	cmds []recordedCmd
}

type recordedCmd struct {
	Name string
	Args map[string]any
}

func (r *qmpRecorder) add(c recordedCmd) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cmds = append(r.cmds, c)
}

func (r *qmpRecorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cmds = nil
}

// names returns the command names, without query-status (State polls) and with repeated
// query-migrate polls collapsed into one, so sequences do not depend on timing.
func (r *qmpRecorder) names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, c := range r.cmds {
		if c.Name == "query-status" || c.Name == "query-migrate" && len(out) > 0 && out[len(out)-1] == "query-migrate" {
			continue
		}
		out = append(out, c.Name)
	}
	return out
}

// args returns the arguments of the last command called name, as JSON.
func (r *qmpRecorder) args(name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.cmds) - 1; i >= 0; i-- {
		if r.cmds[i].Name == name {
			b, _ := json.Marshal(r.cmds[i].Args)
			return string(b)
		}
	}
	return "<not called>"
}

type fakeQMP struct {
	rec    *qmpRecorder
	behave *behaviour
	exit   func() // QEMU ends (quit, or the guest powered off)

	mu        sync.Mutex
	status    string
	migration string // "", "active", "completed", "failed"
	polls     int
	migDesc   string
	incoming  string              // the -incoming argument
	fds       map[string]*os.File // getfd's descriptors by name
}

// newFakeQMP models a QEMU started with args.
func newFakeQMP(args []string, rec *qmpRecorder, b *behaviour, exit func()) *fakeQMP {
	f := &fakeQMP{rec: rec, behave: b, exit: exit, status: "running"}
	for i, a := range args {
		switch a {
		case "-S":
			f.status = "prelaunch"
		case "-incoming":
			f.incoming = args[i+1]
		}
	}
	if f.incoming != "" {
		f.status = "inmigrate"
	}
	return f
}

// qmpSocket returns the path in args' `-qmp unix:PATH,server=on,wait=off`.
func qmpSocket(args []string) (string, error) {
	for i, a := range args {
		if a == "-qmp" && i+1 < len(args) {
			v := strings.ReplaceAll(args[i+1], ",,", "\x00")
			path, _, _ := strings.Cut(strings.TrimPrefix(v, "unix:"), ",")
			return strings.ReplaceAll(path, "\x00", ","), nil
		}
	}
	return "", fmt.Errorf("no -qmp argument in %q", args)
}

func (f *fakeQMP) serve(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go f.handle(conn)
	}
}

// fdReader reads a unix connection with recvmsg and queues the descriptors that come with the data,
// as QEMU's monitor does.
type fdReader struct {
	conn *net.UnixConn
	mu   sync.Mutex
	fds  []*os.File
}

func (r *fdReader) Read(p []byte) (int, error) {
	oob := make([]byte, syscall.CmsgSpace(4*4))
	n, oobn, _, _, err := r.conn.ReadMsgUnix(p, oob)
	if n < 0 {
		// recvmsg's -1 comes through with the error (a connection reset by a client that gave up):
		// io.Reader promises n >= 0, and encoding/json's decoder panics on -1.
		n = 0
	}
	if oobn < 0 {
		oobn = 0
	}
	if oobn > 0 {
		msgs, _ := syscall.ParseSocketControlMessage(oob[:oobn])
		for _, m := range msgs {
			fds, _ := syscall.ParseUnixRights(&m)
			r.mu.Lock()
			for _, fd := range fds {
				r.fds = append(r.fds, os.NewFile(uintptr(fd), "getfd"))
			}
			r.mu.Unlock()
		}
	}
	return n, err
}

// take returns the oldest descriptor received and not yet claimed by a getfd.
func (r *fdReader) take() *os.File {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.fds) == 0 {
		return nil
	}
	f := r.fds[0]
	r.fds = r.fds[1:]
	return f
}

func (f *fakeQMP) handle(conn net.Conn) {
	defer conn.Close()
	fdr := &fdReader{conn: conn.(*net.UnixConn)}
	enc, dec := json.NewEncoder(conn), json.NewDecoder(fdr)
	enc.Encode(map[string]any{"QMP": map[string]any{
		"version":      map[string]any{"qemu": map[string]int{"major": 9, "minor": 2, "micro": 0}, "package": ""},
		"capabilities": []string{"oob"},
	}})
	negotiated := false
	for {
		var req struct {
			Execute   string         `json:"execute"`
			Arguments map[string]any `json:"arguments"`
			ID        any            `json:"id"`
		}
		if err := dec.Decode(&req); err != nil {
			return
		}
		f.rec.add(recordedCmd{Name: req.Execute, Args: req.Arguments})
		fail, hangup, _, _ := f.behave.get()
		if hangup[req.Execute] {
			return
		}
		reply := map[string]any{"id": req.ID}
		var ret any = map[string]any{}
		var event string
		errClass, errDesc := "", ""
		switch {
		case !negotiated && req.Execute != "qmp_capabilities":
			errClass, errDesc = "CommandNotFound", "Expecting capabilities negotiation with 'qmp_capabilities'"
		case fail[req.Execute] != "":
			errClass, errDesc = "GenericError", fail[req.Execute]
		case req.Execute == "qmp_capabilities":
			negotiated = true
		case req.Execute == "getfd":
			if errDesc = f.getfd(fmt.Sprint(req.Arguments["fdname"]), fdr.take()); errDesc != "" {
				errClass = "GenericError"
			}
		default:
			ret, event, errDesc = f.apply(req.Execute, req.Arguments)
			if errDesc != "" {
				errClass = "GenericError"
			}
		}
		if event != "" { // events arrive before the reply, as QEMU often sends them
			enc.Encode(map[string]any{"event": event, "data": map[string]any{}, "timestamp": map[string]int{"seconds": 1}})
		}
		if errClass != "" {
			reply["error"] = map[string]string{"class": errClass, "desc": errDesc}
		} else {
			reply["return"] = ret
		}
		if err := enc.Encode(reply); err != nil {
			return
		}
		if errClass == "" && (req.Execute == "quit" || req.Execute == "system_powerdown" && !f.ignoresPowerdown()) {
			f.exit()
			return
		}
	}
}

func (f *fakeQMP) ignoresPowerdown() bool {
	_, _, _, ignore := f.behave.get()
	return ignore
}

// apply models QEMU's rules; it returns the reply, an event to send first, or an error desc.
func (f *fakeQMP) apply(cmd string, args map[string]any) (ret any, event, errDesc string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch cmd {
	case "query-status":
		return map[string]any{"status": f.status, "running": f.status == "running", "singlestep": false}, "", ""
	case "stop":
		if f.status == "running" {
			f.status = "paused"
		}
		return map[string]any{}, "STOP", ""
	case "cont":
		switch f.status {
		case "inmigrate":
			return nil, "", "Migration is not finished"
		case "running":
		default:
			f.status = "running"
		}
		return map[string]any{}, "RESUME", ""
	case "system_powerdown":
		return map[string]any{}, "POWERDOWN", ""
	case "quit", "migrate-set-capabilities", "migrate-set-parameters":
		return map[string]any{}, "", ""
	case "closefd":
		name := fmt.Sprint(args["fdname"])
		if f.fds[name] == nil {
			return nil, "", "File descriptor named '" + name + "' not found"
		}
		f.fds[name].Close()
		delete(f.fds, name)
		return map[string]any{}, "", ""
	case "migrate":
		file, desc := f.migrationFile(fmt.Sprint(args["uri"]))
		if desc != "" {
			return nil, "", desc
		}
		defer file.Close()
		if _, err := file.WriteString("fake vmstate\n"); err != nil {
			return nil, "", err.Error()
		}
		f.startMigration()
		return map[string]any{}, "", ""
	case "migrate-incoming":
		if f.incoming != "defer" {
			return nil, "", "The incoming migration has not been requested with -incoming defer"
		}
		file, desc := f.migrationFile(fmt.Sprint(args["uri"]))
		if desc != "" {
			return nil, "", desc
		}
		defer file.Close()
		f.startMigration()
		if data, err := io.ReadAll(file); err != nil || string(data) != "fake vmstate\n" {
			f.migDesc = fmt.Sprintf("load of migration failed: %q %v", data, err)
		}
		return map[string]any{}, "", ""
	case "migrate_cancel":
		if f.migration == "active" {
			f.migration = "cancelled"
		}
		return map[string]any{}, "", ""
	case "query-migrate":
		return f.queryMigrate(), "", ""
	}
	return nil, "", "The command " + cmd + " has not been found"
}

// getfd stores a descriptor that came with the command under name.
func (f *fakeQMP) getfd(name string, file *os.File) string {
	if file == nil {
		return "No file descriptor supplied via SCM_RIGHTS"
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fds == nil {
		f.fds = map[string]*os.File{}
	}
	if old := f.fds[name]; old != nil {
		old.Close()
	}
	f.fds[name] = file
	return ""
}

// migrationFile claims the descriptor an "fd:name" URI names, as QEMU 7.2 does; other URIs are
// refused with 7.2's message.
func (f *fakeQMP) migrationFile(uri string) (*os.File, string) {
	name, ok := strings.CutPrefix(uri, "fd:")
	if !ok {
		return nil, "Parameter 'uri' expects a valid migration protocol"
	}
	file := f.fds[name]
	if file == nil {
		return nil, "File descriptor named '" + name + "' has not been found"
	}
	delete(f.fds, name)
	return file, ""
}

func (f *fakeQMP) startMigration() {
	_, _, migFail, _ := f.behave.get()
	f.migration, f.polls, f.migDesc = "active", 2, migFail
	if f.behave != nil && f.behave.stalls() {
		f.polls = 1 << 30
	}
}

func (f *fakeQMP) queryMigrate() map[string]any {
	if f.migration == "active" {
		if f.polls--; f.polls <= 0 {
			f.migration = "completed"
			if f.migDesc != "" {
				f.migration = "failed"
			} else if f.status == "inmigrate" {
				f.status = "paused" // -S: the loaded VM waits for cont
			} else {
				f.status = "postmigrate"
			}
		}
	}
	out := map[string]any{}
	if f.migration != "" {
		out["status"] = f.migration
	}
	if f.migration == "failed" {
		out["error-desc"] = f.migDesc
	}
	return out
}
