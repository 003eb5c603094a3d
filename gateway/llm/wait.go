package llm

import "time"

// WaitTimeout ends an upstream exchange that waited too long: for the answer's first byte (its
// response headers), or between two reads of its body (a stream that stalls). It is a net.Error
// whose Timeout is true, so transports and adapters treat it as any timeout; its text is safe for
// clients (no URL, no address).
type WaitTimeout struct {
	FirstByte bool          // waiting for the first byte; false: between reads of the body
	After     time.Duration // the bound that was exceeded
}

func (e *WaitTimeout) Error() string {
	if e.FirstByte {
		return "the provider sent nothing within " + e.After.String()
	}
	return "the provider's answer stalled: nothing arrived for " + e.After.String()
}

// Timeout reports true: net.Error.
func (e *WaitTimeout) Timeout() bool { return true }

// Temporary reports true: the same request may succeed later (net.Error; deprecated there).
func (e *WaitTimeout) Temporary() bool { return true }
