package image

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestImageParseSourcesList(t *testing.T) {
	t.Parallel()
	in := `# comment
deb http://deb.debian.org/debian/ bookworm main contrib
deb-src http://deb.debian.org/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://mirror.example/debian bookworm-updates main # trailing
deb [ arch=amd64 ] http://security.debian.org/debian-security bookworm-security main

`
	got, err := ParseSourcesList(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Source{
		{URI: "http://deb.debian.org/debian", Suites: []string{"bookworm"}, Components: []string{"main", "contrib"}},
		{URI: "http://mirror.example/debian", Suites: []string{"bookworm-updates"}, Components: []string{"main"}},
		{URI: "http://security.debian.org/debian-security", Suites: []string{"bookworm-security"}, Components: []string{"main"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if _, err := ParseSourcesList(strings.NewReader("deb http://only-uri\n")); err == nil {
		t.Error("a line without a suite parsed")
	}
}

func TestImageParseDeb822(t *testing.T) {
	t.Parallel()
	in := `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main

Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Enabled: no

Types: deb deb-src
URIs: http://a.example/debian http://b.example/debian/
Suites: bookworm
Components: main non-free-firmware
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 -----END PGP PUBLIC KEY BLOCK-----
`
	got, err := ParseDeb822(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Source{
		{URI: "http://deb.debian.org/debian", Suites: []string{"bookworm", "bookworm-updates"}, Components: []string{"main"}},
		{URI: "http://a.example/debian", Suites: []string{"bookworm"}, Components: []string{"main", "non-free-firmware"}},
		{URI: "http://b.example/debian", Suites: []string{"bookworm"}, Components: []string{"main", "non-free-firmware"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

func TestImageHostSources(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	write := func(p, s string) {
		p = filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// This host's layout: only deb822 files, one of them disabled by renaming.
	write("etc/apt/sources.list.d/debian.sources", `Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main

Types: deb
URIs: http://mirror.internal/debian
Suites: bookworm bookworm-updates
Components: main
`)
	write("etc/apt/sources.list.d/other.sources.disabled-by-farm", "Types: deb\nURIs: http://nope/\nSuites: x\n")
	write("etc/apt/sources.list.d/nodesource.list", "deb https://deb.nodesource.com/node_20.x nodistro main\n")
	src, err := HostSources(root)
	if err != nil {
		t.Fatal(err)
	}
	if src.Mirror != "http://mirror.internal/debian" {
		t.Errorf("mirror = %q, want the non-security archive", src.Mirror)
	}
	want := []string{
		"deb http://deb.debian.org/debian-security bookworm-security main",
		"deb http://mirror.internal/debian bookworm main",
		"deb http://mirror.internal/debian bookworm-updates main",
	}
	if got := src.Lines("bookworm"); !reflect.DeepEqual(got, want) {
		t.Errorf("lines = %q\nwant %q", got, want)
	}

	// The classic layout: /etc/apt/sources.list only.
	root2 := t.TempDir()
	os.MkdirAll(filepath.Join(root2, "etc/apt"), 0o755)
	os.WriteFile(filepath.Join(root2, "etc/apt/sources.list"), []byte("deb http://ftp.de.debian.org/debian bookworm main\n"), 0o644)
	if src, err := HostSources(root2); err != nil || src.Mirror != "http://ftp.de.debian.org/debian" {
		t.Errorf("sources.list host: %+v, %v", src, err)
	}

	if _, err := HostSources(t.TempDir()); err == nil {
		t.Error("a host without sources gave a mirror")
	}
}
