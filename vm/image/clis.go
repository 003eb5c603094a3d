package image

// The coding CLIs of the golden image (Claude Code, Codex CLI, Gemini CLI and the Node.js runtime
// they need), installed from npm at the exact versions of clis/package.json and clis/package-lock.json
// (the versions scripts/npmtools pins for the host-side agent tests; a test keeps them equal). Both
// files are embedded and their content is part of the recipe hash, so a version bump is a new image.
// The build runs the host's `npm ci` into <rootfs>/opt/polydev-clis (the packages' install steps run,
// Claude Code's puts its native binary in place), links the commands into /usr/local/bin and checks
// that each starts in the guest's root (`--version` under chroot).

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

//go:embed clis/package.json clis/package-lock.json
var clisFS embed.FS

// CLIs is an npm install: a package.json and its lock file.
type CLIs struct {
	PackageJSON []byte
	Lock        []byte
}

// DefaultCLIs are the golden image's coding CLIs.
func DefaultCLIs() CLIs {
	pj, _ := clisFS.ReadFile("clis/package.json")
	lock, _ := clisFS.ReadFile("clis/package-lock.json")
	return CLIs{PackageJSON: pj, Lock: lock}
}

// sha256 covers both files.
func (c CLIs) sha256() string {
	if len(c.PackageJSON) == 0 {
		return ""
	}
	h := sha256.New()
	for _, b := range [][]byte{c.PackageJSON, c.Lock} {
		fmt.Fprintf(h, "%d:", len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// CLIDir is where the CLIs live in the guest.
const CLIDir = "/opt/polydev-clis"

// cliCommands are linked into /usr/local/bin; node too, for the scripts' `#!/usr/bin/env node`.
var cliCommands = []string{"claude", "codex", "gemini", "node"}

func (b *builder) installCLIs(ctx context.Context) error {
	if len(b.r.CLIs.PackageJSON) == 0 {
		return nil
	}
	dir := filepath.Join(b.rootfs, CLIDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "package.json"), b.r.CLIs.PackageJSON, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "package-lock.json"), b.r.CLIs.Lock, 0o644); err != nil {
		return err
	}
	if err := b.cmd(ctx, "npm", "ci", "--prefix", dir, "--no-audit", "--no-fund", "--no-update-notifier"); err != nil {
		return err
	}
	for _, c := range cliCommands {
		link := filepath.Join(b.rootfs, "usr/local/bin", c)
		_ = os.Remove(link)
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			return err
		}
		if err := os.Symlink(filepath.Join(CLIDir, "node_modules/.bin", c), link); err != nil {
			return err
		}
	}
	// Each starts in the guest's root with a throwaway HOME, which is removed again.
	if err := os.MkdirAll(filepath.Join(b.rootfs, "tmp/cli-check"), 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(filepath.Join(b.rootfs, "tmp/cli-check"))
	for _, c := range cliCommands {
		if err := b.chroot(ctx, "env", "HOME=/tmp/cli-check", "DISABLE_AUTOUPDATER=1", "/usr/local/bin/"+c, "--version"); err != nil {
			return fmt.Errorf("%s does not start in the guest: %w", c, err)
		}
	}
	return nil
}
