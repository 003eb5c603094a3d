package agents

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// binDir is where binary built polydev, for TestMain to remove ("" when no test needed it).
var binDir string

// binary builds polydev once per test run.
var binary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "polydev-agents-bin")
	if err != nil {
		return "", err
	}
	binDir = dir
	path := filepath.Join(dir, "polydev")
	out, err := exec.Command("go", "build", "-o", path, "../../cmd/polydev").CombinedOutput()
	if err != nil {
		return "", &buildError{string(out)}
	}
	return path, nil
})

type buildError struct{ out string }

func (e *buildError) Error() string { return "go build: " + e.out }

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// toolsDir is scripts/npmtools.sh's install directory, or a skip (a failure under make test, which
// sets POLYDEV_REQUIRE_NPM_TOOLS) saying how to get it.
func toolsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("POLYDEV_NPM_TOOLS")
	why := ""
	switch {
	case dir == "":
		why = "POLYDEV_NPM_TOOLS is not set (make test sets it; or POLYDEV_NPM_TOOLS=$(scripts/npmtools.sh) go test ./e2e/agents)"
	default:
		for _, bin := range []string{"node", "claude", "codex", "gemini"} {
			if _, err := os.Stat(filepath.Join(dir, "node_modules", ".bin", bin)); err != nil {
				why = "POLYDEV_NPM_TOOLS=" + dir + " has no " + bin + ": " + err.Error()
				break
			}
		}
	}
	if why != "" {
		if os.Getenv("POLYDEV_REQUIRE_NPM_TOOLS") == "1" {
			t.Fatal(why)
		}
		t.Skip(why)
	}
	return dir
}
