package ui

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/polydev/polydev"
)

// Request log paging: a page shows logsPage matching records. Filters are applied to the store's
// newest-first cursor in chunks, reading at most logsScan records per page view, so a filter that
// matches little cannot turn one page view into a scan of everything.
const (
	logsPage  = 50
	logsChunk = 200
	logsScan  = 2000
)

type logFilter struct {
	Provider, Model, Status string
}

func (f logFilter) match(rec *polydev.UsageRecord) bool {
	return (f.Provider == "" || string(rec.Provider) == f.Provider) &&
		(f.Model == "" || strings.Contains(strings.ToLower(rec.Model), strings.ToLower(f.Model))) &&
		(f.Status == "" || rec.Status == f.Status)
}

type logsData struct {
	Filter    logFilter
	Records   []*polydev.UsageRecord
	Older     string // URL of the next (older) page, "" at the end
	Newest    string // URL of the first page with the same filter, "" when this is it
	Scanned   bool   // the scan bound was reached before the page filled
	Providers []polydev.Provider
	Statuses  []string
}

func (u *UI) logs(w http.ResponseWriter, r *http.Request, v *view) error {
	q := r.URL.Query()
	f := logFilter{Provider: q.Get("provider"), Model: strings.TrimSpace(q.Get("model")), Status: q.Get("status")}
	before := q.Get("before")
	if before != "" && !polydev.ValidID(before) {
		return polydev.Errorf(polydev.EINVALID, "before must be a request id from this list")
	}
	d := &logsData{Filter: f, Statuses: []string{"ok", "error", "cancelled"},
		Providers: []polydev.Provider{polydev.ProviderOpenAI, polydev.ProviderAnthropic, polydev.ProviderGemini, polydev.ProviderOpenAICompatible}}
	cursor, scanned, more := before, 0, true
	for len(d.Records) < logsPage && scanned < logsScan && more {
		recs, err := u.api.Store.RequestLogs(r.Context(), v.User.ID, cursor, logsChunk)
		if err != nil {
			return err
		}
		more = len(recs) == logsChunk
		for i, rec := range recs {
			scanned++
			cursor = rec.ID
			if f.match(rec) {
				d.Records = append(d.Records, rec)
				if len(d.Records) == logsPage {
					more = more || i < len(recs)-1
					break
				}
			}
		}
	}
	d.Scanned = scanned >= logsScan && len(d.Records) < logsPage
	filter := url.Values{}
	for k, val := range map[string]string{"provider": f.Provider, "model": f.Model, "status": f.Status} {
		if val != "" {
			filter.Set(k, val)
		}
	}
	if more {
		older := url.Values{}
		for k, vs := range filter {
			older[k] = vs
		}
		older.Set("before", cursor)
		d.Older = "/logs?" + older.Encode()
	}
	if before != "" {
		d.Newest = "/logs?" + filter.Encode()
	}
	v.Title, v.Nav, v.Data = "Request logs", "logs", d
	return u.render(w, r, "logs", v)
}
