package agent

// The browser's initial blank tab, used for the first page a session opens. Under QEMU TCG a new tab
// (PUT /json/new) is work beside x11vnc drawing the viewer's first frame on the same two vCPUs;
// navigating the tab Chromium opened at start (StackOptions.StartURL, about:blank) makes none, and
// Chromium may give the page that tab's renderer, whose process is not yet bound to a site (an error
// page still gets a process of its own). Later pages get tabs of their own, so a CLI that opens a
// second URL never replaces the first. Measured in docs/PERFORMANCE.md, Browser VMs.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/coder/websocket"
)

// blankTabs remembers the initial tabs already sent somewhere, by target id (unique per browser run),
// and serialises opening so that two URLs opened at once cannot both take the same tab. It is
// package state because the agent drives one browser; DevTools stays a plain value.
var blankTabs = struct {
	sync.Mutex
	used map[string]bool
}{used: map[string]bool{}}

// tabInfo is one entry of GET /json/list.
type tabInfo struct {
	ID    string `json:"id"`
	Type  string `json:"type"`
	URL   string `json:"url"`
	WSURL string `json:"webSocketDebuggerUrl"`
}

// unusedBlankTab is a page still showing the start page that no Open has navigated.
func (d DevTools) unusedBlankTab(ctx context.Context) (tabInfo, bool) {
	var tabs []tabInfo
	if err := d.call(ctx, http.MethodGet, "/json/list", &tabs); err != nil {
		return tabInfo{}, false
	}
	for _, t := range tabs {
		if t.Type == "page" && t.URL == "about:blank" && t.WSURL != "" && !blankTabs.used[t.ID] {
			return t, true
		}
	}
	return tabInfo{}, false
}

// errNotSent marks a navigation whose command never reached the browser, so a new tab may be tried
// without risking the page opening twice.
var errNotSent = errors.New("devtools: navigation not sent")

// navigate sends Page.navigate to tab over its own DevTools WebSocket and waits for the answer
// (Chromium answers once the navigation has committed or failed; a failed load still shows its
// error page in the tab, which is what a user of the viewer sees, so only a protocol error counts).
func (d DevTools) navigate(ctx context.Context, tab tabInfo, u string) error {
	ws, _, err := websocket.Dial(ctx, tab.WSURL, &websocket.DialOptions{HTTPClient: d.client()})
	if err != nil {
		return fmt.Errorf("%w: %v", errNotSent, err)
	}
	defer ws.CloseNow()
	ws.SetReadLimit(1 << 20)
	cmd, err := json.Marshal(map[string]any{"id": 1, "method": "Page.navigate", "params": map[string]string{"url": u}})
	if err != nil {
		return err
	}
	if err := ws.Write(ctx, websocket.MessageText, cmd); err != nil {
		return fmt.Errorf("%w: %v", errNotSent, err)
	}
	for {
		_, msg, err := ws.Read(ctx)
		if ctx.Err() != nil {
			// The page is still loading (a slow login page through the egress proxy): the
			// navigation goes on without this connection, as a tab from /json/new would.
			return nil
		}
		if err != nil {
			return fmt.Errorf("devtools: Page.navigate: %w", err)
		}
		var reply struct {
			ID    int `json:"id"`
			Error *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(msg, &reply) != nil || reply.ID != 1 {
			continue // an event; none is subscribed, but the protocol allows them
		}
		if reply.Error != nil {
			return fmt.Errorf("devtools: Page.navigate: %s", reply.Error.Message)
		}
		return nil
	}
}
