package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"slices"

	"github.com/polydev/polydev/vault"
)

const keysUsage = `usage: polydev keys <rotate|status|rewrap|retire --version N>

  rotate   add a new master key version; new writes use it (key file only; with
           POLYDEV_MASTER_KEY it prints the value to set instead)
  status   show the master key versions and how many data keys each one wraps
  rewrap   move every data key to the active version now (serve also does this in the background)
  retire   remove an old version once no data key uses it`

func keysCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%s", keysUsage)
	}
	fs := flag.NewFlagSet("keys "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	version := fs.Int("version", 0, "version to retire")
	cfg, err := loadConfig(fs, args[1:], getenv)
	if err != nil {
		return err
	}
	log := cfg.logger(stderr)
	kr, keyFile, err := loadKeyring(cfg, log)
	if err != nil {
		return err
	}
	if args[0] == "rotate" && keyFile == "" {
		return rotateEnvKey(kr, stdout)
	}
	db, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	v := vault.NewVault(kr, db, keyFile)

	switch args[0] {
	case "rotate":
		n, err := kr.RotateFile(keyFile)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "master key v%d added to %s and active for new writes.\n", n, keyFile)
		fmt.Fprintln(stdout, "A running server picks it up within a minute and rewraps data keys in the background;")
		fmt.Fprintln(stdout, "run 'polydev keys rewrap' to do it now, then 'polydev keys retire --version N' for old versions.")
		return nil
	case "status":
		counts, err := db.CountDataKeysByKEK(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "active master key: v%d\n", kr.Active())
		for _, ver := range kr.Versions() {
			fmt.Fprintf(stdout, "v%d: %d data keys\n", ver, counts[ver])
			delete(counts, ver)
		}
		for ver, n := range counts {
			fmt.Fprintf(stdout, "v%d: %d data keys (VERSION MISSING FROM KEYRING: they cannot be opened)\n", ver, n)
		}
		return nil
	case "rewrap":
		n, err := (&vault.Rewrapper{Vault: v, Log: log}).RunOnce(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%d data keys moved to v%d\n", n, kr.Active())
		return nil
	case "retire":
		if !slices.Contains(kr.Versions(), *version) {
			return fmt.Errorf("--version: v%d is not in the keyring", *version)
		}
		if *version == kr.Active() {
			return fmt.Errorf("v%d is the active version; rotate first", *version)
		}
		counts, err := db.CountDataKeysByKEK(ctx)
		if err != nil {
			return err
		}
		if n := counts[*version]; n > 0 {
			return fmt.Errorf("v%d still wraps %d data keys; run 'polydev keys rewrap' first", *version, n)
		}
		if keyFile == "" {
			fmt.Fprintf(stdout, "nothing uses v%d: remove it from POLYDEV_MASTER_KEY and restart.\n", *version)
			return nil
		}
		if err := kr.RetireFile(keyFile, *version); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "v%d removed from %s\n", *version, keyFile)
		return nil
	default:
		return fmt.Errorf("%s", keysUsage)
	}
}

// rotateEnvKey cannot change the environment, so it prints the new value to set on every replica.
func rotateEnvKey(kr *vault.Keyring, stdout io.Writer) error {
	next := kr.Active() + 1
	key := make([]byte, vault.KeySize)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "POLYDEV_MASTER_KEY comes from the environment. Append this version to it on every replica,\n")
	fmt.Fprintf(stdout, "restart them, then run 'polydev keys rewrap':\n\n,v%d:%s\n", next, base64.StdEncoding.EncodeToString(key))
	return nil
}
