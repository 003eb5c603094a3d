package agent

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testToken = "0123456789abcdef0123456789abcdef"

type fixedSource struct{ snap Snapshot }

func (f fixedSource) Snapshot() Snapshot { return f.snap }

func TestCredentialHandBack(t *testing.T) {
	t.Parallel()
	var got []Credentials
	gate, err := NewCredentialGate(testToken, func(_ context.Context, c Credentials) error {
		got = append(got, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(fixedSource{}, gate, nil, nil)
	good := `{"target_url":"https://example.test/login","username":"u","password":"p"}`
	steps := []struct {
		name, auth, body string
		want             int
	}{
		{"no header", "", good, http.StatusUnauthorized},
		{"wrong token", "Bearer " + strings.Repeat("x", len(testToken)), good, http.StatusUnauthorized},
		{"prefix of token", "Bearer " + testToken[:10], good, http.StatusUnauthorized},
		{"not bearer", "Basic " + testToken, good, http.StatusUnauthorized},
		{"bad body keeps token", "Bearer " + testToken, `{"nope":1}`, http.StatusBadRequest},
		{"right token", "Bearer " + testToken, good, http.StatusNoContent},
		{"reuse", "Bearer " + testToken, good, http.StatusUnauthorized},
	}
	for _, st := range steps {
		if code := postCredentials(h, st.auth, st.body); code != st.want {
			t.Fatalf("%s: %d, want %d", st.name, code, st.want)
		}
	}
	if len(got) != 1 || got[0].Username != "u" || got[0].Password != "p" {
		t.Fatalf("sink got %+v, want one hand-back", got)
	}
}

func TestCredentialsWithoutToken(t *testing.T) {
	t.Parallel()
	gate, err := NewCredentialGate("", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []*CredentialGate{gate, nil} {
		if code := postCredentials(NewHandler(fixedSource{}, g, nil, nil), "Bearer ", "{}"); code != http.StatusNotFound {
			t.Fatalf("no token configured: %d, want 404", code)
		}
	}
	if _, err := NewCredentialGate("short", nil); err == nil {
		t.Fatal("short token accepted")
	}
}

func postCredentials(h http.Handler, auth, body string) int {
	req := httptest.NewRequest(http.MethodPost, "/credentials", strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

func TestTokenFromCmdline(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                                      "",
		"console=ttyS0 root=/dev/vda":           "",
		"console=ttyS0 polydev.token=abc quiet": "abc",
		"polydev.token=abc\n":                   "abc",
		"xpolydev.token=abc":                    "",
	} {
		if got := TokenFromCmdline(in); got != want {
			t.Errorf("TokenFromCmdline(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLoadToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	cmdline := filepath.Join(dir, "cmdline")
	if err := os.WriteFile(file, []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cmdline, []byte("quiet polydev.token=fromcmdline"), 0o600); err != nil {
		t.Fatal(err)
	}
	if tok, err := LoadToken(file, cmdline); err != nil || tok != testToken {
		t.Fatalf("file: %q %v", tok, err)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("token file not removed after reading: %v", err)
	}
	if tok, err := LoadToken("", cmdline); err != nil || tok != "fromcmdline" {
		t.Fatalf("cmdline: %q %v", tok, err)
	}
	if tok, err := LoadToken("", filepath.Join(dir, "absent")); err != nil || tok != "" {
		t.Fatalf("absent cmdline: %q %v", tok, err)
	}
}

func FuzzTokenFromCmdline(f *testing.F) {
	f.Add("console=ttyS0 polydev.token=abc")
	f.Fuzz(func(t *testing.T, s string) {
		if tok := TokenFromCmdline(s); strings.ContainsAny(tok, " \t\n") {
			t.Fatalf("token %q has whitespace", tok)
		}
	})
}
