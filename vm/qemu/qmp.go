package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// maxEvents bounds the events a Client keeps; older ones are dropped.
const maxEvents = 64

// Event is an asynchronous QMP message (SHUTDOWN, STOP, RESUME, MIGRATION, ...).
type Event struct {
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data,omitempty"`
}

// Greeting is QEMU's first message on a QMP connection.
type Greeting struct {
	QMP struct {
		Version struct {
			QEMU struct{ Major, Minor, Micro int } `json:"qemu"`
		} `json:"version"`
		Capabilities []string `json:"capabilities"`
	} `json:"QMP"`
}

type message struct {
	ID     string          `json:"id,omitempty"`
	Return json.RawMessage `json:"return,omitempty"`
	Error  *struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	} `json:"error,omitempty"`
	Event string          `json:"event,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"`
}

type command struct {
	Execute   string `json:"execute"`
	Arguments any    `json:"arguments,omitempty"`
	ID        string `json:"id"`
}

// Client is one QMP connection. Commands may be issued concurrently; each carries an id and is
// matched to its reply, so events interleaved with replies are never mistaken for them.
type Client struct {
	conn     net.Conn
	Greeting Greeting

	wmu sync.Mutex // serialises writes

	mu      sync.Mutex
	nextID  int
	pending map[string]chan message
	events  []Event
	err     error         // why the connection ended; set once
	done    chan struct{} // closed when the read loop ends
}

// Dial connects to the QMP socket, reads the greeting and negotiates capabilities, so the returned
// Client is in command mode.
func Dial(ctx context.Context, socket string) (*Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return nil, fmt.Errorf("qemu: dial QMP: %w", err)
	}
	c := &Client{conn: conn, pending: map[string]chan message{}, done: make(chan struct{})}
	dec := json.NewDecoder(conn)
	if dl, ok := ctx.Deadline(); ok {
		conn.SetReadDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Unix(1, 0)) })
	err = dec.Decode(&c.Greeting)
	stopped := stop()
	if err == nil && !stopped {
		err = ctx.Err()
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("qemu: QMP greeting: %w", err)
	}
	conn.SetReadDeadline(time.Time{})
	go c.readLoop(dec)
	if err := c.Execute(ctx, "qmp_capabilities", nil, nil); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Client) readLoop(dec *json.Decoder) {
	var err error
	for {
		var m message
		if err = dec.Decode(&m); err != nil {
			break
		}
		c.mu.Lock()
		if m.Event != "" {
			if len(c.events) == maxEvents {
				c.events = c.events[1:]
			}
			c.events = append(c.events, Event{Event: m.Event, Data: m.Data})
		} else if ch, ok := c.pending[m.ID]; ok {
			delete(c.pending, m.ID)
			ch <- m
		}
		c.mu.Unlock()
	}
	c.mu.Lock()
	c.err = fmt.Errorf("%w: %v", ErrClosed, err)
	c.pending = nil
	c.mu.Unlock()
	close(c.done)
}

// Execute runs one command with args (nil for none) and decodes its "return" into result (nil to
// ignore it). An error reply is a *QMPError; a connection that ends first gives ErrClosed.
func (c *Client) Execute(ctx context.Context, cmd string, args, result any) error {
	return c.execute(ctx, cmd, args, result, nil)
}

// ExecuteWithFile is Execute with f's descriptor attached to the command (SCM_RIGHTS), the way QMP's
// getfd and add-fd receive descriptors. QEMU gets its own duplicate; the caller still owns f.
func (c *Client) ExecuteWithFile(ctx context.Context, cmd string, args, result any, f *os.File) error {
	if f == nil {
		return fmt.Errorf("qemu: QMP %s: no file to pass", cmd)
	}
	return c.execute(ctx, cmd, args, result, f)
}

func (c *Client) execute(ctx context.Context, cmd string, args, result any, f *os.File) error {
	ch := make(chan message, 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return err
	}
	c.nextID++
	id := cmd + "-" + strconv.Itoa(c.nextID)
	c.pending[id] = ch
	c.mu.Unlock()

	data, err := json.Marshal(command{Execute: cmd, Arguments: args, ID: id})
	if err != nil {
		c.drop(id)
		return err
	}
	// No write deadline: a command is a few hundred bytes that QEMU reads at once, and a write cut
	// short by a deadline would leave half a command in the stream.
	c.wmu.Lock()
	err = c.write(append(data, '\n'), f)
	c.wmu.Unlock()
	if err != nil {
		c.drop(id)
		return fmt.Errorf("qemu: QMP %s: %w", cmd, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return &QMPError{Command: cmd, Class: m.Error.Class, Desc: m.Error.Desc}
		}
		if result != nil && len(m.Return) > 0 {
			if err := json.Unmarshal(m.Return, result); err != nil {
				return fmt.Errorf("qemu: QMP %s: decode reply: %w", cmd, err)
			}
		}
		return nil
	case <-c.done:
		select { // the reply may have raced the close
		case m := <-ch:
			if m.Error != nil {
				return &QMPError{Command: cmd, Class: m.Error.Class, Desc: m.Error.Desc}
			}
			return nil
		default:
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		return fmt.Errorf("qemu: QMP %s: %w", cmd, c.err)
	case <-ctx.Done():
		c.drop(id)
		return fmt.Errorf("qemu: QMP %s: %w", cmd, ctx.Err())
	}
}

// write sends one command, with f's descriptor in the same message when f is set: QEMU takes a
// descriptor from the recvmsg that carried the command's first bytes.
func (c *Client) write(data []byte, f *os.File) error {
	if f == nil {
		_, err := c.conn.Write(data)
		return err
	}
	uc, ok := c.conn.(*net.UnixConn)
	if !ok {
		return errors.New("descriptor passing needs a unix socket")
	}
	raw, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var n int
	ctlErr := raw.Control(func(fd uintptr) {
		n, _, err = uc.WriteMsgUnix(data, syscall.UnixRights(int(fd)), nil)
	})
	if err == nil {
		err = ctlErr
	}
	if err == nil && n < len(data) {
		_, err = c.conn.Write(data[n:])
	}
	return err
}

func (c *Client) drop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pending, id)
}

// Events returns the events received so far (at most the last 64) and forgets them.
func (c *Client) Events() []Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	ev := c.events
	c.events = nil
	return ev
}

// Done is closed when the connection has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Close ends the connection.
func (c *Client) Close() error {
	err := c.conn.Close()
	<-c.done
	return err
}
