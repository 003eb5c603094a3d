package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/pricing"
)

// maxPriceFile bounds the file `pricing import` reads (LiteLLM's list is about 1.6 MB).
const maxPriceFile = 64 << 20

// pricingCmd is `polydev pricing import FILE`: it refreshes the imported layer of the price table
// from a price list (Polydev's own format or LiteLLM's model_prices_and_context_window.json). The
// layer sits above the embedded defaults and below the admins' overrides, which an import never
// replaces; a running server picks the rows up within its refresh period (30 s).
func pricingCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const use = "usage: polydev pricing import [--dry-run] FILE"
	if len(args) == 0 || args[0] != "import" {
		return fmt.Errorf("%s", use)
	}
	fs := flag.NewFlagSet("pricing import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dryRun := fs.Bool("dry-run", false, "parse and report, write nothing")
	// FILE comes last; the flags before it are this command's and the usual store settings.
	rest := args[1:]
	if len(rest) == 0 || strings.HasPrefix(rest[len(rest)-1], "-") {
		return fmt.Errorf("%s", use)
	}
	file := rest[len(rest)-1]
	cfg, err := loadConfig(fs, rest[:len(rest)-1], getenv)
	if err != nil {
		return err
	}
	data, err := readLimited(file, maxPriceFile)
	if err != nil {
		return err
	}
	rows, skipped, err := pricing.ParseImport(data, polydev.Now())
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if len(rows) == 0 {
		return fmt.Errorf("%s: no model of openai, anthropic or gemini with a price (%d entries skipped)", file, skipped)
	}
	if *dryRun {
		for _, p := range rows {
			fmt.Fprintf(stdout, "%s\tinput %s\toutput %s\tmax output %d\n", p.Model, p.InputPerMTok, p.OutputPerMTok, p.MaxOutputTokens)
		}
		fmt.Fprintf(stdout, "%d models would be imported, %d entries skipped\n", len(rows), skipped)
		return nil
	}
	db, err := openStore(ctx, cfg, cfg.logger(stderr))
	if err != nil {
		return err
	}
	defer db.Close()
	written, err := db.ImportPrices(ctx, rows)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported %d models (%d kept their admin override, %d entries skipped)\n", written, len(rows)-written, skipped)
	return nil
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d MiB", path, limit>>20)
	}
	return data, nil
}
