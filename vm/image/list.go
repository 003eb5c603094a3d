package image

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Open returns the finished image in dir; a directory without the done marker is not an image.
func Open(dir string) (*Image, error) {
	done, err := os.Stat(filepath.Join(dir, fileDone))
	if err != nil {
		return nil, fmt.Errorf("no finished image in %s", dir)
	}
	im := &Image{Hash: filepath.Base(dir), Dir: dir, Built: done.ModTime()}
	raw, err := os.ReadFile(filepath.Join(dir, FileRecipe))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &im.Recipe); err != nil {
		return nil, fmt.Errorf("%s: %w", FileRecipe, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if info, err := e.Info(); err == nil {
			im.Size += info.Size()
		}
	}
	if log, err := os.ReadFile(filepath.Join(dir, FileLog)); err == nil {
		for _, line := range strings.Split(string(log), "\n") {
			if v, ok := strings.CutPrefix(line, "kernel "); ok {
				im.KernelVersion, _, _ = strings.Cut(v, ":")
				break
			}
		}
	}
	return im, nil
}

// List returns the finished images under dataDir, newest first.
func List(dataDir string) ([]*Image, error) {
	ents, err := os.ReadDir(ImagesDir(dataDir))
	if os.IsNotExist(err) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var out []*Image
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if im, err := Open(filepath.Join(ImagesDir(dataDir), e.Name())); err == nil {
			out = append(out, im)
		}
	}
	slices.SortFunc(out, func(a, b *Image) int { return b.Built.Compare(a.Built) })
	return out, nil
}
