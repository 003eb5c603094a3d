package mcp

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/polydev/polydev"
)

// cliSpec is how one coding CLI is found and how its sign-in shows: the credential file it writes
// when a user logs in, under its configuration directory (an environment variable may move it).
type cliSpec struct {
	provider polydev.CLIProvider
	binary   string
	dirEnv   string // the variable naming its configuration directory, if any
	dir      string // the default directory under $HOME
	creds    []string
}

var cliSpecs = []cliSpec{
	{polydev.CLIClaudeCode, "claude", "CLAUDE_CONFIG_DIR", ".claude", []string{".credentials.json"}},
	{polydev.CLICodex, "codex", "CODEX_HOME", ".codex", []string{"auth.json"}},
	{polydev.CLIGemini, "gemini", "", ".gemini", []string{"oauth_creds.json"}},
}

// DetectCLIs looks for claude, codex and gemini on PATH (as getenv gives it) and reports each: its
// path and whether it is signed in, which is whether its credential file exists; nothing is read
// from the file. (On macOS Claude Code keeps its login in the keychain, where this cannot see it:
// it is then reported signed out.) It runs nothing: AddVersions does, which takes longer.
func DetectCLIs(getenv func(string) string) []polydev.CLIStatus {
	out := make([]polydev.CLIStatus, 0, len(cliSpecs))
	for _, c := range cliSpecs {
		st := polydev.CLIStatus{Provider: c.provider, Status: polydev.CLINotInstalled}
		if path := lookPath(c.binary, getenv("PATH")); path != "" {
			st.Path, st.Status = path, polydev.CLIAvailable
		}
		dir := getenv(c.dirEnv)
		if c.dirEnv == "" || dir == "" {
			dir = filepath.Join(getenv("HOME"), c.dir)
		}
		for _, f := range c.creds {
			if fi, err := os.Stat(filepath.Join(dir, f)); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 {
				st.Authenticated = true
			}
		}
		out = append(out, st)
	}
	return out
}

// AddVersions runs each found CLI's `--version` (in parallel: each starts a runtime) and sets its
// first line as the version; a CLI that will not say is marked CLIError.
func AddVersions(ctx context.Context, sts []polydev.CLIStatus, getenv func(string) string) {
	var wg sync.WaitGroup
	for i := range sts {
		if sts[i].Path == "" {
			continue
		}
		wg.Go(func() {
			if sts[i].Version = cliVersion(ctx, sts[i].Path, getenv); sts[i].Version == "" {
				sts[i].Status = polydev.CLIError
			}
		})
	}
	wg.Wait()
}

// lookPath is exec.LookPath over a given PATH value.
func lookPath(name, path string) string {
	for _, dir := range filepath.SplitList(path) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue // never the current directory
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// cliVersion runs `path --version` briefly and returns the first line it printed, or "".
func cliVersion(ctx context.Context, path string, getenv func(string) string) string {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "--version")
	cmd.Env = []string{"PATH=" + getenv("PATH"), "HOME=" + getenv("HOME")}
	cmd.WaitDelay = time.Second
	b, err := cmd.Output()
	if err != nil {
		return ""
	}
	line, _, _ := bufio.NewReader(bytes.NewReader(b)).ReadLine()
	v := strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1 // terminal escapes and the like: the server takes printable text only
		}
		return r
	}, string(line)))
	if len(v) > 100 {
		v = v[:100]
	}
	return strings.ToValidUTF8(v, "")
}
