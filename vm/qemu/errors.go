package qemu

import (
	"errors"
	"fmt"
)

// ErrClosed is returned for a QMP command whose answer never came because the socket closed (QEMU
// exited or crashed mid-command).
var ErrClosed = errors.New("qemu: QMP connection closed")

// QMPError is an error reply from QEMU: {"error": {"class": ..., "desc": ...}}.
type QMPError struct {
	Command string
	Class   string // e.g. GenericError, CommandNotFound, DeviceNotActive
	Desc    string
}

func (e *QMPError) Error() string {
	return fmt.Sprintf("qemu: QMP %s: %s: %s", e.Command, e.Class, e.Desc)
}

// MigrationError is a migration (snapshot or restore) that QEMU reported as failed.
type MigrationError struct {
	Status string
	Desc   string // QEMU's error-desc, when it gave one
}

func (e *MigrationError) Error() string {
	return fmt.Sprintf("qemu: migration %s: %s", e.Status, e.Desc)
}
