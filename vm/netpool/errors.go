package netpool

import (
	"errors"
	"fmt"
	"net/netip"
)

// ErrExhausted matches (errors.Is) every *ExhaustedError.
var ErrExhausted = errors.New("netpool: address pool exhausted")

// ExhaustedError reports that no slot could be leased: every usable address is taken, or the store
// kept losing claims to other allocators for several rounds.
type ExhaustedError struct {
	CIDR   netip.Prefix
	Size   int // usable slots in CIDR
	Leased int // slots leased when the allocator gave up
}

func (e *ExhaustedError) Error() string {
	return fmt.Sprintf("netpool: no free address in %v (%d usable, %d leased)", e.CIDR, e.Size, e.Leased)
}

// Is makes errors.Is(err, ErrExhausted) true.
func (e *ExhaustedError) Is(target error) bool { return target == ErrExhausted }
