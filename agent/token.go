package agent

import (
	"errors"
	"io/fs"
	"os"
	"strings"
)

// TokenFromCmdline returns the value of polydev.token= in a kernel command line, or "".
func TokenFromCmdline(cmdline string) string {
	for _, f := range strings.Fields(cmdline) {
		if v, ok := strings.CutPrefix(f, "polydev.token="); ok {
			return v
		}
	}
	return ""
}

// LoadToken reads the one-time token: from tokenFile when it is set (the file is removed after
// reading, best effort: a read-only config drive keeps it), else from the kernel command line at
// cmdlinePath. A missing source gives "" and no error: the hand-back is then disabled.
func LoadToken(tokenFile, cmdlinePath string) (string, error) {
	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return "", err
		}
		_ = os.Remove(tokenFile)
		return strings.TrimSpace(string(b)), nil
	}
	if cmdlinePath == "" {
		return "", nil
	}
	b, err := os.ReadFile(cmdlinePath)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return TokenFromCmdline(string(b)), nil
}
