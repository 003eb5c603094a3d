package image

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testRecipe(t *testing.T) Recipe {
	t.Helper()
	agent := filepath.Join(t.TempDir(), "polydev-agent")
	if err := os.WriteFile(agent, []byte("agent v1"), 0o755); err != nil {
		t.Fatal(err)
	}
	src := Sources{Mirror: "http://deb.debian.org/debian", Entries: []Source{
		{URI: "http://deb.debian.org/debian", Suites: []string{"bookworm", "bookworm-updates"}, Components: []string{"main"}},
	}}
	return DefaultRecipe(src, agent)
}

func TestRecipeHashStable(t *testing.T) {
	t.Parallel()
	r := testRecipe(t)
	h1, err := r.Hash()
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := r.Hash()
	if h1 != h2 || len(h1) != 64 {
		t.Fatalf("hash not stable: %s vs %s", h1, h2)
	}
	// Package order and duplicates do not matter: the list is a set.
	r2 := r
	r2.Packages = append([]string{"xvfb"}, r.Packages...)
	for i, j := 0, len(r2.Packages)-1; i < j; i, j = i+1, j-1 {
		r2.Packages[i], r2.Packages[j] = r2.Packages[j], r2.Packages[i]
	}
	if h, _ := r2.Hash(); h != h1 {
		t.Errorf("reordered packages changed the hash")
	}
	// The agent's path does not matter, its content does.
	copyAgent := filepath.Join(t.TempDir(), "other-name")
	data, _ := os.ReadFile(r.AgentPath)
	os.WriteFile(copyAgent, data, 0o755)
	r3 := r
	r3.AgentPath = copyAgent
	if h, _ := r3.Hash(); h != h1 {
		t.Errorf("same agent at another path changed the hash")
	}
}

func TestRecipeHashChangesWithEveryInput(t *testing.T) {
	t.Parallel()
	base := testRecipe(t)
	h0, err := base.Hash()
	if err != nil {
		t.Fatal(err)
	}
	otherAgent := filepath.Join(t.TempDir(), "agent2")
	os.WriteFile(otherAgent, []byte("agent v2"), 0o755)
	cases := map[string]func(r *Recipe){
		"suite":    func(r *Recipe) { r.Suite = "trixie" },
		"arch":     func(r *Recipe) { r.Arch = "arm64" },
		"mirror":   func(r *Recipe) { r.Mirror = "http://mirror.example/debian" },
		"sources":  func(r *Recipe) { r.Sources = append(r.Sources, "deb http://x/ y main") },
		"packages": func(r *Recipe) { r.Packages = append(r.Packages, "curl") },
		"kernel":   func(r *Recipe) { r.KernelPackage = "linux-image-cloud-amd64" },
		"modules":  func(r *Recipe) { r.Modules = append(r.Modules, "vsock") },
		"module order": func(r *Recipe) {
			r.Modules[0], r.Modules[1] = r.Modules[1], r.Modules[0]
		},
		"agent":       func(r *Recipe) { r.AgentPath = otherAgent },
		"extra files": func(r *Recipe) { r.ExtraFiles = map[string]string{"/etc/motd": "hi\n"} },
		"epoch":       func(r *Recipe) { r.Epoch++ },
		"cli versions": func(r *Recipe) {
			r.CLIs.PackageJSON = []byte(strings.Replace(string(r.CLIs.PackageJSON), "0.61.0", "0.62.0", 1))
		},
		"cli lock": func(r *Recipe) { r.CLIs.Lock = append(append([]byte(nil), r.CLIs.Lock...), ' ') },
		"no clis":  func(r *Recipe) { r.CLIs = CLIs{} },
	}
	seen := map[string]string{h0: "base"}
	for name, mutate := range cases {
		r := base
		r.Packages = append([]string(nil), base.Packages...)
		r.Modules = append([]string(nil), base.Modules...)
		r.Sources = append([]string(nil), base.Sources...)
		mutate(&r)
		h, err := r.Hash()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if prev, dup := seen[h]; dup {
			t.Errorf("changing %s gives the same hash as %s", name, prev)
		}
		seen[h] = name
	}
}

func TestRecipeCanonicalCoversBuilder(t *testing.T) {
	t.Parallel()
	c, err := testRecipe(t).canonical()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"builder_version": `, `"builder_sha256": "` + builderDigest() + `"`, `"agent_sha256": "`} {
		if !strings.Contains(string(c), want) {
			t.Errorf("canonical recipe lacks %s:\n%s", want, c)
		}
	}
}

func TestRecipeWithoutAgent(t *testing.T) {
	t.Parallel()
	r := testRecipe(t)
	r.AgentPath = filepath.Join(t.TempDir(), "missing")
	if _, err := r.Hash(); err == nil {
		t.Fatal("hash of a recipe whose agent is missing succeeded")
	}
	r.AgentPath = ""
	if err := r.validate(); err == nil {
		t.Fatal("a recipe without an agent validated")
	}
}
