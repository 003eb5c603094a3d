package web

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	rtmetrics "runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// promptBody is a JSON request whose one user message holds n bytes of text, produced as it is
// read, so a test can send many large bodies without holding them itself. With hold set it stops
// after hold.after bytes until hold.release is closed: a body that is being read, held in place.
type promptBody struct {
	parts [3][]byte // prefix, filler (one byte repeated), suffix
	n     int64     // filler length
	pos   int64
	hold  *holdAt
}

type holdAt struct {
	after   int64
	release chan struct{}
	reached atomic.Int64 // bodies that got there
}

func newPromptBody(prefix string, n int64, suffix string, hold *holdAt) *promptBody {
	return &promptBody{parts: [3][]byte{[]byte(prefix), {'a'}, []byte(suffix)}, n: n, hold: hold}
}

func (b *promptBody) size() int64 { return int64(len(b.parts[0])) + b.n + int64(len(b.parts[2])) }

func (b *promptBody) Read(p []byte) (int, error) {
	if b.hold != nil && b.pos >= b.hold.after {
		b.hold.reached.Add(1)
		<-b.hold.release
		b.hold = nil
	}
	if b.hold != nil && int64(len(p)) > b.hold.after-b.pos {
		p = p[:b.hold.after-b.pos]
	}
	pre, fill := int64(len(b.parts[0])), b.n
	written := 0
	for len(p) > 0 && b.pos < b.size() {
		var n int
		switch {
		case b.pos < pre:
			n = copy(p, b.parts[0][b.pos:])
		case b.pos < pre+fill:
			n = int(min(int64(len(p)), pre+fill-b.pos))
			for i := range n {
				p[i] = 'a'
			}
		default:
			n = copy(p, b.parts[2][b.pos-pre-fill:])
		}
		p, b.pos, written = p[n:], b.pos+int64(n), written+n
	}
	if written == 0 && b.pos >= b.size() {
		return 0, io.EOF
	}
	return written, nil
}

// rawAnswer is what rawPost read back.
type rawAnswer struct {
	status int
	header http.Header
	body   []byte
	closed bool // the server closed the connection after the answer
}

// rawPost sends one request on its own connection: headers (pairs), then body (nil: none) while
// the answer is read, so a server that answers before it has read the body is seen doing so. A
// length of -1 sends the body chunked. Write errors are ignored: a server may refuse the body.
func rawPost(t testing.TB, addr, path string, length int64, body io.Reader, headers ...string) (*rawAnswer, error) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var h strings.Builder
	fmt.Fprintf(&h, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n", path, addr)
	if length >= 0 {
		fmt.Fprintf(&h, "Content-Length: %d\r\n", length)
	} else {
		h.WriteString("Transfer-Encoding: chunked\r\n")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		fmt.Fprintf(&h, "%s: %s\r\n", headers[i], headers[i+1])
	}
	h.WriteString("\r\n")
	if _, err := io.WriteString(conn, h.String()); err != nil {
		return nil, err
	}
	if body != nil {
		go func() {
			w := io.Writer(conn)
			var cw io.WriteCloser
			if length < 0 {
				cw = newChunkedWriter(conn)
				w = cw
			}
			if _, err := io.Copy(w, body); err == nil && cw != nil {
				_ = cw.Close()
			}
		}()
	}
	// A guard against a hang (the test fails rather than blocks), not a timing assertion.
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Minute))
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	a := &rawAnswer{status: res.StatusCode, header: res.Header, body: b}
	if res.Close {
		_, err = br.ReadByte()
		a.closed = err != nil
	}
	return a, nil
}

// chunkedWriter writes HTTP/1.1 chunks.
type chunkedWriter struct{ w io.Writer }

func newChunkedWriter(w io.Writer) io.WriteCloser { return &chunkedWriter{w} }

func (c *chunkedWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if _, err := fmt.Fprintf(c.w, "%x\r\n", len(p)); err != nil {
		return 0, err
	}
	if _, err := c.w.Write(p); err != nil {
		return 0, err
	}
	_, err := io.WriteString(c.w, "\r\n")
	return len(p), err
}

func (c *chunkedWriter) Close() error {
	_, err := io.WriteString(c.w, "0\r\n\r\n")
	return err
}

// heapPeak samples the Go heap in use (runtime/metrics: bytes in heap objects, live or not yet
// swept) until stopped, and returns the peak above the level at start. Reading these metrics does
// not stop the world, so sampling often is cheap.
type heapPeak struct {
	base, peak atomic.Int64
	stop       chan struct{}
	done       sync.WaitGroup
}

const heapObjects = "/memory/classes/heap/objects:bytes"

func heapInUse() int64 {
	s := []rtmetrics.Sample{{Name: heapObjects}}
	rtmetrics.Read(s)
	return int64(s[0].Value.Uint64())
}

func startHeapPeak() *heapPeak {
	runtime.GC()
	h := &heapPeak{stop: make(chan struct{})}
	h.base.Store(heapInUse())
	h.done.Add(1)
	go func() {
		defer h.done.Done()
		for {
			if v := heapInUse(); v > h.peak.Load() {
				h.peak.Store(v)
			}
			select {
			case <-h.stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	return h
}

// growth stops sampling and returns the peak growth of the heap over the base.
func (h *heapPeak) growth() int64 {
	close(h.stop)
	h.done.Wait()
	return max(0, h.peak.Load()-h.base.Load())
}

// discardUpstream is an OpenAI-compatible upstream that reads and drops the request body and
// answers a fixed completion: unlike the recording fakes it keeps nothing, so the heap measured
// in a test is the server's.
func discardUpstream(t testing.TB) *httptest.Server {
	t.Helper()
	const answer = `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini",` +
		`"choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],` +
		`"usage":{"prompt_tokens":10,"completion_tokens":1,"total_tokens":11}}`
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(up.Close)
	return up
}

// serverSockets counts the established TCP sockets this process holds whose local port is port:
// the server's side of its connections (a client's side has port as its remote port).
func serverSockets(t testing.TB, port int) int {
	t.Helper()
	inodes := map[string]bool{}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	for _, fd := range fds {
		if l, err := os.Readlink("/proc/self/fd/" + fd.Name()); err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	n := 0
	hexPort := fmt.Sprintf(":%04X", port)
	for _, f := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range bytes.Split(b, []byte("\n"))[1:] {
			fs := strings.Fields(string(line))
			// sl local rem st tx:rx tr:when retrnsmt uid timeout inode
			if len(fs) < 10 || !strings.HasSuffix(fs[1], hexPort) || fs[3] != "01" {
				continue
			}
			if inodes[fs[9]] {
				n++
			}
		}
	}
	return n
}

func portOf(t testing.TB, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
