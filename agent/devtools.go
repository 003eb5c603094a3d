package agent

// The running Chromium, driven over DevTools on guest loopback (127.0.0.1:9222 by default; the port
// is never forwarded to the host). Opening a page navigates the initial blank tab (blanktab.go) or
// makes a new one with the DevTools HTTP endpoint (PUT /json/new); typing credentials uses the
// DevTools protocol through chromedp.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/remote"
)

// DevTools is the browser as the login runner and the autofill see it.
type DevTools struct {
	Addr   string       // host:port of the DevTools endpoint, e.g. 127.0.0.1:9222
	Client *http.Client // nil: a client without proxy (the endpoint is on loopback)
}

func (d DevTools) client() *http.Client {
	if d.Client != nil {
		return d.Client
	}
	return &http.Client{Transport: &http.Transport{Proxy: nil}}
}

// Open shows u in the browser's initial blank tab while it has not been used (blanktab.go), else
// in a new foreground tab.
func (d DevTools) Open(ctx context.Context, u string) error {
	if !isWebURL(u) {
		return errors.New("devtools: not an http(s) URL")
	}
	blankTabs.Lock()
	defer blankTabs.Unlock()
	if tab, ok := d.unusedBlankTab(ctx); ok {
		err := d.navigate(ctx, tab, u)
		if !errors.Is(err, errNotSent) {
			// Sent: the tab is no longer blank whatever the answer, and a second tab would show the
			// page twice.
			blankTabs.used[tab.ID] = true
			if err != nil {
				return err
			}
			return d.call(ctx, http.MethodGet, "/json/activate/"+url.PathEscape(tab.ID), nil)
		}
	}
	// Chromium percent-decodes the query of /json/new, so every byte outside the unreserved set is
	// escaped; url.QueryEscape would turn spaces into '+', which Chromium keeps.
	var target struct {
		ID string `json:"id"`
	}
	if err := d.call(ctx, http.MethodPut, "/json/new?"+escapeAll(u), &target); err != nil {
		return err
	}
	return d.call(ctx, http.MethodGet, "/json/activate/"+url.PathEscape(target.ID), nil)
}

func (d DevTools) call(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, "http://"+d.Addr+path, nil)
	if err != nil {
		return err
	}
	resp, err := d.client().Do(req)
	if err != nil {
		return fmt.Errorf("devtools: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("devtools: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("devtools: %s %s: %s", method, strings.SplitN(path, "?", 2)[0], resp.Status)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(body, out)
}

func escapeAll(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// Login-form fields, in the order a page's username field is most likely marked.
const (
	usernameFields = `input[autocomplete~="username"], input[type="email"], input[name*="user" i], input[name*="login" i], input[name*="email" i], input[id*="user" i], input[type="text"]`
	passwordFields = `input[type="password"]`
)

// ErrOriginMismatch is the autofill's refusal to type into a page of another site.
var ErrOriginMismatch = &Error{Status: http.StatusConflict, Code: "origin_mismatch", Message: "the browser is not on the target_url's site; nothing was typed"}

// Autofill types c's username and password into the login form of the page showing target_url's
// origin (the most recently active such tab) and submits it with Enter in the password field. A field
// the page does not have is skipped; a page of another origin gets nothing. It is the agent's
// CredentialSink.
func (d DevTools) Autofill(ctx context.Context, c Credentials) error {
	want, err := origin(c.TargetURL)
	if err != nil {
		return &Error{Status: http.StatusBadRequest, Code: "invalid_body", Message: "target_url must be an absolute http(s) URL"}
	}
	allocCtx, cancelAlloc := remote.NewAllocator(ctx, "http://"+d.Addr)
	defer cancelAlloc()
	// A context that attaches to nothing yet, only to list the browser's targets.
	listCtx, cancelList := chromedp.NewContext(allocCtx)
	defer cancelList()
	targets, err := chromedp.Targets(listCtx)
	if err != nil {
		return fmt.Errorf("devtools: list tabs: %w", err)
	}
	var page *target.Info
	for _, t := range targets { // Chromium lists the most recently active tab first
		if o, err := origin(t.URL); t.Type == "page" && err == nil && o == want {
			page = t
			break
		}
	}
	if page == nil {
		return ErrOriginMismatch
	}
	tabCtx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithTargetID(page.TargetID), chromedp.WithDetachOnCancel())
	defer cancelTab()
	// The page may have navigated since it was listed: check again right before each field.
	typeInto := func(sel, text string) error {
		if text == "" {
			return nil
		}
		if err := chromedp.Do(tabCtx, chromedp.Focus(chromedp.CSS(sel))); err != nil {
			return fmt.Errorf("devtools: no field %q: %w", sel, err)
		}
		// Emptied first: a retried autofill (the host's call timed out while this one typed) must
		// replace what an earlier attempt typed, not append to it.
		if _, err := chromedp.Run(tabCtx, chromedp.Evaluate[bool](clearFocusedJS)); err != nil {
			return fmt.Errorf("devtools: clearing field %q: %w", sel, err)
		}
		loc, err := chromedp.Run(tabCtx, chromedp.Location())
		if err != nil {
			return err
		}
		if o, err := origin(loc); err != nil || o != want {
			return ErrOriginMismatch
		}
		_, err = chromedp.Call(tabCtx, input.InsertText, input.InsertTextParams{Text: text})
		return err
	}
	if err := typeInto(usernameFields, c.Username); err != nil {
		return err
	}
	if err := typeInto(passwordFields, c.Password); err != nil {
		return err
	}
	return chromedp.Do(tabCtx, chromedp.KeyEvent("\r"))
}

// clearFocusedJS empties the focused form field.
const clearFocusedJS = `(() => { const e = document.activeElement; if (e && "value" in e) e.value = ""; return true; })()`

func origin(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", errors.New("not an absolute http(s) URL")
	}
	return u.Scheme + "://" + strings.ToLower(u.Host), nil
}
