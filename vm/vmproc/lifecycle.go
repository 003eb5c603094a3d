package vmproc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/polydev/polydev/vm"
)

// VMM is what one hypervisor supplies to the shared Lifecycle: the few operations that differ
// between VMMs. Each is called with the machine locked.
type VMM[X any] interface {
	// Boot runs the guest of a created VM (its process is waiting for the first start).
	Boot(ctx context.Context, m *Machine[X]) error
	// Pause freezes a running guest; Resume lets a paused one run again.
	Pause(ctx context.Context, m *Machine[X]) error
	Resume(ctx context.Context, m *Machine[X]) error
	// ColdBoot starts a stopped VM again: a new process, same Spec, same disk. On failure the new
	// process must be gone, so Start can be retried.
	ColdBoot(ctx context.Context, m *Machine[X]) error
	// Powerdown asks the guest to shut down (ACPI button, Ctrl+Alt+Del); Halt then waits for the
	// process to go.
	Powerdown(ctx context.Context, m *Machine[X]) error
	// Halt makes sure the process is gone, after up to grace for it to leave on its own, and removes
	// its socket and pid file.
	Halt(ctx context.Context, m *Machine[X], grace time.Duration) error
	// Query asks the live VMM which state the VM is in.
	Query(ctx context.Context, m *Machine[X]) (vm.State, error)
	// Files are removed when the VM is destroyed, after Halt: log, overlay, memory file.
	Files(m *Machine[X]) []string
}

// Lifecycle is the state machine every driver shares: Start, Stop, Destroy, State and the
// pause-save-resume frame of Snapshot, over a Registry of machines, calling the VMM for what differs.
type Lifecycle[X any] struct {
	Name        string        // "qemu", "firecracker": prefixes log lines
	VMM         VMM[X]        // the hypervisor's operations
	StopTimeout time.Duration // how long Stop lets a guest shut down before killing it
	Log         *slog.Logger
	VMs         Registry[X]
}

// Start implements vm.Driver: boot a created VM, resume a paused one, cold-boot a stopped one.
func (l *Lifecycle[X]) Start(ctx context.Context, id string) error {
	m, err := l.VMs.Lock(id)
	if err != nil {
		return err
	}
	defer m.Mu.Unlock()
	switch m.Observe() {
	case vm.StateRunning:
		return nil
	case vm.StateCreated:
		err = l.VMM.Boot(ctx, m)
	case vm.StatePaused:
		err = l.VMM.Resume(ctx, m)
	case vm.StateStopped:
		err = l.VMM.ColdBoot(ctx, m)
	default:
		return fmt.Errorf("%w: cannot start VM %s in state %s", vm.ErrInvalidState, id, m.State)
	}
	if err != nil {
		return err
	}
	m.State = vm.StateRunning
	l.Log.Info(l.Name+" VM running", "vm", id)
	return nil
}

// Stop implements vm.Driver: the guest is asked to shut down and given StopTimeout (or until ctx's
// end) to go, then its process is killed. A created VM has no guest yet and is killed at once.
func (l *Lifecycle[X]) Stop(ctx context.Context, id string) error {
	m, err := l.VMs.Lock(id)
	if err != nil {
		return err
	}
	defer m.Mu.Unlock()
	switch m.Observe() {
	case vm.StateStopped:
		return nil
	case vm.StateFailed:
		return fmt.Errorf("%w: VM %s has failed; destroy it", vm.ErrInvalidState, id)
	case vm.StateCreated:
		if err := l.VMM.Halt(ctx, m, 0); err != nil {
			return err
		}
	case vm.StatePaused, vm.StateRunning:
		m.Stopping = true
		if m.State == vm.StatePaused {
			if err := l.VMM.Resume(ctx, m); err != nil { // a paused guest cannot see the request
				l.Log.Warn(l.Name+" resume before stop failed", "vm", id, "err", err)
			}
		}
		if err := l.VMM.Powerdown(ctx, m); err != nil {
			l.Log.Warn(l.Name+" shutdown request failed; killing", "vm", id, "err", err)
		}
		if err := l.VMM.Halt(ctx, m, l.StopTimeout); err != nil {
			return err
		}
	}
	m.State = vm.StateStopped
	l.Log.Info(l.Name+" VM stopped", "vm", id)
	return nil
}

// Destroy implements vm.Driver: kill the process, then remove the VM's files. A VM whose files
// cannot be removed is kept as failed, so that Destroy can be retried.
func (l *Lifecycle[X]) Destroy(ctx context.Context, id string) error {
	m, err := l.VMs.Lock(id)
	if errors.Is(err, vm.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	defer m.Mu.Unlock()
	if err := l.VMM.Halt(ctx, m, 0); err != nil {
		m.State = vm.StateFailed
		return err
	}
	if err := RemoveFiles(l.VMM.Files(m)...); err != nil {
		m.State = vm.StateFailed
		return err
	}
	l.VMs.Forget(m)
	l.Log.Info(l.Name+" VM destroyed", "vm", id)
	return nil
}

// State implements vm.Driver, asking the VMM while its process is alive.
func (l *Lifecycle[X]) State(ctx context.Context, id string) (vm.State, error) {
	m, err := l.VMs.Lock(id)
	if err != nil {
		return "", err
	}
	defer m.Mu.Unlock()
	if st := m.Observe(); st == vm.StateStopped || st == vm.StateFailed {
		return st, nil
	}
	st, err := l.VMM.Query(ctx, m)
	if err != nil {
		if st := m.Observe(); st == vm.StateFailed {
			return st, nil // it died while we asked
		}
		return m.State, err
	}
	m.State = st
	return st, nil
}

// Paused runs save on VM id's machine with its guest paused: a running guest is paused first and
// resumed afterwards, even when ctx has ended or save failed, so a snapshot never leaves a guest
// frozen. Only a running or paused VM can be saved, and only when check (if any) accepts it.
func (l *Lifecycle[X]) Paused(ctx context.Context, id string, check, save func(*Machine[X]) error) error {
	m, err := l.VMs.Lock(id)
	if err != nil {
		return err
	}
	defer m.Mu.Unlock()
	was := m.Observe()
	if was != vm.StateRunning && was != vm.StatePaused {
		return fmt.Errorf("%w: cannot snapshot VM %s in state %s", vm.ErrInvalidState, id, was)
	}
	if check != nil {
		if err := check(m); err != nil {
			return err
		}
	}
	if was == vm.StateRunning {
		if err := l.VMM.Pause(ctx, m); err != nil {
			return err
		}
		m.State = vm.StatePaused
	}
	saveErr := save(m)
	if was != vm.StateRunning {
		return saveErr
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	resumeErr := l.VMM.Resume(rctx, m)
	if resumeErr == nil {
		m.State = vm.StateRunning
	}
	return errors.Join(saveErr, resumeErr)
}
