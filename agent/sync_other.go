//go:build !linux

package agent

import "time"

func setClock(time.Time) error          { return errUnsupported }
func addEntropy([]byte) (string, error) { return "", errUnsupported }
