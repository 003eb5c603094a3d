package web

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestMetricsSeries: a request is counted in its series (found once, then reused), and a method
// that is not a standard one is counted as "other", so clients cannot grow the metrics.
func TestMetricsSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	m.observe("GET", "GET /api/me", 200, 0.001)
	m.observe("GET", "GET /api/me", 200, 0.002)
	m.observe("BREW", "unmatched", 405, 0.001)
	m.observe("COFFEE", "unmatched", 405, 0.001)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]float64{} // family -> labels -> count
	for _, f := range families {
		got[f.GetName()] = map[string]float64{}
		for _, s := range f.GetMetric() {
			key := ""
			for _, l := range s.GetLabel() {
				key += l.GetName() + "=" + l.GetValue() + " "
			}
			if c := s.GetCounter(); c != nil {
				got[f.GetName()][key] = c.GetValue()
			} else if h := s.GetHistogram(); h != nil {
				got[f.GetName()][key] = float64(h.GetSampleCount())
			}
		}
	}
	want := map[string]map[string]float64{
		"polydev_http_requests_total": {
			"method=GET route=GET /api/me status=200 ": 2,
			"method=other route=unmatched status=405 ": 2,
		},
		"polydev_http_request_duration_seconds": {"route=GET /api/me ": 2, "route=unmatched ": 2},
	}
	for name, series := range want {
		if len(got[name]) != len(series) {
			t.Errorf("%s: %v, want %v", name, got[name], series)
		}
		for k, v := range series {
			if got[name][k] != v {
				t.Errorf("%s{%s}: %v, want %v", name, k, got[name][k], v)
			}
		}
	}
}
