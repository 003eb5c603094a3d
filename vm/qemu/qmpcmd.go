package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// Status is query-status's answer. Status is QEMU's RunState: "prelaunch", "running", "paused",
// "inmigrate", "postmigrate", "shutdown", "guest-panicked", ...
type Status struct {
	Running bool   `json:"running"`
	Status  string `json:"status"`
}

// QueryStatus asks for the VM's run state.
func (c *Client) QueryStatus(ctx context.Context) (Status, error) {
	var s Status
	err := c.Execute(ctx, "query-status", nil, &s)
	return s, err
}

// Stop pauses the vCPUs.
func (c *Client) Stop(ctx context.Context) error { return c.Execute(ctx, "stop", nil, nil) }

// Cont resumes the vCPUs (and boots a VM started with -S).
func (c *Client) Cont(ctx context.Context) error { return c.Execute(ctx, "cont", nil, nil) }

// SystemPowerdown presses the ACPI power button.
func (c *Client) SystemPowerdown(ctx context.Context) error {
	return c.Execute(ctx, "system_powerdown", nil, nil)
}

// Quit ends QEMU at once.
func (c *Client) Quit(ctx context.Context) error { return c.Execute(ctx, "quit", nil, nil) }

// MigrateSetCapabilities switches migration capabilities (e.g. "x-ignore-shared").
func (c *Client) MigrateSetCapabilities(ctx context.Context, caps map[string]bool) error {
	type capability struct {
		Capability string `json:"capability"`
		State      bool   `json:"state"`
	}
	list := make([]capability, 0, len(caps))
	for _, name := range sortedKeys(caps) {
		list = append(list, capability{name, caps[name]})
	}
	return c.Execute(ctx, "migrate-set-capabilities", map[string]any{"capabilities": list}, nil)
}

// MigrateSetMaxBandwidth lifts migration's bandwidth cap (bytes per second). QEMU's default of
// 128 MiB/s made a snapshot to a local file take seconds instead of milliseconds.
func (c *Client) MigrateSetMaxBandwidth(ctx context.Context, bytesPerSecond int64) error {
	return c.Execute(ctx, "migrate-set-parameters", map[string]any{"max-bandwidth": bytesPerSecond}, nil)
}

// GetFD hands f's descriptor to QEMU under name, for a later "fd:name" migration URI. QEMU keeps its
// own duplicate until a migration consumes it or CloseFD; the caller may close f at once.
func (c *Client) GetFD(ctx context.Context, name string, f *os.File) error {
	return c.ExecuteWithFile(ctx, "getfd", map[string]any{"fdname": name}, nil, f)
}

// CloseFD drops a descriptor handed over with GetFD and not consumed.
func (c *Client) CloseFD(ctx context.Context, name string) error {
	return c.Execute(ctx, "closefd", map[string]any{"fdname": name}, nil)
}

// Migrate starts an outgoing migration to uri ("fd:name" after GetFD, "exec:cmd", ...).
func (c *Client) Migrate(ctx context.Context, uri string) error {
	return c.Execute(ctx, "migrate", map[string]any{"uri": uri}, nil)
}

// MigrateIncoming starts loading a VM started with `-incoming defer` from uri.
func (c *Client) MigrateIncoming(ctx context.Context, uri string) error {
	return c.Execute(ctx, "migrate-incoming", map[string]any{"uri": uri}, nil)
}

// MigrationInfo is query-migrate's answer.
type MigrationInfo struct {
	Status    string `json:"status"` // none, setup, active, completed, failed, cancelled, ...
	ErrorDesc string `json:"error-desc,omitempty"`
}

// QueryMigrate asks how the current migration is going.
func (c *Client) QueryMigrate(ctx context.Context) (MigrationInfo, error) {
	var info MigrationInfo
	err := c.Execute(ctx, "query-migrate", nil, &info)
	return info, err
}

// WaitMigration polls query-migrate every interval until the migration completed (nil), failed or
// was cancelled (*MigrationError), or ctx ends.
func (c *Client) WaitMigration(ctx context.Context, interval time.Duration) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		info, err := c.QueryMigrate(ctx)
		if err != nil {
			return err
		}
		switch info.Status {
		case "completed":
			return nil
		case "failed", "cancelled":
			return &MigrationError{Status: info.Status, Desc: info.ErrorDesc}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("qemu: migration still %s: %w", info.Status, ctx.Err())
		case <-c.done:
			return errors.Join(fmt.Errorf("qemu: migration still %s", info.Status), ErrClosed)
		case <-tick.C:
		}
	}
}
