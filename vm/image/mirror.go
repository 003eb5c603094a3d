package image

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Source is one APT repository: its URL, suites and components.
type Source struct {
	URI        string
	Suites     []string
	Components []string
}

// Sources are the host's configured Debian repositories; Mirror is the main archive (the one that
// serves the suite itself, not -security).
type Sources struct {
	Mirror  string
	Entries []Source
}

// Lines renders the entries that serve suite, suite-updates or suite-security as one-line
// sources.list entries for the guest.
func (s Sources) Lines(suite string) []string {
	var out []string
	for _, e := range s.Entries {
		for _, su := range e.Suites {
			if su != suite && !strings.HasPrefix(su, suite+"-") {
				continue
			}
			comps := e.Components
			if len(comps) == 0 {
				comps = []string{"main"}
			}
			out = append(out, fmt.Sprintf("deb %s %s %s", e.URI, su, strings.Join(comps, " ")))
		}
	}
	return out
}

// HostSources reads root/etc/apt/sources.list and root/etc/apt/sources.list.d/*.list and *.sources
// (root is "/" on the host; tests pass a directory). Files with other suffixes (disabled ones) are
// ignored, as APT does.
func HostSources(root string) (Sources, error) {
	var all []Source
	read := func(path string, parse func(io.Reader) ([]Source, error)) error {
		f, err := os.Open(path)
		if os.IsNotExist(err) {
			return nil
		} else if err != nil {
			return err
		}
		defer f.Close()
		s, err := parse(f)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		all = append(all, s...)
		return nil
	}
	if err := read(filepath.Join(root, "etc/apt/sources.list"), ParseSourcesList); err != nil {
		return Sources{}, err
	}
	dir := filepath.Join(root, "etc/apt/sources.list.d")
	ents, _ := os.ReadDir(dir) // a missing directory is no source
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		var err error
		switch {
		case strings.HasSuffix(e.Name(), ".list"):
			err = read(p, ParseSourcesList)
		case strings.HasSuffix(e.Name(), ".sources"):
			err = read(p, ParseDeb822)
		}
		if err != nil {
			return Sources{}, err
		}
	}
	return newSources(all)
}

func newSources(all []Source) (Sources, error) {
	s := Sources{Entries: all}
	for _, e := range all {
		if !strings.Contains(e.URI, "security") && !slices.ContainsFunc(e.Suites, func(su string) bool { return strings.HasSuffix(su, "-security") }) {
			s.Mirror = e.URI
			break
		}
	}
	if s.Mirror == "" {
		return s, fmt.Errorf("no Debian archive in the host's APT sources (/etc/apt/sources.list or sources.list.d/*.sources)")
	}
	return s, nil
}

// ParseSourcesList parses the one-line format: `deb [opts] URI suite [component...]`. deb-src lines,
// comments and blank lines are skipped.
func ParseSourcesList(r io.Reader) ([]Source, error) {
	var out []Source
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		if len(f) > 0 && strings.HasPrefix(f[0], "[") { // options may contain spaces: [ arch=amd64 signed-by=… ]
			for len(f) > 0 {
				last := f[0]
				f = f[1:]
				if strings.HasSuffix(last, "]") {
					break
				}
			}
		}
		if len(f) < 2 {
			return nil, fmt.Errorf("malformed line %q", sc.Text())
		}
		out = append(out, Source{URI: strings.TrimSuffix(f[0], "/"), Suites: []string{f[1]}, Components: f[2:]})
	}
	return out, sc.Err()
}

// ParseDeb822 parses the deb822 format (*.sources): stanzas separated by blank lines, with Types, URIs,
// Suites, Components and Enabled fields. Only Types including deb and not Enabled: no are kept; a stanza
// with several URIs yields one Source per URI.
func ParseDeb822(r io.Reader) ([]Source, error) {
	var out []Source
	fields := map[string]string{}
	last := ""
	flush := func() {
		defer clear(fields)
		if len(fields) == 0 || !slices.Contains(strings.Fields(fields["types"]), "deb") || strings.EqualFold(fields["enabled"], "no") {
			return
		}
		for _, u := range strings.Fields(fields["uris"]) {
			out = append(out, Source{URI: strings.TrimSuffix(u, "/"), Suites: strings.Fields(fields["suites"]), Components: strings.Fields(fields["components"])})
		}
	}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#"):
		case strings.TrimSpace(line) == "":
			flush()
		case line[0] == ' ' || line[0] == '\t': // continuation (multi-line Signed-By keys)
			if last != "" {
				fields[last] += " " + strings.TrimSpace(line)
			}
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				return nil, fmt.Errorf("malformed line %q", line)
			}
			last = strings.ToLower(strings.TrimSpace(k))
			fields[last] = strings.TrimSpace(v)
		}
	}
	flush()
	return out, sc.Err()
}
