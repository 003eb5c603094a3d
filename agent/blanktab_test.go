package agent

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// pages lists the browser's page targets.
func pages(t *testing.T, d DevTools) []tabInfo {
	t.Helper()
	var tabs, out []tabInfo
	if err := d.call(t.Context(), http.MethodGet, "/json/list", &tabs); err != nil {
		t.Fatal(err)
	}
	for _, tab := range tabs {
		if tab.Type == "page" {
			out = append(out, tab)
		}
	}
	return out
}

// TestDevToolsOpenUsesBlankTabOnce: in a real Chromium, the first page opened takes the initial
// about:blank tab (no second tab), and the next one gets a tab of its own, leaving the first page
// where it is.
func TestDevToolsOpenUsesBlankTabOnce(t *testing.T) {
	t.Parallel()
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "<title>%s</title>", strings.TrimPrefix(r.URL.Path, "/"))
	}))
	t.Cleanup(site.Close)
	d := startChromium(t, "")
	before := pages(t, d)
	if len(before) != 1 || before[0].URL != "about:blank" {
		t.Fatalf("start pages %+v, want the one about:blank tab", before)
	}

	if err := d.Open(t.Context(), site.URL+"/first"); err != nil {
		t.Fatal(err)
	}
	waitForPage(t, d, site.URL+"/first", "first")
	after := pages(t, d)
	if len(after) != 1 || after[0].ID != before[0].ID {
		t.Fatalf("after the first open: %+v, want the initial tab %s navigated", after, before[0].ID)
	}

	if err := d.Open(t.Context(), site.URL+"/second"); err != nil {
		t.Fatal(err)
	}
	waitForPage(t, d, site.URL+"/second", "second")
	waitForPage(t, d, site.URL+"/first", "first")
	if got := pages(t, d); len(got) != 2 {
		t.Fatalf("after the second open: %+v, want two tabs", got)
	}
}
