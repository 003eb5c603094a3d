package provider

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestTargetNeverShowsKey(t *testing.T) {
	t.Parallel()
	target := Target{BaseURL: "https://api.example.com/v1", APIKey: "sk-very-secret-key-0123456789"}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("call", "target", target)
	for _, s := range []string{
		fmt.Sprintf("%v", target), fmt.Sprintf("%+v", target), fmt.Sprintf("%#v", target), fmt.Sprintf("%s", target),
		fmt.Sprint(&target), logged.String(),
	} {
		if strings.Contains(s, target.APIKey) || strings.Contains(s, "0123456789") {
			t.Errorf("key shown: %s", s)
		}
		if !strings.Contains(s, "api.example.com") {
			t.Errorf("base URL missing: %s", s)
		}
	}
}
