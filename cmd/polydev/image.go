package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"text/tabwriter"

	"github.com/polydev/polydev/vm/image"
)

const imageUsage = `usage: polydev image <build|list> [flags]

  build   build the golden browser image into <data>/images/<recipe-hash>/ (root, debootstrap;
          about 2 minutes), or reuse a finished one with the same recipe
  list    list the finished images`

func imageCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%s", imageUsage)
	}
	fs := flag.NewFlagSet("image "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	agent := fs.String("agent", getenv("POLYDEV_IMAGE_AGENT"), "CGO_ENABLED=0 polydev-agent binary to install (POLYDEV_IMAGE_AGENT; default: next to polydev, then $PATH)")
	cfg, err := loadConfig(fs, args[1:], getenv)
	if err != nil {
		return err
	}
	switch args[0] {
	case "build":
		return imageBuild(ctx, cfg, *agent, stdout, stderr)
	case "list":
		return imageList(cfg, stdout)
	default:
		return fmt.Errorf("unknown image command %q\n%s", args[0], imageUsage)
	}
}

func imageBuild(ctx context.Context, cfg *Config, agent string, stdout, stderr io.Writer) error {
	agent, err := findAgent(agent)
	if err != nil {
		return err
	}
	src, err := image.HostSources("/")
	if err != nil {
		return err
	}
	im, err := image.Build(ctx, image.DefaultRecipe(src, agent), cfg.DataDir, cfg.logger(stderr))
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, im.Dir)
	return nil
}

func imageList(cfg *Config, stdout io.Writer) error {
	ims, err := image.List(cfg.DataDir)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HASH\tSUITE\tKERNEL\tSIZE\tBUILT")
	for _, im := range ims {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d MiB\t%s\n", im.Hash[:12], im.Recipe.Suite, im.KernelVersion, im.Size>>20, im.Built.UTC().Format("2006-01-02 15:04"))
	}
	return tw.Flush()
}

// findAgent resolves the agent binary: the flag, then polydev-agent beside this executable, then $PATH.
func findAgent(flagValue string) (string, error) {
	if flagValue != "" {
		if _, err := os.Stat(flagValue); err != nil {
			return "", fmt.Errorf("polydev-agent binary: %w", err)
		}
		return filepath.Abs(flagValue)
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "polydev-agent")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("polydev-agent"); err == nil {
		return filepath.Abs(p)
	}
	return "", fmt.Errorf("no polydev-agent binary: pass --agent (build it with CGO_ENABLED=0 go build ./cmd/polydev-agent)")
}
