package crosstest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackageDocs: every package of this tree says, in its doc comment, what it owns.
func TestPackageDocs(t *testing.T) {
	t.Parallel()
	docs := map[string]bool{}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		dir := filepath.Dir(path)
		if !ours(dir) {
			return nil // other teams' packages under gateway/ answer for themselves
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		docs[dir] = docs[dir] || (f.Doc != nil && len(strings.Fields(f.Doc.Text())) > 5)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for dir, ok := range docs {
		if !ok {
			t.Errorf("package %s has no doc comment", dir)
		}
	}
}

// ours reports whether dir belongs to the translation core.
func ours(dir string) bool {
	rel := filepath.ToSlash(strings.TrimPrefix(dir, ".."+string(filepath.Separator)))
	for _, p := range []string{"sse", "llm", "provider", "inbound", "internal", "crosstest"} {
		if rel == p || strings.HasPrefix(rel, p+"/") {
			return true
		}
	}
	return false
}
