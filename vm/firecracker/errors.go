package firecracker

import "fmt"

// APIError is a non-2xx answer from the Firecracker API. FaultMessage is Firecracker's own
// explanation (the Error definition's fault_message), or the start of the body when it sent none.
type APIError struct {
	Method       string
	Path         string
	StatusCode   int
	FaultMessage string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("firecracker: %s %s: status %d: %s", e.Method, e.Path, e.StatusCode, e.FaultMessage)
}
