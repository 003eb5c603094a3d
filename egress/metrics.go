package egress

import "github.com/prometheus/client_golang/prometheus"

// metrics are the proxy's Prometheus series. No label carries a session or VM id: their number is
// unbounded. Per-session figures are in Session.Usage and the "egress session closed" log line.
type metrics struct {
	sessions   prometheus.Gauge
	bytes      *prometheus.CounterVec
	requests   prometheus.Counter
	refusals   *prometheus.CounterVec
	limits     *prometheus.CounterVec
	dialErrors prometheus.Counter
	up, down   prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{Name: "polydev_egress_sessions", Help: "Login sessions bound to a VM's egress proxy."}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "polydev_egress_bytes_total",
			Help: "Bytes between guests and their egress proxy; up is guest to world."}, []string{"direction"}),
		requests: prometheus.NewCounter(prometheus.CounterOpts{Name: "polydev_egress_requests_total",
			Help: "CONNECT and plain-HTTP requests the egress proxy allowed."}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "polydev_egress_refusals_total",
			Help: "Requests the egress proxy refused, by reason (no_session, not_allowed, limit, destination, dial, upstream, bad_request)."}, []string{"reason"}),
		limits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "polydev_egress_limits_total",
			Help: "Sessions cut by a limit (bytes, time)."}, []string{"limit"}),
		dialErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "polydev_egress_dial_errors_total",
			Help: "Allowed requests whose destination (or upstream proxy) could not be reached."}),
	}
	m.up, m.down = m.bytes.WithLabelValues("up"), m.bytes.WithLabelValues("down")
	return m
}

func (m *metrics) addBytes(n int64, up bool) {
	if up {
		m.up.Add(float64(n))
	} else {
		m.down.Add(float64(n))
	}
}

// Collectors returns the proxy's metrics for registration.
func (p *Proxy) Collectors() []prometheus.Collector {
	m := p.metrics
	return []prometheus.Collector{m.sessions, m.bytes, m.requests, m.refusals, m.limits, m.dialErrors}
}
