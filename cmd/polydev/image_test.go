package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestImageListEmptyAndUsage(t *testing.T) {
	t.Parallel()
	env := func(string) string { return "" }
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"image", "list", "--data-dir", t.TempDir()}, env, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "HASH") || strings.Count(out.String(), "\n") != 1 {
		t.Errorf("empty list = %q", out.String())
	}
	if err := run(context.Background(), []string{"image"}, env, &out, &errb); err == nil || !strings.Contains(err.Error(), "image <build|list>") {
		t.Errorf("no subcommand: %v", err)
	}
	if err := run(context.Background(), []string{"image", "frobnicate"}, env, &out, &errb); err == nil {
		t.Error("unknown image subcommand accepted")
	}
}

func TestImageBuildWithMissingAgent(t *testing.T) {
	t.Parallel()
	env := func(string) string { return "" }
	var out, errb bytes.Buffer
	missing := filepath.Join(t.TempDir(), "no-agent")
	err := run(context.Background(), []string{"image", "build", "--data-dir", t.TempDir(), "--agent", missing}, env, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "agent") {
		t.Fatalf("build with a missing agent: %v", err)
	}
	if _, statErr := os.Stat(missing); statErr == nil {
		t.Fatal("test setup: agent exists")
	}
}
