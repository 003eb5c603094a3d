package egress

import (
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// value reads a counter or gauge.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

// The proxy's series register together and count what the guest did, without session labels.
func TestMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	reg := prometheus.NewRegistry()
	reg.MustRegister(e.p.Collectors()...)
	srv, p := e.tlsServer("login.test")
	s := e.open("s", Rule{Host: "login.test", Ports: []uint16{p}})
	if got := value(t, e.p.metrics.sessions); got != 1 {
		t.Errorf("sessions = %v", got)
	}
	e.getHello(srv, p)
	r, c, _ := e.rawConnect("evil.test:443")
	c.Close()
	if r.StatusCode != http.StatusForbidden {
		t.Fatalf("status %d", r.StatusCode)
	}
	s.Close()
	if got := value(t, e.p.metrics.requests); got != 1 {
		t.Errorf("requests = %v", got)
	}
	if got := value(t, e.p.metrics.refusals.WithLabelValues("not_allowed")); got != 1 {
		t.Errorf("not_allowed refusals = %v", got)
	}
	if value(t, e.p.metrics.up) == 0 || value(t, e.p.metrics.down) == 0 {
		t.Error("no bytes counted")
	}
	if got := value(t, e.p.metrics.sessions); got != 0 {
		t.Errorf("sessions after Close = %v", got)
	}
	fams, err := reg.Gather()
	if err != nil || len(fams) < 5 { // a vector without series (no limit hit yet) is not gathered
		t.Errorf("gather: %d families, %v", len(fams), err)
	}
	for _, f := range fams {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if l.GetName() != "direction" && l.GetName() != "reason" && l.GetName() != "limit" {
					t.Errorf("%s has label %s", f.GetName(), l.GetName())
				}
			}
		}
	}
}
