package vm

import "errors"

// Errors every driver returns (wrapped, so test with errors.Is). The controller maps them to
// polydev error codes; drivers never build client-facing messages themselves.
var (
	// ErrNotFound: the driver knows no VM with that id.
	ErrNotFound = errors.New("vm: no such VM")
	// ErrExists: Create or Restore was called with an id the driver already manages.
	ErrExists = errors.New("vm: VM already exists")
	// ErrInvalidState: the operation is not allowed in the VM's current state (see State.CanBecome).
	ErrInvalidState = errors.New("vm: operation not allowed in this state")
	// ErrUnsupported: the driver cannot do what the Spec asks (e.g. user-mode networking on Firecracker).
	ErrUnsupported = errors.New("vm: not supported by this driver")
	// ErrInvalidSpec: the Spec breaks a rule checked by Spec.Validate.
	ErrInvalidSpec = errors.New("vm: invalid spec")
)
