package netns

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// commandError is a failed ip or nft run: the command line (names and addresses only, never a
// secret) and what the tool printed.
type commandError struct {
	Args   []string
	Output string
	Err    error
}

func (e *commandError) Error() string {
	return fmt.Sprintf("netns: %s: %v: %s", strings.Join(e.Args, " "), e.Err, e.Output)
}

func (e *commandError) Unwrap() error { return e.Err }

// missing reports whether the command failed because the device or namespace it deletes does not
// exist, which removal treats as done. A missing uplink namespace is not "missing": that is a
// configuration error.
func (e *commandError) missing() bool {
	return strings.Contains(e.Output, "Cannot find device") ||
		strings.Contains(e.Output, "Cannot remove namespace file") && strings.Contains(e.Output, "No such file or directory")
}

// run executes bin with args (no shell), feeding stdin when not nil, and returns its stdout.
func run(ctx context.Context, stdin []byte, bin string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		return nil, &commandError{
			Args:   append([]string{bin}, args...),
			Output: strings.TrimSpace(stderr.String() + stdout.String()),
			Err:    err,
		}
	}
	return stdout.Bytes(), nil
}

// ip runs `ip [-n ns] args...`; ns "" is the controller's own namespace.
func (m *Manager) ip(ctx context.Context, ns string, args ...string) error {
	_, err := m.ipOut(ctx, ns, args...)
	return err
}

func (m *Manager) ipOut(ctx context.Context, ns string, args ...string) ([]byte, error) {
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	return run(ctx, nil, m.cfg.IPPath, args...)
}

// ignoreMissing turns "no such device/namespace" into success, for idempotent removal.
func ignoreMissing(err error) error {
	if ce := (*commandError)(nil); errors.As(err, &ce) && ce.missing() {
		return nil
	}
	return err
}

// linkNames lists the interface names in namespace ns.
func (m *Manager) linkNames(ctx context.Context, ns string) ([]string, error) {
	out, err := m.ipOut(ctx, ns, "-j", "link", "show")
	if err != nil {
		return nil, err
	}
	var links []struct {
		IfName string `json:"ifname"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		return nil, fmt.Errorf("netns: parse ip link output: %w", err)
	}
	names := make([]string, 0, len(links))
	for _, l := range links {
		names = append(names, l.IfName)
	}
	return names, nil
}

// netnsNames lists the named network namespaces (/run/netns).
func (m *Manager) netnsNames(ctx context.Context) ([]string, error) {
	out, err := run(ctx, nil, m.cfg.IPPath, "-j", "netns", "list")
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(out)) == 0 { // older iproute2 prints nothing when there is none
		return nil, nil
	}
	var nss []struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(out, &nss); err != nil {
		return nil, fmt.Errorf("netns: parse ip netns output: %w", err)
	}
	names := make([]string, 0, len(nss))
	for _, n := range nss {
		names = append(names, n.Name)
	}
	return names, nil
}
