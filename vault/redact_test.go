package vault

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestKeyringNeverPrintsKeys(t *testing.T) {
	t.Parallel()
	kr := mustKeyring(t, map[int][]byte{1: testKey('K'), 2: testKey('K')})
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
		out := fmt.Sprintf(verb, kr)
		if strings.Contains(out, "KKKK") || strings.Contains(out, "4b4b4b") || strings.Contains(out, "75 75") {
			t.Errorf("%s printed key bytes: %s", verb, out)
		}
	}
	if got := fmt.Sprint(kr); got != "vault.Keyring{active: v2, versions: [1 2]}" {
		t.Errorf("Sprint = %q", got)
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("loaded", "keyring", kr)
	if !strings.Contains(buf.String(), "keyring.active=2") || strings.Contains(buf.String(), "KKKK") {
		t.Errorf("slog output: %s", buf.String())
	}
}
